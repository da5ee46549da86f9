--[[
  BullMQ's moveToFinished (same keys and arguments), and in the same step the job leaves its
  tenant's open set: the one way a run ends, completed or failed for good. For job trees (ADR
  0013): a child's end is recorded for its parent and its parent's node is told; a parent that
  failed (or was cancelled) takes its linked children still open with it. A job admitted under
  limits (ADR 0016, field `ad`: the running sets it entered) leaves those sets, freeing its slots.
]]
local rcall = redis.call

--- @bullmq moveToFinished
--- @bullmq removeJob
--- @include cancelMark
--- @include runningSets
--- @include jobTree

local owner = rcall("HMGET", KEYS[12], "tn", "pj", "ad")
local tenant = owner[1]
local result = bullmq_moveToFinished(KEYS, ARGV)
if tenant and not (type(result) == "number" and result < 0) then
  local prefix = ARGV[7]
  rcall("SREM", prefix .. "bl:open:" .. tenant, ARGV[1])
  if owner[3] then
    for runningSet in string.gmatch(owner[3], "[^\n]+") do rcall("SREM", runningSet, ARGV[1]) end
  end
  notifyParent(prefix, ARGV[1], owner[2], tenant)
  if rcall("EXISTS", prefix .. "bl:tree:" .. ARGV[1]) == 1 then
    if ARGV[5] == "failed" then cancelLinkedChildren(prefix, ARGV[1], tenant) end
    parentEnded(prefix, ARGV[1])
  end
end
return result
