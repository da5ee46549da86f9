--[[
  Limits per key (ADR 0016): a job admitted under limits lists on its hash (`ad`, one per line)
  the running sets it entered. A job removed or cancelled before it runs again leaves them here,
  or they would keep its id (and grow) for ever.
]]
local function leaveRunningSets(jobKey, jobId)
  local sets = rcall("HGET", jobKey, "ad")
  if not sets then return end
  for runningSet in string.gmatch(sets, "[^\n]+") do rcall("SREM", runningSet, jobId) end
end

