-- Gives units back to a request's counters, atomically: a batch refused after its arrival unit
-- was spent. Only counters that still exist shrink, never below 0; DECRBY keeps each counter's
-- expiry.
-- KEYS[i]: a counter the units were spent in, as spend.lua named it (the period of the spend, not
-- the current one). ARGV[1]: units to give back.
local units = tonumber(ARGV[1])
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used > 0 then
    redis.call('DECRBY', KEYS[i], math.min(units, used))
  end
end
return 0
