"""Rate limits in Redis, shared by every process: sliding-window buckets with sends booked ahead.

See `bot.pipeline.coordination.redis_support` for how these ride out a Redis outage.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import secrets
from collections.abc import Awaitable, Callable, Sequence

from redis.asyncio import Redis

from bot.pipeline.coordination.contracts import NO_BOOKING, Booking, Bucket
from bot.pipeline.coordination.memory import check_buckets
from bot.pipeline.coordination.redis_support import (
    DEFAULT_UNAVAILABLE_AFTER,
    logger,
    lua_script,
    raise_if_cancelled,
    reason,
    retrying,
)
from bot.pipeline.coordination.slots import window_of

_SLOTS = lua_script("slots.lua")

_PAUSE = lua_script("pause.lua")


CANCEL_WAIT = 1.0
"""How long a cancelled acquire waits for Redis to take its booking back before going on."""


class RedisRateLimiter:
    """Sliding-window buckets in Redis (`{prefix}rate:{key}`), shared by every process, with
    sends booked ahead (see `bot.pipeline.coordination.slots`).

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

        wait_ms = int(await retrying("book a send", lambda: call("book"), self._unavailable_after))
        if wait_ms < 0:
            return booking  # started at once: every bucket had room
        try:
            while True:
                if wait_ms > 0:
                    await asyncio.sleep(wait_ms / 1000)
                raise_if_cancelled()
                wait_ms = int(
                    await retrying(
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
        await retrying("finish a send", lambda: call("finish"), self._unavailable_after)

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
                logger.debug("could not give a booked send back: %s", reason(error))

        task = asyncio.create_task(cancel())
        self._cancelling.add(task)
        task.add_done_callback(self._cancelling.discard)
        await asyncio.wait({task}, timeout=CANCEL_WAIT)

    async def pause(self, key: str, seconds: float) -> None:
        """Allow no send from bucket `key` before `seconds` from now; sends booked inside the
        pause are booked again after it when their time comes."""
        await retrying(
            f"pause bucket {key}",
            lambda: self._pause(
                keys=[f"{self._prefix}rate:{key}:pause"], args=[max(0, math.ceil(seconds * 1000))]
            ),
            self._unavailable_after,
        )
