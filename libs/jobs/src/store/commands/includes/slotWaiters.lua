--[[
  Jobs waiting for a slot of a running set (ADR 0016): the admit step parks a job whose function
  or concurrency key is at its limit in the delayed set, its id in the set's waiters
  (`bl:slotq:...` beside `bl:run:...`, a ZSET) and the waiters' key on the job (`pk`). A run that
  ends or leaves a running set (it finished, or it is retried) brings one waiter back at once,
  into its tenant's stream of the fair queue (ADR 0017); so does a job admitted while its set has
  room left (a raised limit fills up). Waiters come back in the order they first waited: each job
  keeps the number it drew when it first waited (`ws`, from the queue's `bl:slotseq`), so one
  woken for a slot it could not take waits again at its old place, not behind later jobs. Needs
  promote and fairQueue included first.
]]
local function slotWaitersKey(prefix, runningSet)
  -- "<prefix>bl:run:<rest>" -> "<prefix>bl:slotq:<rest>"
  return prefix .. "bl:slotq:" .. string.sub(runningSet, #prefix + 8)
end

-- The job waits in `waiters`, at the place it drew when it first waited for a slot.
local function waitInLine(prefix, waiters, jobKey, jobId)
  local place = rcall("HGET", jobKey, "ws")
  if not place then
    place = rcall("INCR", prefix .. "bl:slotseq")
    rcall("HSET", jobKey, "ws", place)
  end
  rcall("ZADD", waiters, place, jobId)
  rcall("HSET", jobKey, "pk", waiters)
end

-- promoteKeys: BullMQ's promote keys (delayed, wait, paused, meta, prioritized, active, pc,
-- events, marker). Ids no longer waiting there (admitted, cancelled) are dropped on the way.
local function wakeSlotWaiter(prefix, runningSet, promoteKeys)
  local waiters = slotWaitersKey(prefix, runningSet)
  for _ = 1, 5 do
    local first = rcall("ZPOPMIN", waiters)
    local id = first[1]
    if not id then return end
    local jobKey = prefix .. id
    if rcall("HGET", jobKey, "pk") == waiters then
      rcall("HDEL", jobKey, "pk")
      if bullmq_promote(promoteKeys, {prefix, id}) == 0 then
        queueAddedBackFairly(promoteKeys[5], prefix, id)
        return
      end
    end
  end
end

-- A run that ends or is retried leaves the running sets it entered (`sets`: its `ad`, one per
-- line), and one job waiting for a slot of each comes back.
local function leaveRunningSetsWaking(prefix, jobId, sets, promoteKeys)
  for runningSet in string.gmatch(sets, "[^\n]+") do
    rcall("SREM", runningSet, jobId)
    wakeSlotWaiter(prefix, runningSet, promoteKeys)
  end
end
