--[[
  A job's hash and its state, read in one step (so a job that moves meanwhile cannot show a
  final state with the fields of before). The state is found with constant-time checks first;
  only a job that is in none of BullMQ's sorted sets is looked for in the active list (small:
  the jobs running now) and then the wait list.

    KEYS[1] completed   KEYS[2] failed   KEYS[3] delayed   KEYS[4] active
    KEYS[5] wait        KEYS[6] paused   KEYS[7] waiting-children
    KEYS[8] prioritized KEYS[9] job key
    ARGV[1] job id

    Output: {} when there is no such job, else {state, field1, value1, field2, value2, ...}
    with state one of BullMQ's: completed, failed, delayed, prioritized, active, waiting,
    waiting-children, unknown.
]]
local rcall = redis.call
local jobKey = KEYS[9]
local id = ARGV[1]

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
elseif rcall("LPOS", KEYS[5], id) or rcall("LPOS", KEYS[6], id) then
  state = "waiting"
elseif rcall("ZSCORE", KEYS[7], id) then
  state = "waiting-children"
end
table.insert(fields, 1, state)
return fields
