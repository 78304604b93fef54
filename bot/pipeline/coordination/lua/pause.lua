-- KEYS[1]: the bucket's pause key. ARGV[1]: the pause in milliseconds. Pauses end at the latest
-- end asked for; the key goes with the pause.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local until_ms = math.max(tonumber(redis.call('GET', KEYS[1])) or 0, now + tonumber(ARGV[1]))
if until_ms > now then
  redis.call('SET', KEYS[1], string.format('%.3f', until_ms), 'PX', math.ceil(until_ms - now))
end
return 0
