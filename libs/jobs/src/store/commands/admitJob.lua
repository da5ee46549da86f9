--[[
  Admits a run of a job that has limits on starting (ADR 0016), or puts it back in the same step:
  BullMQ's moveToDelayed with no attempt used, as the tenant cap does. Runs on the node that has
  just taken the job (it holds the job's lock), before its process starts.

  A running set holds the ids of the jobs admitted and not yet ended (moveToFinished removes
  them). An id whose job's lock is gone holds no slot: the job ended its run without finishing
  (retried, handed back) or its node died (the lock lapses, stall recovery runs it again). Such
  ids are dropped when the set looks full, so the count is exact when it matters.

    KEYS[1..11] BullMQ's moveToDelayed keys (marker, active, prioritized, delayed, job, events,
                meta, stalled, wait, limiter, priority counter)
    KEYS[12]    paused functions (SET of "<tenant>/<function>")
    KEYS[13]    the function's running set (of its tenant)
    KEYS[14]    the concurrency key's running set (of its tenant)
    KEYS[15]    the function's rate: the earliest time of its next start (ms)
    KEYS[16]    the function's parked jobs (SET of job ids, of its tenant)
    KEYS[17]    the jobs waiting for a slot of the function's running set (ZSET of job ids, by
                the place each drew when it first waited)
    KEYS[18]    the jobs waiting for a slot of the concurrency key's running set (ZSET, as KEYS[17])

    ARGV[1..9]  BullMQ's moveToDelayed arguments (key prefix, timestamp, job id, token, delay
                (replaced here), skip attempt, fields, fetch next, options)
    ARGV[10]    "<tenant>/<function>" when the function can be paused, else ""
    ARGV[11]    function concurrency (0: none)
    ARGV[12]    key concurrency (0: none)
    ARGV[13]    starts per second (0: none)
    ARGV[14]    how long a job waiting for a slot waits at most, ms: a run that ends or is
                retried brings one waiting job back at once (slotWaiters); this is for a
                wake-up that was lost
    ARGV[15]    a random number in [0, 1): spreads the retakes of jobs put back for the rate
    ARGV[16]    how long a job of a paused function is parked at least, ms (plus up to half as
                much again, from ARGV[15]); resuming the function brings it back at once
                (unparkFunction)

  Output:
    {1}                     admitted (in its running sets; the rate's next start moved on)
    {0, reason, delayMs}    put back: reason is "paused", "concurrency", "key" or "rate"
    {code}                  code < 0: BullMQ's error (the job is not locked by this token)
]]
local rcall = redis.call

--- @bullmq moveToDelayed
--- @bullmq promote
--- @include fairQueue
--- @include slotWaiters

local prefix = ARGV[1]
local jobId = ARGV[3]
local token = ARGV[4]
local jobKey = KEYS[5]
local rate = tonumber(ARGV[13])
-- The job's concurrency limits, checked in this order: its function's, then its key's. `held`:
-- slots held in the running set, once looked at.
local limits = {}
for _, limit in ipairs({
  {reason = "concurrency", set = KEYS[13], most = tonumber(ARGV[11]), waiters = KEYS[17]},
  {reason = "key", set = KEYS[14], most = tonumber(ARGV[12]), waiters = KEYS[18]},
}) do
  if limit.most > 0 then limits[#limits + 1] = limit end
end

if rcall("GET", jobKey .. ":lock") ~= token then return {-2} end

-- Ids of jobs whose lock is gone leave the set; returns the jobs that still hold a slot.
local function slotsHeld(setKey, limit)
  local count = rcall("SCARD", setKey)
  if count < limit then return count end
  for _, id in ipairs(rcall("SMEMBERS", setKey)) do
    if rcall("EXISTS", prefix .. id .. ":lock") == 0 then
      rcall("SREM", setKey, id)
      count = count - 1
    end
  end
  return count
end

local function putBack(reason, delay)
  local args = {ARGV[1], ARGV[2], ARGV[3], ARGV[4], tostring(delay), "1", ARGV[7], "0", ARGV[9]}
  local moved = bullmq_moveToDelayed(KEYS, args)
  if type(moved) == "number" and moved < 0 then return {moved} end
  return {0, reason, delay}
end

local throttle = tonumber(ARGV[14])
local promoteKeys = {KEYS[4], KEYS[9], prefix .. "paused", KEYS[7], KEYS[3], KEYS[2], KEYS[11], KEYS[6], KEYS[1]}
-- The slot waiters' set this job was woken from, if any: it leaves it, whatever happens now.
local wokenFrom = rcall("HGET", jobKey, "pk")
if wokenFrom == KEYS[17] or wokenFrom == KEYS[18] then
  rcall("ZREM", wokenFrom, jobId)
  rcall("HDEL", jobKey, "pk")
end

local function slotsOf(limit)
  if limit.held == nil then
    -- An id left from an earlier run of this job is no slot of this one.
    rcall("SREM", limit.set, jobId)
    limit.held = slotsHeld(limit.set, limit.most)
  end
  return limit.held
end

-- A job refused here may have been woken for a slot it does not take (another of its limits is
-- full, or its function is paused): one waiter of each of its sets with room takes its place, or
-- a free slot would wait for the waiters' delay.
local function handOn()
  for _, limit in ipairs(limits) do
    if slotsOf(limit) < limit.most then wakeSlotWaiter(prefix, limit.set, promoteKeys) end
  end
end

if ARGV[10] ~= "" and rcall("SISMEMBER", KEYS[12], ARGV[10]) == 1 then
  -- Parked, not put back to be taken again: a paused function's backlog costs the nodes nothing
  -- until it is resumed. Jittered, so jobs parked together do not come back together.
  local parkMs = tonumber(ARGV[16])
  local parked = putBack("paused", parkMs + math.floor(tonumber(ARGV[15]) * parkMs / 2))
  if parked[1] == 0 then
    rcall("SADD", KEYS[16], jobId)
    -- `pk`: the set it is parked in, so a cancel takes it out and a resume brings back only parked jobs.
    rcall("HSET", jobKey, "pk", KEYS[16])
    handOn()
  end
  return parked
end

-- Waits, delayed, until a run of the set ends or is retried and brings it back (or `throttle`
-- passes), instead of being taken and put back every few hundred ms while the set is full.
local function waitForSlot(reason, waiters)
  local waiting = putBack(reason, throttle)
  if waiting[1] == 0 then
    waitInLine(prefix, waiters, jobKey, jobId)
    handOn()
  end
  return waiting
end

for _, limit in ipairs(limits) do
  if slotsOf(limit) >= limit.most then return waitForSlot(limit.reason, limit.waiters) end
end

if rate > 0 then
  local time = rcall("TIME")
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local interval = math.ceil(1000 / rate)
  local nextStart = tonumber(rcall("GET", KEYS[15]) or "0")
  if nextStart > now then
    return putBack("rate", nextStart - now + math.floor(tonumber(ARGV[15]) * interval))
  end
  rcall("SET", KEYS[15], now + interval, "PX", interval + 1000)
end

local entered = {}
for _, limit in ipairs(limits) do
  rcall("SADD", limit.set, jobId)
  entered[#entered + 1] = limit.set
end
if #entered > 0 then rcall("HSET", jobKey, "ad", table.concat(entered, "\n")) end
-- Room left after this one (slots freed by a lapsed lock): one more waiter comes back, which
-- does the same when admitted, until the set is full.
for _, limit in ipairs(limits) do
  if limit.held + 1 < limit.most then wakeSlotWaiter(prefix, limit.set, promoteKeys) end
end
return {1}
