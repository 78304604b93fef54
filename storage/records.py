"""Frozen records: what repositories return instead of ORM objects.

A record is a snapshot taken inside the transaction; it never loads anything later, so it can
travel to the engine, a template or a worker after the transaction is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from storage.vocabulary import (
    Channel,
    MessageDirection,
    MessageStatus,
    SessionStatus,
    StoryStatus,
)

DEFAULT_QUIET_START = "21:00"
DEFAULT_QUIET_END = "07:00"
"""A group's quiet hours (local wall-clock times) unless it sets its own: the one place they
are written, besides the migration that added the columns."""


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """A group; `member_count` counts its current memberships when the record was read."""

    id: int
    name: str
    join_code: str
    timezone: str
    language: str
    currency: str
    created_at: datetime
    member_count: int
    checkin_schedule: str = "0 9 * * MON"
    highlight_schedule: str = "0 18 * * SUN"
    quiet_start: str = DEFAULT_QUIET_START
    quiet_end: str = DEFAULT_QUIET_END


@dataclass(frozen=True, slots=True)
class MemberRecord:
    id: int
    name: str | None
    locale: str
    currency: str | None
    business_type: str | None
    consent: bool | None
    consented_at: datetime | None
    opted_out: bool
    opted_out_at: datetime | None
    onboarded_at: datetime | None
    created_at: datetime
    updated_at: datetime
    timezone: str | None = None
    taken_over_by_id: int | None = None
    """The staff user answering this member in the console; the bot stays silent meanwhile."""
    waiting_since: datetime | None = None
    """When the member asked for a person, until someone takes over."""


@dataclass(frozen=True, slots=True)
class AddressRecord:
    id: int
    member_id: int
    channel: Channel
    value: str
    created_at: datetime
    last_inbound_at: datetime | None
    blocked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A check-in session; `state` is the engine's serialised state, opaque to storage."""

    id: int
    member_id: int
    checkin_id: str
    checkin_version: int
    status: SessionStatus
    step_id: str | None
    state: dict[str, Any]
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    next_nudge_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: int
    member_id: int | None
    channel: Channel
    address_value: str
    direction: MessageDirection
    text: str
    payload: Any | None
    status: MessageStatus
    provider_message_id: str | None
    error_code: str | None
    created_at: datetime
    updated_at: datetime
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class InboxRecord:
    """An inbound provider event as stored; `event` is its JSON form."""

    id: int
    channel: Channel
    provider_id: str
    address: str
    event: dict[str, Any]
    received_at: datetime
    processed_at: datetime | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class GroupChatRecord:
    id: int
    channel: Channel
    chat_id: str
    title: str
    group_id: int | None
    created_at: datetime
    linked_at: datetime | None


StaffRole = Literal["admin", "coordinator", "staff"]
STAFF_ROLES: tuple[str, ...] = get_args(StaffRole)


def can_moderate(role: StaffRole) -> bool:
    """Whether a staff user with this role may approve or reject a story: coordinators and
    admins moderate; the `staff` role writes, edits and broadcasts but does not moderate."""
    return role in ("admin", "coordinator")


@dataclass(frozen=True, slots=True)
class StaffRecord:
    """A staff user. `phone` is +E.164 and `telegram_id` a Telegram user id; at least one is
    set, and each belongs to one staff user only."""

    id: int
    name: str
    role: StaffRole
    phone: str | None
    telegram_id: str | None
    created_at: datetime
    email: str | None = None
    language: str | None = None
    removed_at: datetime | None = None

    @property
    def removed(self) -> bool:
        return self.removed_at is not None


@dataclass(frozen=True, slots=True)
class StoryRecord:
    """A story and its moderation trail.

    A member's story has `member_id`; a staff-written one has `author_staff_id` instead.
    `moderated_by_id`/`moderated_at` say who last approved or rejected it and when (for a
    staff-written story: its author, when it was written); `edited_by_id`/`edited_at` who last
    edited it, and `original_text` is the text before the first edit (None if never edited).
    """

    id: int
    member_id: int | None
    group_id: int | None
    session_id: int | None
    text: str
    status: StoryStatus
    created_at: datetime
    original_text: str | None = None
    author_staff_id: int | None = None
    moderated_by_id: int | None = None
    moderated_at: datetime | None = None
    edited_by_id: int | None = None
    edited_at: datetime | None = None
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AnswerRow:
    """One answer as an export line: every value already rendered as plain text.

    `member_address` is the member's first address as `channel:value`; `value` is the exact
    decimal, the ISO date, the comma-joined choice ids, compact JSON or the text, whichever the
    answer holds ("" when skipped); `created_at` is ISO 8601 in UTC.
    """

    answer_id: int
    member_id: int
    member_name: str | None
    member_address: str | None
    group_id: int | None
    group_name: str | None
    checkin_id: str
    step_id: str
    answer_type: str
    value: str
    currency: str | None
    skipped: bool
    raw_text: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class HelpRow:
    """One help record as an export line; `created_at` is ISO 8601 in UTC."""

    help_id: int
    giver_id: int
    giver_name: str | None
    receiver_id: int
    receiver_name: str | None
    group_id: int | None
    group_name: str | None
    kind: str
    note: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """A member with all their addresses (oldest first) and their current group's id."""

    member: MemberRecord
    addresses: tuple[AddressRecord, ...]
    group_id: int | None


@dataclass(frozen=True, slots=True)
class RosterMember:
    """What matching an import against the members stored needs of one member: their name,
    language, current group's id and addresses (oldest first), and no timestamps (reading
    those is most of the cost of reading a large roster)."""

    id: int
    name: str | None
    locale: str
    group_id: int | None
    addresses: tuple[tuple[Channel, str], ...]


@dataclass(frozen=True, slots=True)
class RosterWrite:
    """What a bulk import writes for one member (see `RosterRepository.write`).

    `member_id` None creates a member, in `locale` (which must then be given), with `name` and
    the first of `addresses`; for a stored member, `name` and `locale` are set when given (None
    leaves them as they are: an import never clears a field). `addresses` are added, in their
    order; `group_id` becomes the member's current group (None: the membership is left alone).
    """

    member_id: int | None
    name: str | None
    locale: str | None
    group_id: int | None
    addresses: tuple[tuple[Channel, str], ...]


@dataclass(frozen=True, slots=True)
class EarlyStatusRecord:
    """A status callback kept until its message's receipt is recorded."""

    channel: Channel
    provider_message_id: str
    status: MessageStatus
    error_code: str | None
    opted_out: bool
    received_at: datetime
