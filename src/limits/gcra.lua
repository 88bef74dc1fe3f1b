-- One GCRA decision for one key, atomically, on Redis's clock (TIME, integer microseconds), with
-- the in-process limiter's semantics (limits/rate_limiter.rs): a request costs `units`, of which
-- `paid` were already spent on arrival; a request larger than the burst passes only on a full
-- quota and leaves a debt; a refused request changes nothing.
-- KEYS[1]: the key id's theoretical arrival time (absent: the quota is full).
-- KEYS[2], optional: the failed-key counter of the client's address, checked first.
-- ARGV: interval (microseconds per unit), burst, units, paid, failures allowed (with KEYS[2]),
-- and, from tests only, the time now (microseconds) instead of Redis's.
-- The rule is limits/gcra.rs's `decide`, line for line; tests/limits_conformance.rs holds the two
-- to the same decisions.
-- Returns {1, tat, now, 0} granted (units 0: only looked at), {0, tat, now, retry} refused,
-- {-1, milliseconds left, 0, 0} the address is throttled.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local units = tonumber(ARGV[3])
local paid = tonumber(ARGV[4])
if KEYS[2] then
  local failures = tonumber(redis.call('GET', KEYS[2]) or '0')
  if failures >= tonumber(ARGV[5]) then
    return {-1, redis.call('PTTL', KEYS[2]), 0, 0}
  end
end
local now
if ARGV[6] then
  now = tonumber(ARGV[6])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if units == 0 then
  return {1, tat, now, 0}
end
local capacity = interval * burst
local cost = interval * units
local owed = math.max(tat - interval * paid, 0)
local new_tat = math.max(owed, now) + cost
local wait
if units > burst then
  wait = owed - now
else
  wait = new_tat - now - capacity
end
if wait > 0 then
  -- The retry pays its arrival unit again: it is told when all it will need is back.
  local retry
  if units > burst then
    retry = tat - now
  else
    retry = math.max(tat, now) + cost - now - capacity
  end
  return {0, tat, now, math.max(retry, wait)}
end
-- Gone (a full quota) once the theoretical arrival time has passed.
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, new_tat, now, 0}
