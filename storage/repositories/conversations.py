"""What the console reads about members' conversations: the inbox (one row per member, newest
activity first), a member's transcript, search over names, phones and message words, and the
take-over state the pipeline respects.

Every list is paged and every query is scoped: `groups` is the set of group ids the reader may
see, or None for every group (admins). A member's group is their current membership's.

Message search is full-text (`storage.search`: PostgreSQL `tsvector`, SQLite FTS5) over the
lines of the members in scope, newest first and capped; members are found by a substring of
their name or of an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (
    Address,
    Answer,
    CheckinSession,
    Group,
    HelpRecord,
    Member,
    MemberNote,
    Membership,
    Message,
    Staff,
    Story,
)
from storage.records import MessageRecord
from storage.repositories.exports import render_value
from storage.repositories.mapping import message_record
from storage.search import (
    POSTGRESQL_WORDS,
    SQLITE_WORDS,
    Term,
    parse,
    postgresql_matches,
    sqlite_matches,
)

FIRST_WINDOW = 2_000
"""The newest lines `ConversationRepository._inbox_everyone` reads first (at least)."""

ConversationState = Literal["waiting", "taken_over", "opted_out", "checkin", "stuck", "idle"]
CONVERSATION_STATES: tuple[ConversationState, ...] = (
    "waiting",
    "taken_over",
    "opted_out",
    "checkin",
    "stuck",
    "idle",
)
"""`stuck`: the member's last check-in expired unfinished (and none runs since)."""

FEW: tuple[ConversationState, ...] = ("waiting", "taken_over", "opted_out")
"""States only a few members are in at a time."""


@dataclass(frozen=True, slots=True)
class InboxFilters:
    group_id: int | None = None
    channel: str | None = None
    language: str | None = None
    state: ConversationState | None = None
    words: str = ""
    """Matches the member's name or one of their addresses (a phone, a chat id)."""


@dataclass(frozen=True, slots=True)
class InboxRow:
    member_id: int
    name: str | None
    group_name: str | None
    timezone: str | None
    channel: str
    language: str
    last_text: str
    last_direction: str
    last_at: datetime
    state: ConversationState


NoteKind = Literal["answer", "help_given", "help_received", "story", "started", "ended"]


NOTE_ORDER: dict[str, int] = {
    "started": 0,
    "answer": 1,
    "help_given": 2,
    "help_received": 2,
    "story": 3,
    "ended": 4,
}


@dataclass(frozen=True, slots=True)
class TranscriptNote:
    """What a turn stored besides its lines, shown beside them: an answer (`label` is the
    check-in step, `value` the typed value), help given or received (`value`: the other
    member), a proposed story, a check-in started or ended (`label`: its id, `value`: how)."""

    at: datetime
    kind: NoteKind
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class PrivateNote:
    id: int
    staff_name: str
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SearchHit:
    message_id: int
    member_id: int
    member_name: str | None
    text: str
    direction: str
    at: datetime
    timezone: str | None


_CURRENT = and_(Membership.member_id == Member.id, Membership.left_at.is_(None))
_ACTIVE_SESSION = exists().where(
    CheckinSession.member_id == Member.id, CheckinSession.status == "active"
)
_LAST_SESSION_STATUS = (
    select(CheckinSession.status)
    .where(CheckinSession.member_id == Member.id)
    .order_by(CheckinSession.id.desc())
    .limit(1)
    .scalar_subquery()
)
_STUCK = func.coalesce(_LAST_SESSION_STATUS, "") == "expired"


def _like(words: str) -> str:
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _in_scope(groups: frozenset[int] | None) -> ColumnElement[bool] | None:
    if groups is None:
        return None
    return Membership.group_id.in_(sorted(groups)) if groups else Membership.group_id.is_(None)


def _state(row: Any) -> ConversationState:
    if row.taken_over_by_id is not None:
        return "taken_over"
    if row.waiting_since is not None:
        return "waiting"
    if row.opted_out:
        return "opted_out"
    if row.in_checkin:
        return "checkin"
    return "stuck" if row.stuck else "idle"


def _state_filter(state: ConversationState) -> ColumnElement[bool]:
    match state:
        case "taken_over":
            return Member.taken_over_by_id.is_not(None)
        case "waiting":
            return and_(Member.taken_over_by_id.is_(None), Member.waiting_since.is_not(None))
        case "opted_out":
            return and_(*_NOT_WAITING, Member.opted_out.is_(True))
        case "checkin":
            return and_(*_REACHABLE, _ACTIVE_SESSION)
        case "stuck":
            return and_(*_REACHABLE, _STUCK)
        case "idle":
            return and_(*_REACHABLE, ~_ACTIVE_SESSION, ~_STUCK)


_MEMBER_OF_LINE = and_(Membership.member_id == Message.member_id, Membership.left_at.is_(None))
"""The current membership of a line's member."""
RECENT_LINES = 5_000
"""How many of the newest lines an admin's search tests one by one before it asks the GIN
index for the older matches (see `ConversationRepository._found_on_postgresql`)."""

_NOT_WAITING = (Member.taken_over_by_id.is_(None), Member.waiting_since.is_(None))
"""The states are ranked: taken over, then waiting for a person, then the rest."""
_REACHABLE = (*_NOT_WAITING, Member.opted_out.is_(False))


class ConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def inbox(
        self,
        groups: frozenset[int] | None,
        filters: InboxFilters,
        *,
        offset: int,
        limit: int,
    ) -> list[InboxRow]:
        """Members with at least one message, newest activity first (by their last line's id,
        the order lines were stored in).

        Two ways to the first pages without aggregating the whole message log: for a set of
        groups (a coordinator's, or an admin's group filter), each member's last line is found
        through `ix_messages_member_id_created_at`, so the cost grows with the members in
        scope; for everyone (an admin), the newest lines are read backwards along the primary
        key, a window at a time, until the page is full (see `_inbox_everyone`).
        """
        if filters.group_id is not None:
            wanted = frozenset({filters.group_id})
            groups = wanted if groups is None else groups & wanted
        if groups is not None:
            if not groups:
                return []
            last_id = (
                select(func.max(Message.id))
                .where(Message.member_id == Membership.member_id)
                .scalar_subquery()
            )
            last = (
                select(Membership.member_id.label("member_id"), last_id.label("last_id"))
                .where(Membership.group_id.in_(sorted(groups)), Membership.left_at.is_(None))
                .subquery()
            )
            return await self._inbox_page(last, filters, offset, limit)
        if filters.state in FEW:
            # Few members are in these states: probe each one's last line, as for a group.
            last_id = (
                select(func.max(Message.id)).where(Message.member_id == Member.id).scalar_subquery()
            )
            last = (
                select(Member.id.label("member_id"), last_id.label("last_id"))
                .where(_state_filter(filters.state))
                .subquery()
            )
            return await self._inbox_page(last, filters, offset, limit)
        return await self._inbox_everyone(filters, offset, limit)

    async def _inbox_everyone(
        self, filters: InboxFilters, offset: int, limit: int
    ) -> list[InboxRow]:
        """Every member's inbox row, from windows of the newest lines.

        A member with a line among the newest N lines has their last line there, and ranks
        before every member without one; so once a window holds `offset + limit` matching
        members, the page read from it is the page of the whole log. Windows grow eightfold
        until the page is full or the window is the whole log."""
        window = max(FIRST_WINDOW, offset + limit)
        while True:
            boundary = await self._session.scalar(
                select(Message.id)
                .where(Message.member_id.is_not(None))
                .order_by(Message.id.desc())
                .offset(window)
                .limit(1)
            )
            recent = select(Message.member_id, func.max(Message.id).label("last_id")).where(
                Message.member_id.is_not(None)
            )
            if boundary is not None:
                recent = recent.where(Message.id > boundary)
            last = recent.group_by(Message.member_id).subquery()
            rows = await self._inbox_page(last, filters, offset, limit)
            if boundary is None or len(rows) == limit:
                return rows
            window *= 8

    async def _inbox_page(
        self, last: Any, filters: InboxFilters, offset: int, limit: int
    ) -> list[InboxRow]:
        """The page of inbox rows for `last` (member_id, last_id), filtered and in order."""
        statement: Select[Any] = (
            select(  # type: ignore[assignment]
                Member.id,
                Member.name,
                Member.locale,
                Member.opted_out,
                Member.taken_over_by_id,
                Member.waiting_since,
                _ACTIVE_SESSION.label("in_checkin"),
                _STUCK.label("stuck"),
                Group.name.label("group_name"),
                Group.timezone,
                Message.channel,
                Message.text,
                Message.direction,
                Message.created_at,
            )
            .select_from(last)
            .join(Member, Member.id == last.c.member_id)
            .join(Message, Message.id == last.c.last_id)
            .outerjoin(Membership, _CURRENT)
            .outerjoin(Group, Group.id == Membership.group_id)
        )
        statement = self._filtered(statement, filters)
        rows = await self._session.execute(
            statement.order_by(last.c.last_id.desc()).offset(offset).limit(limit)
        )
        return [
            InboxRow(
                member_id=row.id,
                name=row.name,
                group_name=row.group_name,
                timezone=row.timezone,
                channel=row.channel,
                language=row.locale,
                last_text=row.text,
                last_direction=row.direction,
                last_at=row.created_at,
                state=_state(row),
            )
            for row in rows
        ]

    def _filtered(self, statement: Select[Any], filters: InboxFilters) -> Select[Any]:
        if filters.channel:
            statement = statement.where(
                exists().where(Address.member_id == Member.id, Address.channel == filters.channel)
            )
        if filters.language:
            statement = statement.where(Member.locale == filters.language)
        if filters.state:
            statement = statement.where(_state_filter(filters.state))
        words = filters.words.strip()
        if words:
            pattern = _like(words)
            statement = statement.where(
                or_(
                    Member.name.ilike(pattern, escape="\\"),
                    exists().where(
                        Address.member_id == Member.id,
                        Address.value.ilike(pattern, escape="\\"),
                    ),
                )
            )
        return statement

    async def group_of(self, member_id: int) -> int | None:
        """The member's current group id (None: in no group)."""
        return await self._session.scalar(
            select(Membership.group_id).where(
                Membership.member_id == member_id, Membership.left_at.is_(None)
            )
        )

    async def transcript(
        self, member_id: int, *, before_id: int | None = None, limit: int = 200
    ) -> list[MessageRecord]:
        """The member's last `limit` lines (before `before_id`), oldest first."""
        statement = select(Message).where(Message.member_id == member_id)
        if before_id is not None:
            statement = statement.where(Message.id < before_id)
        rows = await self._session.scalars(statement.order_by(Message.id.desc()).limit(limit))
        return [message_record(row) for row in reversed(list(rows))]

    async def notes(self, member_id: int, since: datetime, until: datetime) -> list[TranscriptNote]:
        """The member's answers, help records, proposed stories and check-in starts and ends
        stored between `since` and `until` (inclusive), oldest first."""
        found: list[TranscriptNote] = []
        answers = await self._session.execute(
            select(Answer).where(
                Answer.member_id == member_id, Answer.created_at.between(since, until)
            )
        )
        for (answer,) in answers:
            value = render_value(
                number=answer.value_number,
                currency=answer.currency,
                value_date=answer.value_date,
                choice=answer.value_choice,
                json_value=answer.value_json,
                text=answer.value_text,
                skipped=answer.skipped,
            )
            if answer.currency and not answer.skipped:
                value = f"{value} {answer.currency}"
            found.append(TranscriptNote(answer.created_at, "answer", answer.step_id, value))
        giver, receiver = aliased(Member), aliased(Member)
        helps = await self._session.execute(
            select(HelpRecord, giver.name, receiver.name)
            .join(giver, giver.id == HelpRecord.giver_id)
            .join(receiver, receiver.id == HelpRecord.receiver_id)
            .where(
                HelpRecord.reported_by_id == member_id,
                HelpRecord.created_at.between(since, until),
            )
        )
        for record, giver_name, receiver_name in helps:
            if record.giver_id == member_id:
                found.append(
                    TranscriptNote(
                        record.created_at, "help_given", record.kind, receiver_name or ""
                    )
                )
            else:
                found.append(
                    TranscriptNote(
                        record.created_at, "help_received", record.kind, giver_name or ""
                    )
                )
        stories = await self._session.scalars(
            select(Story).where(
                Story.member_id == member_id, Story.created_at.between(since, until)
            )
        )
        found.extend(
            TranscriptNote(story.created_at, "story", story.status, story.text) for story in stories
        )
        sessions = await self._session.scalars(
            select(CheckinSession).where(
                CheckinSession.member_id == member_id,
                or_(
                    CheckinSession.started_at.between(since, until),
                    CheckinSession.ended_at.between(since, until),
                ),
            )
        )
        for session in sessions:
            if since <= session.started_at <= until:
                found.append(TranscriptNote(session.started_at, "started", session.checkin_id, ""))
            if session.ended_at is not None and since <= session.ended_at <= until:
                found.append(
                    TranscriptNote(session.ended_at, "ended", session.checkin_id, session.status)
                )
        order = {
            "started": 0,
            "answer": 1,
            "help_given": 2,
            "help_received": 2,
            "story": 3,
            "ended": 4,
        }
        return sorted(found, key=lambda note: (note.at, order[note.kind]))

    async def add_private_note(
        self, member_id: int, staff_id: int, text: str, at: datetime
    ) -> None:
        self._session.add(
            MemberNote(member_id=member_id, staff_id=staff_id, text=text, created_at=at)
        )
        await self._session.flush()

    async def private_notes(self, member_id: int, limit: int = 100) -> list[PrivateNote]:
        """Staff's notes on the member, the newest first."""
        rows = await self._session.execute(
            select(MemberNote.id, Staff.name, MemberNote.text, MemberNote.created_at)
            .join(Staff, Staff.id == MemberNote.staff_id)
            .where(MemberNote.member_id == member_id)
            .order_by(MemberNote.id.desc())
            .limit(limit)
        )
        return [PrivateNote(*row) for row in rows]

    async def since(self, member_id: int, after_id: int, limit: int = 200) -> list[MessageRecord]:
        """The member's lines after `after_id`, oldest first (the live view's polling)."""
        rows = await self._session.scalars(
            select(Message)
            .where(Message.member_id == member_id, Message.id > after_id)
            .order_by(Message.id)
            .limit(limit)
        )
        return [message_record(row) for row in rows]

    async def search(
        self, groups: frozenset[int] | None, words: str, *, limit: int = 50
    ) -> list[SearchHit]:
        """Lines holding every term of `words` (see `storage.search`), newest first."""
        terms = parse(words)
        if not terms:
            return []
        if self._session.get_bind().dialect.name == "postgresql":
            ids = await self._found_on_postgresql(groups, terms, limit)
        else:
            ids = await self._found_on_sqlite(groups, sqlite_matches(terms), limit)
        if not ids:
            return []
        rows = await self._session.execute(
            select(
                Message.id,
                Message.member_id,
                Member.name,
                Message.text,
                Message.direction,
                Message.created_at,
                Group.timezone,
            )
            .join(Member, Member.id == Message.member_id)
            .outerjoin(Membership, _CURRENT)
            .outerjoin(Group, Group.id == Membership.group_id)
            .where(Message.id.in_(ids))
            .order_by(Message.id.desc())
        )
        return [
            SearchHit(
                message_id=row.id,
                member_id=row.member_id,
                member_name=row.name,
                text=row.text,
                direction=row.direction,
                at=row.created_at,
                timezone=row.timezone,
            )
            for row in rows
        ]

    async def _found_on_sqlite(
        self, groups: frozenset[int] | None, matches: ColumnElement[bool], limit: int
    ) -> list[int]:
        """FTS5 walks its matches newest first by itself: one query."""
        line_id = SQLITE_WORDS.c.rowid
        statement = select(line_id).where(matches)
        scope = _in_scope(groups)
        if scope is not None:
            statement = (
                statement.join(Message, Message.id == line_id)
                .outerjoin(Membership, _MEMBER_OF_LINE)
                .where(scope)
            )
        return list(await self._session.scalars(statement.order_by(line_id.desc()).limit(limit)))

    async def _found_on_postgresql(
        self, groups: frozenset[int] | None, terms: list[Term], limit: int
    ) -> list[int]:
        """Plans that stay fast whatever the words, in place of the planner's own choice.

        Asked for the newest few matches of a word, PostgreSQL either walks the lines newest
        first and tests each (fast for a common word, a scan of the whole log for a rare one),
        or collects every match from the GIN index and sorts them (fast for a rare word, slow
        for a common one), and it picks by an estimate that a prefix (`mang:*`) or a phrase
        defeats: 1.7-8 s for some words on 2,000,000 lines. So the order is fixed here. In a
        scope of groups, the scope's lines are tested (as many as its members wrote). For
        everyone, the newest `RECENT_LINES` lines are tested first, and only when they hold too
        few matches are the older ones taken from the GIN index: a word that often, or that
        rarely, gives a short list either way."""
        words = POSTGRESQL_WORDS
        scope = _in_scope(groups)
        if scope is not None:
            scoped = (  # the words of the scope's lines, read by their ids, never the index
                select(words)
                .join(Message, Message.id == words.c.message_id)
                .outerjoin(Membership, _MEMBER_OF_LINE)
                .where(scope)
                .cte("scoped")
                .prefix_with("MATERIALIZED")
            )
            found = (
                select(scoped.c.message_id)
                .where(postgresql_matches(terms, scoped.c.words))
                .order_by(scoped.c.message_id.desc())
                .limit(limit)
            )
            return list(await self._session.scalars(found))
        boundary = await self._session.scalar(
            select(words.c.message_id)
            .order_by(words.c.message_id.desc())
            .offset(RECENT_LINES - 1)
            .limit(1)
        )
        recent = select(words).where(words.c.message_id >= (boundary or 0))
        recent_cte = recent.cte("recent").prefix_with("MATERIALIZED")
        ids = list(
            await self._session.scalars(
                select(recent_cte.c.message_id)
                .where(postgresql_matches(terms, recent_cte.c.words))
                .order_by(recent_cte.c.message_id.desc())
                .limit(limit)
            )
        )
        if len(ids) == limit or boundary is None:
            return ids
        older = (
            select(words.c.message_id)
            .where(words.c.message_id < boundary, postgresql_matches(terms))
            .cte("older")
            .prefix_with("MATERIALIZED")
        )
        more = await self._session.scalars(
            select(older.c.message_id).order_by(older.c.message_id.desc()).limit(limit - len(ids))
        )
        return ids + list(more)

    async def waiting_count(self, groups: frozenset[int] | None) -> int:
        """Members waiting for a person (asked, and nobody took over yet)."""
        statement = (
            select(func.count())
            .select_from(Member)
            .outerjoin(Membership, _CURRENT)
            .where(Member.waiting_since.is_not(None), Member.taken_over_by_id.is_(None))
        )
        scope = _in_scope(groups)
        if scope is not None:
            statement = statement.where(scope)
        return int(await self._session.scalar(statement) or 0)

    async def take_over(self, member_id: int, staff_id: int, at: datetime) -> None:
        await self._session.execute(
            update(Member)
            .where(Member.id == member_id)
            .values(taken_over_by_id=staff_id, taken_over_at=at, waiting_since=None)
        )

    async def hand_back(self, member_id: int) -> None:
        await self._session.execute(
            update(Member)
            .where(Member.id == member_id)
            .values(taken_over_by_id=None, taken_over_at=None, waiting_since=None)
        )

    async def ask_for_person(self, member_id: int, at: datetime) -> None:
        """The member asked for a person: they wait until someone takes over."""
        await self._session.execute(
            update(Member)
            .where(Member.id == member_id, Member.waiting_since.is_(None))
            .values(waiting_since=at)
        )
