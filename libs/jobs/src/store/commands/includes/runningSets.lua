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

--[[
  Fair queuing (ADR 0017): a waiting job removed out of turn (cancelled, or taken with a parent)
  that is its fair stream's last leaves that stream's round recorded, with no job ("<round>:"),
  so the tenant's next job does not take the head's round while its earlier jobs still wait
  there. Otherwise submitting, cancelling and submitting again would put any number of one
  tenant's jobs in the head's round (a review did it: another tenant's backlog stalled).
]]
local function leaveFairStream(jobKey, jobId)
  local tenant = rcall("HGET", jobKey, "tn")
  if not tenant then return end
  local prefix = string.sub(jobKey, 1, #jobKey - #jobId)
  local virtualTimes = prefix .. "bl:vt"
  local suffix = ":" .. jobId
  for rank = 0, 3 do
    local field = rank .. ":" .. tenant
    local stored = rcall("HGET", virtualTimes, field)
    if stored and string.sub(stored, -#suffix) == suffix then
      rcall("HSET", virtualTimes, field, string.sub(stored, 1, #stored - #jobId))
    end
  end
end
