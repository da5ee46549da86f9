--[[
  Keeps the counter BullMQ gives the jobs it adds back (retries, delays coming due, stalled and
  put-back jobs) at the head's round of the fairly queued jobs (ADR 0017), as the head moves on
  when jobs are taken. Worker nodes call it every few hundred ms.

    KEYS[1] the prioritized set
    KEYS[2] BullMQ's priority counter (`pc`)

    Output: the counter set
]]
local rcall = redis.call

--- @include fairQueue

alignAddBackCounter(KEYS[1], KEYS[2])
return tonumber(rcall("GET", KEYS[2]))
