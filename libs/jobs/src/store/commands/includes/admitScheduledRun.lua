--[[
  A run a job scheduler just produced becomes a job of its tenant: `tn`, index and open set, in
  the step that created it. When the tenant's backlog was already at its cap, the run still
  enters (it carries the schedule on: the node that takes it produces the next run) but carries
  the cancel mark, so it ends at once as `cancelled` when due instead of running: a skipped run.
  Every run is recorded on the schedule's list of recent runs (newest first, 20 kept).
  `uncounted`: a job of the open set not to count (a skipped run producing the next one: it is
  about to end, so it must not make its successor skipped too).
]]
local function admitScheduledRun(prefix, tenant, schedulerId, runId, backlogCap, now, uncounted)
  local runKey = prefix .. runId
  if rcall("EXISTS", runKey) == 0 then return end
  local openKey = prefix .. "bl:open:" .. tenant
  local backlog = rcall("SCARD", openKey)
  if uncounted and rcall("SISMEMBER", openKey, uncounted) == 1 then backlog = backlog - 1 end
  local skipped = rcall("SISMEMBER", openKey, runId) == 0 and backlog >= backlogCap
  -- `rk`: the rank of the schedule's jobs, for their turn in the tenant's stream (ADR 0017).
  local decoded, data = pcall(cjson.decode, rcall("HGET", runKey, "data") or "")
  local ranks = {max = 0, high = 1, normal = 2, low = 3}
  local rank = decoded and type(data) == "table" and ranks[data.priority] or 2
  rcall("HSET", runKey, "tn", tenant, "rk", rank)
  rcall("SADD", openKey, runId)
  rcall("ZADD", prefix .. "bl:index:" .. tenant, now * 1000, runId)
  if skipped then markCancelled(runKey) end
  local runsKey = prefix .. "bl:runs:" .. schedulerId
  rcall("LPUSH", runsKey, cjson.encode({jobId = runId, producedAt = now, skipped = skipped}))
  rcall("LTRIM", runsKey, 0, 19)
end
