--[[
  BullMQ's retryJob (same keys and arguments): a run retried at once, without backoff. A job
  admitted under limits (ADR 0016, field `ad`) leaves its running sets in the same step, and one
  job waiting for a slot of each comes back, as for a retry after a backoff (moveToDelayed.lua).
]]
local rcall = redis.call

--- @bullmq retryJob
--- @bullmq promote
--- @include fairQueue
--- @include slotWaiters

-- KEYS: active, wait, paused, job, meta, events, delayed, prioritized, pc, marker, stalled.
local sets = rcall("HGET", KEYS[4], "ad")
-- BullMQ's fetch deletes its counter when the prioritized set empties; back in the added-back
-- band first, the job added back cannot land in the fair range.
keepAddedBackBand(KEYS[9])
local result = bullmq_retryJob(KEYS, ARGV)
if sets and not (type(result) == "number" and result < 0) then
  local promoteKeys = {KEYS[7], KEYS[2], KEYS[3], KEYS[5], KEYS[8], KEYS[1], KEYS[9], KEYS[6], KEYS[10]}
  leaveRunningSetsWaking(ARGV[1], ARGV[4], sets, promoteKeys)
  -- Left: a later delay of this job (a put-back before it is admitted again) frees nothing.
  rcall("HDEL", KEYS[4], "ad")
end
return result
