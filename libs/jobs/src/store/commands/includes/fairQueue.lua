--[[
  Start-time fair queuing between tenants (ADR 0017). BullMQ takes the waiting job of lowest
  score, priority * 2^32 + a counter. The store adds a job at BullMQ priority 1 + its rank (max 0,
  high 1, normal 2, low 3); here it moves to the one priority every queued job waits at (1), with
  the counter `round * 4 + rank`: the tenant's stream of that rank takes its next round. A stream
  with nothing waiting (its last job is no longer queued) takes the head's round, just before the
  head's rank; otherwise one past its last round, but never more than the tenant's backlog past
  the head. So
  every tenant's next job lines up beside every other tenant's, whatever the length of their
  queues; a tenant's priority orders its own jobs, and takes at most one job a round per rank.
  Jobs BullMQ adds back (retries, delays coming due, stalled and put-back jobs) read priority 1
  from the job's hash and take BullMQ's counter, INCR of `pc`: `alignAddBackCounter` keeps `pc` at
  the head's round, so such a job takes its turn as a stream with nothing waiting would, instead
  of lining up behind every job queued fairly (or ahead of them all).
]]
local TWO_32 = 0x100000000
local FAIR = 1
local RANKS = 4

local function queueFairly(prioritizedKey, virtualTimesKey, jobKey, jobId, tenant, backlog)
  local score = tonumber(rcall("ZSCORE", prioritizedKey, jobId))
  if not score then return end
  local rank = math.floor(score / TWO_32) - FAIR
  if rank < 0 or rank >= RANKS then return end
  local base = FAIR * TWO_32
  rcall("ZREM", prioritizedKey, jobId)
  local head = rcall("ZRANGEBYSCORE", prioritizedKey, base, "(" .. (base + TWO_32), "WITHSCORES", "LIMIT", 0, 1)
  local field = rank .. ":" .. tenant
  local round = 1
  local ahead = 0
  if head[2] then
    local now = math.max(1, math.floor((tonumber(head[2]) - base) / RANKS))
    -- "<round>:<job id>" of the stream's last job; once that job waits no more, neither does the stream.
    local last = 0
    local stored = rcall("HGET", virtualTimesKey, field)
    if stored then
      local colon = string.find(stored, ":", 1, true)
      if rcall("ZSCORE", prioritizedKey, string.sub(stored, colon + 1)) then
        last = tonumber(string.sub(stored, 1, colon - 1))
      end
    end
    if last < now then
      round = now
      ahead = 0.5
    else
      round = math.min(last + 1, now + backlog)
    end
  end
  local counter = math.min(round * RANKS + rank - ahead, TWO_32 - 1)
  rcall("ZADD", prioritizedKey, base + counter, jobId)
  rcall("HSET", jobKey, "priority", FAIR)
  rcall("HSET", virtualTimesKey, field, round .. ":" .. jobId)
end

-- Sets BullMQ's priority counter to the head's round (normal rank next): the counter BullMQ gives
-- the next job it adds back. The submit step calls it, and worker nodes every few hundred ms, as
-- the head moves on when jobs are taken.
local function alignAddBackCounter(prioritizedKey, counterKey)
  local base = FAIR * TWO_32
  local head = rcall("ZRANGEBYSCORE", prioritizedKey, base, "(" .. (base + TWO_32), "WITHSCORES", "LIMIT", 0, 1)
  local round = 1
  if head[2] then round = math.max(1, math.floor((tonumber(head[2]) - base) / RANKS)) end
  rcall("SET", counterKey, round * RANKS + 1)
end
