--[[
  Deletes a tenant's schedule: its scheduler and its next run not started (as a pause does), its
  record, its list of recent runs and its place among the tenant's schedules. Runs that already
  started stay ordinary jobs.

    KEYS[1] the schedule's record   KEYS[2] the tenant's schedules   KEYS[3] its recent runs
    ARGV[1] queue prefix   ARGV[2] scheduler id   ARGV[3] tenant   ARGV[4] schedule id

  Returns 1, or 0 when there is no such schedule.
]]
local rcall = redis.call

--- @bullmq removeJobScheduler
--- @bullmq removeJob
--- @include stopScheduler

if rcall("EXISTS", KEYS[1]) == 0 then return 0 end
stopScheduler(ARGV[1], ARGV[2], ARGV[3])
rcall("DEL", KEYS[1], KEYS[3])
rcall("ZREM", KEYS[2], ARGV[4])
return 1
