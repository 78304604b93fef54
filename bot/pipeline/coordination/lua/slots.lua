-- Send slots (see `bot.pipeline.coordination.slots`, whose `earliest` the script's mirrors line for line). A
-- bucket is a sorted set `{prefix}rate:{key}` of bookings scored by the moment booked (ms of
-- Redis' clock), and a string `{prefix}rate:{key}:pause` holding the end of a pause (ms) while
-- it lasts.
--
-- KEYS: for each bucket, its set and its pause key, in turn. ARGV: the mode, the booking, then
-- for each bucket its limit and span (ms). `book` books the earliest moment from now on that
-- every bucket allows and answers how many ms away it is, or -1 when every bucket has room
-- now: then the send is started at once, as a `confirm` would start it. `confirm`, called when
-- that moment came, books the send again at the moment it really starts: now, when every
-- bucket allows it counted against the sends started (`s:{booking}`) or booked again
-- (`r:{booking}`), and answers 0; otherwise it books it again, at the earliest moment those
-- allow, and answers the wait (first bookings are not in the way: their owners check when their
-- moment comes).
-- `finish` moves a started send to now (never earlier), when its answer came, adding it again if
-- it was forgotten meanwhile (started longer than a span ago). `cancel` gives a booking back.
-- moments are stored to the microsecond: gaps within one of a whole span count as whole
local EPSILON = 0.001

local function earliest(times, limit, span, start)
  local count = #times
  local short = {[0] = 0}
  for first = 0, count - limit do
    local too_short = 0
    if times[first + limit] - times[first + 1] < span - EPSILON then too_short = 1 end
    short[first + 1] = short[first] + too_short
  end
  local lo, hi = 1, count
  while lo <= hi do
    local mid = math.floor((lo + hi) / 2)
    if times[mid] <= start then lo = mid + 1 else hi = mid - 1 end
  end
  for gap = lo - 1, count do
    local lowest = start
    if gap > 0 then lowest = math.max(lowest, times[gap]) end
    if gap >= limit then lowest = math.max(lowest, times[gap - limit + 1] + span) end
    local ok = not (gap < count and lowest >= times[gap + 1])
    if ok and gap + limit - 1 < count and lowest > times[gap + limit] - span + EPSILON then
      ok = false
    end
    if ok then
      local first_run = math.max(0, gap - limit + 1)
      local last_run = math.min(gap - 1, count - limit)
      if first_run <= last_run and short[last_run + 1] - short[first_run] > 0 then ok = false end
    end
    if ok then return lowest end
  end
  return start
end

local function book(now, buckets)
  local slot = now
  local settled = false
  while not settled do
    settled = true
    for _, bucket in ipairs(buckets) do
      local moment = earliest(bucket.times, bucket.limit, bucket.span, math.max(slot, bucket.pause))
      if moment > slot then
        slot = moment
        settled = false
      end
    end
  end
  return slot
end

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local mode = ARGV[1]
local booking = ARGV[2]
local buckets = {}
for i = 1, #KEYS / 2 do
  buckets[i] = {key = KEYS[2 * i - 1], pause = tonumber(redis.call('GET', KEYS[2 * i])) or 0,
    limit = tonumber(ARGV[1 + 2 * i]), span = tonumber(ARGV[2 + 2 * i])}
end
if mode == 'finish' then
  for _, bucket in ipairs(buckets) do
    redis.call('ZADD', bucket.key, 'GT', string.format('%.3f', now), 's:' .. booking)
    local ttl = math.ceil(bucket.span) + 1
    if redis.call('PTTL', bucket.key) < ttl then redis.call('PEXPIRE', bucket.key, ttl) end
  end
  return 0
end
if mode == 'confirm' then
  local slot = tonumber(redis.call('ZSCORE', buckets[1].key, booking))
    or tonumber(redis.call('ZSCORE', buckets[1].key, 'r:' .. booking))
  if slot and slot > now then return math.ceil(slot - now) end
end
for _, bucket in ipairs(buckets) do
  redis.call('ZREM', bucket.key, booking, 'r:' .. booking)
end
if mode == 'cancel' then return 0 end
local startable = mode == 'confirm'
-- Fewer bookings of any kind than its limit in every bucket, none paused: no window can be
-- full, so `earliest` answers `now` for all of them (and for the sends due in a confirm):
-- the send is booked, or started, now, without reading the sets (a bucket far from its limit,
-- the common case, costs a count instead of a scan of its last span).
local roomy = true
for _, bucket in ipairs(buckets) do
  local stale = '(' .. string.format('%.3f', now - bucket.span)
  redis.call('ZREMRANGEBYSCORE', bucket.key, '-inf', stale)
  if bucket.pause > now or redis.call('ZCARD', bucket.key) >= bucket.limit then roomy = false end
end
for _, bucket in ipairs(buckets) do
  if roomy then break end
  local flat = redis.call('ZRANGE', bucket.key, 0, -1, 'WITHSCORES')
  local times = {}
  local due = {}
  for j = 1, #flat, 2 do
    local state = string.sub(flat[j], 1, 2)
    local moment = tonumber(flat[j + 1])
    if mode ~= 'confirm' or state == 's:' or state == 'r:' then
      times[#times + 1] = moment
    end
    if state == 's:' or (state == 'r:' and moment <= now) then due[#due + 1] = moment end
  end
  bucket.times = times
  -- a send may start now if there is room among those started and those booked again whose
  -- moment has come: the ones still ahead wait for us (else two would leap over each other)
  if startable and (bucket.pause > now or earliest(due, bucket.limit, bucket.span, now) > now) then
    startable = false
  end
end
local slot = now
local member = 's:' .. booking
if not roomy and not startable then
  slot = book(now, buckets)
  member = booking
  if mode == 'confirm' then member = 'r:' .. booking end
end
for _, bucket in ipairs(buckets) do
  redis.call('ZADD', bucket.key, string.format('%.3f', slot), member)
  local ttl = math.ceil(slot - now + bucket.span) + 1
  if redis.call('PTTL', bucket.key) < ttl then redis.call('PEXPIRE', bucket.key, ttl) end
end
if roomy and mode == 'book' then return -1 end
return math.ceil(slot - now)
