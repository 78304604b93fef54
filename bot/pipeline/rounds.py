"""`Rounds`: calls that arrive while one is under way go together in the next ("group commit").

A webhook's store and its workers' wake-up each cost a round trip to a server and, in
Python, more CPU for the call than for its data. Under load many requests are in flight at
once; letting those that arrive during one round trip share the next one makes the cost per
request fall as the load rises, and adds no delay to a request that comes alone (it goes at
once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Rounds(Generic[T, R]):
    """Runs `work` on the items of every call waiting when the previous round ended.

    `work` gets the items in the order their calls came and answers one result for each, in
    that order; each call returns its own. If `work` raises, every call of that round raises
    the same exception, and the next round goes on. A call cancelled while it waits leaves its
    item in the round (the work is done, nobody reads its result)."""

    def __init__(self, work: Callable[[list[T]], Awaitable[list[R]]]) -> None:
        self._work = work
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        result: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, result))
        if self._running is None:
            self._running = asyncio.create_task(self._run())
        return await result

    async def _run(self) -> None:
        round_: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._waiting:
                round_, self._waiting = self._waiting, []
                try:
                    results = await self._work([item for item, _ in round_])
                except Exception as error:
                    _settle(round_, error)
                    continue
                for (_, result), value in zip(round_, results, strict=True):
                    if not result.done():
                        result.set_result(value)
        finally:
            self._running = None
            _settle(round_ + self._waiting, RuntimeError("the rounds were stopped"))
            self._waiting = []


def _settle(waiting: list[tuple[T, asyncio.Future[R]]], error: Exception) -> None:
    """Fail every call of `waiting` not answered yet (none is left waiting forever)."""
    for _, result in waiting:
        if not result.done():
            result.set_exception(error)
