"""The conversation service: one inbound message in, one engine turn, one transaction out.

For every message it takes the member's lock, then loads (member, group, running session), runs
the pure engine, and writes everything the turn caused in ONE transaction: the inbound line in the
message log, the member's profile changes, the session, answers, help records, proposed stories and
every outbound line. A failure anywhere rolls the whole turn back; nothing is half-written.
Channels (the console today) only turn their input into an `Inbound` and deliver the `Outbound`s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
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
from conversations.nudges import expires_at, next_nudge_at
from conversations.parsing import find_join_code
from conversations.rendering import RenderedChoice, RenderedMessage, numbered_choices, render
from conversations.session import SessionState, from_json, to_json
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


class ConversationService:
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
        self.data_rights = DataRights(checkins)

    async def receive(self, inbound: Inbound) -> list[Outbound]:
        """Handle one inbound message; returns what to send, already logged as queued."""
        key = (inbound.channel, inbound.address)
        result: list[Outbound] = await self._locks(key, lambda: self._receive(inbound))
        return result

    async def receive_from(self, channel: Channel, address: str, reply: Reply) -> list[Outbound]:
        return await self.receive(Inbound(channel, address, reply))

    async def open(self, channel: Channel, address: str) -> list[Outbound]:
        """The member opened a conversation (console, simulator): greet or re-ask, logging only
        what the bot says."""

        async def work() -> list[Outbound]:
            now = self.clock()
            inbound = Inbound(channel, address, Reply())
            async with self.database.transaction() as uow:
                member = await self._member(uow, inbound, now)
                return await self._turn(uow, member, inbound, Open(), now)

        result: list[Outbound] = await self._locks((channel, address), work)
        return result

    async def mark_sent(self, outbound: Outbound) -> None:
        async with self.database.transaction() as uow:
            await uow.messages.set_status(outbound.message_id, "sent", at=self.clock())

    async def _receive(self, inbound: Inbound) -> list[Outbound]:
        now = self.clock()
        async with self.database.transaction() as uow:
            return await self.message_turn(uow, inbound, inbound.reply, now)

    async def message_turn(
        self, uow: UnitOfWork, inbound: Inbound, item: Input, now: datetime, join_code: str = ""
    ) -> list[Outbound]:
        """One member message inside the caller's transaction: log it, run the engine, write
        what it caused. `join_code` comes from a deep link (Telegram `/start join-CODE`): the
        member joins that group first, if they are in none."""
        member = await self._member(uow, inbound, now)
        await uow.members.touch_inbound(inbound.channel, inbound.address, now)
        await uow.messages.log_inbound(
            member_id=member.id,
            channel=inbound.channel,
            address_value=inbound.address,
            text=inbound.reply.text,
            payload=_inbound_payload(inbound.reply),
            provider_message_id=inbound.provider_message_id,
            at=now,
        )
        if join_code and await uow.members.current_group(member.id) is None:
            group = await uow.groups.by_code(join_code)
            if group is not None:
                await uow.members.join_group(member.id, group.id, now)
        if isinstance(item, Reply):  # mydata, delete: answered before the engine
            answered = await self.data_rights.answer(uow, member, item, now)
            if answered is not None:
                said: list[Outbound] = []
                for say in answered.says:
                    rendered = render(say, self.checkins.catalogs)
                    said += await queue_outbound(
                        uow, member.id, inbound.channel, inbound.address, rendered, None, now
                    )
                return said
        return await self._turn(uow, member, inbound, item, now)

    async def member_for(
        self, uow: UnitOfWork, channel: Channel, address: str, now: datetime
    ) -> MemberRecord:
        """The member at this address, created (with defaults from the number) if new."""
        return await self._member(uow, Inbound(channel, address, Reply()), now)

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

    async def _member(self, uow: UnitOfWork, inbound: Inbound, now: datetime) -> MemberRecord:
        member = await uow.members.by_address(inbound.channel, inbound.address)
        if member is not None:
            return member
        codes = self.checkins.catalogs.codes
        locale = default_locale_for(inbound.address, self.default_country, codes)
        return await uow.members.create(inbound.channel, inbound.address, locale, None, at=now)

    async def timer_turn(self, uow: UnitOfWork, event: TimerEvent, now: datetime) -> list[Outbound]:
        """A clock's timer for the member: an invitation starts a check-in; a reminder or an
        expiry applies only to the very session it was set for (a stale one does nothing)."""
        member = await uow.members.by_address(event.channel, event.address)
        if member is None:
            return []
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
        return await self._turn(uow, member, inbound, item, now, nudge=NUDGE_KINDS[event.kind])

    async def _turn(
        self,
        uow: UnitOfWork,
        member: MemberRecord,
        inbound: Inbound,
        item: Input,
        now: datetime,
        nudge: str | None = None,
    ) -> list[Outbound]:
        record = await uow.sessions.active_for(member.id)
        group = await uow.members.current_group(member.id)
        roster = await uow.groups.members(group.id) if group is not None else []
        applier = await self._run(uow, _Loaded(member, record, group, roster), inbound, item, now)
        applier.nudge = nudge
        return await applier.apply()

    async def message_turns(
        self, uow: UnitOfWork, turns: Sequence[tuple[Inbound, MemberRecord]], now: datetime
    ) -> list[list[Outbound]]:
        """`message_turn` for several members' messages at once, inside the caller's
        transaction: what each turn reads (session, group, roster) is read for all of them in
        one query each, and what every turn writes most (the message log, answers, the
        session) is written for all of them in one statement each. The outcome is that of
        running the turns one by one in this order, except that each turn sees the others'
        members and groups as they were before the first: a name a member gives in one turn
        appears in a peer's roster from the next batch on.

        Each member must appear once, and every `Inbound` must be a plain message (no join
        code); `turns[i]` gets the outbound lines `result[i]`."""
        member_ids = [member.id for _, member in turns]
        records = await uow.sessions.active_for_many(member_ids)
        groups = await uow.members.current_groups(member_ids)
        rosters = await uow.groups.members_of(sorted({group.id for group in groups.values()}))
        by_channel: dict[Channel, list[str]] = {}
        for inbound, _ in turns:
            by_channel.setdefault(inbound.channel, []).append(inbound.address)
        for channel, addresses in by_channel.items():
            await uow.members.touch_many_inbound(channel, addresses, now)
        writes = _BatchWrites()
        appliers = []
        for inbound, member in turns:
            writes.messages.append(_inbound_values(member.id, inbound, now))
            group = groups.get(member.id)
            roster = rosters.get(group.id, []) if group is not None else []
            loaded = _Loaded(member, records.get(member.id), group, roster)
            applier = await self._run(uow, loaded, inbound, inbound.reply, now, writes)
            await applier.apply()
            appliers.append(applier)
        await writes.flush(uow)
        return [applier.outbound for applier in appliers]

    async def _run(
        self,
        uow: UnitOfWork,
        loaded: _Loaded,
        inbound: Inbound,
        item: Input,
        now: datetime,
        writes: _BatchWrites | None = None,
    ) -> _Applier:
        """The engine's turn for `item`, with an applier ready to write it."""
        record, group = loaded.session, loaded.group
        session = from_json(record.state) if record is not None else None
        groups_by_code = await self._groups_by_code(uow, session, item)
        context = self._context(loaded, inbound.address, groups_by_code, now)
        turn = handle(self.checkins.library, session, item, context)
        return _Applier(
            uow,
            self.checkins,
            turn,
            loaded.member,
            group,
            inbound,
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
            vocabulary=self.checkins.vocabulary,
            group_members=members,
            groups_by_code=groups_by_code,
        )

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


@dataclass
class _BatchWrites:
    """What a batch of turns writes most, kept to be written for all of them at once (see
    `ConversationService.message_turns`): message log lines in the order the turns made
    them, answers and sessions."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    answers: list[NewAnswer] = field(default_factory=list)
    saves: list[SessionSave] = field(default_factory=list)
    _unnumbered: list[tuple[int, list[Outbound], int]] = field(default_factory=list)
    """(index in `messages`, a turn's outbound list, index in it) of lines awaiting an id."""

    def say(self, owner: list[Outbound], values: dict[str, Any], line: Outbound) -> None:
        self._unnumbered.append((len(self.messages), owner, len(owner)))
        self.messages.append(values)
        owner.append(line)

    async def flush(self, uow: UnitOfWork) -> None:
        ids = await uow.messages.log_many(self.messages)
        for index, owner, position in self._unnumbered:
            owner[position] = replace(owner[position], message_id=ids[index])
        await uow.answers.add_many(self.answers)
        await uow.sessions.save_many(self.saves)


class _Applier:
    """Writes one turn's events, in order, inside the caller's transaction; with `writes`, the
    log lines, answers and the session's last state wait there for the batch's flush."""

    def __init__(
        self,
        uow: UnitOfWork,
        checkins: Checkins,
        turn: Turn,
        member: MemberRecord,
        group: GroupRecord | None,
        inbound: Inbound,
        now: datetime,
        session_id: int | None,
        writes: _BatchWrites | None = None,
    ) -> None:
        self.uow = uow
        self.checkins = checkins
        self.turn = turn
        self.member = member
        self.group_id = group.id if group else None
        self.inbound = inbound
        self.now = now
        self.session_id = session_id
        self.writes = writes
        self.outbound: list[Outbound] = []
        self.nudge: str | None = None

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
            if self.writes is None:
                await self.uow.sessions.store(save)
            else:
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
        if self.writes is None:
            self.outbound.extend(await _log_lines(self.uow, lines))
            return
        for values, line in lines:
            self.writes.say(self.outbound, values, line)

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
        if self.writes is None:
            await self.uow.answers.add(answer)
        else:
            self.writes.answers.append(answer)

    async def _help(self, event: HelpRecorded) -> None:
        me, other = self.member.id, event.other.member_id
        giver, receiver = (me, other) if event.direction is HelpDirection.GIVEN else (other, me)
        await self.uow.help.add(
            giver_id=giver,
            receiver_id=receiver,
            group_id=self.group_id,
            kind=event.kind,
            note=None,
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
) -> list[Outbound]:
    """Write a rendered message to the outbox (the message log, status queued), cut into the
    parts the channel accepts. A proactive message names its `nudge` kind (and the variables
    of its WhatsApp template), so the sender can apply WhatsApp's 24-hour window rule."""
    lines = outbound_lines(member_id, channel, address, rendered, step_id, now, nudge, template)
    return await _log_lines(uow, lines)


def outbound_lines(
    member_id: int | None,
    channel: Channel,
    address: str,
    rendered: RenderedMessage,
    step_id: str | None,
    now: datetime,
    nudge: str | None = None,
    template: dict[str, str] | None = None,
) -> list[tuple[dict[str, Any], Outbound]]:
    """What `queue_outbound` writes: each part's message log columns, and its `Outbound`
    whose `message_id` is 0 until the line is logged."""
    lines = []
    for part in outbound_parts(channel, rendered):
        payload: dict[str, Any] = {}
        if part.choices:
            payload.update(choices=[[c.id, c.label] for c in part.choices], step=step_id)
        if nudge is not None:
            payload.update(nudge=nudge, template=template or {}, locale=rendered.locale)
        values = message_values(
            member_id, channel, address, "out", part.text, payload or None, "queued", None, now
        )
        lines.append((values, Outbound(0, channel, address, part.text, part.choices, step_id)))
    return lines


async def _log_lines(
    uow: UnitOfWork, lines: list[tuple[dict[str, Any], Outbound]]
) -> list[Outbound]:
    ids = await uow.messages.log_many([values for values, _ in lines])
    return [replace(line, message_id=ids[i]) for i, (_, line) in enumerate(lines)]


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
