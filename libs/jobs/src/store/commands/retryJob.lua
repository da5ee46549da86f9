--[[
  Retries a tenant's failed (or cancelled) job: BullMQ's reprocessJob puts it back in the queue
  with its attempts reset, and in the same step it is open again in its tenant's backlog, within
  the backlog cap, without its cancel mark.

    KEYS[1..9] BullMQ's reprocessJob keys (job, events, failed, wait, meta, active, marker,
               prioritized, priority counter)
    KEYS[10]   tenant open set

    ARGV[1..6] BullMQ's reprocessJob arguments
    ARGV[7]    tenant
    ARGV[8]    backlog cap

    Output:
      {1}              retried
      {0}              no such job of this tenant, or not failed
      {-1, backlog}    the backlog cap would be exceeded (nothing written)
]]
local rcall = redis.call

--- @bullmq reprocessJob
--- @include cancelMark
--- @include fairQueue

local jobKey = KEYS[1]
if rcall("HGET", jobKey, "tn") ~= ARGV[7] then return {0} end
if not rcall("ZSCORE", KEYS[3], ARGV[1]) then return {0} end
local backlog = rcall("SCARD", KEYS[10])
if backlog + 1 > tonumber(ARGV[8]) then return {-1, backlog} end

local bullmqKeys = {KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]}
local bullmqArgs = {ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]}
-- The job added back waits in the added-back band (fairQueue.lua), whatever BullMQ's fetch left.
keepAddedBackBand(KEYS[9])
if bullmq_reprocessJob(bullmqKeys, bullmqArgs) ~= 1 then return {0} end
rcall("SADD", KEYS[10], ARGV[1])
clearCancelMark(jobKey)
return {1}
