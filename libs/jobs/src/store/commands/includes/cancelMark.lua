--[[
  The cancel mark of a running job: `cx` on its hash, and "cancelled":true spliced in as the
  first key of its data (the node that takes it after a stall reads its data, not its hash).
]]
local cancelMark = '{"cancelled":true,'

local function markCancelled(jobKey)
  if rcall("HSETNX", jobKey, "cx", "1") == 1 then
    local data = rcall("HGET", jobKey, "data")
    if data and string.sub(data, 1, 1) == "{" then
      rcall("HSET", jobKey, "data", cancelMark .. string.sub(data, 2))
    end
  end
end

local function clearCancelMark(jobKey)
  if rcall("HDEL", jobKey, "cx") == 1 then
    local data = rcall("HGET", jobKey, "data")
    if data and string.sub(data, 1, #cancelMark) == cancelMark then
      rcall("HSET", jobKey, "data", "{" .. string.sub(data, #cancelMark + 1))
    end
  end
end
