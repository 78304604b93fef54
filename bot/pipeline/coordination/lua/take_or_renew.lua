-- Takes the lock for ARGV[1] if it is free, renews it if ARGV[1] holds it already (a SET whose
-- reply was lost must not make its sender wait for its own lock). 1: renewed, 2: taken, 0: held
-- by another.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
