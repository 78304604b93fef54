-- `_TAKE_OR_RENEW` for every key of KEYS at once: the list of their answers, in order.
local outcomes = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    outcomes[i] = 1
  elseif holder == false then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    outcomes[i] = 2
  else
    outcomes[i] = 0
  end
end
return outcomes
