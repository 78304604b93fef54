"""Status callbacks that arrive before the send's receipt is recorded are kept and applied
when it is: none is dropped, and a 21610 one still opts the member out. Through the web app
and the sender against a fake Twilio that calls back before it answers the send, and at the
storage level for the callback that races the receipt's own transaction; on every backend."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from bot.channels.base import StatusUpdate
from bot.pipeline import statuses
from storage import Database
from tests.outbox_lines import log_outbound
from tests.pipeline.test_pipeline import (
    Stack,
    receipts_recorded,
    stack,
    twilio_form,
    wait_until,
)

__all__ = ["stack"]  # the fixture, for pytest

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
PHONE = "+254712345678"


async def test_a_callback_before_the_receipt_is_applied_when_the_receipt_lands(
    stack: Stack,
) -> None:
    answers: list[int] = []

    async def call_back_first(sid: str, form: Mapping[str, str]) -> None:
        callback = dict(twilio_form("status_delivered"), MessageSid=sid, To=form["To"])
        answers.append((await stack.twilio_post("/webhooks/twilio/status", callback)).status_code)

    stack.twilio.on_created = call_back_first
    assert (
        await stack.twilio_post("/webhooks/twilio", twilio_form("whatsapp_inbound_text"))
    ).status_code == 200
    await wait_until(lambda: len(answers) == 1)
    assert answers == [204]
    async with stack.runtime.database.transaction() as uow:
        member = await uow.members.by_address("whatsapp", PHONE)
    assert member is not None
    await receipts_recorded(stack.runtime.database, member.id)
    async with stack.runtime.database.transaction() as uow:
        [_, greeting] = await uow.messages.for_member(member.id)
        assert await uow.early_statuses.take_matched() == []  # nothing left kept
    assert greeting.status == "delivered"


async def test_an_early_21610_still_opts_the_member_out(stack: Stack) -> None:
    async def unsubscribed(sid: str, form: Mapping[str, str]) -> None:
        callback = dict(
            twilio_form("status_failed_63016"),
            MessageSid=sid,
            To=form["To"],
            MessageStatus="undelivered",
            ErrorCode="21610",
        )
        await stack.twilio_post("/webhooks/twilio/status", callback)

    stack.twilio.on_created = unsubscribed
    await stack.twilio_post("/webhooks/twilio", twilio_form("whatsapp_inbound_text"))
    await wait_until(lambda: len(stack.twilio.accepted) == 1)
    async with stack.runtime.database.transaction() as uow:
        member = await uow.members.by_address("whatsapp", PHONE)
    assert member is not None
    await receipts_recorded(stack.runtime.database, member.id)
    async with stack.runtime.database.transaction() as uow:
        member = await uow.members.get(member.id)
        address = await uow.members.address("whatsapp", PHONE)
        [_, greeting] = await uow.messages.for_member(member.id if member else 0)
    assert member is not None and member.opted_out
    assert address is not None and address.blocked_at is not None
    assert (greeting.status, greeting.error_code) == ("undelivered", "21610")


async def _queued(database: Database) -> tuple[int, int]:
    async with database.transaction() as uow:
        member = await uow.members.create("whatsapp", PHONE, "en", None, at=T0)
        message = await log_outbound(
            uow,
            member_id=member.id,
            channel="whatsapp",
            address_value=PHONE,
            text="Welcome",
            payload=None,
            at=T0,
        )
    return member.id, message.id


async def test_a_callback_that_races_the_receipts_transaction_is_applied_by_the_sweep(
    database: Database,
) -> None:
    member_id, message_id = await _queued(database)
    # the receipt's transaction looked for kept callbacks before this one was committed
    async with database.transaction() as uow:
        await uow.messages.mark_sent(message_id, "SMraced", at=T0)
        assert await statuses.apply_early(uow, [], T0) == 0
    async with database.transaction() as uow:
        update = StatusUpdate("whatsapp", "SMraced", "read")
        assert await statuses.receive(uow, update, T0) is True  # found now: applied at once
    async with database.transaction() as uow:
        [message] = await uow.messages.for_member(member_id)
    assert message.status == "read"

    # and when the callback was kept just before the receipt committed without taking it
    _, other_id = await _queued_again(database, member_id)
    async with database.transaction() as uow:
        assert (
            await statuses.receive(uow, StatusUpdate("whatsapp", "SMlate", "delivered"), T0)
            is False
        )
    async with database.transaction() as uow:
        await uow.messages.mark_sent(other_id, "SMlate", at=T0)
    async with database.transaction() as uow:
        assert await statuses.apply_matched(uow, T0) == 1
        assert await statuses.apply_matched(uow, T0) == 0  # applied once
        log = {message.id: message.status for message in await uow.messages.for_member(member_id)}
    assert log[other_id] == "delivered"


async def _queued_again(database: Database, member_id: int) -> tuple[int, int]:
    async with database.transaction() as uow:
        message = await log_outbound(
            uow,
            member_id=member_id,
            channel="whatsapp",
            address_value=PHONE,
            text="Again",
            payload=None,
            at=T0,
        )
    return member_id, message.id


async def test_callbacks_no_receipt_matches_are_forgotten_after_a_while(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        await statuses.receive(uow, StatusUpdate("sms", "SMnever", "delivered"), T0)
    async with database.transaction() as uow:
        await statuses.apply_matched(uow, T0 + statuses.KEEP_EARLY - timedelta(seconds=1))
        assert len(await uow.early_statuses.take_for("sms", ["SMnever"])) == 1
    async with database.transaction() as uow:
        await statuses.receive(uow, StatusUpdate("sms", "SMnever", "delivered"), T0)
    async with database.transaction() as uow:
        await statuses.apply_matched(uow, T0 + statuses.KEEP_EARLY + timedelta(seconds=1))
        assert await uow.early_statuses.take_for("sms", ["SMnever"]) == []
