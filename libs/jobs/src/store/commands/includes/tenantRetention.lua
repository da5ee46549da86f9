--[[
  What each tenant keeps of its ended jobs, bounded per tenant.

  Failed jobs: a bounded number of each tenant's failed jobs (dead letters, cancelled jobs, skipped
  schedule runs). BullMQ's removeOnFail trims the one failed set of the queue, across tenants, by
  the options of the job that fails; here each tenant's own oldest failed jobs go once it has more
  than its allowance, never another tenant's.
    `bl:failed:<tenant>`  ZSET job id -> its place in the order its tenant's jobs ended. An id
                          no longer in the failed set (retried, requeued, removed) is dropped
                          when it is met.
    `bl:config`           HASH; `failedKeptPerTenant` (default 10,000), `completedBytesPerTenant`
                          (default 256 MiB).

  Completed jobs: BullMQ keeps them a day (removeOnComplete by age), however large their results
  and logs; a re-review kept 5.5 GB of one tenant's results in 35 s. Each tenant's completed jobs
  are kept up to a number of bytes (its result, its input, its log); as one more completes, its
  own oldest go beyond it.
    `bl:done:<tenant>`       ZSET job id -> its place in the order its tenant's jobs ended
    `bl:donesize:<tenant>`   HASH job id -> bytes counted for it
    `bl:donebytes:<tenant>`  STRING the sum of those bytes
  An id whose job is gone already (expired by age, removed) is dropped when it is met.

  `bl:endseq` HASH tenant -> jobs of the tenant that ended: the order above (many end in the same
  millisecond, and a sorted set orders ties by id, which is not their order).
]]
local FAILED_KEPT_DEFAULT = 10000
local FAILED_TRIMMED_PER_STEP = 10
local COMPLETED_BYTES_DEFAULT = 256 * 1024 * 1024
local COMPLETED_TRIMMED_PER_STEP = 50

local function removeEndedJob(prefix, tenant, id)
  local jobKey = prefix .. id
  rcall("DEL", jobKey, jobKey .. ":logs", jobKey .. ":dependencies", jobKey .. ":processed",
    jobKey .. ":failed", jobKey .. ":unsuccessful", prefix .. "bl:tree:" .. id, prefix .. "bl:ends:" .. id)
  rcall("ZREM", prefix .. "bl:index:" .. tenant, id)
end

local function endedInOrder(prefix, tenant)
  return rcall("HINCRBY", prefix .. "bl:endseq", tenant, 1)
end

local function recordTenantFailure(prefix, failedKey, tenant, jobId)
  local tenantFailed = prefix .. "bl:failed:" .. tenant
  rcall("ZADD", tenantFailed, endedInOrder(prefix, tenant), jobId)
  local kept = tonumber(rcall("HGET", prefix .. "bl:config", "failedKeptPerTenant") or "") or FAILED_KEPT_DEFAULT
  local excess = rcall("ZCARD", tenantFailed) - kept
  if excess <= 0 then return end
  local oldest = rcall("ZPOPMIN", tenantFailed, math.min(excess, FAILED_TRIMMED_PER_STEP))
  for i = 1, #oldest, 2 do
    local id = oldest[i]
    if rcall("ZREM", failedKey, id) == 1 then removeEndedJob(prefix, tenant, id) end
  end
end

local JOB_OVERHEAD_BYTES = 1024

-- `result`: the result as BullMQ just wrote it. The job's other fields are its input and about a
-- kilobyte of BullMQ's; its log is counted as Redis counts it, every line (SAMPLES 0).
local function recordTenantCompletion(prefix, completedKey, tenant, jobId, result)
  local jobKey = prefix .. jobId
  local size = #result + rcall("HSTRLEN", jobKey, "data") + JOB_OVERHEAD_BYTES
    + (rcall("MEMORY", "USAGE", jobKey .. ":logs", "SAMPLES", 0) or 0)
  local done = prefix .. "bl:done:" .. tenant
  local sizes = prefix .. "bl:donesize:" .. tenant
  local total = prefix .. "bl:donebytes:" .. tenant
  local place = endedInOrder(prefix, tenant)
  rcall("ZADD", done, place, jobId)
  local before = 0
  if rcall("HSETNX", sizes, jobId, size) == 0 then
    -- Completed before (and requeued): its earlier size is replaced, not added to.
    before = tonumber(rcall("HGET", sizes, jobId) or "0")
    rcall("HSET", sizes, jobId, size)
  end
  local bytes = rcall("INCRBY", total, size - before)
  local budget = tonumber(rcall("HGET", prefix .. "bl:config", "completedBytesPerTenant") or "") or COMPLETED_BYTES_DEFAULT
  for _ = 1, COMPLETED_TRIMMED_PER_STEP do
    if bytes <= budget then return end
    local oldest = rcall("ZPOPMIN", done)
    local id = oldest[1]
    if not id or id == jobId then
      -- Only the job just completed is left: it alone is over the budget, and it is kept.
      if id then rcall("ZADD", done, place, id) end
      return
    end
    bytes = rcall("DECRBY", total, tonumber(rcall("HGET", sizes, id) or "0"))
    rcall("HDEL", sizes, id)
    if rcall("ZREM", completedKey, id) == 1 then removeEndedJob(prefix, tenant, id) end
  end
end
