"""In-process coordination for the embedded default: one process, one event loop, no servers.

The same contracts as `bot.pipeline.redis` (proven by one contract suite), held in memory:
nothing here survives the process, and nothing needs to, because the database is the truth.
All three are bound to the event loop that first uses them and are not thread-safe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.pipeline.coordination import Bucket

#: Tokens within this of a whole one count as whole: float refill arithmetic must not turn
#: "exactly due" into one more sleep of a nanosecond.
_EPSILON = 1e-9


class MemoryQueue:
    """A FIFO on an `asyncio.Queue`, unbounded. Items live only as long as the process."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()

    async def push(self, item: str) -> None:
        self._queue.put_nowait(item)

    async def pop(self, timeout: float) -> str | None:
        """The next item, waiting up to `timeout` seconds (0 or less: not at all); None when
        there was none. Cancelling a waiting pop loses no item."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            if timeout <= 0:
                return None
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None

    async def close(self) -> None:
        """Nothing to release; items still queued are dropped with the queue."""

    def __len__(self) -> int:
        return self._queue.qsize()


@dataclass(slots=True)
class _LockEntry:
    lock: asyncio.Lock
    users: int = 0  # tasks holding or waiting for `lock`


class MemoryLocks:
    """One `asyncio.Lock` per key, granted first come, first served.

    An entry exists only while some task holds or waits for its key, so memory follows the
    number of members being handled right now, not the number of members ever seen.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _LockEntry] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Wait for the lock on `key` and hold it for the block. Cancelling a waiting task
        gives up its place without taking the lock."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _LockEntry(asyncio.Lock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]

    def __len__(self) -> int:
        """How many keys are held or waited for right now."""
        return len(self._entries)


@dataclass(slots=True)
class _BucketState:
    rate: float
    burst: float
    tokens: float
    updated: float  # when `tokens` was counted
    paused_until: float = 0.0

    def tokens_at(self, moment: float) -> float:
        """Tokens at `moment` (not before `updated`), refilled at `rate`, capped at `burst`."""
        return min(self.burst, self.tokens + max(0.0, moment - self.updated) * self.rate)

    def wait(self, now: float) -> float:
        """Seconds from `now` until this bucket can give a token; 0 when it can now."""
        ready = max(now, self.paused_until)
        missing = 1.0 - self.tokens_at(ready)
        if missing > _EPSILON:
            return ready - now + missing / self.rate
        return ready - now

    def is_full(self, now: float) -> bool:
        """Whether the bucket is as good as new, so forgetting it changes nothing."""
        return now >= self.paused_until and self.tokens_at(now) >= self.burst - _EPSILON


def check_buckets(buckets: Sequence[Bucket]) -> None:
    """Refuse buckets that could never give a token, and the same key twice in one acquire."""
    keys = set()
    for bucket in buckets:
        if not bucket.rate > 0:
            raise ValueError(f"bucket {bucket.key!r}: rate must be positive, not {bucket.rate}")
        if not bucket.burst >= 1:
            raise ValueError(f"bucket {bucket.key!r}: burst must be at least 1, not {bucket.burst}")
        if bucket.key in keys:
            raise ValueError(f"bucket {bucket.key!r} appears twice in one acquire")
        keys.add(bucket.key)


class MemoryRateLimiter:
    """Token buckets in memory: a bucket starts full (`burst` tokens) and refills at `rate`.

    `acquire` waits, sleeping exactly until the last bucket it needs has a token, and then takes
    one from every bucket in the same step of the event loop: it never holds tokens from some
    buckets while waiting for others. Waiters are not queued, so among several tasks waiting for
    one bucket, which one wins a token is unspecified (none is starved by design of the callers:
    each sender retries). A key must always come with the same rate and burst.

    `time_source` is a monotonic clock in seconds, injectable for tests. Full, unpaused buckets
    are forgotten from time to time (they equal a missing one), so memory follows the buckets in
    use rather than every chat ever seen.
    """

    def __init__(self, time_source: Callable[[], float] = time.monotonic) -> None:
        self._now = time_source
        self._states: dict[str, _BucketState] = {}
        self._prune_above = 1024

    async def acquire(self, buckets: Sequence[Bucket]) -> None:
        check_buckets(buckets)
        while True:
            now = self._now()
            states = [self._state(bucket, now) for bucket in buckets]
            wait = max((state.wait(now) for state in states), default=0.0)
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        for state in states:
            state.tokens = state.tokens_at(now) - 1.0
            state.updated = now
        self._prune(now)

    async def pause(self, key: str, seconds: float) -> None:
        """Empty bucket `key` now and give no token from it before `seconds` from now.

        Refill resumes from now, so the next token comes at the later of the pause's end and one
        refill interval from now: a pause only ever takes tokens away, never breaks the rate.
        A bucket never acquired from is paused as well (it starts empty once acquired).
        """
        now = self._now()
        state = self._states.get(key)
        if state is None:
            # Rate and burst are unknown until the first acquire, which fills them in.
            state = self._states[key] = _BucketState(rate=0.0, burst=0.0, tokens=0.0, updated=now)
        state.tokens = 0.0
        state.updated = now
        state.paused_until = max(state.paused_until, now + max(0.0, seconds))

    def _state(self, bucket: Bucket, now: float) -> _BucketState:
        state = self._states.get(bucket.key)
        if state is None:
            state = self._states[bucket.key] = _BucketState(
                rate=bucket.rate, burst=bucket.burst, tokens=bucket.burst, updated=now
            )
        else:
            state.rate, state.burst = bucket.rate, bucket.burst
        return state

    def _prune(self, now: float) -> None:
        """Forget full buckets once the table has doubled since the last time: amortised O(1)."""
        if len(self._states) <= self._prune_above:
            return
        for key in [key for key, state in self._states.items() if state.is_full(now)]:
            del self._states[key]
        self._prune_above = max(1024, 2 * len(self._states))

    def __len__(self) -> int:
        """How many buckets are remembered (full ones may linger until the next prune)."""
        return len(self._states)
