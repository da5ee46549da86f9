--[[
  Start-time fair queuing between tenants (ADR 0017). BullMQ orders the waiting jobs of a
  priority by score = priority * 2^32 + a counter, and takes the lowest. A tenant's job just added
  there is given, as its counter part, the tenant's virtual time instead: one past the later of
  the job at the head of its priority and the tenant's own last job, but never more than the
  tenant's backlog past the head. So each tenant's next job lines up beside every other tenant's
  next job, whatever the length of their queues: one job each in turn. Jobs BullMQ puts back
  (retries, delays, stalls) keep BullMQ's counter, which is never below a virtual time.
]]
local TWO_32 = 0x100000000

local function queueFairly(prioritizedKey, virtualTimesKey, jobId, tenant, backlog)
  local score = tonumber(rcall("ZSCORE", prioritizedKey, jobId))
  if not score then return end
  local priority = math.floor(score / TWO_32)
  local base = priority * TWO_32
  rcall("ZREM", prioritizedKey, jobId)
  local head = rcall("ZRANGEBYSCORE", prioritizedKey, base, "(" .. (base + TWO_32), "WITHSCORES", "LIMIT", 0, 1)
  local now = 0
  if head[2] then now = tonumber(head[2]) - base end
  local field = priority .. ":" .. tenant
  local last = tonumber(rcall("HGET", virtualTimesKey, field) or "0")
  local time = math.min(math.max(now, last) + 1, now + backlog) % TWO_32
  rcall("ZADD", prioritizedKey, base + time, jobId)
  rcall("HSET", virtualTimesKey, field, time)
end
