--[[
  Jobs waiting for a slot of a running set (ADR 0016): the admit step parks a job whose function
  or concurrency key is at its limit in the delayed set, its id in the set's waiters
  (`bl:slot:...` beside `bl:run:...`) and the waiters' key on the job (`pk`). A run that ends and
  leaves a running set (it finished, or it is retried) brings one waiter back at once, into its
  tenant's stream of the fair queue (ADR 0017); so does a job admitted while its set has room
  left (a raised limit fills up). Needs promote and fairQueue included first.
]]
local function slotWaitersKey(prefix, runningSet)
  -- "<prefix>bl:run:<rest>" -> "<prefix>bl:slot:<rest>"
  return prefix .. "bl:slot:" .. string.sub(runningSet, #prefix + 8)
end

-- promoteKeys: BullMQ's promote keys (delayed, wait, paused, meta, prioritized, active, pc,
-- events, marker). Ids no longer waiting there (admitted, cancelled) are dropped on the way.
local function wakeSlotWaiter(prefix, runningSet, promoteKeys)
  local waiters = slotWaitersKey(prefix, runningSet)
  for _ = 1, 5 do
    local id = rcall("SPOP", waiters)
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
