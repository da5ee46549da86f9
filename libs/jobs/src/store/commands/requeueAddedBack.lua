--[[
  Moves the jobs BullMQ added back itself (a retry without backoff, a stalled job), which wait
  behind every job queued fairly, into their tenants' streams of the fair queue (ADR 0017),
  oldest first; and keeps BullMQ's counter in their band. Worker nodes call it every few hundred ms.

    KEYS[1] the prioritized set
    KEYS[2] BullMQ's priority counter (`pc`)
    ARGV[1] queue key prefix
    ARGV[2] most jobs to move

    Output: how many were moved
]]
local rcall = redis.call

--- @include fairQueue

keepAddedBackBand(KEYS[2])
return requeueAddedBack(KEYS[1], ARGV[1], tonumber(ARGV[2]))
