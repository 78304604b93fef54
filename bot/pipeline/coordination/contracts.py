"""What processes share to work together: a work queue, per-member locks, rate limits.

Each has an in-process implementation (`memory`) for the embedded default and a Redis one
(`redis_queue`, `redis_locks`, `redis_limiter`) for any number of processes; both honour the
same contracts, proven by one contract suite. None of them holds data that matters: the database
does. A lost queue item is found again by the worker's sweep; a lock lost with its holder expires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol


class WorkQueue(Protocol):
    """A FIFO of short strings (here: inbox row ids). Delivery is at-least-once at best."""

    async def push(self, item: str) -> None: ...

    async def push_many(self, items: Sequence[str]) -> None:
        """`push` every item, in order, in one call."""
        ...

    async def pop(self, timeout: float) -> str | None:
        """The next item, waiting up to `timeout` seconds; None when there was none."""
        ...

    async def pop_many(self, timeout: float, limit: int) -> list[str]:
        """Up to `limit` items, in order: the first waited for exactly as `pop` waits for it,
        then only those queued already, so a backlog is taken in one call (two round trips to
        Redis) and a lone item is never held back waiting for company. [] when none came; a
        `limit` below 1 is a ValueError."""
        ...

    async def clear(self) -> None:
        """Drop every item queued now (a consumer that is about to look at everything anyway
        needs no backlog of reminders)."""
        ...

    async def close(self) -> None: ...


class Locks(Protocol):
    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        """Wait for the lock on `key`, hold it for the block. Across processes for Redis: the
        lock expires if its holder dies, and is renewed while the holder lives."""
        ...

    def hold_free(self, keys: Sequence[str]) -> AbstractAsyncContextManager[set[str]]:
        """Take, without waiting, the lock on each key of `keys` (a repeated key counts once)
        that nobody holds right now, and hold those for the block, which receives the set of
        them, perhaps empty; keys held by others are left to the caller (to `hold`, say). It
        excludes `hold` on the same key both ways, and cannot deadlock with `hold` or another
        `hold_free`, as it never waits for a lock."""
        ...


@dataclass(frozen=True, slots=True)
class Bucket:
    """A limit on sends: at most `burst` (whole) in any `burst / rate` seconds, so `rate` a
    second in the long run, and never more than `burst` + `rate` × t in any t seconds."""

    key: str
    rate: float
    burst: float = 1.0


Booking = int | str
"""What `RateLimiter.acquire` hands back, for `RateLimiter.finish`."""
NO_BOOKING: Booking = -1
"""The booking of an acquire from no bucket at all."""


class RateLimiter(Protocol):
    async def acquire(self, buckets: Sequence[Bucket]) -> Booking:
        """Book the earliest moment every bucket allows one more send, wait for it, and return
        then: the send is counted from the moment it starts, in every bucket. Bookings are first
        come, first served; a caller cancelled while waiting gives its booking back."""
        ...

    async def finish(self, buckets: Sequence[Bucket], booking: Booking) -> None:
        """The send that `acquire` booked as `booking` has been answered: count it from now.

        A provider counts a send when it arrives, at some moment between its start and its
        answer; counting it from the answer keeps the provider's window however long the
        request took on the way. A send never finished stays counted from its start."""
        ...

    async def pause(self, key: str, seconds: float) -> None:
        """Allow no send from bucket `key` for `seconds` (a provider's retry_after), including
        sends booked before the pause: they are booked again after it."""
        ...


class SentJournal(Protocol):
    """Sends that went out but whose receipts the database could not take yet (it was away):
    message id -> the provider's id for it. A sender that leases such a message again (after
    its lease ran out during the outage) finds it here and records the receipt instead of
    sending it twice. Best effort: it holds what the database will hold once it is back."""

    async def remember(self, receipts: Mapping[int, str]) -> None: ...

    async def recall(self, message_ids: Sequence[int]) -> dict[int, str]:
        """The provider ids remembered for any of `message_ids`."""
        ...

    async def forget(self, message_ids: Sequence[int]) -> None:
        """Drop what the database now holds."""
        ...


@dataclass(frozen=True)
class Coordination:
    queue: WorkQueue
    outbox_wakeup: WorkQueue
    locks: Locks
    limiter: RateLimiter
    sent: SentJournal

    async def close(self) -> None:
        await self.queue.close()
        await self.outbox_wakeup.close()
