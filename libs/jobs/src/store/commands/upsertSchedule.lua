--[[
  Creates or replaces a tenant's schedule in one step: the per-tenant cap on schedules, its
  record, and (unless it is created paused) BullMQ's addJobScheduler with its first run admitted
  as a job of the tenant; a next run the replacement removed leaves the tenant's open set and index.

    KEYS[1..11]  BullMQ's addJobScheduler keys
    KEYS[12]     the schedule's record (HASH: spec, createdAt, updatedAt, paused)
    KEYS[13]     the tenant's schedules (ZSET id → createdAt)
    ARGV[1..9]   BullMQ's addJobScheduler arguments (ARGV[3]: the scheduler id, ARGV[8]: queue prefix)
    ARGV[10]     tenant      ARGV[11] schedule id   ARGV[12] spec (JSON)
    ARGV[13]     now (ms)    ARGV[14] most schedules per tenant
    ARGV[15]     backlog cap ARGV[16] "1": paused

  Returns {"ok", created (1|0), next run id or ""}, {"cap", count}, or {"error", BullMQ's code}.
]]
local rcall = redis.call

--- @bullmq addJobScheduler
--- @bullmq removeJobScheduler
--- @bullmq removeJob
--- @include cancelMark
--- @include admitScheduledRun
--- @include stopScheduler

local recordKey, tenantSchedulesKey = KEYS[12], KEYS[13]
local schedulerId, prefix = ARGV[3], ARGV[8]
local tenant, id, spec = ARGV[10], ARGV[11], ARGV[12]
local now, maxSchedules, backlogCap, paused = tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15]), ARGV[16]

local existed = rcall("EXISTS", recordKey) == 1
if not existed then
  local count = rcall("ZCARD", tenantSchedulesKey)
  if count >= maxSchedules then return {"cap", count} end
end

local runId = ""
if paused == "1" then
  stopScheduler(prefix, schedulerId, tenant)
else
  local bullmqKeys, bullmqArgs = {}, {}
  for i = 1, 11 do bullmqKeys[i] = KEYS[i] end
  for i = 1, 9 do bullmqArgs[i] = ARGV[i] end
  local prevMillis = rcall("ZSCORE", KEYS[1], schedulerId)
  local result = bullmq_addJobScheduler(bullmqKeys, bullmqArgs)
  if prevMillis then
    local prevId = "repeat:" .. schedulerId .. ":" .. prevMillis
    if rcall("EXISTS", prefix .. prevId) == 0 then
      rcall("SREM", prefix .. "bl:open:" .. tenant, prevId)
      rcall("ZREM", prefix .. "bl:index:" .. tenant, prevId)
    end
  end
  if type(result) ~= "table" then return {"error", tostring(result)} end
  rcall("HSET", KEYS[1] .. ":" .. schedulerId, "tn", tenant, "bcap", backlogCap)
  runId = result[1]
  admitScheduledRun(prefix, tenant, schedulerId, runId, backlogCap, now)
end

local createdAt = rcall("HGET", recordKey, "createdAt") or now
rcall("HSET", recordKey, "spec", spec, "createdAt", createdAt, "updatedAt", now, "paused", paused)
rcall("ZADD", tenantSchedulesKey, createdAt, id)
return {"ok", existed and 0 or 1, runId}
