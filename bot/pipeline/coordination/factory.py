"""Build the coordination a process runs with: in-process without `REDIS_URL`, Redis with it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError

from bot.pipeline.coordination.contracts import Coordination
from bot.pipeline.coordination.memory import MemoryLocks, MemoryQueue, MemoryRateLimiter
from bot.pipeline.coordination.redis_limiter import RedisRateLimiter
from bot.pipeline.coordination.redis_locks import RedisLocks
from bot.pipeline.coordination.redis_queue import RedisQueue
from bot.pipeline.coordination.redis_support import UNAVAILABLE_ERRORS, CoordinationUnavailable
from bot.pipeline.coordination.sent_journal import MemorySentJournal, RedisSentJournal

__all__ = [
    "CoordinationUnavailable",
    "RedisCoordination",
    "coordination",
    "redis_client",
    "redis_ready",
]

INBOX = "inbox"
REDIS_MAX_CONNECTIONS = 64
"""Connections one process keeps to Redis at most: blocking pops (one per worker loop and one for
the sender) plus limiter and lock calls; more would only queue inside Redis."""
_NOT_READY_ERRORS: tuple[type[Exception], ...] = (*UNAVAILABLE_ERRORS, RedisError)
OUTBOX = "outbox"


@dataclass(frozen=True)
class RedisCoordination(Coordination):
    """A `Coordination` that also owns the Redis client its parts share, and closes it.

    (`Coordination.close` closes the queues only, and the queues do not own the client they
    share with the locks and the limiter.)"""

    client: Redis = field(repr=False, compare=False)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.client.aclose()


def redis_client(redis_url: str) -> Redis:
    """A client for `redis_url` tuned for riding out outages rather than hiding them.

    redis-py retries a failed command itself and reconnects; its default (10 retries, up to a
    second apart) would make one command take seconds while Redis is down. Here it retries 3
    times within ~0.15 s, and the Redis classes' callers decide how long to persist.
    Options in the URL's query string (`?socket_timeout=...`) win over these.

    The connections are pooled with a bound (`REDIS_MAX_CONNECTIONS`), and a caller who finds
    them all busy waits for one (up to the socket timeout) instead of failing: the sender
    acquires for hundreds of chats at once, and a burst of calls is not an outage."""
    pool = BlockingConnectionPool.from_url(
        redis_url,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=5.0,
        retry=Retry(ExponentialWithJitterBackoff(cap=0.1, base=0.01), retries=3),
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)


async def coordination(redis_url: str | None, prefix: str = "mutuality:") -> Coordination:
    """The queues ("inbox" and "outbox"), locks and rate limiter of this process.

    Without a URL: in-process implementations (the embedded default, one process). With one:
    Redis implementations sharing one client, closed by `close()`. No connection is made here;
    call `redis_ready` first to fail fast at start-up when Redis is not there."""
    if redis_url is None:
        return Coordination(
            queue=MemoryQueue(),
            outbox_wakeup=MemoryQueue(),
            locks=MemoryLocks(),
            limiter=MemoryRateLimiter(),
            sent=MemorySentJournal(),
        )
    client = redis_client(redis_url)
    return RedisCoordination(
        queue=RedisQueue(client, INBOX, prefix),
        outbox_wakeup=RedisQueue(client, OUTBOX, prefix),
        locks=RedisLocks(client, prefix),
        limiter=RedisRateLimiter(client, prefix),
        sent=RedisSentJournal(client, prefix),
        client=client,
    )


async def redis_ready(redis_url: str, timeout: float = 5.0) -> None:
    """Return once Redis at `redis_url` answers PING; raise `CoordinationUnavailable` saying
    where and why when it does not within `timeout` seconds (refused, unknown host, wrong
    password, ...). A malformed URL raises ValueError."""
    client = Redis.from_url(
        redis_url,
        retry=Retry(ExponentialWithJitterBackoff(cap=0.1, base=0.01), retries=1),
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
    )
    try:
        async with asyncio.timeout(timeout):
            await client.ping()
    except _NOT_READY_ERRORS as error:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise CoordinationUnavailable(
            f"Redis at {describe(redis_url)} does not answer PING: {reason}"
        ) from error
    finally:
        await client.aclose()


def describe(redis_url: str) -> str:
    """`redis_url` with its password hidden, fit for logs and error messages."""
    parts = urlsplit(redis_url)
    if parts.password is None:
        return redis_url
    user = f"{parts.username}:" if parts.username else ":"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}***@{host}"))
