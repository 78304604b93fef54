"""A Telegram chat's pacing, as the sender's limits book it: a member answering about a second
after each question gets every turn's lines at once (a two-line turn included), while a chat
still gets at most 3 sends in any second and about 1 a second over ten seconds."""

from __future__ import annotations

import asyncio

from bot.pipeline.coordination.memory import MemoryRateLimiter
from bot.pipeline.sender import Limits


class Chat:
    """One chat's sends through the limiter, on a clock the test moves."""

    def __init__(self, address: str = "5123456789") -> None:
        self.now = [0.0]
        self.limiter = MemoryRateLimiter(time_source=lambda: self.now[0])
        self.buckets = Limits().buckets("telegram", address)

    async def starts_at(self, moment: float) -> bool:
        """Whether a send asked for at `moment` may start then (no wait on the clock)."""
        self.now[0] = moment
        send = asyncio.create_task(self.limiter.acquire(self.buckets))
        await asyncio.sleep(0.02)  # real time; the clock stands still
        if send.done():
            return True
        send.cancel()
        await asyncio.gather(send, return_exceptions=True)
        return False


async def test_a_two_line_turn_leaves_together_a_second_after_the_last() -> None:
    chat = Chat()
    # a question every 1.05 s (a member answering a second after each), then "Skipped." and
    # the thanks together: the old 3-in-3-seconds window held the thanks back 0.93 s
    for moment in (0.0, 1.05, 2.10, 3.15, 4.20, 4.20):
        assert await chat.starts_at(moment), moment


async def test_a_chat_gets_at_most_three_sends_in_any_second() -> None:
    chat = Chat()
    assert [await chat.starts_at(0.0) for _ in range(4)] == [True, True, True, False]
    assert not await chat.starts_at(1.0)
    assert await chat.starts_at(1.02)


async def test_a_chat_gets_about_one_send_a_second_over_ten_seconds() -> None:
    chat = Chat()
    started = [
        moment
        for moment in (0.0, 0.0, 0.0, 1.02, 1.02, 1.02, 2.04, 2.04, 2.04, 3.06, 3.06)
        if await chat.starts_at(moment)
    ]
    assert len(started) == 10  # the 11th would make 11 in ten seconds
    assert not await chat.starts_at(10.0)
    assert await chat.starts_at(10.11)  # ten seconds (and a little headroom) after the first


def test_group_chats_and_the_pause_keep_their_buckets() -> None:
    limits = Limits()
    assert [b.key for b in limits.buckets("telegram", "-100123")] == [
        "telegram",
        "telegram:group:-100123",
    ]
    assert limits.pause_key("telegram", "5123456789", "chat") == "telegram:chat:5123456789"
    assert limits.pause_key("telegram", "5123456789", "channel") == "telegram"
