"""Golden transcripts: a conversation file that is both the script and the expected result.

The file reads like the console (`you> ` lines are what the member sends, `bot> ` lines and their
indented continuations are what the bot must answer), preceded by `@` lines that set the scene:

    @clock 2026-11-27T09:00:00+03:00      the fixed time of the conversation
    @group Kibera Market Peers; Africa/Nairobi; sw; KES
    @peer Grace Wanjiku                    an onboarded member of that group
    @member +254712345678                 the address the member writes from
    @profile Amina; sw; KES               the member is already onboarded, in the group

`{code}` stands for the group's join code, which is random. Lines starting with `#` are comments.
Run with UPDATE_GOLDEN=1 to rewrite the bot lines from what the bot says now (then read the diff).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.turns.console import CHANNEL, format_outbound, parse_console_line
from bot.turns.service import ConversationService
from storage.database import Database


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
        elif raw.startswith("bot> ") or raw.startswith("     ") or raw == "bot>":
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


async def play(service: ConversationService, script: Script, code: str) -> list[str]:
    """Run the script; return the transcript as it happened (same format as the file)."""
    lines = list(script.header)

    def said(outbound: list) -> list[str]:  # type: ignore[type-arg]
        found = []
        for message in outbound:
            found.extend(
                format_outbound(message).replace(code, "{code}").splitlines()
                if code
                else format_outbound(message).splitlines()
            )
        return found

    lines.extend(said(await service.open(CHANNEL, script.member)))
    for text, _ in script.exchanges:
        lines.append(f"you> {text}".rstrip() if text else "you>")
        sent = text.replace("{code}", code) if code else text
        lines.extend(
            said(await service.receive_from(CHANNEL, script.member, parse_console_line(sent)))
        )
    return lines
