--[[
  BullMQ's moveToActive (same keys and arguments), after the store has promoted the delayed jobs
  that are due into their tenants' streams of the fair queue (ADR 0017); BullMQ then finds none
  due and takes the head.
]]
local rcall = redis.call

--- @bullmq moveToActive
--- @bullmq promote
--- @include fairQueue
--- @include promoteDueFairly

-- KEYS: wait, active, prioritized, events, stalled, limiter, delayed, paused, meta, pc, marker.
promoteDueFairly({KEYS[7], KEYS[1], KEYS[8], KEYS[9], KEYS[3], KEYS[2], KEYS[10], KEYS[4], KEYS[11]},
  ARGV[1], tonumber(ARGV[2]), PROMOTE_PER_FETCH)
return bullmq_moveToActive(KEYS, ARGV)
