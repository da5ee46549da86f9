--[[
  BullMQ's moveToFinished (same keys and arguments), and in the same step the job leaves its
  tenant's open set: the one way a run ends, completed or failed for good. For job trees (ADR
  0013): a child's end is recorded for its parent and its parent's node is told; a parent that
  failed (or was cancelled) takes its linked children still open with it. A job admitted under
  limits (ADR 0016, field `ad`: the running sets it entered) leaves those sets, freeing its slots,
  and one job waiting for a slot of each comes back to the queue. A job that failed for good is
  counted among its tenant's failed jobs, one that completed among its completed jobs' bytes; the
  tenant's oldest go beyond its allowance of each (includes/tenantRetention.lua).
]]
local rcall = redis.call

--- @bullmq moveToFinished
--- @bullmq removeJob
--- @bullmq promote
--- @include cancelMark
--- @include runningSets
--- @include fairQueue
--- @include jobTree
--- @include promoteDueFairly
--- @include slotWaiters
--- @include tenantRetention

local owner = rcall("HMGET", KEYS[12], "tn", "pj", "ad")
local tenant = owner[1]
-- Fetching the next job, BullMQ would promote the delayed jobs that are due with its own counter:
-- the store promotes them first, into their tenants' streams (ADR 0017). KEYS: wait, active,
-- prioritized, events, stalled, limiter, delayed, paused, meta, pc, ..., marker (14).
if ARGV[6] == "1" then
  promoteDueFairly({KEYS[7], KEYS[1], KEYS[8], KEYS[9], KEYS[3], KEYS[2], KEYS[10], KEYS[4], KEYS[14]},
    ARGV[7], tonumber(ARGV[2]), PROMOTE_PER_FETCH)
end
local result = bullmq_moveToFinished(KEYS, ARGV)
if tenant and not (type(result) == "number" and result < 0) then
  local prefix = ARGV[7]
  rcall("SREM", prefix .. "bl:open:" .. tenant, ARGV[1])
  if owner[3] then
    local promoteKeys = {KEYS[7], KEYS[1], KEYS[8], KEYS[9], KEYS[3], KEYS[2], KEYS[10], KEYS[4], KEYS[14]}
    leaveRunningSetsWaking(prefix, ARGV[1], owner[3], promoteKeys)
  end
  if ARGV[5] == "failed" then recordTenantFailure(prefix, KEYS[11], tenant, ARGV[1])
  else recordTenantCompletion(prefix, KEYS[11], tenant, ARGV[1], ARGV[4]) end
  notifyParent(prefix, ARGV[1], owner[2], tenant)
  if rcall("EXISTS", prefix .. "bl:tree:" .. ARGV[1]) == 1 then
    if ARGV[5] == "failed" then cancelLinkedChildren(prefix, ARGV[1], tenant) end
    parentEnded(prefix, ARGV[1])
  end
end
return result
