"""What processes share to work together: a work queue, per-member locks, rate limits.

Each has an in-process implementation (`bot.pipeline.memory`) for the embedded default and a
Redis one (`bot.pipeline.redis`) for any number of processes; both honour the same contracts,
proven by one contract suite. None of them holds data that matters: the database does. A lost
queue item is found again by the worker's sweep; a lock lost with its holder expires.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol


class WorkQueue(Protocol):
    """A FIFO of short strings (here: inbox row ids). Delivery is at-least-once at best."""

    async def push(self, item: str) -> None: ...

    async def pop(self, timeout: float) -> str | None:
        """The next item, waiting up to `timeout` seconds; None when there was none."""
        ...

    async def close(self) -> None: ...


class Locks(Protocol):
    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        """Wait for the lock on `key`, hold it for the block. Across processes for Redis: the
        lock expires if its holder dies, and is renewed while the holder lives."""
        ...


@dataclass(frozen=True, slots=True)
class Bucket:
    """A token bucket: `rate` tokens a second, at most `burst` saved up."""

    key: str
    rate: float
    burst: float = 1.0


class RateLimiter(Protocol):
    async def acquire(self, buckets: Sequence[Bucket]) -> None:
        """Wait until one token can be taken from every bucket at once, then take them."""
        ...

    async def pause(self, key: str, seconds: float) -> None:
        """Give no token from bucket `key` for `seconds` (a provider's retry_after)."""
        ...


@dataclass(frozen=True)
class Coordination:
    queue: WorkQueue
    outbox_wakeup: WorkQueue
    locks: Locks
    limiter: RateLimiter

    async def close(self) -> None:
        await self.queue.close()
        await self.outbox_wakeup.close()
