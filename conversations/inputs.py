"""What can happen to a member's conversation: the engine's inputs."""

from __future__ import annotations

from dataclasses import dataclass

from conversations.answers import Location, Photo
from conversations.words import Command


@dataclass(frozen=True, slots=True)
class Reply:
    """Something the member sent. `choice` is a button's payload when they pressed one, and
    `choice_step` the question that button belonged to (a press on an old question's button is
    stale);
    `media_kind` names what else arrived ("voice", "sticker", "video", "document") when it is
    neither a photo nor a location."""

    text: str = ""
    choice: str | None = None
    choice_step: str | None = None
    photo: Photo | None = None
    location: Location | None = None
    contact_phone: str | None = None
    media_kind: str | None = None


@dataclass(frozen=True, slots=True)
class Start:
    """Begin a check-in for this member (a schedule or staff decided it).

    Being proactive, it needs the member's recorded consent, except for onboarding itself,
    which is how consent is asked. `step` begins at that step instead of the first (an
    imported member, whose language is known, is asked for consent first)."""

    checkin_id: str
    step: str | None = None


@dataclass(frozen=True, slots=True)
class Open:
    """The member opened the conversation without saying anything yet (the terminal console
    starting): greet them, or ask the pending question again."""


@dataclass(frozen=True, slots=True)
class Remind:
    """A reminder for the running check-in is due. `silent`: its moment has passed (the clock
    was down, or it fell in quiet hours for too long): count it as handled, say nothing."""

    silent: bool = False


@dataclass(frozen=True, slots=True)
class Expire:
    """The running check-in has run out of time. `silent`: close it without a word (the
    moment to say so is long gone)."""

    silent: bool = False


@dataclass(frozen=True, slots=True)
class CommandInput:
    """A command recognised by the channel itself (Telegram's /start), with its argument."""

    command: Command
    argument: str = ""


Input = Reply | Open | Start | Remind | Expire | CommandInput
