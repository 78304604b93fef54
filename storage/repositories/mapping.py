"""Row-to-record conversions shared by the repositories.

Each takes a mapped object (ORM) or a `Row` of the same table's columns (a Core statement,
which costs far less CPU: the hot paths read that way); both answer `row.column`."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Row

from storage.models import (
    Address,
    CheckinSession,
    Group,
    GroupChat,
    InboxEntry,
    Member,
    Message,
    Story,
)
from storage.records import (
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    AddressRecord,
    GroupChatRecord,
    GroupRecord,
    InboxRecord,
    MemberRecord,
    MessageRecord,
    SessionRecord,
    StoryRecord,
)
from storage.vocabulary import Channel, MessageDirection, MessageStatus, SessionStatus, StoryStatus


def group_record(row: Group | Row[Any], member_count: int) -> GroupRecord:
    return GroupRecord(
        id=row.id,
        name=row.name,
        join_code=row.join_code,
        timezone=row.timezone,
        language=row.language,
        currency=row.currency,
        created_at=row.created_at,
        member_count=member_count,
        checkin_schedule=row.checkin_schedule or "0 9 * * MON",
        highlight_schedule=row.highlight_schedule or "0 18 * * SUN",
        quiet_start=row.quiet_start or DEFAULT_QUIET_START,
        quiet_end=row.quiet_end or DEFAULT_QUIET_END,
    )


def member_record(row: Member | Row[Any]) -> MemberRecord:
    return MemberRecord(
        id=row.id,
        name=row.name,
        locale=row.locale,
        currency=row.currency,
        business_type=row.business_type,
        consent=row.consent,
        consented_at=row.consented_at,
        opted_out=row.opted_out,
        opted_out_at=row.opted_out_at,
        onboarded_at=row.onboarded_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        timezone=row.timezone,
        taken_over_by_id=row.taken_over_by_id,
        waiting_since=row.waiting_since,
    )


def address_record(row: Address | Row[Any]) -> AddressRecord:
    return AddressRecord(
        id=row.id,
        member_id=row.member_id,
        channel=cast(Channel, row.channel),
        value=row.value,
        created_at=row.created_at,
        last_inbound_at=row.last_inbound_at,
        blocked_at=row.blocked_at,
    )


def session_record(row: CheckinSession | Row[Any]) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        member_id=row.member_id,
        checkin_id=row.checkin_id,
        checkin_version=row.checkin_version,
        status=cast(SessionStatus, row.status),
        step_id=row.step_id,
        state=row.state,
        started_at=row.started_at,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        next_nudge_at=row.next_nudge_at,
        expires_at=row.expires_at,
    )


def message_record(row: Message | Row[Any]) -> MessageRecord:
    return MessageRecord(
        id=row.id,
        member_id=row.member_id,
        channel=cast(Channel, row.channel),
        address_value=row.address_value,
        direction=cast(MessageDirection, row.direction),
        text=row.text,
        payload=row.payload,
        status=cast(MessageStatus, row.status),
        provider_message_id=row.provider_message_id,
        error_code=row.error_code,
        created_at=row.created_at,
        updated_at=row.updated_at,
        attempts=row.attempts or 0,
    )


def inbox_record(row: InboxEntry | Row[Any]) -> InboxRecord:
    return InboxRecord(
        id=row.id,
        channel=cast(Channel, row.channel),
        provider_id=row.provider_id,
        address=row.address,
        event=row.event,
        received_at=row.received_at,
        processed_at=row.processed_at,
        attempts=row.attempts or 0,
        last_error=row.last_error,
    )


def group_chat_record(row: GroupChat | Row[Any]) -> GroupChatRecord:
    return GroupChatRecord(
        id=row.id,
        channel=cast(Channel, row.channel),
        chat_id=row.chat_id,
        title=row.title,
        group_id=row.group_id,
        created_at=row.created_at,
        linked_at=row.linked_at,
    )


def story_record(row: Story | Row[Any]) -> StoryRecord:
    return StoryRecord(
        id=row.id,
        member_id=row.member_id,
        group_id=row.group_id,
        session_id=row.session_id,
        text=row.text,
        status=cast(StoryStatus, row.status),
        created_at=row.created_at,
        original_text=row.original_text,
        author_staff_id=row.author_staff_id,
        moderated_by_id=row.moderated_by_id,
        moderated_at=row.moderated_at,
        edited_by_id=row.edited_by_id,
        edited_at=row.edited_at,
        published_at=row.published_at,
    )
