"""Per-member locks in Redis, across processes: a token with a time to live, renewed while held.

See `bot.pipeline.coordination.redis_support` for how these ride out a Redis outage.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

from redis.asyncio import Redis

from bot.channels.phones import masked
from bot.pipeline.coordination.redis_support import (
    DEFAULT_UNAVAILABLE_AFTER,
    UNAVAILABLE_ERRORS,
    CoordinationUnavailable,
    logger,
    lua_script,
    raise_if_cancelled,
    reason,
)

T = TypeVar("T")

_TAKE_OR_RENEW = lua_script("take_or_renew.lua")

_TAKE_OR_RENEW_EACH = lua_script("take_or_renew_each.lua")

_RELEASE = lua_script("release.lua")


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
                            masked(", ".join(names)),
                            reason(error),
                        )
                    elif now - unavailable_since >= self._unavailable_after:
                        raise CoordinationUnavailable(
                            f"Redis did not answer for {self._unavailable_after:g} s "
                            f"while waiting for lock {masked(', '.join(names))}: {reason(error)}"
                        ) from error
                raise_if_cancelled()
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
            raise_if_cancelled()
            await asyncio.sleep(self.ttl / 3)
            try:
                outcomes = await self._take_or_renew_each(keys=names, args=[token, self._ttl_ms])
            except Exception as error:  # Redis away, or anything else: keep trying.
                if healthy:
                    logger.warning(
                        "Could not renew lock %s (%s); it expires within %g s unless renewed",
                        masked(", ".join(names)),
                        reason(error),
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
                        masked(name),
                    )
                    healthy.add(name)
                elif name in healthy:
                    logger.warning(
                        "Lock %s expired under its live holder and another process holds it "
                        "now; the database transaction guards against double effects",
                        masked(name),
                    )
                    healthy.discard(name)

    async def _release_quietly(self, names: list[str], token: str) -> None:
        try:
            await self._release(keys=names, args=[token])
        except Exception as error:  # Redis away, or anything else: the locks expire by themselves.
            logger.warning(
                "Could not release lock %s (%s); it expires within %g s",
                masked(", ".join(names)),
                reason(error),
                self.ttl,
            )
