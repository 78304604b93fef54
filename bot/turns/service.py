"""The conversation service: inbound messages in, one engine turn each, their writes out.

Every turn (a member's message, the clock's timer, the terminal channel opening) takes one
path, `ConversationService.turns`, alone or beside other members' turns: it loads (member,
group, running session), runs the pure engine, and hands everything the turn caused to one
`TurnWrites` inside the caller's transaction: the inbound line in the message log, the member's
profile changes, the session, answers, help records, proposed stories and every outbound line.
A failure anywhere rolls the whole transaction back; nothing is half-written. Channels only turn
their input into an `Inbound` and deliver the `Outbound`s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.channels.base import TimerEvent
from bot.channels.phones import default_currency_for, default_locale_for
from bot.channels.splitting import outbound_parts
from bot.turns.checkins import Checkins
from bot.turns.data_rights import DataRights
from bot.turns.handover import Handover
from conversations.answers import (
    AnswerType,
    AnswerValue,
    GroupRef,
    Location,
    MemberRef,
    Money,
    Photo,
)
from conversations.context import Context, MemberProfile
from conversations.definition import HelpDirection
from conversations.engine import handle
from conversations.events import (
    AnswerRecorded,
    HelpRecorded,
    MemberFieldSet,
    Say,
    SessionEnded,
    SessionStarted,
    StoryProposed,
    Turn,
)
from conversations.inputs import Expire, Input, Open, Remind, Reply, Start
from conversations.messages import PERSON_WILL_ANSWER
from conversations.nudges import expires_at, next_nudge_at
from conversations.parsing import find_join_code
from conversations.rendering import RenderedChoice, RenderedMessage, numbered_choices, render
from conversations.session import SessionState, SessionStatus, from_json, to_json
from storage.database import Database
from storage.records import GroupRecord, MemberRecord, SessionRecord
from storage.repositories.answers import NewAnswer
from storage.repositories.messages import message_values
from storage.repositories.sessions import SessionSave
from storage.unit_of_work import UnitOfWork
from storage.vocabulary import Channel


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message from a member, as any channel delivers it."""

    channel: Channel
    address: str
    reply: Reply
    provider_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Outbound:
    """A line the bot says, already in the message log (`message_id`)."""

    message_id: int
    channel: Channel
    address: str
    text: str
    choices: tuple[RenderedChoice, ...] = ()
    step_id: str | None = None

    def with_numbered_choices(self) -> str:
        return numbered_choices(self.text, [choice.label for choice in self.choices])


NUDGE_KINDS = {
    "consent": "consent_request",
    "start": "checkin_invitation",
    "remind": "reminder",
    "skip": "reminder",
    "expire": "expiry",
    "expire_silent": "expiry",
}
"""Timer kinds and the nudge kind of what they make the bot say (templates are per nudge kind)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _MemberLocks:
    """One asyncio lock per address, so a member's messages are handled one at a time, in order."""

    locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)
    users: dict[tuple[str, str], int] = field(default_factory=dict)

    async def __call__(self, key: tuple[str, str], work: Callable[[], Any]) -> Any:
        lock = self.locks.setdefault(key, asyncio.Lock())
        self.users[key] = self.users.get(key, 0) + 1
        try:
            async with lock:
                return await work()
        finally:
            self.users[key] -= 1
            if not self.users[key]:
                del self.users[key]
                del self.locks[key]


@dataclass(frozen=True, slots=True)
class MemberTurn:
    """One member's turn to run: what came in, whose it is, and the engine input it becomes.

    `said` is true when the member sent something (a message, a button press): it is logged
    and the address is marked as heard from. A turn the member did not cause (the console
    opening, a clock's timer) logs only what the bot says, and names its `nudge` kind when
    it is proactive."""

    inbound: Inbound
    member: MemberRecord
    item: Input
    said: bool = True
    nudge: str | None = None


class ConversationService:
    """Runs engine turns. Every turn, alone or with others, goes through `turns`: its reads
    are made for all the turns at once, and its effects go to one `TurnWrites`, flushed once
    at the end, inside the caller's transaction. A single message is a batch of one."""

    def __init__(
        self,
        database: Database,
        checkins: Checkins,
        default_country: str = "KE",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.database = database
        self.checkins = checkins
        self.default_country = default_country
        self.clock = clock
        self._locks = _MemberLocks()
        self._handover = Handover(checkins.catalogs)
        self.data_rights = DataRights(checkins)

    async def receive(self, inbound: Inbound) -> list[Outbound]:
        """Handle one inbound message in its own transaction, one at a time per address; what
        to send, already logged as queued. For the terminal channel, which has no inbox."""

        async def work() -> list[Outbound]:
            now = self.clock()
            async with self.database.transaction() as uow:
                return await self.message_turn(uow, inbound, inbound.reply, now)

        result: list[Outbound] = await self._locks((inbound.channel, inbound.address), work)
        return result

    async def receive_from(self, channel: Channel, address: str, reply: Reply) -> list[Outbound]:
        return await self.receive(Inbound(channel, address, reply))

    async def open(self, channel: Channel, address: str) -> list[Outbound]:
        """The member opened a conversation (the terminal channel): greet or re-ask, logging
        only what the bot says."""

        async def work() -> list[Outbound]:
            now = self.clock()
            inbound = Inbound(channel, address, Reply())
            async with self.database.transaction() as uow:
                member = await self.member_for(uow, channel, address, now)
                [said] = await self.turns(
                    uow, [MemberTurn(inbound, member, Open(), said=False)], now
                )
                return said

        result: list[Outbound] = await self._locks((channel, address), work)
        return result

    async def mark_sent(self, outbound: Outbound) -> None:
        async with self.database.transaction() as uow:
            await uow.messages.set_status(outbound.message_id, "sent", at=self.clock())

    async def message_turn(
        self, uow: UnitOfWork, inbound: Inbound, item: Input, now: datetime, join_code: str = ""
    ) -> list[Outbound]:
        """One member message inside the caller's transaction: the member is created if new,
        then `turns` runs it. `join_code` comes from a deep link (Telegram `/start
        join-CODE`): the member joins that group first, if they are in none. A new member's
        first message that is a group's join code (a shared `wa.me/...?text=CODE` link) joins
        them the same way."""
        known = await uow.members.by_address(inbound.channel, inbound.address)
        member = known or await self.member_for(uow, inbound.channel, inbound.address, now)
        if known is None and not join_code and isinstance(item, Reply) and item.text:
            join_code = find_join_code(item.text) or ""
        if join_code and await uow.members.current_group(member.id) is None:
            group = await uow.groups.by_code(join_code)
            if group is not None:
                await uow.members.join_group(member.id, group.id, now)
        if isinstance(item, Reply):  # mydata, delete: answered before the engine
            answered = await self.data_rights.answer(uow, member, item, now, inbound.channel)
            if answered is not None:
                said: list[Outbound] = []
                for say, extra in answered.lines():
                    rendered = render(say, self.checkins.catalogs)
                    said += await queue_outbound(
                        uow,
                        member.id,
                        inbound.channel,
                        inbound.address,
                        rendered,
                        None,
                        now,
                        extra=extra,
                    )
                return said
        [said] = await self.turns(uow, [MemberTurn(inbound, member, item)], now)
        return said

    async def member_for(
        self, uow: UnitOfWork, channel: Channel, address: str, now: datetime
    ) -> MemberRecord:
        """The member at this address, created (with defaults from the number) if new."""
        member = await uow.members.by_address(channel, address)
        if member is not None:
            return member
        codes = self.checkins.catalogs.codes
        locale = default_locale_for(address, self.default_country, codes)
        return await uow.members.create(channel, address, locale, None, at=now)

    async def move_address(
        self,
        uow: UnitOfWork,
        channel: Channel,
        address: str,
        current: MemberRecord,
        owner: MemberRecord,
        now: datetime,
    ) -> None:
        """Give `current`'s address to `owner`; `current` (new, never onboarded) is left with
        nothing running."""
        session = await uow.sessions.active_for(current.id)
        if session is not None:
            await uow.sessions.save(session.id, None, "replaced", session.state, now, "linked")
        await uow.members.move_address(channel, address, owner.id)

    async def timer_turn(self, uow: UnitOfWork, event: TimerEvent, now: datetime) -> list[Outbound]:
        """A clock's timer for the member: an invitation starts a check-in; a reminder or an
        expiry applies only to the very session it was set for (a stale one does nothing)."""
        member = await uow.members.by_address(event.channel, event.address)
        if member is None or member.taken_over_by_id is not None:
            return []  # no nudge reaches a member a coordinator has taken over
        item: Input
        if event.kind == "start":
            item = Start(event.checkin_id)
        elif event.kind == "consent":  # an imported member's first contact
            item = Start(event.checkin_id, step="consent")
        else:
            record = await uow.sessions.active_for(member.id)
            if record is None or record.id != event.session_id:
                return []
            if event.kind.startswith("expire"):
                item = Expire(silent=event.kind == "expire_silent")
            else:
                item = Remind(silent=event.kind == "skip")
        inbound = Inbound(event.channel, event.address, Reply(), event.provider_id)
        turn = MemberTurn(inbound, member, item, said=False, nudge=NUDGE_KINDS[event.kind])
        [said] = await self.turns(uow, [turn], now)
        return said

    async def message_turns(
        self, uow: UnitOfWork, turns: Sequence[tuple[Inbound, MemberRecord]], now: datetime
    ) -> list[list[Outbound]]:
        """Several known members' plain messages (no join code) at once: `turns` with each
        message as its member's reply."""
        batch = [MemberTurn(inbound, member, inbound.reply) for inbound, member in turns]
        return await self.turns(uow, batch, now)

    async def turns(
        self, uow: UnitOfWork, turns: Sequence[MemberTurn], now: datetime
    ) -> list[list[Outbound]]:
        """The one path of every engine turn, inside the caller's transaction: what each turn
        reads (session, group, roster) is read for all of them in one query each, and what
        the turns write most (the message log, answers, sessions) waits in one `TurnWrites`
        and is written for all of them in one statement each. The outcome is that of running
        the turns one by one in this order, except that each turn sees the others' members
        and groups as they were before the first: a name a member gives in one turn appears
        in a peer's roster from the next batch on.

        Each member must appear once; `turns[i]` gets the outbound lines `result[i]`."""
        member_ids = [turn.member.id for turn in turns]
        records = await uow.sessions.active_for_many(member_ids)
        groups = await uow.members.current_groups(member_ids)
        rosters = await uow.groups.members_of(sorted({group.id for group in groups.values()}))
        heard: dict[Channel, list[str]] = {}
        for turn in turns:
            if turn.said:
                heard.setdefault(turn.inbound.channel, []).append(turn.inbound.address)
        for channel, addresses in heard.items():
            await uow.members.touch_many_inbound(channel, addresses, now)
        writes = TurnWrites()
        appliers: list[_Applier | _Aside] = []
        for turn in turns:
            member = turn.member
            if turn.said:
                writes.messages.append(_inbound_values(member.id, turn.inbound, now))
            if member.taken_over_by_id is not None:
                # a coordinator answers this member: stored and shown, no engine turn, no nudge
                appliers.append(_Aside([]))
                continue
            if (
                turn.said
                and self._handover.asks_for_person(turn.inbound.reply)
                and not self._expects_text(records.get(member.id))
            ):
                await uow.conversations.ask_for_person(member.id, now)
                aside = _Aside([])
                writes.say(aside.outbound, self._person_will_answer(member, turn.inbound, now))
                appliers.append(aside)
                continue
            group = groups.get(member.id)
            roster = rosters.get(group.id, []) if group is not None else []
            loaded = _Loaded(member, records.get(member.id), group, roster)
            applier = await self._run(uow, loaded, turn, now, writes)
            await applier.apply()
            appliers.append(applier)
        await writes.flush(uow)
        return [applier.outbound for applier in appliers]

    def _person_will_answer(
        self, member: MemberRecord, inbound: Inbound, now: datetime
    ) -> list[tuple[dict[str, Any], Outbound]]:
        text = self.checkins.catalogs.gettext(member.locale, PERSON_WILL_ANSWER)
        rendered = RenderedMessage(text=text, locale=member.locale)
        return outbound_lines(member.id, inbound.channel, inbound.address, rendered, None, now)

    async def _run(
        self, uow: UnitOfWork, loaded: _Loaded, turn: MemberTurn, now: datetime, writes: TurnWrites
    ) -> _Applier:
        """The engine's turn for `turn.item`, with an applier ready to write it."""
        record, group = loaded.session, loaded.group
        session = from_json(record.state) if record is not None else None
        groups_by_code = await self._groups_by_code(uow, session, turn.item)
        context = self._context(loaded, turn.inbound.address, groups_by_code, now)
        engine_turn = handle(self.checkins.library, session, turn.item, context)
        return _Applier(
            uow,
            self.checkins,
            engine_turn,
            loaded.member,
            group,
            turn,
            now,
            record.id if record else None,
            writes,
        )

    async def _groups_by_code(
        self, uow: UnitOfWork, session: SessionState | None, item: Input
    ) -> dict[str, GroupRef]:
        """The group a reply names by its join code, when the session asks for one."""
        code = find_join_code(item.text) if isinstance(item, Reply) and item.text else None
        if not code or not self._expects_join_code(session):
            return {}
        found = await uow.groups.by_code(code)
        if found is None:
            return {}
        return {code: GroupRef(found.id, found.name, found.join_code)}

    def _context(
        self, loaded: _Loaded, address: str, groups_by_code: dict[str, GroupRef], now: datetime
    ) -> Context:
        member, group = loaded.member, loaded.group
        group_ref = GroupRef(group.id, group.name, group.join_code) if group else None
        members = tuple(
            MemberRef(other.id, other.name)
            for other in loaded.roster
            if other.name and other.id != member.id
        )
        zone = ZoneInfo(group.timezone) if group else UTC
        profile = MemberProfile(
            id=member.id,
            locale=member.locale,
            # joined with a code: the group's currency; else the phone's country's
            default_currency=(
                group.currency if group else default_currency_for(address, self.default_country)
            ),
            name=member.name,
            currency=member.currency,
            business_type=member.business_type,
            consent=member.consent,
            opted_out=member.opted_out,
            onboarded=member.onboarded_at is not None,
            group=group_ref,
        )
        return Context(
            now=now.astimezone(zone),
            member=profile,
            catalogs=self.checkins.catalogs,
            lexicon=self.checkins.lexicon,
            group_members=members,
            groups_by_code=groups_by_code,
        )

    def _expects_text(self, record: SessionRecord | None) -> bool:
        """Whether the member's running check-in waits for free text: there, "agent" is an
        answer (a mobile-money agent is a business), not a request for a person."""
        if record is None:
            return False
        session = from_json(record.state)
        checkin = self.checkins.library.get(session.checkin_id)
        if checkin is None or not checkin.has_step(session.step_id):
            return False
        return checkin.step(session.step_id).type is AnswerType.TEXT

    def _expects_join_code(self, session: SessionState | None) -> bool:
        if session is None:
            return False
        checkin = self.checkins.library.get(session.checkin_id)
        if checkin is None or not checkin.has_step(session.step_id):
            return False
        return checkin.step(session.step_id).type is AnswerType.JOIN_CODE


@dataclass(frozen=True, slots=True)
class _Loaded:
    """What a member's turn reads before the engine runs."""

    member: MemberRecord
    session: SessionRecord | None
    group: GroupRecord | None
    roster: list[MemberRecord]


@dataclass(frozen=True, slots=True)
class _Aside:
    """A turn that runs no engine: its member is taken over, or asked for a person."""

    outbound: list[Outbound]


@dataclass
class TurnWrites:
    """The one writer of what turns say and store most, like a pre-commit hook: the message
    log lines in the order the turns made them, answers and sessions' last states wait here
    and `flush` writes each kind for every turn at once (one turn or many, the same way).
    What is rare in a turn (a session started or ended, a help record, a story, a member's
    profile) is written as the turn makes it, since later events may depend on it."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    answers: list[NewAnswer] = field(default_factory=list)
    saves: list[SessionSave] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    """Sessions the turns completed: their evidence rows are written after their answers."""
    _unnumbered: list[tuple[int, list[Outbound], int]] = field(default_factory=list)
    """(index in `messages`, a turn's outbound list, index in it) of lines awaiting an id."""

    def say(self, owner: list[Outbound], lines: list[tuple[dict[str, Any], Outbound]]) -> None:
        """Queue `outbound_lines`; each `Outbound` lands in `owner` and gets its message id
        at the flush."""
        for values, line in lines:
            self._unnumbered.append((len(self.messages), owner, len(owner)))
            self.messages.append(values)
            owner.append(line)

    async def flush(self, uow: UnitOfWork) -> None:
        ids = await uow.messages.log_many(self.messages)
        for index, owner, position in self._unnumbered:
            owner[position] = replace(owner[position], message_id=ids[index])
        await uow.answers.add_many(self.answers)
        await uow.sessions.save_many(self.saves)
        await uow.checkin_results.record(self.completed)


class _Applier:
    """Applies one engine turn's events, in order, inside the caller's transaction: one handler
    per kind of event, each handing its writes to the batch's `TurnWrites`."""

    def __init__(
        self,
        uow: UnitOfWork,
        checkins: Checkins,
        turn: Turn,
        member: MemberRecord,
        group: GroupRecord | None,
        member_turn: MemberTurn,
        now: datetime,
        session_id: int | None,
        writes: TurnWrites,
    ) -> None:
        self.uow = uow
        self.checkins = checkins
        self.turn = turn
        self.member = member
        self.group_id = group.id if group else None
        self.inbound = member_turn.inbound
        self.nudge = member_turn.nudge
        self.now = now
        self.session_id = session_id
        self.writes = writes
        self.outbound: list[Outbound] = []

    async def apply(self) -> list[Outbound]:
        turn = self.turn
        for event in turn.events:
            match event:
                case Say():
                    await self._say(event)
                case SessionStarted():
                    started = await self.uow.sessions.start(
                        self.member.id, event.checkin_id, event.version, None, {}, self.now
                    )
                    self.session_id = started.id
                case SessionEnded():
                    if self.session_id is not None:
                        await self.uow.sessions.save(
                            self.session_id,
                            None,
                            event.status.value,
                            {},
                            self.now,
                            end_reason=event.status.value,
                        )
                        if event.status is SessionStatus.COMPLETED:
                            self.writes.completed.append(self.session_id)
                    self.session_id = None
                case AnswerRecorded():
                    await self._answer(event)
                case HelpRecorded():
                    await self._help(event)
                case StoryProposed():
                    await self.uow.stories.propose(
                        self.member.id, self.group_id, self.session_id, event.text, at=self.now
                    )
                case MemberFieldSet():
                    await self._member_field(event)
        if turn.session is not None and self.session_id is not None:
            checkin = self.checkins.library.get(turn.session.checkin_id)
            save = SessionSave(
                self.session_id,
                turn.session.step_id,
                "active",
                to_json(turn.session),
                self.now,
                next_nudge_at=next_nudge_at(checkin, turn.session) if checkin else None,
                expires_at=expires_at(checkin, turn.session) if checkin else None,
            )
            self.writes.saves.append(save)
        return self.outbound

    async def _say(self, say: Say) -> None:
        rendered = render(say, self.checkins.catalogs)
        lines = outbound_lines(
            self.member.id,
            self.inbound.channel,
            self.inbound.address,
            rendered,
            say.step_id,
            self.now,
            nudge=self.nudge,
            template={"1": self.member.name or "", "2": str(say.params.get("title", ""))},
        )
        self.writes.say(self.outbound, lines)

    async def _answer(self, event: AnswerRecorded) -> None:
        if self.session_id is None:
            return
        answer = NewAnswer(
            session_id=self.session_id,
            member_id=self.member.id,
            group_id=self.group_id,
            checkin_id=event.checkin_id,
            step_id=event.step_id,
            answer_type=event.type.value,
            at=self.now,
            skipped=event.skipped,
            raw_text=event.raw if event.raw else None,
            **answer_columns(event.value),
        )
        self.writes.answers.append(answer)

    async def _help(self, event: HelpRecorded) -> None:
        me, other = self.member.id, event.other.member_id
        giver, receiver = (me, other) if event.direction is HelpDirection.GIVEN else (other, me)
        await self.uow.help.add(
            giver_id=giver,
            receiver_id=receiver,
            group_id=self.group_id,
            kind=event.kind,
            session_id=self.session_id,
            reported_by_id=me,
            at=self.now,
        )

    async def _member_field(self, event: MemberFieldSet) -> None:
        uow, member_id, at = self.uow, self.member.id, self.now
        match event.field:
            case "name":
                await uow.members.update(member_id, at=at, name=str(event.value))
            case "language":
                await uow.members.update(member_id, at=at, locale=str(event.value))
            case "currency":
                await uow.members.update(member_id, at=at, currency=str(event.value))
            case "business_type":
                await uow.members.update(member_id, at=at, business_type=str(event.value))
            case "consent":
                await uow.members.update(member_id, at=at, consent=bool(event.value))
            case "opted_out":
                await uow.members.update(member_id, at=at, opted_out=bool(event.value))
            case "onboarded":
                await uow.members.update(member_id, at=at, onboarded_at=at if event.value else None)
            case "group":
                if isinstance(event.value, GroupRef):
                    await uow.members.join_group(member_id, event.value.group_id, at)
                    self.group_id = event.value.group_id
            case _:
                raise ValueError(f"the engine set an unknown member field: {event.field}")


async def queue_outbound(
    uow: UnitOfWork,
    member_id: int | None,
    channel: Channel,
    address: str,
    rendered: RenderedMessage,
    step_id: str | None,
    now: datetime,
    nudge: str | None = None,
    template: dict[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[Outbound]:
    """Write a rendered message to the outbox (the message log, status queued), cut into the
    parts the channel accepts. A proactive message names its `nudge` kind (and the variables
    of its WhatsApp template), so the sender can apply WhatsApp's 24-hour window rule. `extra`
    goes into the last part's payload: what the line carries besides its words (a document
    by kind, a contact button's label)."""
    lines: list[Outbound] = []
    writes = TurnWrites()
    writes.say(
        lines,
        outbound_lines(member_id, channel, address, rendered, step_id, now, nudge, template, extra),
    )
    await writes.flush(uow)
    return lines


def outbound_lines(
    member_id: int | None,
    channel: Channel,
    address: str,
    rendered: RenderedMessage,
    step_id: str | None,
    now: datetime,
    nudge: str | None = None,
    template: dict[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[tuple[dict[str, Any], Outbound]]:
    """What `queue_outbound` writes: each part's message log columns, and its `Outbound`
    whose `message_id` is 0 until the line is logged.

    On Telegram a question for typed words (a step's question without choices) takes away a
    reply keyboard a line before it may have left under the message box (a contact button):
    the member types their answer on their own keyboard."""
    lines = []
    parts = outbound_parts(channel, rendered)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        payload: dict[str, Any] = {}
        if part.choices:
            payload.update(choices=[[c.id, c.label] for c in part.choices], step=step_id)
            if rendered.one_tap and channel == "whatsapp" and len(parts) == 1:
                # a channel may offer the choices to tap: the question alone, in its language
                payload.update(one_tap=True, question=rendered.text, locale=rendered.locale)
        elif channel == "telegram" and step_id is not None and last:
            payload.update(clear_keyboard=True)
        if nudge is not None:
            payload.update(nudge=nudge, template=template or {}, locale=rendered.locale)
        if extra and last:
            payload.update(extra)
        values = message_values(
            member_id, channel, address, "out", part.text, payload or None, "queued", None, now
        )
        lines.append((values, Outbound(0, channel, address, part.text, part.choices, step_id)))
    return lines


def answer_columns(value: AnswerValue | None) -> dict[str, Any]:
    """The typed answer columns for a value (see `AnswerRepository.add`)."""
    match value:
        case None:
            return {}
        case Money():
            return {"value_number": value.amount, "currency": value.currency}
        case bool():
            return {"value_choice": "yes" if value else "no"}
        case int() | Decimal():
            return {"value_number": Decimal(value)}
        case str():
            return {"value_text": value}
        case date():
            return {"value_date": value}
        case tuple():
            return {"value_choice": list(value)}
        case Location():
            return {
                "value_json": {"latitude": str(value.latitude), "longitude": str(value.longitude)}
            }
        case Photo():
            return {"value_json": {"media": value.media_ref, "content_type": value.content_type}}
        case MemberRef():
            return {"value_json": {"member_id": value.member_id}, "value_text": value.name}
        case GroupRef():
            return {
                "value_json": {"group_id": value.group_id, "join_code": value.join_code},
                "value_text": value.name,
            }
    raise TypeError(f"no storage columns for answer value {value!r}")


def _inbound_values(member_id: int, inbound: Inbound, now: datetime) -> dict[str, Any]:
    """The message log columns of a member's message (see `MessageRepository.log_inbound`)."""
    return message_values(
        member_id,
        inbound.channel,
        inbound.address,
        "in",
        inbound.reply.text,
        _inbound_payload(inbound.reply),
        "received",
        inbound.provider_message_id,
        now,
    )


def _inbound_payload(reply: Reply) -> dict[str, Any] | None:
    payload: dict[str, Any] = {}
    if reply.choice is not None:
        payload["choice"] = reply.choice
    if reply.photo is not None:
        payload["photo"] = {
            "media": reply.photo.media_ref,
            "content_type": reply.photo.content_type,
        }
    if reply.location is not None:
        payload["location"] = [str(reply.location.latitude), str(reply.location.longitude)]
    if reply.contact_phone is not None:
        payload["contact"] = reply.contact_phone
    if reply.media_kind is not None:
        payload["media_kind"] = reply.media_kind
    return payload or None
