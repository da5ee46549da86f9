--[[
  Resumes a tenant's function (ADR 0016) and brings its parked jobs back to the queue, at most
  ARGV[3] of them per step: each is promoted from the delayed set by BullMQ's own promote, and
  takes its turn in its tenant's stream of the fair queue (ADR 0017). Deleting a function brings
  them back too (they then run on the bundle they were submitted with). Only jobs still parked
  in this set (their `pk`) are promoted; other ids are dropped.

    KEYS[1]     paused functions (SET of "<tenant>/<function>")
    KEYS[2]     the function's parked jobs (SET of job ids)
    KEYS[3..11] BullMQ's promote keys (delayed, wait, paused, meta, prioritized, active, priority
                counter, events, marker)
    ARGV[1]     queue key prefix
    ARGV[2]     "<tenant>/<function>" to take out of the paused set, or "" to leave it
    ARGV[3]     most jobs to bring back in this step

    Output: how many parked ids are left
]]
local rcall = redis.call

--- @bullmq promote
--- @include fairQueue

if ARGV[2] ~= "" then rcall("SREM", KEYS[1], ARGV[2]) end
local promoteKeys = {KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]}
local ids = rcall("SPOP", KEYS[2], tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local jobKey = ARGV[1] .. id
  if rcall("HGET", jobKey, "pk") == KEYS[2] then
    rcall("HDEL", jobKey, "pk")
    -- Into the tenant's stream of the fair queue (ADR 0017): a large resume takes one place a round.
    if bullmq_promote(promoteKeys, {ARGV[1], id}) == 0 then queueAddedBackFairly(KEYS[7], ARGV[1], id) end
  end
end
return rcall("SCARD", KEYS[2])
