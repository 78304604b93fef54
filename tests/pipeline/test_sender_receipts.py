"""The sender writes the receipts of the chats that finish together in one transaction; when
that transaction fails, each chat's receipts are written alone, so one bad chat costs only its
own, never everyone's: its rows stay leased, and its sends are kept (in the process and the
sent journal) so that they are recorded, not sent again, when the database takes them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

import pytest
from sqlalchemy import select

from bot.channels.telegram import TelegramChannel
from bot.pipeline.coordination.factory import coordination
from bot.pipeline.sender import Sender
from storage import Database
from storage.models import Message
from storage.repositories.messages import MessageRepository
from tests.fakes.telegram_api import FakeTelegram
from tests.outbox_lines import log_outbound
from tests.pipeline.test_pipeline import wait_until
from tests.pipeline.test_two_senders import TOKEN, UNLIMITED, now


async def statuses(database: Database) -> dict[str, str]:
    async with database.transaction() as uow:
        rows = await uow.session.execute(select(Message.address_value, Message.status))
        return {address: status for address, status in rows}


async def test_one_chat_whose_receipt_cannot_be_written_costs_only_its_own(
    database: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with database.transaction() as uow:
        for chat in range(20):
            await log_outbound(
                uow,
                member_id=None,
                channel="telegram",
                address_value=str(7_200_000 + chat),
                text="hello",
                payload=None,
                at=now(),
            )
        bad = await log_outbound(
            uow,
            member_id=None,
            channel="telegram",
            address_value="7299999",
            text="hello",
            payload=None,
            at=now(),
        )
    original = MessageRepository.mark_sent_many
    batches: list[int] = []

    async def refusing(
        self: MessageRepository, receipts: Sequence[tuple[int, str]], *, at: datetime
    ) -> None:
        batches.append(len(receipts))
        if any(message == bad.id for message, _ in receipts):
            raise RuntimeError("this receipt cannot be written")
        await original(self, receipts, at=at)

    monkeypatch.setattr(MessageRepository, "mark_sent_many", refusing)
    caplog.set_level(logging.ERROR, logger="bot.pipeline.sender")
    async with FakeTelegram(token=TOKEN) as telegram:
        shared = await coordination(None)
        channel = TelegramChannel(TOKEN, api_url=telegram.url)
        sender = Sender(database, shared, {"telegram": channel}, UNLIMITED, now, lanes=1)
        stop = asyncio.Event()
        running = asyncio.create_task(sender.run(stop))
        try:
            await wait_until(lambda: len(telegram.sent) >= 21, 10)
            await asyncio.sleep(0.3)
        finally:
            stop.set()
            await running
            await channel.close()
            await shared.close()
    found = await statuses(database)
    assert found.pop("7299999") == "queued"  # leased still, its send kept for later
    assert set(sender._unrecorded) == {bad.id}
    assert set(await shared.sent.recall([bad.id])) == {bad.id}
    assert set(found.values()) == {"sent"}
    assert max(batches) > 1  # chats were written together before the bad one split them
    assert "the sender failed a round" in caplog.text
