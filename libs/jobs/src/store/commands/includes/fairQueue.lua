--[[
  Start-time fair queuing between tenants (ADR 0017). BullMQ takes the waiting job of lowest
  score, priority * 2^32 + a counter. The store adds a job at BullMQ priority 1 + its rank (max 0,
  high 1, normal 2, low 3); here it moves to the one priority every queued job waits at (1), with
  the counter `round * 4 + rank`: the tenant's stream of that rank takes its next round. A stream
  with nothing waiting (its last job is no longer queued) takes the head's round, just before the
  head's rank; otherwise one past its last round, but never more than the tenant's backlog past
  the head. So every tenant's next job lines up beside every other tenant's, whatever the length
  of their queues; a tenant's priority orders its own jobs, and takes at most one job a round per
  rank.

  Jobs that come back to the queue take their tenant's turn too: delayed jobs coming due (retries
  with a backoff, put-backs, schedule runs) are promoted by the store before each fetch
  (promoteDueFairly), unparked jobs as they are promoted. What BullMQ still adds back itself (a
  retry without backoff, a stalled job) reads priority 1 from the job's hash and takes BullMQ's
  counter, INCR of `pc`, which the store keeps at ADDED_BACK or above: such a job waits behind
  every job queued fairly until a worker node moves it into its tenant's stream (requeueAddedBack,
  every few hundred ms).
]]
local TWO_32 = 0x100000000
local FAIR = 1
local RANKS = 4
local ADDED_BACK = 0x80000000
local NORMAL_RANK = 2

-- The first job queued fairly (not one BullMQ added back), as {id, score}; empty when none waits.
local function fairHead(prioritizedKey)
  local base = FAIR * TWO_32
  return rcall("ZRANGEBYSCORE", prioritizedKey, base, "(" .. (base + ADDED_BACK), "WITHSCORES", "LIMIT", 0, 1)
end

-- `rank`: the job's rank; nil to read it from its BullMQ priority. `added`: more fields for the
-- job's hash, written with its priority, for a job BullMQ's add has just put in the prioritized
-- set at `rank`: it is there, and at priority 1 + rank or more it cannot be the fair head
-- (its BullMQ counter is ADDED_BACK or more), so it is neither looked up nor taken out first.
-- `batch` (from newFairBatch): what this script has learnt of the fair head and written to the
-- streams so far, for many jobs queued in one step; their records are written by flushFairBatch.
-- Returns true once the job is queued fairly (and `added` written), nil when it is left as it is.
local function queueFairly(prioritizedKey, virtualTimesKey, jobKey, jobId, tenant, backlog, rank, added, batch)
  if not added then
    local score = tonumber(rcall("ZSCORE", prioritizedKey, jobId))
    if not score then return end
    rank = rank or (math.floor(score / TWO_32) - FAIR)
  end
  if rank < 0 or rank >= RANKS then return end
  local base = FAIR * TWO_32
  if not added then rcall("ZREM", prioritizedKey, jobId) end
  local head = batch and batch.head
  if not head then
    head = fairHead(prioritizedKey)
    if batch then batch.head = head end
  end
  local field = rank .. ":" .. tenant
  local round = 1
  local ahead = 0
  if head[2] then
    local now = math.max(1, math.floor((tonumber(head[2]) - base) / RANKS))
    -- "<round>:<job id>" of the stream's last job; once that job has been taken, the stream is
    -- empty. "<round>:" (no id): its last job left out of turn (leaveFairStream), and jobs
    -- before it may still wait, so its round still counts (capped by the backlog below).
    local last = 0
    local known = batch and batch.streams[field]
    if known then
      -- Its last job was queued in this step: it waits still.
      last = known.round
    else
      local stored = rcall("HGET", virtualTimesKey, field)
      if stored then
        local colon = string.find(stored, ":", 1, true)
        local lastId = string.sub(stored, colon + 1)
        if lastId == "" or rcall("ZSCORE", prioritizedKey, lastId) then
          last = tonumber(string.sub(stored, 1, colon - 1))
        end
      end
    end
    if last < now then
      round = now
      ahead = 0.5
    else
      round = math.min(last + 1, now + backlog)
    end
  end
  local counter = math.min(round * RANKS + rank - ahead, ADDED_BACK - 1)
  rcall("ZADD", prioritizedKey, base + counter, jobId)
  if added then
    rcall("HSET", jobKey, "priority", FAIR, unpack(added))
  else
    rcall("HSET", jobKey, "priority", FAIR)
  end
  if batch then
    batch.streams[field] = {round = round, id = jobId}
    if not head[2] or base + counter < tonumber(head[2]) then batch.head = {jobId, base + counter} end
  else
    rcall("HSET", virtualTimesKey, field, round .. ":" .. jobId)
  end
  return true
end

local function newFairBatch()
  return {head = nil, streams = {}}
end

-- Writes the streams' records a batch of queueFairly calls kept (one HSET for them all).
local function flushFairBatch(virtualTimesKey, batch)
  local fields = {}
  for field, last in pairs(batch.streams) do
    table.insert(fields, field)
    table.insert(fields, last.round .. ":" .. last.id)
  end
  if #fields > 0 then rcall("HSET", virtualTimesKey, unpack(fields)) end
end

-- A job queued fairly leaves the queue out of turn (a cancel, a linked child taken with its
-- parent). When it is its stream's last, the record goes back one round and names no job
-- ("<round>:"): the stream still waits at that round, since jobs before it may. Leaving earlier
-- in the stream changes nothing: the stream's later jobs keep their rounds, so giving rounds back
-- for them let a tenant that cancelled the front of its backlog queue new jobs beside the rest (a
-- review: two places a round). Submitting, cancelling and submitting again takes one round each
-- time, not the head's round (a review put 1,118 of one tenant's jobs in the head's round that
-- way). Cancelling a backlog newest first gives all its rounds back; oldest first, only the last
-- one: the tenant's next jobs then wait behind its cancelled rounds, at most its backlog past the
-- head (queueFairly).
local function leaveFairStream(jobKey, jobId)
  local prefix = string.sub(jobKey, 1, #jobKey - #jobId)
  local score = tonumber(rcall("ZSCORE", prefix .. "prioritized", jobId))
  local base = FAIR * TWO_32
  if not score or score < base or score >= base + ADDED_BACK then return end
  local tenant = rcall("HGET", jobKey, "tn") or ""
  local rank = math.floor(score - base + 0.5) % RANKS
  local virtualTimes = prefix .. "bl:vt"
  local field = rank .. ":" .. tenant
  local stored = rcall("HGET", virtualTimes, field)
  if not stored then return end
  local colon = string.find(stored, ":", 1, true)
  local round = tonumber(string.sub(stored, 1, colon - 1))
  local lastId = string.sub(stored, colon + 1)
  -- Its stream's last: named by the record, or, once the record names no job, at its round.
  local isLast = lastId == jobId or (lastId == "" and math.floor((score - base + 0.5) / RANKS) == round)
  if isLast then rcall("HSET", virtualTimes, field, (round - 1) .. ":") end
end

-- BullMQ's counter stays in the band of added-back jobs: never below ADDED_BACK, and taken back to
-- it before BullMQ's `% 2^32` would wrap it into the fair range.
local function keepAddedBackBand(counterKey)
  local counter = tonumber(rcall("GET", counterKey)) or 0
  if counter < ADDED_BACK or counter >= TWO_32 - 0x1000000 then rcall("SET", counterKey, ADDED_BACK) end
end

-- Moves one job BullMQ has just added back into its tenant's stream, at the rank recorded on it.
local function queueAddedBackFairly(prioritizedKey, prefix, jobId)
  local jobKey = prefix .. jobId
  local fields = rcall("HMGET", jobKey, "tn", "rk")
  local tenant = fields[1] or ""
  local rank = math.min(RANKS - 1, math.max(0, math.floor(tonumber(fields[2]) or NORMAL_RANK)))
  local backlog = math.max(1, rcall("SCARD", prefix .. "bl:open:" .. tenant))
  queueFairly(prioritizedKey, prefix .. "bl:vt", jobKey, jobId, tenant, backlog, rank)
end

-- Moves up to `most` jobs BullMQ added back into their tenants' streams, oldest first; returns how many.
local function requeueAddedBack(prioritizedKey, prefix, most)
  local base = FAIR * TWO_32
  local ids = rcall("ZRANGEBYSCORE", prioritizedKey, base + ADDED_BACK, "(" .. (base + TWO_32), "LIMIT", 0, most)
  for _, id in ipairs(ids) do queueAddedBackFairly(prioritizedKey, prefix, id) end
  return #ids
end
