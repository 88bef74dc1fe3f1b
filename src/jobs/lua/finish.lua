-- Records a job's outcome, unless it was healed to `failed` or abandoned meanwhile.
-- KEYS[1]: the job (hash); KEYS[2]: pending jobs; KEYS[3]: kept jobs.
-- ARGV: id, state (done or failed), results (JSON) or the reason, ttl (ms).
if redis.call('HGET', KEYS[1], 'state') ~= 'processing' then
  return 0
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local field = 'detail'
if ARGV[2] == 'done' then field = 'results' end
redis.call('HSET', KEYS[1], 'state', ARGV[2], field, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[1])
return 1
