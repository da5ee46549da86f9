--[[
  BullMQ's moveToFinished (same keys and arguments), and in the same step the job leaves its
  tenant's open set: the one way a run ends, completed or failed for good.
]]
local rcall = redis.call

--- @bullmq moveToFinished

local tenant = rcall("HGET", KEYS[12], "tn")
local result = bullmq_moveToFinished(KEYS, ARGV)
if tenant and not (type(result) == "number" and result < 0) then
  rcall("SREM", ARGV[7] .. "bl:open:" .. tenant, ARGV[1])
end
return result
