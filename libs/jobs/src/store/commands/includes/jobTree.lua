--[[
  Job trees (ADR 0013). A child job's hash carries `pj` (its parent job's id), `pl` (`link`,
  `monitor` or `none`) and `dp` (its depth: the root is 0); a parent's children are the ZSET
  `<queue prefix>bl:tree:<parent id>`, and the ids of its children that ended, in the order they
  ended, the LIST `<queue prefix>bl:ends:<parent id>` (kept while the parent is open: its node
  reads it after a notification, and after a retry). Needs `markCancelled` (cancelMark),
  `leaveRunningSets` (runningSets), `leaveFairStream` (fairQueue) and `bullmq_removeJob` above it.
]]

-- "{beamline}:jobs:" -> "{beamline}:control:<node>" (Keys.control).
local function controlChannel(prefix, node)
  return string.sub(prefix, 1, #prefix - #"jobs:") .. "control:" .. node
end

-- A control message as the node's listener decodes it, the sender's tenant first (senderTenantOf).
local function publishControl(prefix, node, tenant, fields)
  local text = '{"tenant":' .. cjson.encode(tenant)
  for i = 1, #fields, 2 do
    text = text .. ',' .. cjson.encode(fields[i]) .. ':' .. cjson.encode(fields[i + 1])
  end
  rcall("PUBLISH", controlChannel(prefix, node), text .. '}')
end

-- A child has ended (finished, or removed before it started): its parent's node is told, while
-- the parent is open. The ends list is what counts; the message only makes the node look now.
local function notifyParent(prefix, childId, parentId, tenant)
  if not parentId or rcall("SISMEMBER", prefix .. "bl:open:" .. tenant, parentId) == 0 then return end
  rcall("RPUSH", prefix .. "bl:ends:" .. parentId, childId)
  local node = rcall("HGET", prefix .. parentId, "pb")
  if node then publishControl(prefix, node, tenant, {"type", "child", "parent", parentId, "child", childId}) end
end

-- A parent has ended for good (failed or cancelled): its linked children still open end too.
-- Not started: removed (their own linked children are queued in `bl:cascade`, for a later step);
-- running: cancel-marked and their node told, so they end as `cancelled` and cascade further in
-- their own finishing step.
local function cancelLinkedChildren(prefix, parentId, tenant)
  local openKey = prefix .. "bl:open:" .. tenant
  local children = rcall("ZRANGE", prefix .. "bl:tree:" .. parentId, 0, -1)
  for _, child in ipairs(children) do
    local childKey = prefix .. child
    if rcall("SISMEMBER", openKey, child) == 1 and rcall("HGET", childKey, "pl") == "link" then
      local notRunning = rcall("EXISTS", childKey .. ":lock") == 0
      if notRunning then
        leaveRunningSets(childKey, child)
        leaveFairStream(childKey, child)
      end
      local removed = notRunning and
        bullmq_removeJob({childKey, prefix .. "repeat"}, {child, "1", prefix}) == 1
      if removed then
        rcall("ZREM", prefix .. "bl:index:" .. tenant, child)
        rcall("SREM", openKey, child)
        -- Its own children are taken by a later step (cascadeCancel.lua), so that one step
        -- never does more than one parent's children.
        if rcall("EXISTS", prefix .. "bl:tree:" .. child) == 1 then
          rcall("RPUSH", prefix .. "bl:cascade", tenant .. "\n" .. child)
        end
      else
        markCancelled(childKey)
        local node = rcall("HGET", childKey, "pb")
        if node then
          publishControl(prefix, node, tenant,
            {"type", "cancel", "jobId", child, "attempt", tonumber(rcall("HGET", childKey, "ats") or "0")})
        end
      end
    end
  end
end

-- The parent has ended: nobody reads its ends list any more; its children stay listed a week.
local TREE_KEPT_S = 7 * 24 * 3600
local function parentEnded(prefix, parentId)
  rcall("DEL", prefix .. "bl:ends:" .. parentId)
  rcall("EXPIRE", prefix .. "bl:tree:" .. parentId, TREE_KEPT_S)
end
