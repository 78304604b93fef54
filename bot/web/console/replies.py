"""A coordinator's reply to a member: written to the same outbox as the bot's lines (so the
same order, rate limits and retries apply), on the channel the member last wrote from.

WhatsApp lets a business send free-form text only within 24 hours of the member's last
message; outside that window the reply is refused with the reason, and the coordinator is
offered the approved templates instead (`bot.web.console.template_offers`), which
`queue_template` sends like any other line.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from bot.turns.service import queue_outbound
from bot.web.console.template_offers import TemplateOffer
from conversations.i18n import N_
from conversations.rendering import RenderedMessage
from storage.repositories.messages import message_values
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
NO_SUCH_TEMPLATE = N_("This template is not offered for this member now.")
NOT_ON_WHATSAPP = N_("Templates are for WhatsApp; this member last wrote on another channel.")


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
    if await window_closed(uow, channel, address, now):
        raise ReplyRefused(OUTSIDE_WINDOW)
    rendered = RenderedMessage(text=text, locale=locale)
    written = await queue_outbound(uow, member_id, channel, address, rendered, None, now)
    return [line.message_id for line in written]


async def window_closed(uow: UnitOfWork, channel: Channel, address: str, now: datetime) -> bool:
    """Whether only an approved template may go to this address now: WhatsApp, and the
    member's last message is more than 24 hours old (or there is none)."""
    if channel != "whatsapp":
        return False
    last = (await uow.members.last_inbound(channel, [address])).get(address)
    return last is None or now - last > WHATSAPP_WINDOW


async def queue_template(
    uow: UnitOfWork, member_id: int, offer: TemplateOffer, now: datetime
) -> int:
    """Queue an approved template for the member on WhatsApp; the id of the line written. Its
    text is what the member will read (the template's body, its variables filled), so the
    transcript shows it; the sender sends the template's sid with the variables. Raises
    `ReplyRefused` when the member cannot get it."""
    found = await reply_address(uow, member_id)
    if found is None:
        raise ReplyRefused(NO_ADDRESS)
    channel, address = found
    if channel != "whatsapp":
        raise ReplyRefused(NOT_ON_WHATSAPP)
    payload = {
        "content_sid": offer.sid,
        "content_variables": offer.variables,
        "console_template": offer.name,
    }
    values = message_values(
        member_id, channel, address, "out", offer.text, payload, "queued", None, now
    )
    [line_id] = await uow.messages.log_many([values])
    return line_id
