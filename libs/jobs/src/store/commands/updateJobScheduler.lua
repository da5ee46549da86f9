--[[
  BullMQ's updateJobScheduler (same keys and arguments): the node that takes a scheduled run
  produces the next one, and in the same step that run becomes a job of the schedule's tenant
  (admitScheduledRun). The tenant and backlog cap are on the scheduler's hash (`tn`, `bcap`).
]]
local rcall = redis.call

--- @bullmq updateJobScheduler
--- @include cancelMark
--- @include admitScheduledRun

local schedulerKey = KEYS[1] .. ":" .. ARGV[2]
local tenant = rcall("HGET", schedulerKey, "tn")
local backlogCap = tonumber(rcall("HGET", schedulerKey, "bcap") or "")
local producerSkipped = KEYS[11] ~= "" and rcall("HGET", KEYS[11], "cx") == "1"
local result = bullmq_updateJobScheduler(KEYS, ARGV)
if tenant and backlogCap and type(result) == "string" then
  admitScheduledRun(ARGV[6], tenant, ARGV[2], result, backlogCap, tonumber(ARGV[5]), producerSkipped and ARGV[7] or nil)
end
return result
