"""`Rounds`: calls made while one round is under way go together in the next; each call gets
its own result; a failure fails its round only; a caller that gives up breaks nothing."""

from __future__ import annotations

import asyncio

import pytest

from bot.pipeline.rounds import Rounds


class Doubler:
    """Work that doubles every item, holding each round until `release` is set."""

    def __init__(self) -> None:
        self.rounds: list[list[int]] = []
        self.release = asyncio.Event()
        self.fail_next = False

    async def __call__(self, items: list[int]) -> list[int]:
        self.rounds.append(items)
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise ValueError("the round failed")
        return [2 * item for item in items]


async def test_calls_made_during_a_round_share_the_next_and_get_their_own_results() -> None:
    work = Doubler()
    rounds: Rounds[int, int] = Rounds(work)
    first = asyncio.create_task(rounds(1))
    await asyncio.sleep(0)  # the first round is under way
    others = [asyncio.create_task(rounds(item)) for item in (2, 3, 4)]
    await asyncio.sleep(0)
    work.release.set()
    assert await first == 2
    assert [await task for task in others] == [4, 6, 8]
    assert work.rounds == [[1], [2, 3, 4]]
    assert await rounds(5) == 10  # alone: a round of its own, at once
    assert work.rounds[-1] == [5]


async def test_a_failed_round_fails_its_calls_only() -> None:
    work = Doubler()
    work.fail_next = True
    rounds: Rounds[int, int] = Rounds(work)
    first = asyncio.create_task(rounds(1))
    await asyncio.sleep(0)
    second = asyncio.create_task(rounds(2))
    await asyncio.sleep(0)
    work.release.set()
    with pytest.raises(ValueError, match="the round failed"):
        await first
    assert await second == 4


async def test_a_caller_that_gives_up_leaves_the_others_their_results() -> None:
    work = Doubler()
    rounds: Rounds[int, int] = Rounds(work)
    impatient = asyncio.create_task(rounds(1))
    patient = asyncio.create_task(rounds(2))
    await asyncio.sleep(0)
    impatient.cancel()
    work.release.set()
    assert await patient == 4
    assert impatient.cancelled()
    assert work.rounds == [[1, 2]]  # the work was done for both
