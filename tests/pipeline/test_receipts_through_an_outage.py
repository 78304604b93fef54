"""A send that went out while the database could not take its receipt is not sent again when
its lease runs out: its sender keeps the receipt and records it once the database is back,
and another sender that leases the line finds it in the shared sent journal (Redis with
PostgreSQL when `TEST_REDIS_URL` is set, in process otherwise) and records it instead of
sending it. Before, such a line went out once per lease until a receipt could be written."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.channels.telegram import TelegramChannel
from bot.pipeline.sender import LEASE, Sender
from storage import Database
from storage.models import Message
from storage.repositories.messages import MessageRepository
from tests.fakes.telegram_api import FakeTelegram
from tests.outbox_lines import log_outbound
from tests.pipeline.test_pipeline import wait_until
from tests.pipeline.test_two_senders import TOKEN, UNLIMITED, coordinations

CHAT = "7400001"


class Clock:
    """The senders' clock, moved on by hand past a lease."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


class Outage:
    """`mark_sent_many` fails as it does while PostgreSQL is down, until `end`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.on = True
        self.refused = 0
        original = MessageRepository.mark_sent_many

        async def down(
            repository: MessageRepository, receipts: Sequence[tuple[int, str]], *, at: datetime
        ) -> None:
            if self.on and receipts:
                self.refused += 1
                raise OperationalError("UPDATE messages", {}, ConnectionRefusedError())
            await original(repository, receipts, at=at)

        monkeypatch.setattr(MessageRepository, "mark_sent_many", down)

    def end(self) -> None:
        self.on = False


async def queue_welcome(database: Database, clock: Clock) -> int:
    async with database.transaction() as uow:
        record = await log_outbound(
            uow,
            member_id=None,
            channel="telegram",
            address_value=CHAT,
            text="Welcome!",
            payload=None,
            at=clock(),
        )
    return record.id


async def sent_status(database: Database, message_id: int) -> tuple[str, str | None]:
    async with database.read() as uow:
        row = (
            await uow.session.execute(
                select(Message.status, Message.provider_message_id).where(Message.id == message_id)
            )
        ).one()
    return row.status, row.provider_message_id


async def test_the_same_sender_records_the_receipt_instead_of_resending(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    welcome = await queue_welcome(database, clock)
    outage = Outage(monkeypatch)
    async with (
        FakeTelegram(token=TOKEN) as telegram,
        coordinations(database.backend) as (
            shared,
            _,
        ),
    ):
        channel = TelegramChannel(TOKEN, api_url=telegram.url)
        sender = Sender(database, shared, {"telegram": channel}, UNLIMITED, clock, lanes=1)
        try:
            with pytest.raises(OperationalError):
                await sender.send_due()  # sent; its receipt refused
            assert len(telegram.sent) == 1 and outage.refused >= 1
            clock.at += LEASE + timedelta(seconds=1)  # the lease ran out during the outage
            with pytest.raises(OperationalError):
                await sender.send_due()  # still down: leased again, recorded, not resent
            assert len(telegram.sent) == 1
            outage.end()
            await sender.send_due()
        finally:
            await channel.close()
        assert len(telegram.sent) == 1
    status, recorded = await sent_status(database, welcome)
    assert status == "sent" and recorded is not None


async def test_another_sender_finds_the_send_in_the_journal(
    database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    welcome = await queue_welcome(database, clock)
    outage = Outage(monkeypatch)
    async with (
        FakeTelegram(token=TOKEN) as telegram,
        coordinations(database.backend) as (
            first_coordination,
            second_coordination,
        ),
    ):
        first_channel = TelegramChannel(TOKEN, api_url=telegram.url)
        second_channel = TelegramChannel(TOKEN, api_url=telegram.url)
        first = Sender(database, first_coordination, {"telegram": first_channel}, UNLIMITED, clock)
        second_database = Database(database_url)
        second = Sender(
            second_database, second_coordination, {"telegram": second_channel}, UNLIMITED, clock
        )
        try:
            with pytest.raises(OperationalError):
                await first.send_due()  # sent; its receipt refused; then this sender is gone
            assert len(telegram.sent) == 1
            outage.end()
            clock.at += LEASE + timedelta(seconds=1)
            await second.send_due()
            await wait_until(lambda: second.sent == 1, 10)
        finally:
            await first_channel.close()
            await second_channel.close()
            await second_database.dispose()
        assert len(telegram.sent) == 1
    status, recorded = await sent_status(database, welcome)
    assert status == "sent" and recorded is not None
