--[[
  BullMQ's moveToDelayed (same keys and arguments): a run retried after its backoff, or put back
  delayed by its node. A job admitted under limits (ADR 0016, field `ad`: the running sets it
  entered) leaves those sets in the same step, and one job waiting for a slot of each comes back:
  its lock is gone, so it holds no slot until it is admitted again.
]]
local rcall = redis.call

--- @bullmq moveToDelayed
--- @bullmq promote
--- @include fairQueue
--- @include slotWaiters

-- KEYS: marker, active, prioritized, delayed, job, events, meta, stalled, wait, limiter, pc.
local sets = rcall("HGET", KEYS[5], "ad")
local result = bullmq_moveToDelayed(KEYS, ARGV)
if sets and not (type(result) == "number" and result < 0) then
  local prefix = ARGV[1]
  local promoteKeys = {KEYS[4], KEYS[9], prefix .. "paused", KEYS[7], KEYS[3], KEYS[2], KEYS[11], KEYS[6], KEYS[1]}
  leaveRunningSetsWaking(prefix, ARGV[3], sets, promoteKeys)
  -- Left: a later delay of this job (a put-back before it is admitted again) frees nothing.
  rcall("HDEL", KEYS[5], "ad")
end
return result
