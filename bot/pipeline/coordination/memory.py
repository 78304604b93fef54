"""In-process coordination for the embedded default: one process, one event loop, no servers.

The same contracts as the Redis classes (proven by one contract suite), held in memory:
nothing here survives the process, and nothing needs to, because the database is the truth.
All three are bound to the event loop that first uses them and are not thread-safe.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from bisect import bisect_left, insort
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.pipeline.coordination.contracts import NO_BOOKING, Booking, Bucket
from bot.pipeline.coordination.slots import earliest, fits, window_of


class MemoryQueue:
    """A FIFO on an `asyncio.Queue`, unbounded. Items live only as long as the process."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()

    async def push(self, item: str) -> None:
        self._queue.put_nowait(item)

    async def push_many(self, items: Sequence[str]) -> None:
        for item in items:
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

    async def pop_many(self, timeout: float, limit: int) -> list[str]:
        """Up to `limit` items: the first as `pop` gives it, then those queued already."""
        check_limit(limit)
        first = await self.pop(timeout)
        if first is None:
            return []
        items = [first]
        while len(items) < limit and not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    async def clear(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

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
        entry = self._join(key)
        try:
            async with entry.lock:
                yield
        finally:
            self._leave(key, entry)

    @asynccontextmanager
    async def hold_free(self, keys: Sequence[str]) -> AsyncIterator[set[str]]:
        """Take the lock on every key in `keys` that no task holds or waits for, without
        waiting, and hold those for the block, which receives them."""
        held: dict[str, _LockEntry] = {}
        try:
            for key in dict.fromkeys(keys):
                # A key without an entry has no holder and no waiter (see the class), so its new
                # lock is taken at once: `acquire` on a free lock nobody waits for returns
                # without suspending, and nothing here lets another task run in between.
                if key not in self._entries:
                    held[key] = entry = self._join(key)
                    await entry.lock.acquire()
            yield set(held)
        finally:
            for key, entry in held.items():
                entry.lock.release()
                self._leave(key, entry)

    def _join(self, key: str) -> _LockEntry:
        """The entry of `key`, counting one more task that holds or waits for it."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _LockEntry(asyncio.Lock())
        entry.users += 1
        return entry

    def _leave(self, key: str, entry: _LockEntry) -> None:
        """One task no longer holds or waits for `key`: forget the entry when it was the last."""
        entry.users -= 1
        if entry.users == 0:
            del self._entries[key]

    def __len__(self) -> int:
        """How many keys are held or waited for right now."""
        return len(self._entries)


BOOKED, BOOKED_AGAIN, STARTED = 0, 1, 2
"""The states of a send in a window."""


@dataclass(slots=True)
class _Window:
    """One bucket's sends (moment, booking, state), sorted, and any pause. A booked send's
    moment is its slot; a started one's is when it started, then when it was answered."""

    limit: int
    span: float
    booked: list[tuple[float, int, int]] = field(default_factory=list)
    paused_until: float = 0.0

    def forget_before(self, moment: float) -> None:
        """Drop sends too old to count in any window that ends after `moment`."""
        cut = bisect_left(self.booked, (moment - self.span, -1))
        if cut:
            del self.booked[:cut]

    def can_start(self, now: float) -> bool:
        """Whether a send may start now: no pause, and room among the sends started and those
        booked again whose moment has come (the ones still ahead wait for us, not we for them:
        otherwise two waiters booked again close together would leap over each other)."""
        due = [
            moment
            for moment, _, state in self.booked
            if state == STARTED or (state == BOOKED_AGAIN and moment <= now)
        ]
        return now >= self.paused_until and fits(due, self.limit, self.span, now)

    def times(self, confirming: bool = False) -> list[float]:
        """The moments of every send, sorted; `confirming`: of those started or booked again
        (see `MemoryRateLimiter.acquire`)."""
        if confirming:
            return [moment for moment, _, state in self.booked if state != BOOKED]
        return [moment for moment, _, _ in self.booked]

    def is_idle(self, now: float) -> bool:
        """Whether forgetting this bucket changes nothing: no pause, nothing that still counts."""
        last = self.booked[-1][0] if self.booked else -math.inf
        return now >= self.paused_until and last <= now - self.span


def check_limit(limit: int) -> None:
    """Refuse a `pop_many` that could take no item at all."""
    if limit < 1:
        raise ValueError(f"pop_many takes at least 1 item, not {limit}")


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
    """Sliding-window buckets in memory, with sends booked ahead (see `slots`).

    `acquire` books the earliest moment that every bucket allows, in one step of the event loop,
    sleeps until then, and when it wakes counts the send at the moment it really starts, if
    every window still allows it counted against the sends started so far (pauses included);
    otherwise it waits for the earliest moment they do. One waiter wakes per booked slot, however
    many wait. A waiter that wakes late (a busy event loop) costs the waiters booked after it
    nothing unless their window is full, and then only the time it was late: a provider that
    counts the moments sends start sees its limit kept. A key must always come with the same
    rate and burst.

    `time_source` is a monotonic clock in seconds, injectable for tests. Idle buckets are
    forgotten from time to time, so memory follows the buckets in use rather than every chat
    ever seen.
    """

    def __init__(self, time_source: Callable[[], float] = time.monotonic) -> None:
        self._now = time_source
        self._windows: dict[str, _Window] = {}
        self._bookings = itertools.count()
        self._prune_above = 1024

    async def acquire(self, buckets: Sequence[Bucket]) -> Booking:
        check_buckets(buckets)
        if not buckets:
            return NO_BOOKING
        windows = [self._window(bucket) for bucket in buckets]
        booking: int = next(self._bookings)
        slot = self._book(windows, booking, self._now())
        try:
            while True:
                wait = slot - self._now()
                if wait > 0:
                    await asyncio.sleep(wait)
                now = self._now()
                if now < slot:
                    continue  # woken early (or the clock is a test's): sleep the rest
                # Count the send when it really starts, checked against the sends started so
                # far: one that woke late costs the sends booked after it nothing, unless one
                # finds its window full because of it, and then only as long as it was late.
                # One that cannot start is booked again among the others booked again, ahead
                # of first bookings (they are checked when their moment comes), so waiters
                # pushed back together do not all wake for the same moment.
                self._cancel(windows, booking)
                slot = self._book(windows, booking, now, confirming=True)
                if slot <= now:
                    break
        except BaseException:
            self._cancel(windows, booking)
            raise
        self._prune(self._now())
        return booking

    async def finish(self, buckets: Sequence[Bucket], booking: Booking) -> None:
        """The send `booking` was answered: count it from now on (see `RateLimiter.finish`)."""
        now = self._now()
        for bucket in buckets:
            window = self._window(bucket)
            for index, (_, owner, state) in enumerate(window.booked):
                if owner == booking and state == STARTED:
                    del window.booked[index]
                    break
            # (added again if it was forgotten meanwhile, having started over a span ago)
            insort(window.booked, (now, int(booking), STARTED))

    async def pause(self, key: str, seconds: float) -> None:
        """Allow no send from bucket `key` before `seconds` from now; sends booked inside the
        pause are booked again after it when their time comes. A bucket never acquired from is
        paused as well."""
        now = self._now()
        window = self._windows.get(key)
        if window is None:
            # Its limit and span are unknown until the first acquire, which fills them in.
            window = self._windows[key] = _Window(limit=1, span=0.0)
        window.paused_until = max(window.paused_until, now + max(0.0, seconds))

    def _window(self, bucket: Bucket) -> _Window:
        limit, span = window_of(bucket.rate, bucket.burst)
        window = self._windows.get(bucket.key)
        if window is None:
            window = self._windows[bucket.key] = _Window(limit=limit, span=span)
        else:
            window.limit, window.span = limit, span
        return window

    def _book(
        self, windows: Sequence[_Window], booking: int, now: float, confirming: bool = False
    ) -> float:
        """Book the earliest moment from `now` on that every window allows; return it. With
        `confirming`, only sends started or booked again are in the way, and a send that may
        start now is recorded as started, otherwise as booked again."""
        for window in windows:
            window.forget_before(now)
        if confirming and all(window.can_start(now) for window in windows):
            for window in windows:
                insort(window.booked, (now, booking, STARTED))
            return now
        slot, settled = now, False
        while not settled:
            settled = True
            for window in windows:
                start = max(slot, window.paused_until)
                times = window.times(confirming)
                moment = earliest(times, window.limit, window.span, start)
                if moment > slot:
                    slot, settled = moment, False
        state = BOOKED_AGAIN if confirming else BOOKED
        for window in windows:
            insort(window.booked, (slot, booking, state))
        return slot

    @staticmethod
    def _cancel(windows: Sequence[_Window], booking: int) -> None:
        for window in windows:
            for index, (_, owner, _) in enumerate(window.booked):
                if owner == booking:
                    del window.booked[index]
                    break

    def _prune(self, now: float) -> None:
        """Forget idle buckets once the table has doubled since the last time: amortised O(1)."""
        if len(self._windows) <= self._prune_above:
            return
        for key in [key for key, window in self._windows.items() if window.is_idle(now)]:
            del self._windows[key]
        self._prune_above = max(1024, 2 * len(self._windows))

    def __len__(self) -> int:
        """How many buckets are remembered (idle ones may linger until the next prune)."""
        return len(self._windows)
