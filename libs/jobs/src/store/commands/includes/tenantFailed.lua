--[[
  Keeps a bounded number of each tenant's failed jobs (dead letters, cancelled jobs, skipped
  schedule runs). BullMQ's removeOnFail trims the one failed set of the queue, across tenants, by
  the options of the job that fails; here each tenant's own oldest failed jobs go once it has more
  than its allowance, never another tenant's.
    `bl:failed:<tenant>`  ZSET job id -> time it failed. An id that is no longer in the failed set
                          (retried, requeued, removed) is dropped when it is met.
    `bl:config`           HASH; `failedKeptPerTenant` (default 10,000).
]]
local FAILED_KEPT_DEFAULT = 10000
local FAILED_TRIMMED_PER_STEP = 10

local function recordTenantFailure(prefix, failedKey, tenant, jobId, now)
  local tenantFailed = prefix .. "bl:failed:" .. tenant
  rcall("ZADD", tenantFailed, now, jobId)
  local kept = tonumber(rcall("HGET", prefix .. "bl:config", "failedKeptPerTenant") or "") or FAILED_KEPT_DEFAULT
  local excess = rcall("ZCARD", tenantFailed) - kept
  if excess <= 0 then return end
  local oldest = rcall("ZPOPMIN", tenantFailed, math.min(excess, FAILED_TRIMMED_PER_STEP))
  for i = 1, #oldest, 2 do
    local id = oldest[i]
    if rcall("ZREM", failedKey, id) == 1 then
      local jobKey = prefix .. id
      rcall("DEL", jobKey, jobKey .. ":logs", jobKey .. ":dependencies", jobKey .. ":processed",
        jobKey .. ":failed", jobKey .. ":unsuccessful", prefix .. "bl:tree:" .. id, prefix .. "bl:ends:" .. id)
      rcall("ZREM", prefix .. "bl:index:" .. tenant, id)
    end
  end
end
