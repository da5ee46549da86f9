--[[
  Start-time fair queuing between tenants (ADR 0017). BullMQ orders the waiting jobs of a
  priority by score = priority * 2^32 + a counter, and takes the lowest. A tenant's job just added
  there is given, as its counter part, the tenant's virtual time instead: a tenant with nothing
  waiting ahead of the head goes just before the head; one with jobs waiting goes one past its
  last, but never more than its backlog past the head. So each tenant's next job lines up beside
  every other tenant's next job, whatever the length of their queues: one job each in turn.
  Jobs BullMQ puts back (retries, delays, stalls) keep BullMQ's counter, which is never below a
  virtual time.
]]
local TWO_32 = 0x100000000

local function queueFairly(prioritizedKey, virtualTimesKey, jobId, tenant, backlog)
  local score = tonumber(rcall("ZSCORE", prioritizedKey, jobId))
  if not score then return end
  local priority = math.floor(score / TWO_32)
  local base = priority * TWO_32
  rcall("ZREM", prioritizedKey, jobId)
  local head = rcall("ZRANGEBYSCORE", prioritizedKey, base, "(" .. (base + TWO_32), "WITHSCORES", "LIMIT", 0, 1)
  local field = priority .. ":" .. tenant
  local time = 1
  if head[2] then
    local now = tonumber(head[2]) - base
    local last = tonumber(rcall("HGET", virtualTimesKey, field) or "-1")
    if last < now then
      time = now - 0.5
    else
      time = math.min(last + 1, now + backlog)
    end
  end
  time = time % TWO_32
  rcall("ZADD", prioritizedKey, base + time, jobId)
  rcall("HSET", virtualTimesKey, field, time)
end
