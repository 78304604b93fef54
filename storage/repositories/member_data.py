"""A member's own data: what is stored about them, a full copy of it, its erasure, and the
retention clock that redacts old texts for everyone.

Erasure removes what identifies a person or holds their words: their name, every address,
every message to and from them (and the inbound events they came in), the raw texts and free
text of their answers, their stories, the notes of help records, their name wherever other
members' lines or the group's highlights quote it. What stays is numbers and choices (sales,
savings, yes/no, dates) under the member's row id, which no longer leads to anyone: the row
keeps no name, no address, no contact, and is marked `erased_at` and opted out. Memberships stay
so that group statistics keep counting them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    String,
    cast,
    delete,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Address,
    Answer,
    BroadcastRecipient,
    CheckinSession,
    DataCopy,
    Group,
    HelpRecord,
    Highlight,
    InboxEntry,
    Member,
    MemberNote,
    Membership,
    Message,
    Story,
)
from storage.search import forget_removed_words

ERASED = "•••"
"""What an erased name is replaced by where other people's lines quote it."""
MIN_QUOTED_NAME = 3
"""Shorter names (or first names) are not searched for in others' texts: too many false hits."""
ERASED_INFO = "mutuality_erased"
"""Set in the session's `info` by an erasure: `Database.transaction` then has SQLite forget the
old pages once the erasure is committed (`Database.forget_erased`)."""
REDACTED = ""
"""A message body past retention: the row stays (delivery statistics), its words do not."""
_REDACTED_LITERAL: ColumnElement[str] = literal_column("''")
"""`REDACTED` written into the statement, not bound: the planners (SQLite's, PostgreSQL's generic
plans) use the partial index on unredacted messages (`ix_messages_unredacted`) only when the
query's condition visibly implies the index's."""


@dataclass(frozen=True, slots=True)
class LatestAnswer:
    checkin_id: str
    step_id: str
    value: str
    at: datetime


@dataclass(frozen=True, slots=True)
class StoredAboutMember:
    """The summary `mydata` shows: who, where, how to reach them, how much they told us."""

    member_id: int
    name: str | None
    group: str | None
    addresses: tuple[tuple[str, str], ...]
    checkins: int
    answers: int
    messages: int
    stories: int
    latest: tuple[LatestAnswer, ...]


@dataclass(frozen=True, slots=True)
class MemberCopy:
    """Everything stored about a member, table by table, as header and rows of text."""

    sections: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure removed, in counts (nothing personal: this goes to the audit log)."""

    member_id: int
    addresses: int
    messages: int
    inbox: int
    answers: int
    stories: int
    quoted: int

    def describe(self) -> str:
        return (
            f"addresses {self.addresses}, messages {self.messages}, inbox {self.inbox}, "
            f"answer texts {self.answers}, stories {self.stories}, quotes elsewhere {self.quoted}"
        )


def answer_text(row: Answer | Any) -> str:
    """An answer's value as text, whatever its type."""
    if row.skipped:
        return "(skipped)"
    if row.value_number is not None:
        amount = format(row.value_number.normalize(), "f")
        return f"{amount} {row.currency}" if row.currency else amount
    for value in (row.value_choice, row.value_date, row.value_text):
        if value is not None:
            return str(value)
    return "" if row.value_json is None else str(row.value_json)


class MemberDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def erased(self, member_id: int) -> bool:
        at = await self._session.scalar(select(Member.erased_at).where(Member.id == member_id))
        return at is not None

    async def summary(
        self, member_id: int, latest: int = 5, setup: tuple[str, ...] = ("onboarding", "language")
    ) -> StoredAboutMember:
        """What `mydata` shows; `checkins` counts completed check-ins other than the `setup`
        conversations."""
        member = await self._session.get(Member, member_id)
        if member is None:
            raise LookupError(f"no member #{member_id}")
        group = await self._session.scalar(
            select(Group.name)
            .join(Membership, Membership.group_id == Group.id)
            .where(Membership.member_id == member_id, Membership.left_at.is_(None))
        )
        addresses = await self._session.execute(
            select(Address.channel, Address.value)
            .where(Address.member_id == member_id)
            .order_by(Address.id)
        )
        counts = (
            await self._session.execute(
                select(
                    select(func.count(CheckinSession.id))
                    .where(
                        CheckinSession.member_id == member_id,
                        CheckinSession.status == "completed",
                        CheckinSession.checkin_id.not_in(setup),
                    )
                    .scalar_subquery(),
                    select(func.count(Answer.id))
                    .where(Answer.member_id == member_id)
                    .scalar_subquery(),
                    select(func.count(Message.id))
                    .where(Message.member_id == member_id)
                    .scalar_subquery(),
                    select(func.count(Story.id))
                    .where(Story.member_id == member_id)
                    .scalar_subquery(),
                )
            )
        ).one()
        rows = await self._session.scalars(
            select(Answer)
            .where(Answer.member_id == member_id)
            .order_by(Answer.created_at.desc(), Answer.id.desc())
            .limit(latest)
        )
        return StoredAboutMember(
            member_id=member_id,
            name=member.name,
            group=group,
            addresses=tuple((channel, value) for channel, value in addresses),
            checkins=int(counts[0] or 0),
            answers=int(counts[1] or 0),
            messages=int(counts[2] or 0),
            stories=int(counts[3] or 0),
            latest=tuple(
                LatestAnswer(row.checkin_id, row.step_id, answer_text(row), row.created_at)
                for row in rows
            ),
        )

    async def copy(self, member_id: int) -> MemberCopy:
        """Every row about the member: profile, addresses, groups, answers, help, stories and
        the message log (both directions)."""
        member = await self._session.get(Member, member_id)
        if member is None:
            raise LookupError(f"no member #{member_id}")
        sections: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = {}
        profile = ("name", "language", "currency", "business_type", "consent", "opted_out")
        sections["profile"] = (
            ("member_id", *profile, "joined"),
            [
                (
                    member.id,
                    member.name,
                    member.locale,
                    member.currency,
                    member.business_type,
                    member.consent,
                    member.opted_out,
                    member.created_at,
                )
            ],
        )
        sections["addresses"] = (
            ("channel", "address", "added", "last_message"),
            list(
                await self._session.execute(
                    select(
                        Address.channel, Address.value, Address.created_at, Address.last_inbound_at
                    )
                    .where(Address.member_id == member_id)
                    .order_by(Address.id)
                )
            ),
        )
        sections["groups"] = (
            ("group", "joined", "left"),
            list(
                await self._session.execute(
                    select(Group.name, Membership.joined_at, Membership.left_at)
                    .join(Group, Group.id == Membership.group_id)
                    .where(Membership.member_id == member_id)
                    .order_by(Membership.id)
                )
            ),
        )
        answers = await self._session.scalars(
            select(Answer).where(Answer.member_id == member_id).order_by(Answer.id)
        )
        sections["answers"] = (
            ("at", "checkin", "step", "value", "as_typed"),
            [(a.created_at, a.checkin_id, a.step_id, answer_text(a), a.raw_text) for a in answers],
        )
        sections["help"] = (
            ("at", "giver_id", "receiver_id", "kind", "note"),
            list(
                await self._session.execute(
                    select(
                        HelpRecord.created_at,
                        HelpRecord.giver_id,
                        HelpRecord.receiver_id,
                        HelpRecord.kind,
                        HelpRecord.note,
                    )
                    .where(
                        or_(
                            HelpRecord.giver_id == member_id,
                            HelpRecord.receiver_id == member_id,
                        )
                    )
                    .order_by(HelpRecord.id)
                )
            ),
        )
        sections["stories"] = (
            ("at", "status", "text"),
            list(
                await self._session.execute(
                    select(Story.created_at, Story.status, Story.text)
                    .where(Story.member_id == member_id)
                    .order_by(Story.id)
                )
            ),
        )
        sections["messages"] = (
            ("at", "direction", "channel", "text", "status"),
            list(
                await self._session.execute(
                    select(
                        Message.created_at,
                        Message.direction,
                        Message.channel,
                        Message.text,
                        Message.status,
                    )
                    .where(Message.member_id == member_id)
                    .order_by(Message.id)
                )
            ),
        )
        return MemberCopy(sections)

    async def erase(self, member_id: int, at: datetime) -> Erasure:
        """Erase the member's personal data (see the module's docstring), in the caller's
        transaction. Erasing an erased member again finds nothing more to remove."""
        member = await self._session.get(Member, member_id)
        if member is None:
            raise LookupError(f"no member #{member_id}")
        names = _names(member.name)
        addresses = list(
            await self._session.execute(
                select(Address.channel, Address.value).where(Address.member_id == member_id)
            )
        )
        pairs = [(channel, value) for channel, value in addresses]
        theirs: ColumnElement[bool] = Message.member_id == member_id
        if pairs:
            theirs = or_(theirs, tuple_(Message.channel, Message.address_value).in_(pairs))
        message_ids = select(Message.id).where(theirs)
        await self._session.execute(
            update(BroadcastRecipient)
            .where(
                or_(
                    BroadcastRecipient.member_id == member_id,
                    BroadcastRecipient.message_id.in_(message_ids),
                )
            )
            .values(message_id=None, address=None)
            .execution_options(synchronize_session=False)
        )
        messages = await self._deleted(delete(Message).where(theirs))
        # the console's private notes about the member are personal data too
        await self._deleted(delete(MemberNote).where(MemberNote.member_id == member_id))
        inbox = 0
        if pairs:
            inbox = await self._deleted(
                delete(InboxEntry).where(tuple_(InboxEntry.channel, InboxEntry.address).in_(pairs))
            )
        answers = await self._updated(
            update(Answer)
            .where(
                Answer.member_id == member_id,
                or_(
                    Answer.raw_text.is_not(None),
                    Answer.value_text.is_not(None),
                    Answer.value_json.is_not(None),
                ),
            )
            .values(raw_text=None, value_text=None, value_json=None)
        )
        await self._session.execute(
            update(CheckinSession)
            .where(CheckinSession.member_id == member_id, CheckinSession.status == "active")
            .values(
                status="stopped",
                ended_at=at,
                end_reason="erased",
                next_nudge_at=None,
                updated_at=at,
            )
            .execution_options(synchronize_session=False)
        )
        await self._session.execute(
            update(CheckinSession)
            .where(CheckinSession.member_id == member_id)
            .values(state={})
            .execution_options(synchronize_session=False)
        )
        await self._session.execute(
            update(HelpRecord)
            .where(or_(HelpRecord.giver_id == member_id, HelpRecord.receiver_id == member_id))
            .values(note=None)
            .execution_options(synchronize_session=False)
        )
        stories = await self._deleted(delete(Story).where(Story.member_id == member_id))
        await self._deleted(delete(DataCopy).where(DataCopy.member_id == member_id))
        await self._deleted(delete(Address).where(Address.member_id == member_id))
        member.name = None
        member.timezone = None
        member.opted_out = True
        member.opted_out_at = member.opted_out_at or at
        member.erased_at = at
        member.updated_at = at
        await self._session.flush()
        self._session.info[ERASED_INFO] = True
        quoted = await self._unquote(names) if names else 0
        await forget_removed_words(self._session)  # no erased word left in the search index
        return Erasure(member_id, len(pairs), messages, inbox, answers, stories, quoted)

    async def redact_before(self, cutoff: datetime, limit: int = 5000) -> int:
        """Retention: message bodies and raw answer texts older than `cutoff` are emptied
        (typed answers stay); inbound events handled before it are deleted. At most `limit`
        rows of each kind a call; returns how many rows changed (0: nothing is left)."""
        # the ids first, then the rows by key: as one statement, PostgreSQL plans the UPDATE
        # for `limit` rows and joins them to the whole log in a scan, even when none are due
        old_messages = list(
            await self._session.scalars(
                select(Message.id)
                .where(Message.created_at < cutoff, Message.text != _REDACTED_LITERAL)
                .limit(limit)
            )
        )
        changed = 0
        if old_messages:
            changed += await self._updated(
                update(Message)
                .where(Message.id.in_(old_messages))
                .values(text=REDACTED, payload=None)
                .execution_options(synchronize_session=False)
            )
        old_answers = (
            select(Answer.id)
            .where(Answer.created_at < cutoff, Answer.raw_text.is_not(None))
            .limit(limit)
        )
        changed += await self._updated(
            update(Answer).where(Answer.id.in_(old_answers)).values(raw_text=None)
        )
        old_events = (
            select(InboxEntry.id)
            .where(InboxEntry.processed_at.is_not(None), InboxEntry.processed_at < cutoff)
            .limit(limit)
        )
        changed += await self._deleted(delete(InboxEntry).where(InboxEntry.id.in_(old_events)))
        return changed

    async def issue_copy(
        self, member_id: int, token_hash: str, at: datetime, expires_at: datetime
    ) -> None:
        """Record a one-time link to the member's copy (by the token's hash only)."""
        self._session.add(
            DataCopy(
                member_id=member_id, token_hash=token_hash, created_at=at, expires_at=expires_at
            )
        )
        await self._session.flush()

    async def redeem_copy(self, token_hash: str, at: datetime) -> int | None:
        """The member whose copy the token opens, marking it used; None when the token is
        unknown, used already or expired (one statement: two requests cannot both win)."""
        result = await self._session.execute(
            update(DataCopy)
            .where(
                DataCopy.token_hash == token_hash,
                DataCopy.used_at.is_(None),
                DataCopy.expires_at > at,
            )
            .values(used_at=at)
            .returning(DataCopy.member_id)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()

    async def _unquote(self, names: Sequence[str]) -> int:
        """Replace the names in other rows' free text (others' messages, answers and help
        notes quoting the member, highlights naming their story): case-insensitively."""
        pattern = re.compile("|".join(re.escape(name) for name in names), re.IGNORECASE)
        changed = 0
        targets: list[tuple[Any, Any]] = [
            (Message, Message.text),
            (Answer, Answer.raw_text),
            (Answer, Answer.value_text),
            (Highlight, Highlight.text),
            (Story, Story.text),
            (Story, Story.original_text),
            (HelpRecord, HelpRecord.note),
        ]
        # JSON too: a session's answers so far, a member answer (both name whom they mean)
        # and a line's payload, which may hold its question in words (WhatsApp's tap contents)
        targets += [
            (CheckinSession, CheckinSession.state),
            (Answer, Answer.value_json),
            (Message, Message.payload),
        ]
        for model, column in targets:
            is_json = isinstance(column.type, JSON)
            searched = cast(column, String) if is_json else column
            # LIKE narrows the rows (case-insensitive for ASCII on SQLite; ILIKE on PostgreSQL)
            found = or_(*[searched.ilike(f"%{name}%") for name in names])
            rows = list(await self._session.execute(select(model.id, column).where(found)))
            for row_id, text in rows:
                if text is None:
                    continue
                if is_json:
                    clean = json.loads(pattern.sub(ERASED, json.dumps(text)))
                else:
                    clean = pattern.sub(ERASED, text)
                if clean != text:
                    await self._session.execute(
                        update(model)
                        .where(model.id == row_id)
                        .values({column.key: clean})
                        .execution_options(synchronize_session=False)
                    )
                    changed += 1
        return changed

    async def _deleted(self, statement: Any) -> int:
        result = await self._session.execute(statement.execution_options(synchronize_session=False))
        return max(int(getattr(result, "rowcount", 0) or 0), 0)

    async def _updated(self, statement: Any) -> int:
        return await self._deleted(statement)


def _names(name: str | None) -> list[str]:
    """The full name and its words long enough to search for, longest first."""
    if not name or not name.strip():
        return []
    words = {name.strip(), *name.split()}
    return sorted((w for w in words if len(w) >= MIN_QUOTED_NAME), key=len, reverse=True)
