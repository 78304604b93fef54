"""The research export: the answers and the help ledger for evaluators, anonymised.

- Members and groups are named by keyed hashes (HMAC-SHA256 with the deployment's
  `RESEARCH_EXPORT_KEY`, first 16 hex digits): the same member has the same id in every export
  made with the same key, so evaluators can follow people over time, but nobody without the key
  can turn an id back into a member (member numbers are small: a hash without a secret key
  would be reversed by trying them all).
- No names, phones, addresses, photos, locations or join codes. Free text (text answers, the
  notes of help records) only with `include_text`; a member named in an answer becomes their
  keyed id.
- Dates are coarsened to the ISO week: the week an answer was given, the week of a date answer.
- Small cells: a group with fewer than `MIN_CELL` members who answered is merged with the other
  small groups into one "small groups" cell; when those together are still fewer than
  `MIN_CELL`, their rows are left out. Business types the same way ("other (merged)", or the
  type left blank). `suppressed.csv` and the README in the file say which, and why.

The file is a ZIP holding `answers.csv`, `help.csv`, `suppressed.csv` and `README.txt`, written
as the rows stream from the database (nothing is held whole).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from bot.reports.exports import neutralise_formula
from conversations.answers import AnswerType
from storage.repositories.exports import StoredAnswer, render_decimal
from storage.unit_of_work import UnitOfWork

MIN_CELL = 5
MIN_KEY_LENGTH = 16
SMALL_GROUPS = "small groups (merged)"
OTHER_TYPES = "other (merged)"
NO_GROUP = "no group"
ANSWER_COLUMNS = (
    "member", "group", "business_type", "week", "checkin", "step", "type", "value", "currency",
    "skipped",
)  # fmt: skip
HELP_COLUMNS = ("giver", "receiver", "group", "week", "kind", "note")
WITHHELD_TYPES = {AnswerType.PHOTO, AnswerType.LOCATION, AnswerType.JOIN_CODE}
_BATCH = 2000


class ResearchKeyError(ValueError):
    """The deployment has no usable research key: no export may be made."""


def check_key(key: str | None) -> bytes:
    if not key:
        raise ResearchKeyError(
            "set RESEARCH_EXPORT_KEY (a secret of at least 16 characters, kept by the "
            "deployment) before making a research export: member ids are replaced by hashes "
            "keyed with it, and without a secret key anyone could reverse them"
        )
    if len(key) < MIN_KEY_LENGTH:
        raise ResearchKeyError(
            f"RESEARCH_EXPORT_KEY is too short: use at least {MIN_KEY_LENGTH} characters"
        )
    return key.encode()


def keyed_id(key: bytes, kind: str, number: int) -> str:
    """The pseudonym of a member (`kind` "m") or a group ("g"): stable for one key."""
    digest = hmac.new(key, f"{kind}:{number}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}-{digest[:16]}"


def iso_week(day: date | datetime) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True, slots=True)
class Suppression:
    """A cell too small to show: what (`group` or `business type`), which (a keyed group id
    or the type), how many members it had, and what became of it."""

    what: str
    which: str
    members: int
    action: str


@dataclass(frozen=True, slots=True)
class Cells:
    """How each group and business type appears in the file (None: its rows are left out)."""

    groups: dict[int | None, str | None]
    types: dict[str | None, str | None]
    suppressions: tuple[Suppression, ...]


def plan_cells(
    key: bytes, members_per_group: dict[int | None, int], member_types: dict[int, str | None]
) -> Cells:
    """Which groups and business types are shown, merged or left out (see the module)."""
    suppressions: list[Suppression] = []

    def label(group_id: int | None) -> str:
        return NO_GROUP if group_id is None else keyed_id(key, "g", group_id)

    groups: dict[int | None, str | None] = {}
    small = {g: n for g, n in members_per_group.items() if n < MIN_CELL}
    merged_ok = sum(small.values()) >= MIN_CELL
    for group_id, count in sorted(members_per_group.items(), key=lambda item: label(item[0])):
        if count >= MIN_CELL:
            groups[group_id] = label(group_id)
            continue
        groups[group_id] = SMALL_GROUPS if merged_ok else None
        action = f'merged into "{SMALL_GROUPS}"' if merged_ok else "left out"
        suppressions.append(Suppression("group", label(group_id), count, action))

    per_type: dict[str | None, int] = {}
    for kind in member_types.values():
        per_type[kind] = per_type.get(kind, 0) + 1
    types: dict[str | None, str | None] = {}
    small_types = {k: n for k, n in per_type.items() if n < MIN_CELL}
    types_ok = sum(small_types.values()) >= MIN_CELL
    for kind, count in sorted(per_type.items(), key=lambda item: item[0] or ""):
        if count >= MIN_CELL:
            types[kind] = kind
            continue
        types[kind] = OTHER_TYPES if types_ok else None
        action = f'merged into "{OTHER_TYPES}"' if types_ok else "left blank"
        suppressions.append(Suppression("business type", kind or "(none)", count, action))
    return Cells(groups, types, tuple(suppressions))


@dataclass
class ResearchWritten:
    answers: int = 0
    help: int = 0
    withheld: int = 0
    suppressions: tuple[Suppression, ...] = field(default=())


def answer_value(key: bytes, answer: StoredAnswer, include_text: bool) -> str | None:
    """The value as the research file shows it; None when the row is withheld."""
    kind = answer.answer_type
    if kind in WITHHELD_TYPES:
        return None
    if answer.skipped:
        return ""
    if answer.number is not None:
        return render_decimal(answer.number)
    if answer.value_date is not None:
        return iso_week(answer.value_date)
    if answer.choice is not None:
        return answer.choice
    if kind == AnswerType.MEMBER:
        json_value = answer.json_value
        if isinstance(json_value, dict) and isinstance(json_value.get("member_id"), int):
            return keyed_id(key, "m", json_value["member_id"])
        return None
    if kind in (AnswerType.LANGUAGE, AnswerType.CURRENCY) and answer.text is not None:
        return answer.text
    if kind == AnswerType.TEXT and include_text and answer.text is not None:
        return answer.text
    return None


class _CsvMember:
    """A CSV file inside the ZIP, written in batches off the event loop."""

    def __init__(self, archive: zipfile.ZipFile, name: str, header: Sequence[str]) -> None:
        self._archive, self._name = archive, name
        self._rows: list[Sequence[Any]] = [header]
        self._stream: IO[bytes] | None = None
        self._text: io.TextIOWrapper | None = None

    async def add(self, row: Sequence[Any]) -> None:
        self._rows.append([neutralise_formula(c) if isinstance(c, str) else c for c in row])
        if len(self._rows) >= _BATCH:
            await self._flush()

    async def _flush(self) -> None:
        if self._text is None:
            self._stream = await asyncio.to_thread(self._archive.open, self._name, "w")
            self._text = io.TextIOWrapper(self._stream, encoding="utf-8", newline="")
        rows, self._rows = self._rows, []
        await asyncio.to_thread(csv.writer(self._text).writerows, rows)

    async def close(self) -> None:
        await self._flush()
        assert self._text is not None
        await asyncio.to_thread(self._text.close)


async def write_research(
    uow: UnitOfWork,
    path: Path,
    key: bytes,
    *,
    group_id: int | None = None,
    include_text: bool = False,
    now: datetime,
) -> ResearchWritten:
    """Write the research export of the program (or one group) to `path`, a ZIP file."""
    streams = uow.streams
    member_types = await streams.business_types(group_id)
    cells = plan_cells(key, await streams.members_per_group(group_id), member_types)
    written = ResearchWritten(suppressions=cells.suppressions)
    archive = await asyncio.to_thread(zipfile.ZipFile, path, "w", zipfile.ZIP_DEFLATED)
    try:
        answers = _CsvMember(archive, "answers.csv", ANSWER_COLUMNS)
        async for answer in streams.answers(group_id=group_id):
            group = cells.groups.get(answer.group_id)
            value = answer_value(key, answer, include_text)
            if group is None or value is None:
                written.withheld += 1
                continue
            await answers.add(
                [
                    keyed_id(key, "m", answer.member_id),
                    group,
                    cells.types.get(member_types.get(answer.member_id)) or "",
                    iso_week(answer.created_at),
                    answer.checkin_id,
                    answer.step_id,
                    answer.answer_type,
                    value,
                    answer.currency or "",
                    "yes" if answer.skipped else "no",
                ]
            )
            written.answers += 1
        await answers.close()

        ledger = _CsvMember(archive, "help.csv", HELP_COLUMNS)
        async for record in streams.help(group_id=group_id):
            group = cells.groups.get(record.group_id)
            if group is None:
                continue
            await ledger.add(
                [
                    keyed_id(key, "m", record.giver_id),
                    keyed_id(key, "m", record.receiver_id),
                    group,
                    iso_week(record.created_at),
                    record.kind,
                    (record.note or "") if include_text else "",
                ]
            )
            written.help += 1
        await ledger.close()

        suppressed = _CsvMember(archive, "suppressed.csv", ("what", "which", "members", "action"))
        for cell in cells.suppressions:
            await suppressed.add([cell.what, cell.which, cell.members, cell.action])
        await suppressed.close()
        readme = _readme(cells.suppressions, include_text, now)
        await asyncio.to_thread(archive.writestr, "README.txt", readme)
    finally:
        await asyncio.to_thread(archive.close)
    return written


def _readme(suppressions: Sequence[Suppression], include_text: bool, now: datetime) -> str:
    lines = [
        f"Mutuality research export, made {now:%Y-%m-%d} (UTC).",
        "",
        "answers.csv: one row per answer. help.csv: one row per help record.",
        "Members (m-...) and groups (g-...) are keyed hashes: the same in every export made",
        "with this deployment's key, and not reversible without it.",
        "No names, phones, addresses, photos, locations or join codes are included.",
        (
            "Free text (text answers, help notes) IS included: it may name people."
            if include_text
            else "Free text (text answers, help notes) is left out."
        ),
        "Dates are ISO weeks: the week of the answer, and the week of a date given as answer.",
        "",
        f"Small cells: groups and business types with fewer than {MIN_CELL} members are merged",
        f'("{SMALL_GROUPS}", "{OTHER_TYPES}"), or left out when even merged they are fewer',
        f"than {MIN_CELL}.",
    ]
    if suppressions:
        lines += ["These were (also listed in suppressed.csv):"]
        lines += [f"- {s.what} {s.which}: {s.members} members, {s.action}" for s in suppressions]
    else:
        lines += ["No group or business type was small enough to merge or leave out."]
    return "\n".join(lines) + "\n"
