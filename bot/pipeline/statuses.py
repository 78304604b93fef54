"""Delivery reports: a provider's status callbacks applied to the messages they are about.

A callback names the message by the provider's own id, which the sender records with the
send's receipt. The provider can call back before that receipt is written (its request races
our commit); such a callback is kept (`EarlyStatus`) and applied when the receipt lands, in
the receipt's own transaction, and any that raced that transaction too are applied by the
sender's sweep. A report that the recipient opted out (Twilio's 21610) blocks the address and
opts the member out, whenever it is applied.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from bot.channels.base import StatusUpdate
from storage.records import EarlyStatusRecord, MessageRecord
from storage.unit_of_work import UnitOfWork
from storage.vocabulary import Channel, MessageStatus

log = logging.getLogger(__name__)

KEEP_EARLY = timedelta(days=2)
"""How long a kept callback waits for its receipt. Twilio calls back within seconds of the
send; one that no receipt matches in two days was about a message we did not send."""


async def receive(uow: UnitOfWork, update: StatusUpdate, now: datetime) -> bool:
    """Apply a status callback to its message, or keep it until the message's receipt is
    recorded; whether it was applied now."""
    message = await uow.messages.by_provider_id(update.channel, update.provider_id)
    if message is None:
        await uow.early_statuses.keep(
            channel=update.channel,
            provider_message_id=update.provider_id,
            status=_status(update.status),
            error_code=update.error_code,
            opted_out=update.opted_out,
            at=now,
        )
        log.info("status %s kept until its message's receipt is recorded", update.status)
        return False
    await _apply(uow, message, _status(update.status), update.error_code, update.opted_out, now)
    return True


async def apply_early(
    uow: UnitOfWork, sent: Iterable[tuple[MessageRecord, str]], now: datetime
) -> int:
    """Apply the callbacks kept for messages just marked sent, (message, provider id) each:
    what a receipt does in its own transaction. Returns how many were applied."""
    by_channel: dict[Channel, dict[str, MessageRecord]] = defaultdict(dict)
    for message, provider_id in sent:
        by_channel[message.channel][provider_id] = message
    applied = 0
    for channel, messages in by_channel.items():
        for early in await uow.early_statuses.take_for(channel, list(messages)):
            await _apply_early(uow, messages[early.provider_message_id], early, now)
            applied += 1
    return applied


async def apply_matched(uow: UnitOfWork, now: datetime) -> int:
    """Apply every kept callback whose message has its receipt by now, and forget those
    older than `KEEP_EARLY`: the sweep for callbacks that raced their receipt's transaction."""
    applied = 0
    for early in await uow.early_statuses.take_matched():
        message = await uow.messages.by_provider_id(early.channel, early.provider_message_id)
        if message is not None:
            await _apply_early(uow, message, early, now)
            applied += 1
    forgotten = await uow.early_statuses.forget_before(now - KEEP_EARLY)
    if forgotten:
        log.info("forgot %s status callbacks no receipt matched", forgotten)
    return applied


async def _apply_early(
    uow: UnitOfWork, message: MessageRecord, early: EarlyStatusRecord, now: datetime
) -> None:
    await _apply(uow, message, early.status, early.error_code, early.opted_out, now)


async def _apply(
    uow: UnitOfWork,
    message: MessageRecord,
    status: MessageStatus,
    error_code: str | None,
    opted_out: bool,
    now: datetime,
) -> None:
    await uow.messages.set_status(message.id, status, at=now, error_code=error_code)
    if opted_out:
        await uow.members.set_blocked(message.channel, message.address_value, True, at=now)
        if message.member_id is not None:
            await uow.members.update(message.member_id, at=now, opted_out=True)


def _status(name: str) -> MessageStatus:
    return cast(MessageStatus, name)  # `parse_status` folds a provider's words onto ours
