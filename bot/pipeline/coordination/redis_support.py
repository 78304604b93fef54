"""What the Redis coordination classes share: the errors that mean Redis is away, retrying
through an outage, and their Lua scripts (kept as `.lua` files in `lua/` beside this module).

The same contracts as `memory` (proven by one contract suite), shared by every
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
(`bot.pipeline.coordination.factory` does, in `Coordination.close`).

"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

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


def raise_if_cancelled() -> None:
    """Raise CancelledError if the current task has a cancellation pending that never arrived.

    On Python 3.11, `asyncio.wait_for` (which redis-py uses to send every command) swallows a
    cancellation that comes just as the send completes (CPython gh-86296, fixed in 3.12). A loop
    that carried on after that would never end: an `asyncio.timeout` around it fires only once.
    So every loop here checks before it goes round again."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def reason(error: BaseException) -> str:
    """What went wrong, for a log line (redis-py's errors have a terse repr)."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


async def retrying(what: str, operation: Callable[[], Awaitable[T]], budget: float) -> T:
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
                    f"while trying to {what}: {reason(error)}"
                ) from error
            log = logger.warning if attempts == 1 else logger.debug
            log("Redis unavailable while trying to %s (%s); retrying", what, reason(error))
            raise_if_cancelled()
            await asyncio.sleep(min(delay, remaining))
            delay = min(2 * delay, 1.0)


def longest_block(client: Redis) -> float:
    """The longest BLPOP that stays clear of the client's socket timeout (which would end a
    longer one with a TimeoutError, and a retry): longer waits are made of several."""
    socket_timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
    if not socket_timeout:
        return math.inf
    return max(0.8 * float(socket_timeout), float(socket_timeout) - 1.0)


def lua_script(name: str) -> str:
    """The text of the Lua script `name` shipped in `lua/`."""
    return files(__package__).joinpath("lua", name).read_text(encoding="utf-8")
