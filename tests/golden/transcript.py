"""Golden transcripts: a conversation file that is both the script and the expected result.

The file reads like the console (`you> ` lines are what the member sends, `bot> ` lines and their
indented continuations are what the bot must answer), preceded by `@` lines that set the scene:

    @clock 2026-11-27T09:00:00+03:00      the fixed time of the conversation
    @group Kibera Market Peers; Africa/Nairobi; sw; KES
    @peer Grace Wanjiku                    an onboarded member of that group
    @member +254712345678                 the address the member writes from
    @profile Amina; sw; KES               the member is already onboarded, in the group

After the bot's lines, `stored> ` lines list what the turn stored, as goflow's runner files
list a case's events: each answer (check-in, step, type, value, and what the member sent) and
each help record (giver, receiver, kind).

`{code}` stands for the group's join code, which is random. Lines starting with `#` are comments.
Run `pytest tests/golden --update-golden` to rewrite the bot and stored lines from what the bot
does now (then read the diff).

A transcript runs the production path: the console opens the conversation through the
conversation service (as `mutuality chat` does), then every member line is stored in the inbox
as the channel's event, handled by the worker (lock, turn, one transaction) and read back from
the outbox, on SQLite with in-process coordination.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.channels.base import MessageEvent
from bot.pipeline.coordination.factory import coordination
from bot.pipeline.dispatch import EventHandler
from bot.pipeline.inbox import ingest
from bot.pipeline.worker import Worker
from bot.turns.console import CHANNEL, format_outbound, parse_console_line
from bot.turns.service import ConversationService, Outbound
from conversations.rendering import RenderedChoice
from storage.database import Database
from storage.records import MessageRecord

BOT = ("bot> ", "     ", "bot>")
STORED = "stored> "


@dataclass
class Script:
    clock: datetime
    member: str
    group: tuple[str, str, str, str] | None = None
    peers: list[str] = field(default_factory=list)
    profile: tuple[str, str, str] | None = None
    header: list[str] = field(default_factory=list)
    opening: list[str] = field(default_factory=list)
    exchanges: list[tuple[str, list[str]]] = field(default_factory=list)


def parse(path: Path) -> Script:
    header: list[str] = []
    clock, member = None, None
    group = None
    peers: list[str] = []
    profile = None
    opening: list[str] = []
    exchanges: list[tuple[str, list[str]]] = []
    current = opening
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.startswith("you> ") or raw == "you>":
            exchanges.append((raw[5:], []))
            current = exchanges[-1][1]
        elif raw.startswith(BOT) or raw == "bot>" or raw.startswith(STORED):
            current.append(raw)
        elif raw.startswith("@") or raw.startswith("#") or not raw.strip():
            if exchanges or opening:
                continue
            header.append(raw)
            directive, _, rest = raw.partition(" ")
            parts = [part.strip() for part in rest.split(";")]
            match directive:
                case "@clock":
                    clock = datetime.fromisoformat(rest.strip())
                case "@member":
                    member = rest.strip()
                case "@group":
                    group = (parts[0], parts[1], parts[2], parts[3])
                case "@peer":
                    peers.append(rest.strip())
                case "@profile":
                    profile = (parts[0], parts[1], parts[2])
        else:
            raise ValueError(f"{path}: cannot read line {raw!r}")
    if clock is None or member is None:
        raise ValueError(f"{path}: needs @clock and @member")
    return Script(clock, member, group, peers, profile, header, opening, exchanges)


async def set_scene(database: Database, script: Script) -> str:
    """Create the group, peers and profile; return the join code ("" without a group)."""
    at = script.clock
    async with database.transaction() as uow:
        if script.group is None:
            return ""
        name, timezone, language, currency = script.group
        group = await uow.groups.create(name, timezone, language, currency, at=at)
        for i, peer in enumerate(script.peers):
            record = await uow.members.create("console", f"peer-{i}", language, currency, at=at)
            await uow.members.update(record.id, at=at, name=peer, consent=True, onboarded_at=at)
            await uow.members.join_group(record.id, group.id, at)
        if script.profile is not None:
            name, locale, currency = script.profile
            record = await uow.members.create(CHANNEL, script.member, locale, currency, at=at)
            await uow.members.update(record.id, at=at, name=name, consent=True, onboarded_at=at)
            await uow.members.join_group(record.id, group.id, at)
        return group.join_code


@dataclass
class _Seen:
    """The last message, answer and help record already written into the transcript."""

    message: int = 0
    answer: int = 0
    help: int = 0


async def play(service: ConversationService, script: Script, code: str) -> list[str]:
    """Run the script; return the transcript as it happened (same format as the file)."""
    database = service.database
    coordinated = await coordination(None)
    worker = Worker(database, coordinated, EventHandler(service), {}, service.clock)
    seen = _Seen()
    lines = list(script.header)
    opened = await service.open(CHANNEL, script.member)
    seen.message = max((line.message_id for line in opened), default=0)
    lines.extend(_said(opened) + await _stored(database, seen))
    try:
        for number, (text, _) in enumerate(script.exchanges, start=1):
            lines.append(f"you> {text}".rstrip() if text else "you>")
            sent = text.replace("{code}", code) if code else text
            event = MessageEvent(
                CHANNEL, script.member, f"golden-{number}", parse_console_line(sent)
            )
            await worker.handle_entries(
                await ingest(database, coordinated.queue, [event], worker.clock())
            )
            await _no_failure(database, script.member)
            lines.extend(_said(await _outbox(database, script.member, seen)))
            lines.extend(await _stored(database, seen))
    finally:
        await coordinated.close()
    return [line.replace(code, "{code}") for line in lines] if code else lines


def _said(outbound: list[Outbound]) -> list[str]:
    return [line for message in outbound for line in format_outbound(message).splitlines()]


async def _no_failure(database: Database, address: str) -> None:
    """A turn that failed leaves its entry pending with the error: the transcript stops there."""
    async with database.read() as uow:
        pending = await uow.inbox.pending_for(CHANNEL, address)
    if pending:
        raise AssertionError(
            f"the worker could not handle {address}'s line: {pending[0].last_error}"
        )


async def _outbox(database: Database, address: str, seen: _Seen) -> list[Outbound]:
    """What the turn queued for the member, in order, as the console shows it."""
    async with database.read() as uow:
        member = await uow.members.by_address(CHANNEL, address)
        assert member is not None
        log = await uow.messages.for_member(member.id)
    queued = [row for row in log if row.direction == "out" and row.id > seen.message]
    seen.message = max([seen.message, *(row.id for row in log)])
    return [_outbound(row) for row in queued]


def _outbound(row: MessageRecord) -> Outbound:
    choices = tuple(
        RenderedChoice(str(c[0]), str(c[1])) for c in (row.payload or {}).get("choices", [])
    )
    step = (row.payload or {}).get("step")
    return Outbound(row.id, row.channel, row.address_value, row.text, choices, step)


async def _stored(database: Database, seen: _Seen) -> list[str]:
    """`stored> ` lines for the answers and help records written since the last look."""
    async with database.read() as uow:
        answers = [row for row in await uow.exports.answer_rows() if row.answer_id > seen.answer]
        helped = [row for row in await uow.exports.help_rows() if row.help_id > seen.help]
    lines = []
    for answer in answers:
        value = "skipped" if answer.skipped else answer.value
        if answer.currency and not answer.skipped:
            value = f"{value} {answer.currency}"
        sent = f" from {answer.raw_text!r}" if answer.raw_text else ""
        lines.append(
            f"{STORED}answer {answer.checkin_id}.{answer.step_id} ({answer.answer_type}): {value}{sent}"
        )
        seen.answer = max(seen.answer, answer.answer_id)
    for record in helped:
        lines.append(f"{STORED}help {record.giver_name} -> {record.receiver_name}: {record.kind}")
        seen.help = max(seen.help, record.help_id)
    return lines
