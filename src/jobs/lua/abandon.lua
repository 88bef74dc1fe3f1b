-- Forgets a job that never started, and gives its room back.
-- KEYS[1]: the job (hash); KEYS[2]: pending jobs; KEYS[3]: kept jobs; KEYS[4]: bytes per job;
-- KEYS[5]: bytes of all kept jobs. ARGV: id.
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('ZREM', KEYS[3], ARGV[1]) == 1 then
  redis.call('DECRBY', KEYS[5], tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0'))
  redis.call('HDEL', KEYS[4], ARGV[1])
end
return 1
