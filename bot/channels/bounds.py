"""The bounds of what a provider's request may put in storage, checked at the edge.

Webhooks arriving together are stored in one statement, so a value the database refuses (an
id longer than its column, a NUL character PostgreSQL cannot hold in text) would fail every
request stored with it. A verified request is therefore held to the columns' bounds before it
is stored: an id or an address out of bounds refuses that request alone (`OutOfBounds`, a 400),
and free text is cleaned rather than refused, since a member's message is worth keeping: NUL
characters are dropped and text is cut to what the channel itself lets a member send.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Final

from bot.channels.base import (
    ContactEvent,
    GroupChatEvent,
    InboundEvent,
    MessageEvent,
    OptOutEvent,
    StatusUpdate,
    TimerEvent,
)
from conversations.answers import Photo
from conversations.inputs import Reply

PROVIDER_ID_MAX: Final = 128
"""The provider id columns' width (inbox.provider_id, messages.provider_message_id)."""
ADDRESS_MAX: Final = 255
"""The address columns' width."""
ERROR_CODE_MAX: Final = 32
"""messages.error_code's width."""
TEXT_MAX: Final[dict[str, int]] = {"telegram": 4096, "whatsapp": 4096, "sms": 1600}
"""The longest text a member can send on each channel; anything longer is not theirs."""
FIELD_MAX: Final = 1024
"""Any other free text of an event (a button's data, a group's title, a media URL)."""
TELEGRAM_ID_LIMIT: Final = 2**53
"""Telegram's ids have at most 52 significant bits (its Bot API says so): a chat id beyond
that is forged or garbled, not a chat."""

_TELEGRAM_ID = re.compile(r"-?[0-9]{1,16}")
_PHONE = re.compile(r"\+[0-9]{6,15}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class OutOfBounds(ValueError):
    """A request holds an id or address storage cannot or must not keep; refuse it alone."""


def bounded_events(events: list[InboundEvent]) -> list[InboundEvent]:
    """The events, their text cleaned and cut to bounds; raises `OutOfBounds` for an id or an
    address that is out of bounds."""
    return [_bounded(event) for event in events]


def bounded_status(update: StatusUpdate) -> StatusUpdate:
    """A status callback held to the columns it updates; raises `OutOfBounds`."""
    _check_id(update.provider_id)
    if update.error_code is not None and (
        len(update.error_code) > ERROR_CODE_MAX or _CONTROL.search(update.error_code)
    ):
        raise OutOfBounds(f"an error code of {len(update.error_code)} characters, or unreadable")
    return update


def valid_telegram_id(value: str) -> bool:
    """Whether `value` is a Telegram chat or user id: an integer of at most 52 bits."""
    return bool(_TELEGRAM_ID.fullmatch(value)) and abs(int(value)) < TELEGRAM_ID_LIMIT


def _bounded(event: InboundEvent) -> InboundEvent:
    _check_id(event.provider_id)
    _check_address(event.channel, _address(event))
    match event:
        case MessageEvent():
            return replace(
                event,
                reply=_bounded_reply(event.reply, TEXT_MAX.get(event.channel, FIELD_MAX)),
                argument=_clean(event.argument),
                callback_id=_clean_optional(event.callback_id),
                command=_clean_optional(event.command),
            )
        case ContactEvent():
            return replace(event, phone=_clean(event.phone))
        case GroupChatEvent():
            return replace(event, title=_clean(event.title), code=_clean_optional(event.code))
        case OptOutEvent() | TimerEvent():
            return event


def _bounded_reply(reply: Reply, text_max: int) -> Reply:
    photo = reply.photo
    return replace(
        reply,
        text=_clean(reply.text, text_max),
        choice=_clean_optional(reply.choice),
        choice_step=_clean_optional(reply.choice_step),
        photo=None if photo is None else Photo(_clean(photo.media_ref), _clean(photo.content_type)),
        contact_phone=_clean_optional(reply.contact_phone),
        media_kind=_clean_optional(reply.media_kind),
    )


def _address(event: InboundEvent) -> str:
    return event.chat_id if isinstance(event, GroupChatEvent) else event.address


def _check_id(provider_id: str) -> None:
    if not provider_id or len(provider_id) > PROVIDER_ID_MAX or _CONTROL.search(provider_id):
        raise OutOfBounds(
            f"a provider id of {len(provider_id)} characters, or with control characters"
        )


def _check_address(channel: str, address: str) -> None:
    if channel == "telegram":
        valid = valid_telegram_id(address)
    elif channel in ("whatsapp", "sms"):
        valid = bool(_PHONE.fullmatch(address))
    else:
        valid = 0 < len(address) <= ADDRESS_MAX and not _CONTROL.search(address)
    if not valid:
        # the address may be a phone number: its length says enough, never its digits
        raise OutOfBounds(f"not a {channel} address ({len(address)} characters)")


def _clean(value: str, limit: int = FIELD_MAX) -> str:
    return value.replace("\x00", "")[:limit]


def _clean_optional(value: str | None) -> str | None:
    return None if value is None else _clean(value)
