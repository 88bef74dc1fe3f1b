-- A job, for its owner only: {'processing'}, {'done', size of its results} or {'failed', reason};
-- nil for anyone else or none. A done job's results are read after, with a plain HGET: a megabyte
-- through Lua holds Redis (every replica's limits) for milliseconds, an HGET of it only for a copy.
-- A job still pending past its deadline (its replica stopped) is healed to `failed` here too.
-- KEYS[1]: the job (hash); KEYS[2]: pending jobs; KEYS[3]: kept jobs. ARGV: id, owner, ttl (ms).
local job = redis.call('HMGET', KEYS[1], 'owner', 'state', 'detail')
if job[1] ~= ARGV[2] then
  return false
end
if job[2] == 'processing' then
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local deadline = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
  if deadline > now then
    return {'processing'}
  end
  local reason = 'The server running this job stopped before it finished'
  redis.call('HSET', KEYS[1], 'state', 'failed', 'detail', reason)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[1])
  return {'failed', reason}
end
if job[2] == 'done' then
  return {'done', tostring(redis.call('HSTRLEN', KEYS[1], 'results'))}
end
return {'failed', job[3] or ''}
