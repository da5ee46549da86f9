--[[
  Stops a job scheduler: BullMQ's removeJobScheduler (the scheduler and its delayed next run),
  then BullMQ's removeJob for a next run already due but not started; a run that left Redis
  leaves its tenant's open set and index. A run already running is left to end.
]]
local function stopScheduler(prefix, schedulerId, tenant)
  local repeatKey = prefix .. "repeat"
  local millis = rcall("ZSCORE", repeatKey, schedulerId)
  bullmq_removeJobScheduler({repeatKey, prefix .. "delayed", prefix .. "events"}, {schedulerId, prefix})
  if not millis then return end
  local runId = "repeat:" .. schedulerId .. ":" .. millis
  local runKey = prefix .. runId
  if rcall("EXISTS", runKey) == 1 then
    bullmq_removeJob({runKey, repeatKey}, {runId, "1", prefix})
  end
  if rcall("EXISTS", runKey) == 0 then
    rcall("SREM", prefix .. "bl:open:" .. tenant, runId)
    rcall("ZREM", prefix .. "bl:index:" .. tenant, runId)
  end
end
