--[[
  BullMQ's reprocessJob (same keys and arguments: a failed job back to waiting), and in the
  same step the job is open again in its tenant's backlog, without its cancel mark.
]]
local rcall = redis.call

--- @bullmq reprocessJob
--- @include cancelMark
--- @include fairQueue

local jobKey = KEYS[1]
local tenant = rcall("HGET", jobKey, "tn")
-- The job added back waits in the added-back band (fairQueue.lua), whatever BullMQ's fetch left.
keepAddedBackBand(KEYS[9])
local result = bullmq_reprocessJob(KEYS, ARGV)
if tenant and result == 1 then
  local prefix = string.sub(jobKey, 1, #jobKey - #ARGV[1])
  rcall("SADD", prefix .. "bl:open:" .. tenant, ARGV[1])
  clearCancelMark(jobKey)
end
return result
