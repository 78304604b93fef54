"""The one small interface every channel implements, and the events channels produce.

Inbound: a channel turns a verified provider request (a Telegram update, a Twilio form) into
`InboundEvent`s. Each carries the provider's own id for it, so storing it is idempotent.
Outbound: a channel sends an `OutgoingMessage` and answers with a `SendResult`: sent (with the
provider's id), retry after N seconds, a permanent failure, or a recipient who is gone (blocked
the bot, unsubscribed). Provider quirks are normalised here, at the edge, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from conversations.inputs import Reply
from storage.vocabulary import Channel


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A member wrote, pressed a button or shared something in a private chat.

    `command` is set for commands the channel itself defines (Telegram's `/start`, with the
    deep-link `argument`, e.g. "join-4821"); `callback_id` for a Telegram button press, which the
    channel must acknowledge."""

    channel: Channel
    address: str
    provider_id: str
    reply: Reply
    command: str | None = None
    argument: str = ""
    callback_id: str | None = None


@dataclass(frozen=True, slots=True)
class OptOutEvent:
    """The member blocked the bot (Telegram `my_chat_member` kicked) or unsubscribed."""

    channel: Channel
    address: str
    provider_id: str


@dataclass(frozen=True, slots=True)
class ContactEvent:
    """The member shared their own phone number (+E.164): link it to their other addresses."""

    channel: Channel
    address: str
    provider_id: str
    phone: str


@dataclass(frozen=True, slots=True)
class GroupChatEvent:
    """The bot was added to a group chat (`code` None) or someone sent `/link CODE` there;
    `sender_id` is who sent it (a Telegram user id), which decides whether the link is made."""

    channel: Channel
    chat_id: str
    provider_id: str
    title: str
    code: str | None = None
    sender_id: str | None = None


@dataclass(frozen=True, slots=True)
class TimerEvent:
    """Not from a provider: the clock says a check-in invitation, a reminder or an expiry is
    due for the member at this address. `provider_id` is the timer's unique key (kind, member or
    session, period), so a second clock or a repeated sweep stores nothing new."""

    channel: Channel
    address: str
    provider_id: str
    kind: str
    checkin_id: str
    session_id: int | None = None


InboundEvent = MessageEvent | OptOutEvent | ContactEvent | GroupChatEvent | TimerEvent


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A provider's delivery report for one of our messages."""

    channel: Channel
    provider_id: str
    status: str
    error_code: str | None = None
    opted_out: bool = False
    """The provider reports that the recipient opted out (Twilio's 21610)."""


@dataclass(frozen=True, slots=True)
class OutgoingChoice:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class OutgoingDocument:
    """A file sent with a line, its text as the caption. Made from the database when the line
    goes out (see `bot.pipeline.documents`), never stored: the outbox row names it only."""

    filename: str
    content: bytes


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One line from the outbox. `step_id` lets button payloads name the question they answer,
    so a press on an old question's button is recognised as stale.

    On Telegram, `contact_button` (its label) offers the member a button under the message box
    that shares their own phone number, and `clear_keyboard` takes such a button away: a line
    carries one keyboard at most, and `choices` win."""

    message_id: int
    channel: Channel
    address: str
    text: str
    choices: tuple[OutgoingChoice, ...] = ()
    step_id: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] = field(default_factory=dict)
    document: OutgoingDocument | None = None
    contact_button: str | None = None
    clear_keyboard: bool = False


@dataclass(frozen=True, slots=True)
class Sent:
    provider_id: str


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """A throttle or a transient failure: try the same message again in `seconds`. `scope` says
    what the limit applies to: "chat" (this recipient) or "channel" (everything we send)."""

    seconds: float
    scope: str = "chat"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PermanentFailure:
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class RecipientGone:
    """Blocked, unsubscribed or unreachable for good: stop proactive messages to the address.
    `opted_out`: the member said so themselves (blocked the bot, replied STOP to the provider),
    which stops proactive messages to the member on every channel, not just this address."""

    code: str
    reason: str
    opted_out: bool = False


SendResult = Sent | RetryAfter | PermanentFailure | RecipientGone


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the sender must know of a channel: whether it shows choices as buttons (without
    them, the choices are already numbered in the text) and whether it sends files. Length
    limits, templates and group chats are each channel module's own business."""

    buttons: bool
    documents: bool = False


DOCUMENT_CHANNELS: frozenset[Channel] = frozenset({"telegram"})
"""The channels whose adapters send files (`Capabilities.documents`), for the turns that decide
what to say before any adapter is at hand: a member's copy goes as a file there, as a link
elsewhere."""


class ChannelAdapter(Protocol):
    name: Channel
    capabilities: Capabilities

    async def send(self, message: OutgoingMessage) -> SendResult: ...

    async def close(self) -> None: ...


def button_payload(step_id: str | None, choice_id: str) -> str:
    """The payload a button carries: `s:STEP:CHOICE` (Telegram allows 64 bytes)."""
    return f"s:{step_id or ''}:{choice_id}"[:64]


def parse_button_payload(payload: str) -> tuple[str | None, str]:
    """(step id or None, choice id) from a button payload; a foreign payload is all choice."""
    if payload.startswith("s:") and payload.count(":") >= 2:
        _, step, choice = payload.split(":", 2)
        return (step or None), choice
    return None, payload
