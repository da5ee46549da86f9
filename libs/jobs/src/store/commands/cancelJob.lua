--[[
  Cancels a job of a tenant. One not started is removed (BullMQ's removeJob, and it leaves its
  tenant's open set and index); one that runs gets a cancel mark that outlives its node (the
  mark is in its data, so a node that takes it again after a stall ends it at once) and the
  caller learns which node runs it, to tell that node; one that ended is left as it is.

    KEYS[1] job key
    KEYS[2] repeat key (for BullMQ's removeJob)
    KEYS[3] completed key
    KEYS[4] failed key
    KEYS[5] tenant index
    KEYS[6] tenant open set

    ARGV[1] job id
    ARGV[2] tenant
    ARGV[3] queue key prefix

    Output:
      {"not_found"}          no such job of this tenant
      {"finished"}           it ended before
      {"removed"}            it had not started; it is gone
      {"cancelling", node, attempt}   it runs (on node, "" when unknown; attempt: BullMQ's
                                     attemptsStarted of the run); it will end as cancelled
]]
local rcall = redis.call

--- @bullmq removeJob
--- @include cancelMark
--- @include runningSets
--- @include fairQueue
--- @include jobTree

local jobKey = KEYS[1]
local jobId = ARGV[1]

local function cancelling()
  markCancelled(jobKey)
  return {"cancelling", rcall("HGET", jobKey, "pb") or "", rcall("HGET", jobKey, "ats") or ""}
end

if rcall("HGET", jobKey, "tn") ~= ARGV[2] then return {"not_found"} end
if rcall("ZSCORE", KEYS[3], jobId) or rcall("ZSCORE", KEYS[4], jobId) then return {"finished"} end
if rcall("EXISTS", jobKey .. ":lock") == 1 then return cancelling() end
local parent = rcall("HGET", jobKey, "pj")
leaveRunningSets(jobKey, jobId)
leaveFairStream(jobKey, jobId)
-- A job parked while its function is paused, or waiting for a slot (ADR 0016), leaves the set
-- it waits in: the paused function's parked jobs (a SET) or a running set's waiters (a ZSET).
local parkedIn = rcall("HGET", jobKey, "pk")
if parkedIn then
  if rcall("TYPE", parkedIn).ok == "zset" then rcall("ZREM", parkedIn, jobId) else rcall("SREM", parkedIn, jobId) end
end
if bullmq_removeJob({jobKey, KEYS[2]}, {jobId, "1", ARGV[3]}) == 1 then
  rcall("ZREM", KEYS[5], jobId)
  rcall("SREM", KEYS[6], jobId)
  -- Job trees (ADR 0013): its parent learns it ended; a parent waiting for a retry takes its linked children.
  notifyParent(ARGV[3], jobId, parent, ARGV[2])
  if rcall("EXISTS", ARGV[3] .. "bl:tree:" .. jobId) == 1 then
    cancelLinkedChildren(ARGV[3], jobId, ARGV[2])
    parentEnded(ARGV[3], jobId)
  end
  return {"removed"}
end
return cancelling()
