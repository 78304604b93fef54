"""Coordination through Redis, for any number of web and worker processes.

The same contracts as `bot.pipeline.memory` (proven by one contract suite), shared by every
process that talks to one Redis. Every key starts with the `prefix` given, so several
deployments or test runs can share a server. Needs Redis 6.2 or later (BLPOP with a fractional
timeout; LPOP with a count; scripts that call TIME; ZADD GT).

Redis holds nothing that matters: a queue item lost with a Redis restart is found again by the
worker's sweep of the database, and a lock lost with its holder (or with Redis) only lets a
second worker load the same member, whose database transaction remains the real guard against
a double effect. So these classes ride out an outage instead of crashing the process: `pop`
answers None while Redis is away, the others retry for a few seconds and then raise
`CoordinationUnavailable`. redis-py reconnects by itself on the next command.

None of these classes owns the client it is given; whoever made the client closes it
(`bot.pipeline.factory` does, in `Coordination.close`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.pipeline.coordination import NO_BOOKING, Booking, Bucket
from bot.pipeline.memory import check_buckets, check_limit
from bot.pipeline.slots import window_of

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: What redis-py raises when Redis is down, restarting, loading or unreachable. (OSError also
#: covers the built-in TimeoutError.)
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

#: How long an operation other than `pop` keeps retrying before it gives up.
DEFAULT_UNAVAILABLE_AFTER = 5.0


class CoordinationUnavailable(RuntimeError):
    """Redis could not be reached for long enough that waiting longer would not help the caller.

    Nothing durable is lost: the caller's database rows stay and are picked up again later."""


def _raise_if_cancelled() -> None:
    """Raise CancelledError if the current task has a cancellation pending that never arrived.

    On Python 3.11, `asyncio.wait_for` (which redis-py uses to send every command) swallows a
    cancellation that comes just as the send completes (CPython gh-86296, fixed in 3.12). A loop
    that carried on after that would never end: an `asyncio.timeout` around it fires only once.
    So every loop here checks before it goes round again."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _reason(error: BaseException) -> str:
    """What went wrong, for a log line (redis-py's errors have a terse repr)."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


async def _retrying(what: str, operation: Callable[[], Awaitable[T]], budget: float) -> T:
    """Run `operation`, retrying while Redis is unavailable, for up to `budget` seconds."""
    deadline = time.monotonic() + budget
    delay = 0.05
    attempts = 0
    while True:
        try:
            return await operation()
        except UNAVAILABLE_ERRORS as error:
            attempts += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CoordinationUnavailable(
                    f"Redis did not answer for {budget:g} s ({attempts} attempts) "
                    f"while trying to {what}: {_reason(error)}"
                ) from error
            log = logger.warning if attempts == 1 else logger.debug
            log("Redis unavailable while trying to %s (%s); retrying", what, _reason(error))
            _raise_if_cancelled()
            await asyncio.sleep(min(delay, remaining))
            delay = min(2 * delay, 1.0)


def _longest_block(client: Redis) -> float:
    """The longest BLPOP that stays clear of the client's socket timeout (which would end a
    longer one with a TimeoutError, and a retry): longer waits are made of several."""
    socket_timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
    if not socket_timeout:
        return math.inf
    return max(0.8 * float(socket_timeout), float(socket_timeout) - 1.0)


class RedisQueue:
    """A FIFO in one Redis list (`{prefix}queue:{name}`): RPUSH to push, BLPOP to pop (then
    LPOP with a count for the rest of a `pop_many`).

    Delivery is at-least-once at best: an item pushed again after a lost reply is there twice, and
    an item popped by Redis whose reply never reached us (a connection cut at that instant, a
    cancelled pop) is gone; the worker's sweep of the database finds it again either way.
    """

    def __init__(
        self,
        client: Redis,
        name: str,
        prefix: str,
        *,
        push_timeout: float = DEFAULT_UNAVAILABLE_AFTER,
        outage_pause: float = 1.0,
    ) -> None:
        """`push_timeout`: how long a push retries while Redis is unavailable. `outage_pause`:
        the most a pop that failed to reach Redis sleeps before answering None, so a caller
        looping on pop does not spin while Redis is away."""
        self._client = client
        self.key = f"{prefix}queue:{name}"
        self._push_timeout = push_timeout
        self._outage_pause = outage_pause
        self._longest_block = _longest_block(client)
        self._unavailable = False

    async def push(self, item: str) -> None:
        """Append `item`. Retries for up to `push_timeout` seconds while Redis is unavailable,
        then raises `CoordinationUnavailable`."""
        await _retrying(
            f"push to {self.key}", lambda: self._client.rpush(self.key, item), self._push_timeout
        )
        self._available()

    async def push_many(self, items: Sequence[str]) -> None:
        """`push` every item, in order, with one RPUSH."""
        if not items:
            return
        await _retrying(
            f"push to {self.key}", lambda: self._client.rpush(self.key, *items), self._push_timeout
        )
        self._available()

    async def pop(self, timeout: float) -> str | None:
        """The next item, waiting up to `timeout` seconds (0 or less: not at all); None when
        there was none, and also when Redis could not be reached: then it logs, sleeps a little
        (at most `outage_pause`, within `timeout`) and answers None, never raising, so that the
        caller's loop carries on and finds Redis again on a later call. Redis ends a blocking
        pop on its own clock, which may be up to 1/hz (0.1 s by default) late."""
        deadline = time.monotonic() + max(0.0, timeout)
        try:
            if timeout <= 0:
                return _text(await self._client.lpop(self.key))
            while (remaining := deadline - time.monotonic()) > 0:
                block = math.ceil(min(remaining, self._longest_block) * 1000) / 1000
                reply = await self._client.blpop([self.key], timeout=block)
                self._available()
                if reply is not None:
                    return _text(reply[1])
                _raise_if_cancelled()
            return None
        except UNAVAILABLE_ERRORS as error:
            if not self._unavailable:
                logger.warning(
                    "Redis unavailable, %s answers nothing until it is back: %s",
                    self.key,
                    _reason(error),
                )
                self._unavailable = True
            await asyncio.sleep(min(max(0.0, deadline - time.monotonic()), self._outage_pause))
            return None

    async def pop_many(self, timeout: float, limit: int) -> list[str]:
        """Up to `limit` items: the first as `pop` gives it (outages included), then those
        queued already, in one LPOP with a count. When that second call cannot reach Redis,
        the first item alone."""
        check_limit(limit)
        first = await self.pop(timeout)
        if first is None:
            return []
        if limit == 1:
            return [first]
        try:
            rest = await self._client.lpop(self.key, limit - 1)
        except UNAVAILABLE_ERRORS as error:
            logger.debug("could not pop more items from %s: %s", self.key, _reason(error))
            return [first]
        return [first, *_texts(rest)]

    async def clear(self) -> None:
        """Drop every item queued now. Best effort: when Redis is away this logs and returns,
        as the items it would have dropped are only reminders."""
        try:
            await self._client.delete(self.key)
        except UNAVAILABLE_ERRORS as error:
            logger.debug("could not clear %s: %s", self.key, _reason(error))

    async def close(self) -> None:
        """Nothing to release: the client belongs to whoever made it."""

    def _available(self) -> None:
        if self._unavailable:
            logger.info("Redis is back for %s", self.key)
            self._unavailable = False


def _text(value: object) -> str | None:
    """An item as redis-py hands it back: bytes, or str with `decode_responses`."""
    if isinstance(value, bytes):
        return value.decode()
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"unexpected reply from Redis: {value!r}")


def _texts(values: object) -> list[str]:
    """Items as an LPOP with a count hands them back: a list, or None when there were none."""
    if values is None:
        return []
    if isinstance(values, list):
        return [text for value in values if (text := _text(value)) is not None]
    raise TypeError(f"unexpected reply from Redis: {values!r}")


# Takes the lock for ARGV[1] if it is free, renews it if ARGV[1] holds it already (a SET whose
# reply was lost must not make its sender wait for its own lock). 1: renewed, 2: taken, 0: held
# by another.
_TAKE_OR_RENEW = """
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
"""

# `_TAKE_OR_RENEW` for every key of KEYS at once: the list of their answers, in order.
_TAKE_OR_RENEW_EACH = """
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
"""

# Deletes each lock of KEYS that ARGV[1] still holds: never someone else's.
_RELEASE = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    released = released + redis.call('DEL', key)
  end
end
return released
"""


class RedisLocks:
    """Per-key locks across processes: a key `{prefix}lock:{key}` holding a random token,
    with a time to live of `ttl` seconds.

    `hold` takes the lock (SET NX PX, in a script that also recognises its own token), polling
    with jittered sleeps of 5–50 ms while another holds it; waiters are not queued, so who gets
    a contended lock next is unspecified (order comes from loading after locking, not from the
    lock). `hold_free` takes every free lock of its keys in one call of the same script, under
    one token, and waits for none. While the block runs, a task renews the time to live of
    every lock held every `ttl`/3, in one call; when the block ends, one call deletes each lock
    this holder still holds. The keys of one `hold_free` must live on one Redis node (a single
    server, or one hash slot).

    If the holder's process dies, its lock expires within `ttl`. If the holder's event loop is
    blocked for longer than `ttl`, or Redis restarts, the lock can expire under a live holder:
    the renewal logs a warning and takes the lock again if it is free. Either way two workers may
    briefly both believe they hold a member; the database transaction is the real guard against
    a double effect, the lock only makes it rare.
    """

    def __init__(
        self,
        client: Redis,
        prefix: str,
        ttl: float = 30.0,
        *,
        unavailable_after: float = DEFAULT_UNAVAILABLE_AFTER,
    ) -> None:
        """`unavailable_after`: how long `hold` and `hold_free` keep trying while Redis is
        unavailable before raising `CoordinationUnavailable`."""
        if not ttl > 0:
            raise ValueError(f"lock ttl must be positive, not {ttl}")
        self._client = client
        self._prefix = prefix
        self.ttl = ttl
        self._ttl_ms = max(1, round(ttl * 1000))
        self._unavailable_after = unavailable_after
        self._take_or_renew = client.register_script(_TAKE_OR_RENEW)
        self._take_or_renew_each = client.register_script(_TAKE_OR_RENEW_EACH)
        self._release = client.register_script(_RELEASE)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Wait for the lock on `key` and hold it for the block, renewing it as it goes.

        Raises `CoordinationUnavailable` if Redis stays unreachable for `unavailable_after`
        seconds while waiting. Failing to renew or release logs a warning and does not raise:
        the lock then expires by itself."""
        name = self._name(key)
        token = secrets.token_hex(16)
        await self._acquire(
            [name], token, lambda: self._take_or_renew(keys=[name], args=[token, self._ttl_ms])
        )
        async with self._kept([name], token):
            yield

    @asynccontextmanager
    async def hold_free(self, keys: Sequence[str]) -> AsyncIterator[set[str]]:
        """Take every lock of `keys` that is free now, in one call, hold those for the block,
        renewing them as it goes, and give the block their keys.

        Raises `CoordinationUnavailable` if Redis stays unreachable for `unavailable_after`
        seconds while taking. Failing to renew or release logs a warning and does not raise:
        the locks then expire by themselves."""
        wanted = {self._name(key): key for key in keys}
        token = secrets.token_hex(16)
        taken = await self._take_free(list(wanted), token)
        async with self._kept(taken, token):
            yield {wanted[name] for name in taken}

    def _name(self, key: str) -> str:
        return f"{self._prefix}lock:{key}"

    async def _take_free(self, names: list[str], token: str) -> list[str]:
        """Those of the locks `names` that were free and are now taken for `token`."""
        if not names:
            return []
        # One answer per lock: a list never empty, so the first answer ends `_acquire`.
        outcomes = await self._acquire(
            names, token, lambda: self._take_or_renew_each(keys=names, args=[token, self._ttl_ms])
        )
        return [name for name, outcome in zip(names, outcomes, strict=True) if outcome]

    async def _acquire(
        self, names: list[str], token: str, attempt: Callable[[], Awaitable[T]]
    ) -> T:
        """Call `attempt` (a script taking the locks `names` for `token`) until it answers
        something true, and answer that. Raises `CoordinationUnavailable` if Redis stays
        unreachable for `unavailable_after` seconds; releases `names` if cancelled."""
        delay = 0.005
        unavailable_since: float | None = None
        try:
            while True:
                try:
                    if outcome := await attempt():
                        return outcome
                    unavailable_since = None
                except UNAVAILABLE_ERRORS as error:
                    now = time.monotonic()
                    if unavailable_since is None:
                        unavailable_since = now
                        logger.warning(
                            "Redis unavailable while waiting for %s: %s",
                            ", ".join(names),
                            _reason(error),
                        )
                    elif now - unavailable_since >= self._unavailable_after:
                        raise CoordinationUnavailable(
                            f"Redis did not answer for {self._unavailable_after:g} s "
                            f"while waiting for lock {', '.join(names)}: {_reason(error)}"
                        ) from error
                _raise_if_cancelled()
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(2 * delay, 0.05)
        except asyncio.CancelledError:
            # The last attempt may have taken locks before the cancellation arrived.
            await self._release_quietly(names, token)
            raise

    @asynccontextmanager
    async def _kept(self, names: list[str], token: str) -> AsyncIterator[None]:
        """Renew the locks `names`, held for `token`, while the block runs; release them after."""
        if not names:
            yield
            return
        renewal = asyncio.create_task(self._keep(names, token), name=f"renew {', '.join(names)}")
        try:
            yield
        finally:
            renewal.cancel()
            try:
                await asyncio.wait({renewal})
            finally:
                await self._release_quietly(names, token)

    async def _keep(self, names: list[str], token: str) -> None:
        """Renew the locks every ttl/3, all in one call, until cancelled; never raises. Each
        trouble is logged when it begins, not again until a renewal has gone well since."""
        healthy = set(names)  # renewed, with no trouble logged since
        while True:
            _raise_if_cancelled()
            await asyncio.sleep(self.ttl / 3)
            try:
                outcomes = await self._take_or_renew_each(keys=names, args=[token, self._ttl_ms])
            except Exception as error:  # Redis away, or anything else: keep trying.
                if healthy:
                    logger.warning(
                        "Could not renew lock %s (%s); it expires within %g s unless renewed",
                        ", ".join(names),
                        _reason(error),
                        self.ttl,
                    )
                healthy.clear()
                continue
            for name, outcome in zip(names, outcomes, strict=True):
                if outcome == 1:
                    healthy.add(name)
                elif outcome == 2:
                    logger.warning(
                        "Lock %s had expired under its live holder (Redis restarted, or the "
                        "event loop stalled) and was taken again; the database transaction "
                        "guards against double effects",
                        name,
                    )
                    healthy.add(name)
                elif name in healthy:
                    logger.warning(
                        "Lock %s expired under its live holder and another process holds it "
                        "now; the database transaction guards against double effects",
                        name,
                    )
                    healthy.discard(name)

    async def _release_quietly(self, names: list[str], token: str) -> None:
        try:
            await self._release(keys=names, args=[token])
        except Exception as error:  # Redis away, or anything else: the locks expire by themselves.
            logger.warning(
                "Could not release lock %s (%s); it expires within %g s",
                ", ".join(names),
                _reason(error),
                self.ttl,
            )


# Send slots (see `bot.pipeline.slots`, whose `earliest` the script's mirrors line for line). A
# bucket is a sorted set `{prefix}rate:{key}` of bookings scored by the moment booked (ms of
# Redis' clock), and a string `{prefix}rate:{key}:pause` holding the end of a pause (ms) while
# it lasts.
#
# KEYS: for each bucket, its set and its pause key, in turn. ARGV: the mode, the booking, then
# for each bucket its limit and span (ms). `book` books the earliest moment from now on that
# every bucket allows and answers how many ms away it is, or -1 when every bucket has room
# now: then the send is started at once, as a `confirm` would start it. `confirm`, called when
# that moment came, books the send again at the moment it really starts: now, when every
# bucket allows it counted against the sends started (`s:{booking}`) or booked again
# (`r:{booking}`), and answers 0; otherwise it books it again, at the earliest moment those
# allow, and answers the wait (first bookings are not in the way: their owners check when their
# moment comes).
# `finish` moves a started send to now (never earlier), when its answer came, adding it again if
# it was forgotten meanwhile (started longer than a span ago). `cancel` gives a booking back.
_SLOTS = """
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
"""

# KEYS[1]: the bucket's pause key. ARGV[1]: the pause in milliseconds. Pauses end at the latest
# end asked for; the key goes with the pause.
_PAUSE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local until_ms = math.max(tonumber(redis.call('GET', KEYS[1])) or 0, now + tonumber(ARGV[1]))
if until_ms > now then
  redis.call('SET', KEYS[1], string.format('%.3f', until_ms), 'PX', math.ceil(until_ms - now))
end
return 0
"""


CANCEL_WAIT = 1.0
"""How long a cancelled acquire waits for Redis to take its booking back before going on."""


class RedisRateLimiter:
    """Sliding-window buckets in Redis (`{prefix}rate:{key}`), shared by every process, with
    sends booked ahead (see `bot.pipeline.slots`).

    `acquire` makes two calls: one script books the earliest moment every bucket allows and
    answers how far away it is; when that moment comes, the same script counts the send at the
    moment it really starts, or books it again when that would break a window or a pause (see
    `MemoryRateLimiter`). When every bucket has room at once, the first call starts the send
    and there is no second. The script reads Redis' own clock, so the clocks
    of the processes do not matter, and Redis runs scripts one at a time, so however many
    processes acquire from a bucket, at most `limit` bookings ever fall in one `span`. One
    waiter wakes per booked slot; bookings are first come, first served, and a cancelled waiter
    gives its booking back. A key must always come with the same rate and burst. Bookings
    expire a span after their moment.

    The keys of one acquire must live on one Redis node (a single server, or one hash slot).
    """

    def __init__(
        self,
        client: Redis,
        prefix: str,
        *,
        unavailable_after: float = DEFAULT_UNAVAILABLE_AFTER,
    ) -> None:
        """`unavailable_after`: how long one call keeps retrying while Redis is unavailable
        before raising `CoordinationUnavailable`."""
        self._prefix = prefix
        self._unavailable_after = unavailable_after
        self._slots = client.register_script(_SLOTS)
        self._pause = client.register_script(_PAUSE)
        self._process = secrets.token_hex(6)
        self._bookings = itertools.count()
        self._cancelling: set[asyncio.Task[None]] = set()

    async def acquire(self, buckets: Sequence[Bucket]) -> Booking:
        """Book the earliest moment every bucket allows one more send, wait for it, return."""
        check_buckets(buckets)
        if not buckets:
            return NO_BOOKING
        booking = f"{self._process}:{next(self._bookings)}"
        call = self._caller(buckets, booking)

        wait_ms = int(await _retrying("book a send", lambda: call("book"), self._unavailable_after))
        if wait_ms < 0:
            return booking  # started at once: every bucket had room
        try:
            while True:
                if wait_ms > 0:
                    await asyncio.sleep(wait_ms / 1000)
                _raise_if_cancelled()
                wait_ms = int(
                    await _retrying(
                        "confirm a booked send", lambda: call("confirm"), self._unavailable_after
                    )
                )
                if wait_ms <= 0:
                    return booking
        except BaseException:
            await self._cancel_quietly(call)
            raise

    async def finish(self, buckets: Sequence[Bucket], booking: Booking) -> None:
        """The send `booking` was answered: count it from now on (see `RateLimiter.finish`)."""
        if not buckets or booking == NO_BOOKING:
            return
        call = self._caller(buckets, str(booking))
        await _retrying("finish a send", lambda: call("finish"), self._unavailable_after)

    def _caller(self, buckets: Sequence[Bucket], booking: str) -> Callable[[str], Awaitable[int]]:
        """The slot script for `buckets` and `booking`, given a mode."""
        names = [f"{self._prefix}rate:{bucket.key}" for bucket in buckets]
        keys = [key for name in names for key in (name, f"{name}:pause")]
        windows = [window_of(bucket.rate, bucket.burst) for bucket in buckets]
        shape = [repr(v) for limit, span in windows for v in (limit, span * 1000)]

        def call(mode: str) -> Awaitable[int]:
            return self._slots(keys=keys, args=[mode, booking, *shape])

        return call

    async def _cancel_quietly(self, call: Callable[[str], Awaitable[int]]) -> None:
        """Give a booking back, waiting at most `CANCEL_WAIT` for Redis; when it does not answer,
        the booking expires with its bucket. Never raises."""

        async def cancel() -> None:
            try:
                await call("cancel")
            except Exception as error:
                logger.debug("could not give a booked send back: %s", _reason(error))

        task = asyncio.create_task(cancel())
        self._cancelling.add(task)
        task.add_done_callback(self._cancelling.discard)
        await asyncio.wait({task}, timeout=CANCEL_WAIT)

    async def pause(self, key: str, seconds: float) -> None:
        """Allow no send from bucket `key` before `seconds` from now; sends booked inside the
        pause are booked again after it when their time comes."""
        await _retrying(
            f"pause bucket {key}",
            lambda: self._pause(
                keys=[f"{self._prefix}rate:{key}:pause"], args=[max(0, math.ceil(seconds * 1000))]
            ),
            self._unavailable_after,
        )
