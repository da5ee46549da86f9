--[[
  BullMQ's removeJobScheduler (same keys and arguments), and in the same step its delayed next
  run, which BullMQ removes, leaves its tenant's open set and index.
]]
local rcall = redis.call

--- @bullmq removeJobScheduler

local schedulerId, prefix = ARGV[1], ARGV[2]
local tenant = rcall("HGET", KEYS[1] .. ":" .. schedulerId, "tn")
local millis = rcall("ZSCORE", KEYS[1], schedulerId)
local result = bullmq_removeJobScheduler(KEYS, ARGV)
if tenant and millis then
  local runId = "repeat:" .. schedulerId .. ":" .. millis
  if rcall("EXISTS", prefix .. runId) == 0 then
    rcall("SREM", prefix .. "bl:open:" .. tenant, runId)
    rcall("ZREM", prefix .. "bl:index:" .. tenant, runId)
  end
end
return result
