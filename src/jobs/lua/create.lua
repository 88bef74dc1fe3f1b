-- Creates a job if the caps across every replica allow it, healing first what dead replicas left.
-- KEYS[1]: pending jobs (sorted set: id -> deadline, ms); KEYS[2]: kept jobs (sorted set: id ->
-- expiry, ms); KEYS[3]: bytes per kept job (hash); KEYS[4]: bytes of all kept jobs (counter);
-- KEYS[5]: the new job (hash).
-- ARGV: id, owner, bytes, max pending, max kept, max bytes, run deadline (ms from now), ttl (ms),
-- the job keys' prefix (the job hashes of healed jobs are named from their ids).
-- Returns 0 created, 1 too many pending, 2 the store is full.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[8])
-- Each cleanup below takes at most 128 entries, so one call stays short however much piled up
-- (a script blocks Redis while it runs); every creation heals 128 more, faster than jobs arrive.
-- A job still pending past its deadline: the replica running it stopped. It reads `failed`.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 128)) do
  local job = ARGV[9] .. id
  if redis.call('HGET', job, 'state') == 'processing' then
    redis.call('HSET', job, 'state', 'failed', 'detail', 'The server running this job stopped before it finished')
    redis.call('PEXPIRE', job, ttl)
    redis.call('ZADD', KEYS[2], now + ttl, id)
  end
  redis.call('ZREM', KEYS[1], id)
end
-- Jobs past their TTL (their hashes expired by themselves): their room back.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 128)) do
  redis.call('DECRBY', KEYS[4], tonumber(redis.call('HGET', KEYS[3], id) or '0'))
  redis.call('HDEL', KEYS[3], id)
  redis.call('ZREM', KEYS[2], id)
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 1
end
local bytes = tonumber(ARGV[3])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5])
    or tonumber(redis.call('GET', KEYS[4]) or '0') + bytes > tonumber(ARGV[6]) then
  return 2
end
local deadline = now + tonumber(ARGV[7])
redis.call('HSET', KEYS[5], 'owner', ARGV[2], 'state', 'processing')
redis.call('PEXPIRE', KEYS[5], deadline - now + ttl)
redis.call('ZADD', KEYS[1], deadline, ARGV[1])
redis.call('ZADD', KEYS[2], deadline + ttl, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], bytes)
redis.call('INCRBY', KEYS[4], bytes)
return 0
