--[[
  A job's hash and its state, read in one step (so a job that moves meanwhile cannot show a
  final state with the fields of before), for one tenant: another tenant's job reads as none,
  before anything else is looked at. The state takes constant time but for the active list
  (small: the jobs running now); a job in none of BullMQ's sets nor active is waiting (the wait
  list is never scanned: it can hold every tenant's jobs).

    KEYS[1] completed   KEYS[2] failed   KEYS[3] delayed   KEYS[4] active
    KEYS[5] wait        KEYS[6] paused   KEYS[7] waiting-children
    KEYS[8] prioritized KEYS[9] job key
    KEYS[10] the job's tree (ZSET of its child jobs, ADR 0013)
    ARGV[1] job id
    ARGV[2] tenant ("" = any)
    ARGV[3] how many of its children's ids to read, first started first (0 = only their count)

    Output: {} when there is no such job, else {state, field1, value1, field2, value2, ...}
    with state one of BullMQ's: completed, failed, delayed, prioritized, active, waiting,
    waiting-children, unknown. A job with children has two fields more: `bl:children` (their
    count) and `bl:childIds` (the ids read, comma-separated).
]]
local rcall = redis.call
local jobKey = KEYS[9]
local id = ARGV[1]

-- A key that is no job's hash (a name a caller made up) is no job: its type is not told.
if rcall("TYPE", jobKey)["ok"] ~= "hash" then return {} end
if ARGV[2] ~= "" and rcall("HGET", jobKey, "tn") ~= ARGV[2] then return {} end
local fields = rcall("HGETALL", jobKey)
if #fields == 0 then return {} end

local state = "unknown"
if rcall("ZSCORE", KEYS[1], id) then
  state = "completed"
elseif rcall("ZSCORE", KEYS[2], id) then
  state = "failed"
elseif rcall("ZSCORE", KEYS[3], id) then
  state = "delayed"
elseif rcall("ZSCORE", KEYS[8], id) then
  state = "prioritized"
elseif rcall("EXISTS", jobKey .. ":lock") == 1 or rcall("LPOS", KEYS[4], id) then
  state = "active"
elseif rcall("ZSCORE", KEYS[7], id) then
  state = "waiting-children"
else
  state = "waiting"
end
local children = rcall("ZCARD", KEYS[10])
if children > 0 then
  table.insert(fields, "bl:children")
  table.insert(fields, children)
  local wanted = tonumber(ARGV[3] or "0")
  if wanted > 0 then
    table.insert(fields, "bl:childIds")
    table.insert(fields, table.concat(rcall("ZRANGE", KEYS[10], 0, wanted - 1), ","))
  end
end
table.insert(fields, 1, state)
return fields
