"""A broadcast line leased before the member said STOP, and waiting for the channel's limit when
they did, does not go out: the sender looks again just before it sends a proactive line. A
reply waiting the same way still goes. On every backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from bot.channels.telegram import TelegramChannel
from bot.pipeline.coordination.contracts import Booking, Bucket, RateLimiter
from bot.pipeline.coordination.factory import coordination
from bot.pipeline.sender import Sender
from storage import Database
from tests.fakes.telegram_api import FakeTelegram
from tests.outbox_lines import log_outbound
from tests.pipeline.test_two_senders import TOKEN, UNLIMITED

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class StopWhileWaiting:
    """The limiter, with the member opting out while their line waits for its slot."""

    def __init__(self, limiter: RateLimiter, database: Database, member_id: int) -> None:
        self._limiter = limiter
        self._database = database
        self._member_id = member_id
        self.opted_out = False

    async def acquire(self, buckets: Sequence[Bucket]) -> Booking:
        booking = await self._limiter.acquire(buckets)
        if any(bucket.key.endswith(":7700001") for bucket in buckets) and not self.opted_out:
            self.opted_out = True
            async with self._database.transaction() as uow:  # the worker handles the STOP
                await uow.members.update(self._member_id, at=T0, opted_out=True)
        return booking

    async def finish(self, buckets: Sequence[Bucket], booking: Booking) -> None:
        await self._limiter.finish(buckets, booking)

    async def pause(self, key: str, seconds: float) -> None:
        await self._limiter.pause(key, seconds)


async def test_a_leased_broadcast_line_is_not_sent_after_the_member_opts_out(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        member = await uow.members.create("telegram", "7700001", "en", None, at=T0)
        other = await uow.members.create("telegram", "7700002", "en", None, at=T0)
        lines = {}
        for owner, chat, text, payload in (
            (member.id, "7700001", "Broadcast for the one who stops", {"nudge": "broadcast"}),
            (other.id, "7700002", "A reply to the other", None),
        ):
            record = await log_outbound(
                uow,
                member_id=owner,
                channel="telegram",
                address_value=chat,
                text=text,
                payload=payload,
                at=T0,
            )
            lines[text] = record.id
    async with FakeTelegram(token=TOKEN) as telegram:
        shared = await coordination(None)
        limiter = StopWhileWaiting(shared.limiter, database, member.id)
        channel = TelegramChannel(TOKEN, api_url=telegram.url)
        sender = Sender(
            database, replace(shared, limiter=limiter), {"telegram": channel}, UNLIMITED, lambda: T0
        )
        try:
            assert await sender.send_due() == 2  # both leased before the STOP
        finally:
            await channel.close()
            await shared.close()
    assert [line["text"] for line in telegram.sent] == ["A reply to the other"]
    async with database.read() as uow:
        log = await uow.messages.for_member(member.id)
    assert [(m.status, m.error_code) for m in log] == [("failed", "opted_out")]
