--[[
  Pauses a tenant's schedule: its scheduler stops (BullMQ's removeJobScheduler; a next run not
  started is removed with it) and its record says paused. Resuming upserts it again from now.

    KEYS[1] the schedule's record
    ARGV[1] queue prefix   ARGV[2] scheduler id   ARGV[3] tenant   ARGV[4] now (ms)

  Returns 1, or 0 when there is no such schedule.
]]
local rcall = redis.call

--- @bullmq removeJobScheduler
--- @bullmq removeJob
--- @include stopScheduler

if rcall("EXISTS", KEYS[1]) == 0 then return 0 end
stopScheduler(ARGV[1], ARGV[2], ARGV[3])
rcall("HSET", KEYS[1], "paused", "1", "updatedAt", ARGV[4])
return 1
