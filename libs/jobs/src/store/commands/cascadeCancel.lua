--[[
  Takes a cascade of cancellation one parent further (ADR 0013). A parent that ended for good
  took its linked children in its own step; those of them removed with children of their own were
  queued in `bl:cascade`, to be taken here one parent at a time: no step holds Redis for more than
  one parent's children (at most JOB_MAX_CHILDREN).

    KEYS[1] the queue of cascades (`<queue prefix>bl:cascade`, a LIST of "<tenant>\n<parent id>")
    ARGV[1] queue key prefix
    ARGV[2] most parents to take

    Output: how many parents are left in the queue
]]
local rcall = redis.call

--- @bullmq removeJob
--- @include cancelMark
--- @include runningSets
--- @include fairQueue
--- @include jobTree

local prefix = ARGV[1]
for _ = 1, tonumber(ARGV[2]) do
  local entry = rcall("LPOP", KEYS[1])
  if not entry then break end
  local newline = string.find(entry, "\n", 1, true)
  local tenant = string.sub(entry, 1, newline - 1)
  local parentId = string.sub(entry, newline + 1)
  cancelLinkedChildren(prefix, parentId, tenant)
  parentEnded(prefix, parentId)
end
return rcall("LLEN", KEYS[1])
