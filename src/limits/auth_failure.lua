-- One failed key from one address: counted, unless the address is throttled already.
-- KEYS[1]: the address's counter. ARGV: failures allowed, window (milliseconds).
-- Returns {1, milliseconds left} when the address was throttled already (nothing counted),
-- else {0, failures in the window now}. The counter always carries an expiry: set in the same
-- script as the first INCR, so no crash between two calls can leave it forever.
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
if failures >= tonumber(ARGV[1]) then
  return {1, redis.call('PTTL', KEYS[1])}
end
failures = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {0, failures}
