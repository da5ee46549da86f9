--[[
  BullMQ's removeJob (same keys and arguments), and in the same step the job leaves its
  tenant's open set and index.
]]
local rcall = redis.call

--- @bullmq removeJob
--- @include runningSets
--- @include fairQueue

local jobKey = KEYS[1]
local tenant = rcall("HGET", jobKey, "tn")
if rcall("EXISTS", jobKey .. ":lock") == 0 then
  leaveRunningSets(jobKey, ARGV[1])
  leaveFairStream(jobKey, ARGV[1])
end
local result = bullmq_removeJob(KEYS, ARGV)
if tenant and result == 1 then
  rcall("SREM", ARGV[3] .. "bl:open:" .. tenant, ARGV[1])
  rcall("ZREM", ARGV[3] .. "bl:index:" .. tenant, ARGV[1])
end
return result
