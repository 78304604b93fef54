"""The work queue in Redis: one list per queue, shared by every process.

See `bot.pipeline.coordination.redis_support` for how these ride out a Redis outage.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence

from redis.asyncio import Redis

from bot.pipeline.coordination.memory import check_limit
from bot.pipeline.coordination.redis_support import (
    DEFAULT_UNAVAILABLE_AFTER,
    UNAVAILABLE_ERRORS,
    logger,
    longest_block,
    raise_if_cancelled,
    reason,
    retrying,
)


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
        self._longest_block = longest_block(client)
        self._unavailable = False

    async def push(self, item: str) -> None:
        """Append `item`. Retries for up to `push_timeout` seconds while Redis is unavailable,
        then raises `CoordinationUnavailable`."""
        await retrying(
            f"push to {self.key}", lambda: self._client.rpush(self.key, item), self._push_timeout
        )
        self._available()

    async def push_many(self, items: Sequence[str]) -> None:
        """`push` every item, in order, with one RPUSH."""
        if not items:
            return
        await retrying(
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
                raise_if_cancelled()
            return None
        except UNAVAILABLE_ERRORS as error:
            if not self._unavailable:
                logger.warning(
                    "Redis unavailable, %s answers nothing until it is back: %s",
                    self.key,
                    reason(error),
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
            logger.debug("could not pop more items from %s: %s", self.key, reason(error))
            return [first]
        return [first, *_texts(rest)]

    async def clear(self) -> None:
        """Drop every item queued now. Best effort: when Redis is away this logs and returns,
        as the items it would have dropped are only reminders."""
        try:
            await self._client.delete(self.key)
        except UNAVAILABLE_ERRORS as error:
            logger.debug("could not clear %s: %s", self.key, reason(error))

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
