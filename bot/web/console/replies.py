"""A coordinator's reply to a member: written to the same outbox as the bot's lines (so the
same order, rate limits and retries apply), on the channel the member last wrote from.

WhatsApp lets a business send free-form text only within 24 hours of the member's last
message; outside that window the reply is refused with the reason (only an approved template
may be sent then, which the bot's nudges do by themselves).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from bot.turns.service import queue_outbound
from conversations.i18n import N_
from conversations.rendering import RenderedMessage
from storage.unit_of_work import UnitOfWork
from storage.vocabulary import Channel

WHATSAPP_WINDOW: Final = timedelta(hours=24)
MAX_REPLY_LENGTH: Final = 4000
OUTSIDE_WINDOW = N_(
    "This member last wrote on WhatsApp more than 24 hours ago: WhatsApp only accepts an "
    "approved template now, not a free-form reply. Their next message opens the window again."
)
NOT_TAKEN_OVER = N_("Take over this conversation before replying.")
EMPTY = N_("Write a reply first.")
TOO_LONG = N_("This reply is too long.")
NO_ADDRESS = N_("This member has no address to reply to.")


class ReplyRefused(Exception):
    """Why a reply was not queued: `reason` is a catalog message id."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def reply_address(uow: UnitOfWork, member_id: int) -> tuple[Channel, str] | None:
    """Where to answer: the channel and address of the member's last message, else their first
    address."""
    lines = await uow.conversations.transcript(member_id, limit=50)
    for line in reversed(lines):
        if line.direction == "in":
            return line.channel, line.address_value
    addresses = await uow.members.addresses(member_id)
    return (addresses[0].channel, addresses[0].value) if addresses else None


async def queue_reply(
    uow: UnitOfWork, member_id: int, locale: str, text: str, now: datetime
) -> list[int]:
    """Queue `text` for the member; the ids of the lines written. Raises `ReplyRefused`."""
    text = text.strip()
    if not text:
        raise ReplyRefused(EMPTY)
    if len(text) > MAX_REPLY_LENGTH:
        raise ReplyRefused(TOO_LONG)
    found = await reply_address(uow, member_id)
    if found is None:
        raise ReplyRefused(NO_ADDRESS)
    channel, address = found
    if channel == "whatsapp":
        last = (await uow.members.last_inbound(channel, [address])).get(address)
        if last is None or now - last > WHATSAPP_WINDOW:
            raise ReplyRefused(OUTSIDE_WINDOW)
    rendered = RenderedMessage(text=text, locale=locale)
    written = await queue_outbound(uow, member_id, channel, address, rendered, None, now)
    return [line.message_id for line in written]
