"""The tables, as SQLAlchemy declarative models.

Only repositories touch these classes; everything outside `storage` sees records. Timestamps are
`UTCDateTime` (aware UTC on every backend) and amounts `ExactDecimal` (never a float). The initial
Alembic revision creates exactly these tables, and a test keeps the two identical.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.column_types import ExactDecimal, UTCDateTime
from storage.records import DEFAULT_QUIET_END, DEFAULT_QUIET_START
from storage.vocabulary import (
    CHANNELS,
    MESSAGE_DIRECTIONS,
    MESSAGE_STATUSES,
    SESSION_STATUSES,
    STORY_STATUSES,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


NUDGE_SQLITE = "json_extract(payload, '$.nudge')"
NUDGE_POSTGRESQL = "(payload ->> 'nudge')"
"""The nudge kind of a proactive line, as each backend writes it."""
COUNTED_NUDGES = {
    "checkin_invitation": "ix_messages_invitations",
    "reminder": "ix_messages_reminders",
}
"""The nudges the evidence report counts, each with a partial index of its own lines (member,
moment, status): counting them reads the index alone, never the JSON of the lines."""


def nudge_lines(kind: str, nudge: str) -> str:
    """The condition of a partial index of one nudge kind's lines, with `nudge` the backend's
    expression of the kind. A query that counts them repeats it word for word, constants and
    all: a database uses a partial index only when it can see that the query's condition
    implies the index's."""
    return f"direction = 'out' AND {nudge} = '{kind}'"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Group(Base):
    """A peer group. `name_key` is the case-folded name that makes names unique regardless of
    case (SQLite's `lower()` only folds ASCII, so the key is computed in Python)."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_key: Mapped[str] = mapped_column(Text, unique=True)
    join_code: Mapped[str] = mapped_column(String(6), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(35))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checkin_schedule: Mapped[str] = mapped_column(
        String(64), server_default=sql_text("'0 9 * * MON'")
    )
    highlight_schedule: Mapped[str] = mapped_column(
        String(64), server_default=sql_text("'0 18 * * SUN'")
    )
    quiet_start: Mapped[str] = mapped_column(
        String(5), server_default=sql_text(f"'{DEFAULT_QUIET_START}'")
    )
    quiet_end: Mapped[str] = mapped_column(
        String(5), server_default=sql_text(f"'{DEFAULT_QUIET_END}'")
    )
    next_checkin_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    next_highlight_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(120))
    locale: Mapped[str] = mapped_column(String(35), default="en")
    currency: Mapped[str | None] = mapped_column(String(3))
    business_type: Mapped[str | None] = mapped_column(String(120))
    consent: Mapped[bool | None] = mapped_column(Boolean)
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    onboarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str | None] = mapped_column(String(64))
    # The console's take-over: while `taken_over_by_id` is set, a coordinator answers this
    # member and the bot stays silent; `waiting_since` is set when the member asked for a person.
    # (A staff id without a foreign key: adding one would make SQLite rebuild this table.)
    taken_over_by_id: Mapped[int | None] = mapped_column(Integer)
    taken_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the member's personal data was erased (at their request): the row stays only so
    # that numeric answers keep counting in program statistics, under an id nothing links to.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Address(Base):
    """One way to reach a member; a (channel, value) pair belongs to one member only."""

    __tablename__ = "addresses"
    __table_args__ = (
        UniqueConstraint("channel", "value"),
        CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Membership(Base):
    """A member's time in a group; `left_at` is null while it lasts. The partial unique index
    allows one current membership per member."""

    __tablename__ = "memberships"
    __table_args__ = (
        Index(
            "uq_memberships_current_member_id",
            "member_id",
            unique=True,
            sqlite_where=sql_text("left_at IS NULL"),
            postgresql_where=sql_text("left_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CheckinSession(Base):
    """One member going through one check-in. The partial unique index both finds a member's
    active session fast and guarantees there is at most one."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index(
            "uq_sessions_active_member_id",
            "member_id",
            unique=True,
            sqlite_where=sql_text("status = 'active'"),
            postgresql_where=sql_text("status = 'active'"),
        ),
        Index(
            "ix_sessions_next_nudge_at",
            "next_nudge_at",
            sqlite_where=sql_text("status = 'active'"),
            postgresql_where=sql_text("status = 'active'"),
        ),
        Index("ix_sessions_member_checkin_ended", "member_id", "checkin_id", "ended_at"),
        CheckConstraint(_one_of("status", SESSION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    checkin_id: Mapped[str] = mapped_column(String(64))
    checkin_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    step_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(Text)
    next_nudge_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Answer(Base):
    """A typed value a member gave at a step; exactly the columns its type needs are set."""

    __tablename__ = "answers"
    __table_args__ = (
        Index("ix_answers_member_id_created_at", "member_id", "created_at"),
        Index("ix_answers_group_id_created_at", "group_id", "created_at"),
        # who answered lately, from the index alone (the evidence report's active members)
        Index("ix_answers_created_at_member_id", "created_at", "member_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    checkin_id: Mapped[str] = mapped_column(String(64))
    step_id: Mapped[str] = mapped_column(String(64))
    answer_type: Mapped[str] = mapped_column(String(32))
    value_number: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    currency: Mapped[str | None] = mapped_column(String(3))
    value_text: Mapped[str | None] = mapped_column(Text)
    value_choice: Mapped[str | None] = mapped_column(Text)
    value_date: Mapped[date | None] = mapped_column(Date)
    value_json: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    raw_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CheckinResult(Base):
    """A completed check-in as the evidence report reads it: who, in which group (that of its
    last answer), when it ended and in which week on that group's calendar (`storage.weeks`;
    UTC for no group: rewritten when the group changes its time zone), and its amounts
    (`{step: [value, currency]}`, the last answer of each money step, skipped ones left out;
    values as exact decimal strings). Written in the transaction of the turn that completed
    the check-in; holds nothing that erasure or retention would remove from the answers it
    summarises (numbers, ids, times)."""

    __tablename__ = "checkin_results"
    __table_args__ = (
        # a member's check-ins from either end, in the order the report walks them
        Index(
            "ix_checkin_results_member_id_checkin_id",
            "member_id",
            "checkin_id",
            "ended_at",
            "session_id",
        ),
        Index("ix_checkin_results_group_id_checkin_id", "group_id", "checkin_id", "ended_at"),
        Index("ix_checkin_results_checkin_id_ended_at", "checkin_id", "ended_at"),
        # check-ins per week, counted from the index alone
        Index("ix_checkin_results_checkin_id_week", "checkin_id", "week", "member_id", "ended_at"),
    )

    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    checkin_id: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    week: Mapped[int] = mapped_column(Integer)
    # binary JSON on PostgreSQL: the report picks amounts out of a year of rows, and `jsonb`
    # is parsed once when written instead of at every read
    amounts: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))


class HelpRecord(Base):
    """One act of mutual help: the mutuality ledger."""

    __tablename__ = "help_records"
    __table_args__ = (Index("ix_help_records_group_id_created_at", "group_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    giver_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    receiver_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    kind: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"))
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Message(Base):
    """Every line in and out. A provider's message id is unique per channel (NULLs never
    collide, on either backend)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_message_id"),
        Index("ix_messages_member_id_created_at", "member_id", "created_at"),
        Index(
            "ix_messages_outbox_chat",
            "channel",
            "address_value",
            "id",
            sqlite_where=sql_text("status = 'queued' AND direction = 'out'"),
            postgresql_where=sql_text("status = 'queued' AND direction = 'out'"),
        ),
        Index(
            "ix_messages_outbox",
            "next_attempt_at",
            "id",
            sqlite_where=sql_text("status = 'queued' AND direction = 'out'"),
            postgresql_where=sql_text("status = 'queued' AND direction = 'out'"),
        ),
        Index(
            "ix_messages_unredacted",
            "created_at",
            sqlite_where=sql_text("text <> ''"),
            postgresql_where=sql_text("text <> ''"),
        ),
        *(
            Index(
                name,
                "member_id",
                "created_at",
                "status",
                sqlite_where=sql_text(nudge_lines(kind, NUDGE_SQLITE)),
                postgresql_where=sql_text(nudge_lines(kind, NUDGE_POSTGRESQL)),
            )
            for kind, name in COUNTED_NUDGES.items()
        ),
        *(
            Index(
                f"{name}_weeks",
                "week",
                "member_id",
                "created_at",
                "status",
                sqlite_where=sql_text(nudge_lines(kind, NUDGE_SQLITE)),
                postgresql_where=sql_text(nudge_lines(kind, NUDGE_POSTGRESQL)),
            )
            for kind, name in COUNTED_NUDGES.items()
        ),
        CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(_one_of("direction", MESSAGE_DIRECTIONS), name="direction"),
        CheckConstraint(_one_of("status", MESSAGE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    channel: Mapped[str] = mapped_column(String(16))
    address_value: Mapped[str] = mapped_column(String(255))
    direction: Mapped[str] = mapped_column(String(3))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    status: Mapped[str] = mapped_column(String(16))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    error_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, server_default=sql_text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    week: Mapped[int | None] = mapped_column(Integer)
    """For the lines of the nudges the evidence report counts (`COUNTED_NUDGES`) only: the
    week of `created_at` on the calendar of the group the member then belonged to (`storage.
    weeks`; UTC for none), set by `MessageRepository.log_many` and rewritten when the group
    changes its time zone."""


class Story(Base):
    __tablename__ = "stories"
    __table_args__ = (
        Index("ix_stories_status_created_at", "status", "created_at"),
        CheckConstraint(_one_of("status", STORY_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    original_text: Mapped[str | None] = mapped_column(Text)
    author_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EarlyStatus(Base):
    """A provider's status callback for a message whose send receipt is not recorded yet.

    The provider can report on a message (delivered, failed, the recipient opted out) before
    the sender has written the provider's id down; such a callback is kept here, and applied
    and deleted when the receipt lands (or by the sender's sweep, whichever comes first)."""

    __tablename__ = "early_statuses"
    __table_args__ = (
        Index("ix_early_statuses_channel", "channel", "provider_message_id"),
        CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(_one_of("status", MESSAGE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    opted_out: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboxEntry(Base):
    """An inbound provider event, stored before the provider gets its 2xx. (channel,
    provider_id) is unique, so a redelivered webhook adds nothing. `processed_at` is set in the
    same transaction as everything the event caused."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        Index(
            "ix_inbox_pending",
            "address",
            "id",
            sqlite_where=sql_text("processed_at IS NULL"),
            postgresql_where=sql_text("processed_at IS NULL"),
        ),
        CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(255))
    event: Mapped[Any] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, server_default=sql_text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)


class GroupChat(Base):
    """A group chat the bot is in (Telegram), and the peer group it is bound to, if any."""

    __tablename__ = "group_chats"
    __table_args__ = (
        UniqueConstraint("channel", "chat_id"),
        CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Staff(Base):
    """A person on the staff side: `admin`, `coordinator` (reads logs, moderates) or `staff`
    (writes stories, broadcasts). The same records log in to the dashboard."""

    __tablename__ = "staff"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'coordinator', 'staff')", name="role"),
        # A unique index rather than a constraint: SQLite adds one without rebuilding the table.
        Index("uq_staff_email", "email", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    telegram_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Signing in to the console: the address they sign in with, an Argon2id hash, the language
    # they chose, and what the lock-out counts. `session_version` grows at each sign-out, which
    # ends every session cookie issued before it.
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    session_version: Mapped[int] = mapped_column(Integer, server_default=sql_text("0"))
    failed_logins: Mapped[int] = mapped_column(Integer, server_default=sql_text("0"))
    failed_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Removal is a state, not a deletion: the row names them in the audit log and on what they
    # wrote, while every lookup (sign-in, chat commands, --by, lists) leaves them out.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffGroup(Base):
    """A group a staff user works with: a coordinator reads the conversations of these groups
    only; admins see every group whatever is here."""

    __tablename__ = "staff_groups"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True, index=True)


class MemberNote(Base):
    """A private note staff keep on a member in the console; members never see it."""

    __tablename__ = "member_notes"
    __table_args__ = (Index("ix_member_notes_member_id_created_at", "member_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One line of the console's audit log: who read which member's conversation, who replied,
    took over, handed back, exported or changed an account, and when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_member_id_at", "member_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    action: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Broadcast(Base):
    """A message staff send to a group, a language and/or a segment, now or at `scheduled_at`.
    `texts` holds one text per language code; members get theirs, or the first one."""

    __tablename__ = "broadcasts"
    __table_args__ = (
        CheckConstraint(
            "status IN ('scheduled', 'planning', 'sending', 'done', 'cancelled')", name="status"
        ),
        Index("ix_broadcasts_status_scheduled_at", "status", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    language: Mapped[str | None] = mapped_column(String(35))
    segment: Mapped[str | None] = mapped_column(Text)
    texts: Mapped[dict[str, str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BroadcastRecipient(Base):
    """One member of a broadcast's audience; planning inserts these once (unique per member),
    so a broadcast interrupted half way resumes without sending twice."""

    __tablename__ = "broadcast_recipients"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "member_id"),
        Index(
            "ix_broadcast_recipients_unqueued",
            "broadcast_id",
            "id",
            sqlite_where=sql_text("message_id IS NULL AND status = 'planned'"),
            postgresql_where=sql_text("message_id IS NULL AND status = 'planned'"),
        ),
        # which recipient a line is the first part for: what the counting triggers look up on
        # every change of a line's status (and what deleting a line checks its key against)
        Index(
            "ix_broadcast_recipients_message_id",
            "message_id",
            sqlite_where=sql_text("message_id IS NOT NULL"),
            postgresql_where=sql_text("message_id IS NOT NULL"),
        ),
        CheckConstraint("status IN ('planned', 'queued', 'skipped')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(255))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)


class BroadcastRecipientCount(Base):
    """A change in how many of a broadcast's recipients have a status (and a reason): the sum
    of `recipients` over a broadcast's rows of one (status, reason) is how many recipients
    have them now.

    Rows are only ever inserted by the triggers of revision 0019, in the transaction of the
    change they count, and replaced by their sums (`BroadcastRepository.compact_counts`): no
    writer updates a shared row, so concurrent writers neither wait for each other nor
    deadlock, and the counts stay exact whatever writes the recipients. `broadcast_id` has no
    foreign key: the rows come from recipients, whose own key holds, and one here would add a
    check to every row the senders' path writes."""

    __tablename__ = "broadcast_recipient_counts"
    __table_args__ = (
        Index(
            "ix_broadcast_recipient_counts_broadcast_id",
            "broadcast_id",
            "status",
            "reason",
            "recipients",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    recipients: Mapped[int] = mapped_column(Integer)


class BroadcastLineCount(Base):
    """A change in how many of a broadcast's recipients' first lines (the outbox row a
    recipient points at) have a channel and a delivery status, and, while queued, a time
    before which they are not sent (`next_attempt_at`; NULL for lines of any other status):
    the sum of `lines` over a broadcast's rows of one key is how many lines have it now.

    Kept as `BroadcastRecipientCount` is, by the triggers of revision 0019 on `messages` and
    on `broadcast_recipients`."""

    __tablename__ = "broadcast_line_counts"
    __table_args__ = (
        Index(
            "ix_broadcast_line_counts_broadcast_id",
            "broadcast_id",
            "channel",
            "status",
            "next_attempt_at",
            "lines",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lines: Mapped[int] = mapped_column(Integer)


class Highlight(Base):
    """A group's weekly highlight as composed and sent; one per group and ISO week."""

    __tablename__ = "highlights"
    __table_args__ = (UniqueConstraint("group_id", "week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    week: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DataCopy(Base):
    """A one-time link to a member's copy of their data: only the token's SHA-256 is kept,
    the link works once (`used_at`) and until `expires_at`."""

    __tablename__ = "data_copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Lease(Base):
    """A named lease held by one process until `expires_at` (the one clock that sweeps)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WhatsappContent(Base):
    """A WhatsApp interactive content created at Twilio (quick reply or list picker), by the
    key of what it holds, so each is created once and every later send names its sid."""

    __tablename__ = "whatsapp_contents"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_sid: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
