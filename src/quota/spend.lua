-- One quota decision for one request, atomically: the request's units fit under every limit
-- (a key's day and month, its owner's day and month) and every counter grows by them, or
-- nothing changes. Same rule as quota::fits (the in-process store).
-- KEYS[i]: a counter, named for its holder, period and period index (a new period is a new key).
-- ARGV[1]: units (0: only read). ARGV[1 + i]: limit of KEYS[i]. ARGV[1 + n + i]: milliseconds
-- until KEYS[i] may be forgotten (after its period ends).
-- Returns {granted (1/0), used of KEYS[1], used of KEYS[2], ...}.
local units = tonumber(ARGV[1])
local n = #KEYS
local used = {}
local granted = 1
for i = 1, n do
  used[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used[i] + units > tonumber(ARGV[1 + i]) then
    granted = 0
  end
end
if granted == 1 and units > 0 then
  for i = 1, n do
    used[i] = redis.call('INCRBY', KEYS[i], units)
    redis.call('PEXPIRE', KEYS[i], ARGV[1 + n + i])
  end
end
local answer = {granted}
for i = 1, n do
  answer[i + 1] = used[i]
end
return answer
