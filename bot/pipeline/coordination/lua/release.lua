-- Deletes each lock of KEYS that ARGV[1] still holds: never someone else's.
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    released = released + redis.call('DEL', key)
  end
end
return released
