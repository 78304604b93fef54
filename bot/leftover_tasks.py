"""Ending the tasks a program's main coroutine leaves behind, for the processes and for the
commands alike: `asyncio.run` cancels each leftover task once and then waits for it for ever,
and a task can await again after its cancellation (closing an aiosqlite connection whose
close was interrupted, as SQLAlchemy's graceful close of a connection it terminates does).
A process stuck there never exited after SIGTERM; a command stuck there would never end after
Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

LEFTOVER_GRACE = 2.0
"""Seconds the tasks a main coroutine left behind get to end, once it has returned, before the
program goes on without them (`end_leftover_tasks`)."""


def run_to_the_end(
    main: Coroutine[Any, Any, T],
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> T:
    """`asyncio.run(main)`, on a loop from `loop_factory` (None: asyncio's own), that also ends
    the tasks `main` left (`end_leftover_tasks`) before the loop closes."""
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_then_end_leftovers(main))


async def _then_end_leftovers(main: Coroutine[Any, Any, T]) -> T:
    try:
        return await main
    finally:
        await end_leftover_tasks()


async def end_leftover_tasks() -> None:
    """End the tasks still running once the main work is done: a moment to finish on their own,
    then cancelled again and again until they end, for at most `LEFTOVER_GRACE`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LEFTOVER_GRACE
    first = True
    while True:
        leftover = {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}
        if not leftover:
            return
        if loop.time() >= deadline:
            log.warning("%s tasks did not end after the work was done: left", len(leftover))
            return
        if not first:
            for task in leftover:
                task.cancel()
        first = False
        await asyncio.wait(leftover, timeout=0.1)
