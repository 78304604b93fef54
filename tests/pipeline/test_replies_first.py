"""A member's reply is not kept waiting behind a broadcast: the sender, limited to 20 sends a
second, is working through a broadcast's backlog when a reply is queued; the reply goes out
within a round or two, not after the whole broadcast."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bot.channels.telegram import TelegramChannel
from bot.pipeline.coordination.factory import coordination
from bot.pipeline.sender import Limits, Sender
from storage import Database
from tests.fakes.telegram_api import FakeTelegram
from tests.outbox_lines import log_outbound

TOKEN = "123456:REPLIES-first"
BROADCAST_CHATS = 60
BATCH = 10
LIMITS = Limits(
    telegram_per_second=20.0,
    telegram_chat_per_second=100_000.0,
    telegram_group_per_minute=100_000.0,
)
REPLY_CHAT = "7300000"


def now() -> datetime:
    return datetime.now(UTC)


async def queue_line(
    database: Database, chat: str, text: str, payload: dict[str, str] | None
) -> None:
    async with database.transaction() as uow:
        await log_outbound(
            uow,
            member_id=None,
            channel="telegram",
            address_value=chat,
            text=text,
            payload=payload,
            at=now(),
        )


async def wait_for(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_reply_queued_behind_a_broadcast_goes_out_before_the_broadcast_ends(
    database: Database,
) -> None:
    for chat in range(BROADCAST_CHATS):
        await queue_line(database, str(7_200_000 + chat), f"story {chat}", {"nudge": "broadcast"})
    async with FakeTelegram(token=TOKEN) as telegram:
        shared = await coordination(None)
        channel = TelegramChannel(TOKEN, api_url=telegram.url)
        sender = Sender(database, shared, {"telegram": channel}, LIMITS, now, batch=BATCH)
        stop = asyncio.Event()
        running = asyncio.create_task(sender.run(stop))
        try:
            await wait_for(lambda: len(telegram.sent) >= 5, 10)
            sent_before_the_reply = len(telegram.sent)
            await queue_line(database, REPLY_CHAT, "your next question", None)
            await wait_for(lambda: len(telegram.sent) == BROADCAST_CHATS + 1, 20)
        finally:
            stop.set()
            await running
            await channel.close()
            await shared.close()
        order = [str(line["chat_id"]) for line in telegram.sent]

    position = order.index(REPLY_CHAT)
    # ahead of it: what was sent or leased (two lanes of BATCH lines) when it was queued, with
    # a round's slack for lines sent while it was being committed; oldest first it would have
    # been last, behind all 60 lines of the broadcast
    assert position <= sent_before_the_reply + 3 * BATCH, (position, sent_before_the_reply)
    assert sorted(order) == sorted(
        [REPLY_CHAT, *(str(7_200_000 + chat) for chat in range(BROADCAST_CHATS))]
    )
