--[[
  Submits jobs of one tenant, all or none. First every check, without writing: each job's
  function is still the version the caller resolved, an idempotency id is not taken, and the
  tenant's backlog has room. Then each job is added by BullMQ's own add script, takes its tenant's
  turn among the waiting jobs of its priority (fair queuing, ADR 0017), and is recorded under its
  tenant (index, open set, and the tenant on the job's hash).

    KEYS: the keys BullMQ's add scripts of these jobs use, and the function keys checked, in any
          order; then
      KEYS[#KEYS - 1] tenant index (ZSET job id -> submission time x 1000 + place in the batch)
      KEYS[#KEYS]     tenant open set (SET of the tenant's job ids not yet ended)

    ARGV[1] tenant
    ARGV[2] backlog cap
    ARGV[3] queue key prefix ("{beamline}:jobs:")
    ARGV[4] number of checks C, then C triples: key index, hash field ("" = the key must
            exist or not), expected value ("" = no value / must not exist, "*" = must exist)
    then the number of jobs N, then per job: BullMQ add script, key count K, K key indices,
         packed args, data, encoded opts, custom job id ("" = BullMQ's counter),
         index score, request hash ("" = none), rank (0 max .. 3 low)
    then, for a child job started by a job (ADR 0013; one job only): parent job key index, parent
         tree key index, parent job id, relation (link, monitor, none), most children per parent,
         deepest depth

    Output:
      {"ok", id1, id2, ...}
      {"replay", id, request hash}   an idempotency id already names a job (nothing written)
      {"full", backlog}              the backlog cap would be exceeded (nothing written)
      {"stale"}                      a function changed since it was resolved (nothing written)
      {"no_parent"}                  the parent is no open job of this tenant (nothing written)
      {"children_full", children}    the parent has its most children (nothing written)
      {"too_deep", depth}            the child would be deeper than allowed (nothing written)
]]
local rcall = redis.call

--- @bullmq addStandardJob
--- @bullmq addPrioritizedJob
--- @bullmq addDelayedJob
--- @include fairQueue

local adders = {
  addStandardJob = bullmq_addStandardJob,
  addPrioritizedJob = bullmq_addPrioritizedJob,
  addDelayedJob = bullmq_addDelayedJob
}

local tenant = ARGV[1]
local cap = tonumber(ARGV[2])
local prefix = ARGV[3]
local indexKey = KEYS[#KEYS - 1]
local openKey = KEYS[#KEYS]

local at = 4
local checks = tonumber(ARGV[at])
at = at + 1
for _ = 1, checks do
  local key = KEYS[tonumber(ARGV[at])]
  local field = ARGV[at + 1]
  local expected = ARGV[at + 2]
  at = at + 3
  if field == "" then
    local exists = rcall("EXISTS", key) == 1
    if exists ~= (expected == "*") then return {"stale"} end
  else
    local value = rcall("HGET", key, field) or ""
    if value ~= expected then return {"stale"} end
  end
end

local count = tonumber(ARGV[at])
at = at + 1
local jobs = {}
for i = 1, count do
  local job = {adder = ARGV[at]}
  local keyCount = tonumber(ARGV[at + 1])
  at = at + 2
  local keys = {}
  for k = 1, keyCount do
    keys[k] = KEYS[tonumber(ARGV[at])]
    at = at + 1
  end
  job.keys = keys
  job.args = {ARGV[at], ARGV[at + 1], ARGV[at + 2]}
  job.id = ARGV[at + 3]
  job.score = ARGV[at + 4]
  job.requestHash = ARGV[at + 5]
  job.rank = ARGV[at + 6]
  at = at + 7
  if job.id ~= "" and rcall("EXISTS", prefix .. job.id) == 1 then
    return {"replay", job.id, rcall("HGET", prefix .. job.id, "rh") or ""}
  end
  jobs[i] = job
end

local parent
if ARGV[at] then
  parent = {key = KEYS[tonumber(ARGV[at])], tree = KEYS[tonumber(ARGV[at + 1])], id = ARGV[at + 2],
            relation = ARGV[at + 3]}
  local parentTenant = rcall("HGET", parent.key, "tn")
  if parentTenant ~= tenant or rcall("SISMEMBER", openKey, parent.id) == 0 then return {"no_parent"} end
  parent.children = rcall("ZCARD", parent.tree)
  if parent.children + count > tonumber(ARGV[at + 4]) then return {"children_full", parent.children} end
  parent.depth = tonumber(rcall("HGET", parent.key, "dp") or "0") + 1
  if parent.depth > tonumber(ARGV[at + 5]) then return {"too_deep", parent.depth} end
end

local backlog = rcall("SCARD", openKey)
if backlog + count > cap then return {"full", backlog} end

-- The jobs BullMQ adds back wait behind every job queued fairly until a node requeues them. Kept
-- before the adds: BullMQ's counter then puts each job added here outside the fair range too.
keepAddedBackBand(prefix .. "pc")
local result = {"ok"}
local fair = newFairBatch()
for i = 1, count do
  local job = jobs[i]
  local id = adders[job.adder](job.keys, job.args)
  if type(id) == "number" and id < 0 then
    return redis.error_reply("BullMQ's " .. job.adder .. " refused job " .. i .. " with code " .. id)
  end
  id = tostring(id)
  local jobKey = prefix .. id
  -- `rk`: the job's rank, for its turn in its tenant's stream whenever BullMQ adds it back.
  local fields = {"tn", tenant, "rk", job.rank}
  if job.requestHash ~= "" then
    table.insert(fields, "rh")
    table.insert(fields, job.requestHash)
  end
  if parent then
    for _, value in ipairs({"pj", parent.id, "pl", parent.relation, "dp", parent.depth}) do table.insert(fields, value) end
  end
  -- A prioritized job's KEYS[4] is the prioritized set: the job takes its tenant's turn there,
  -- and its fields are written with its priority; any other job's are written here.
  local queued = job.adder == "addPrioritizedJob"
    and queueFairly(job.keys[4], prefix .. "bl:vt", jobKey, id, tenant, backlog + i, tonumber(job.rank), fields, fair)
  if not queued then rcall("HSET", jobKey, unpack(fields)) end
  rcall("ZADD", indexKey, "NX", job.score, id)
  rcall("SADD", openKey, id)
  if parent then
    -- Scored by place among the parent's children: listed in the order they were started.
    rcall("ZADD", parent.tree, "NX", parent.children + i, id)
  end
  result[i + 1] = id
end
flushFairBatch(prefix .. "bl:vt", fair)
return result
