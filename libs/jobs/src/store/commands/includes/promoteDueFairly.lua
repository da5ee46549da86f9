--[[
  Promotes the delayed jobs that are due, up to `most`, each with BullMQ's own promote and then
  into its tenant's stream of the fair queue (ADR 0017): the store, not BullMQ's fetch, brings
  them back, so a burst of one tenant's jobs coming due does not go ahead of other tenants' jobs
  nor wait behind them. Needs `--- @bullmq promote` and `fairQueue` before it. `promoteKeys`:
  promote's keys (delayed, wait, paused, meta, prioritized, active, priority counter, events,
  marker).
]]
local PROMOTE_PER_FETCH = 500

local function promoteDueFairly(promoteKeys, prefix, now, most)
  local due = rcall("ZRANGEBYSCORE", promoteKeys[1], 0, (now + 1) * 0x1000 - 1, "LIMIT", 0, most)
  for _, id in ipairs(due) do
    if bullmq_promote(promoteKeys, {prefix, id}) == 0 then queueAddedBackFairly(promoteKeys[5], prefix, id) end
  end
end
