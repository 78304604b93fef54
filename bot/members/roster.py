"""Members in bulk: a roster CSV read, checked, planned against the database, and written.

Each step is a plain function, testable without the command line:

- `parse_members_csv(text, languages)` reads the file: the valid rows, and every problem as
  (line number, what is wrong);
- `plan_import(uow, parsed, ...)` matches the rows against the members already stored and says,
  row by row, whether it creates a member, updates one or changes nothing (or why it cannot);
- `apply_import(uow, plan, at=...)` writes a plan that has no errors, set-based, a chunk of
  rows at a time, all in the caller's one transaction;
- `export_members(uow)` and `members_csv(rows)` write the roster back in the same format.

A row is matched to an existing member by any of its addresses: the phone (as a WhatsApp or an
SMS address) or the Telegram id. Importing the same file twice changes nothing the second time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

import phonenumbers
from babel.core import get_global

from bot.channels.phones import default_locale_for
from bot.reports.exports import restore_text, to_csv
from storage.join_codes import canonical_join_code
from storage.records import GroupRecord, RosterMember, RosterWrite
from storage.repositories.groups import group_name_key
from storage.repositories.roster import RosterRepository
from storage.unit_of_work import UnitOfWork
from storage.vocabulary import Channel

IMPORT_COLUMNS: Final = ("name", "phone", "telegram_id", "group", "language")
HEADER_ALIASES: Final = {
    "phone_number": "phone", "phone_no": "phone", "mobile": "phone", "mobile_number": "phone",
    "whatsapp": "phone", "whatsapp_number": "phone", "telephone": "phone", "tel": "phone",
    "telegram": "telegram_id", "telegram_user_id": "telegram_id", "telegramid": "telegram_id",
    "full_name": "name", "member": "name", "member_name": "name",
    "group_name": "group", "peer_group": "group", "lang": "language",
}  # fmt: skip
"""Other headers spreadsheets use for the columns (compared in lower case, spaces and dashes
as underscores: "Phone Number", "telegram id")."""
LARGE_GROUP: Final = 50
"""Peer groups are small (six to eight people): an import that makes one larger is warned of."""
"""The columns an import file must have (in any order)."""
EXPORT_COLUMNS: Final = (*IMPORT_COLUMNS, "member_id", "opted_out", "onboarded")
"""The columns of an export; the last three are for reading, and an import ignores them."""
MAX_NAME_LENGTH: Final = 120
MAX_TELEGRAM_ID_LENGTH: Final = 20
CHUNK_ROWS: Final = 500
"""Rows written together by `apply_import`: a few statements a chunk, each with hundreds of
rows' parameters (well under SQLite's and asyncpg's limits on parameters a statement)."""

Address = tuple[Channel, str]


# --- single values --------------------------------------------------------------------------


class MissingCountryCode(ValueError):
    """A phone number written without `+` and its country code."""


def normalize_phone(text: str) -> str:
    """`text` as a +E.164 phone number, like +254712345678.

    Spaces, dashes, dots and brackets are allowed; the number must start with `+` and its
    country code, because a number without one could belong to any country. Raises `ValueError`
    with a message that says what to fix.
    """
    clean = text.strip()
    if not clean.startswith("+"):
        raise MissingCountryCode(
            f'phone "{clean}" must start with + and the country code, like +254712345678'
        )
    try:
        number = phonenumbers.parse(clean, None)
    except phonenumbers.NumberParseException:
        raise ValueError(f'phone "{clean}" is not a phone number: check its digits') from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f'phone "{clean}" is not a valid phone number: check its digits')
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_telegram_id(text: str) -> str:
    """A Telegram user id: digits only (a person's id is a positive number). Raises
    `ValueError` saying what to fix."""
    clean = text.strip()
    if not clean.isascii() or not clean.isdigit() or clean.startswith("0"):
        raise ValueError(
            f'telegram_id "{clean}" must be the person\'s Telegram user id, digits only, '
            "like 6000000001"
        )
    if len(clean) > MAX_TELEGRAM_ID_LENGTH:
        raise ValueError(f'telegram_id "{clean}" is too long to be a Telegram user id')
    return clean


# --- parsing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem with the file, at `line` (1 is the header)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One valid row: a phone in +E.164 and/or a Telegram id, and optional fields. An empty cell
    is None, which means "leave as it is" for a member already stored."""

    line: int
    name: str | None
    phone: str | None
    telegram_id: str | None
    group: str | None
    language: str | None
    national_phone: str | None = None
    """A phone written without its country code ("0711000006"), read in the group's country
    when the import is planned."""

    @property
    def addresses(self) -> tuple[Address, ...]:
        """Every address the row gives: a phone is a WhatsApp and an SMS address."""
        found: list[Address] = []
        if self.phone is not None:
            found += [("whatsapp", self.phone), ("sms", self.phone)]
        if self.telegram_id is not None:
            found.append(("telegram", self.telegram_id))
        return tuple(found)


@dataclass(frozen=True, slots=True)
class ParsedFile:
    rows: tuple[ImportRow, ...]
    errors: tuple[RowError, ...]
    ignored_columns: tuple[str, ...] = ()
    """Columns the import does not know, left out (and said so)."""
    merged: tuple[tuple[int, int], ...] = ()
    """(line, earlier line) of rows repeated exactly: imported once."""


def decode_members_file(data: bytes) -> str:
    """The text of an import file: UTF-8, with or without the byte-order mark spreadsheet
    programs write. Raises `ValueError` for anything else."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(
            f'line {line}: the file is not UTF-8 text; save it as "CSV UTF-8" and try again'
        ) from None


def parse_members_csv(text: str, languages: Sequence[str]) -> ParsedFile:
    """Read an import file: a header naming the columns `name, phone, telegram_id, group,
    language` (any order; `member_id`, `opted_out` and `onboarded`, which exports add, are
    allowed and ignored), then one member per line.

    A cell an export quoted so that spreadsheets show it as text (`'=…`, `'@…`, see
    `bot.reports.exports`) is read without that quote, so an exported roster imports back unchanged.

    Every problem is reported with its line number, all of them at once: a phone without `+`
    and country code or not valid, a Telegram id that is not a number, a row with neither, a
    language not in `languages`, a name over 120 characters, a phone or Telegram id already on
    an earlier line, a row with the wrong number of cells. Blank lines are skipped. Whether
    the groups exist is checked later, against the database (see `plan_import`).
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    rows: list[ImportRow] = []
    ignored: tuple[str, ...] = ()
    merged: list[tuple[int, int]] = []
    exact: dict[tuple[str, ...], int] = {}
    errors: list[RowError] = []
    columns: dict[str, int] | None = None
    width = 0
    seen: dict[Address, int] = {}
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            errors.append(
                RowError(
                    start,
                    f"cannot read the file from this line on ({error}): is a double quote "
                    "left open?",
                )
            )
            break
        end = reader.line_num
        cells = [restore_text(cell) for cell in cells]  # an export's quote before a formula sign
        if not any(cell.strip() for cell in cells):
            continue
        if columns is None:
            columns, problem, ignored = _header(cells)
            width = len(cells)
            if problem is not None:
                return ParsedFile((), (RowError(start, problem),))
            continue
        key = tuple(" ".join(cell.split()).casefold() for cell in cells)
        if key in exact:
            merged.append((start, exact[key]))  # the same member twice: imported once
            continue
        exact[key] = start
        if len(cells) > width and not any(cell.strip() for cell in cells[width:]):
            cells = cells[:width]  # empty cells past the last column: spreadsheets add them
        if len(cells) != width:
            errors.append(
                RowError(
                    start,
                    f"has {len(cells)} cells but the header has {width} "
                    "(a comma inside a name needs the name in double quotes)",
                )
            )
            continue
        row, problems = _row(
            start, {name: cells[index] for name, index in columns.items()}, languages
        )
        for address in row.addresses if row is not None else _addresses_of(cells, columns):
            if address[0] == "sms":
                continue
            first = seen.setdefault(address, start)
            if first != start:
                what = "phone" if address[0] == "whatsapp" else "telegram_id"
                problems.append(f"{what} {address[1]} is also on line {first}")
        if problems:
            errors.extend(RowError(start, problem) for problem in problems)
        elif row is not None:
            rows.append(row)
    if columns is None:
        header = ",".join(IMPORT_COLUMNS)
        empty = RowError(1, f"the file is empty: the first line must be {header}")
        return ParsedFile((), tuple(errors) or (empty,))
    return ParsedFile(tuple(rows), tuple(errors), ignored, tuple(merged))


def _delimiter(text: str) -> str:
    """The separator spreadsheets wrote: a comma, a semicolon (where the comma is the decimal
    sign) or a tab, whichever splits the header line into the most columns."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    return max((",", ";", "\t"), key=lambda sign: (header.count(sign), sign == ","))


def _header(cells: list[str]) -> tuple[dict[str, int], str | None, tuple[str, ...]]:
    """The columns by name, a problem (or None), and the columns left out as unknown."""
    names = []
    for cell in cells:
        name = "_".join(cell.strip().lower().replace("-", " ").split())
        names.append(HEADER_ALIASES.get(name, name))
    expected = ",".join(IMPORT_COLUMNS)
    missing = [name for name in IMPORT_COLUMNS if name not in names]
    if "phone" in missing and "telegram_id" not in missing:
        missing.remove("phone")  # Telegram ids alone identify the members
    elif "telegram_id" in missing and "phone" not in missing:
        missing.remove("telegram_id")
    missing = [name for name in missing if name not in ("language", "group")]
    if "phone" in missing and "telegram_id" in missing:
        missing = [name for name in missing if name != "telegram_id"]
        missing[missing.index("phone")] = "phone or telegram_id"
    unknown = tuple(
        cell.strip() for cell, name in zip(cells, names, strict=True)
        if name and name not in EXPORT_COLUMNS
    )  # fmt: skip
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if repeated:
        problems.append(f"repeated {', '.join(repeated)}")
    if problems:
        return {}, f"the first line must be the header {expected} ({'; '.join(problems)})", ()
    # Columns without a name (spreadsheets add some) and unknown ones are left out.
    known = {name: index for index, name in enumerate(names) if name in EXPORT_COLUMNS}
    return known, None, unknown


def _row(
    line: int, cells: dict[str, str], languages: Sequence[str]
) -> tuple[ImportRow | None, list[str]]:
    problems: list[str] = []
    cells = {name: cells.get(name, "") for name in IMPORT_COLUMNS}
    name = " ".join(cells["name"].split()) or None
    if name is not None and len(name) > MAX_NAME_LENGTH:
        problems.append(f"name has {len(name)} characters; at most {MAX_NAME_LENGTH} fit")
    if name is not None and not name.isprintable():
        problems.append("name has control characters in it: retype it")
    phone = telegram_id = national = None
    if cells["phone"].strip():
        try:
            phone = normalize_phone(cells["phone"])
        except MissingCountryCode as error:
            if cells["group"].strip():
                national = cells["phone"].strip()  # read in the group's country (plan_import)
            else:
                problems.append(
                    f"{error}, or give the member a group to read it in that group's country "
                    "(a spreadsheet may drop the +: keep the column as text)"
                )
        except ValueError as error:
            problems.append(str(error))
    if cells["telegram_id"].strip():
        try:
            telegram_id = normalize_telegram_id(cells["telegram_id"])
        except ValueError as error:
            problems.append(str(error))
    if not cells["phone"].strip() and not cells["telegram_id"].strip():
        problems.append("give a phone or a telegram_id (or both): neither is filled in")
    language = _language(cells["language"], languages, problems)
    group = " ".join(cells["group"].split()) or None
    if problems:
        return None, problems
    return ImportRow(line, name, phone, telegram_id, group, language, national), problems


def _language(text: str, languages: Sequence[str], problems: list[str]) -> str | None:
    clean = text.strip()
    if not clean:
        return None
    for code in languages:
        if code.lower() == clean.lower().replace("-", "_"):
            return code
    problems.append(f'unknown language "{clean}": use one of {", ".join(languages)}')
    return None


def _addresses_of(cells: list[str], columns: dict[str, int]) -> list[Address]:
    """The well-formed addresses of a row with other problems, so that a duplicate of them is
    still reported."""
    found: list[Address] = []
    if "phone" in columns:
        try:
            found.append(("whatsapp", normalize_phone(cells[columns["phone"]])))
        except ValueError:
            pass
    if "telegram_id" in columns:
        try:
            found.append(("telegram", normalize_telegram_id(cells[columns["telegram_id"]])))
        except ValueError:
            pass
    return found


# --- planning -------------------------------------------------------------------------------


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class PlannedMember:
    """What importing one row does. `name`, `locale` and `group_id` are set only when they are
    to be written; `new_addresses` are the addresses to add (for a new member, the first one
    creates it). `changes` says it in words, for the operator."""

    row: ImportRow
    action: Action
    member_id: int | None
    name: str | None
    locale: str | None
    group_id: int | None
    new_addresses: tuple[Address, ...]
    changes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """The rows that can be imported and every problem (of the file and against the database),
    by line. Only a plan without errors can be applied."""

    members: tuple[PlannedMember, ...]
    errors: tuple[RowError, ...]
    warnings: tuple[str, ...] = ()
    """What the import may get wrong without being an error: a group grown past 50."""

    def count(self, action: Action) -> int:
        return sum(1 for planned in self.members if planned.action is action)

    @property
    def error_lines(self) -> int:
        """How many lines have at least one problem."""
        return len({error.line for error in self.errors})


async def plan_import(
    uow: UnitOfWork,
    parsed: ParsedFile,
    *,
    languages: Sequence[str],
    default_country: str,
) -> ImportPlan:
    """Match each row to the members stored, and say what importing it would do; writes
    nothing.

    A row whose phone or Telegram id is already a member's updates that member: its name and
    language when the row gives different ones, its group when the row names another (which
    ends the old membership), and the row's addresses the member does not have yet. Empty cells
    leave a stored member's fields as they are. A row matching no member creates one, in the
    row's language, else the group's, else the one its number suggests.

    Errors: a group that is neither a group's name nor its join code, a row whose addresses
    belong to two different members, and two rows that match the same member.
    """
    entries = await RosterRepository(uow.session).to_match()
    groups = await uow.groups.list()
    by_name = {group_name_key(group.name): group for group in groups}
    by_code = {group.join_code: group for group in groups}
    group_names = {group.id: group.name for group in groups}
    roster = {entry.id: entry for entry in entries}
    owners = {address: entry.id for entry in entries for address in entry.addresses}
    planned: list[PlannedMember] = []
    errors = list(parsed.errors)
    claimed: dict[int, int] = {}
    read_in_country = {
        address: row.line for row in parsed.rows for address in row.addresses
    }  # fmt: skip
    for row in parsed.rows:
        problems: list[str] = []
        group = None
        if row.group is not None:
            group = by_name.get(group_name_key(row.group)) or by_code.get(
                canonical_join_code(row.group)
            )
            if group is None:
                problems.append(
                    f'unknown group "{row.group}": use a group\'s name or join code '
                    "(mutuality groups list shows them)"
                )
        if row.national_phone is not None and group is not None:
            phone = national_phone(row.national_phone, group)
            if phone is None:
                problems.append(
                    f'phone "{row.national_phone}" must start with + and the country code, like '
                    f"+254712345678: it is no valid number in {group.name}'s country (from its "
                    f"time zone, {group.timezone}) either"
                )
            elif (("whatsapp", phone)) in read_in_country:
                problems.append(
                    f"phone {phone} is also on line {read_in_country[('whatsapp', phone)]}"
                )
            else:
                row = replace(row, phone=phone, national_phone=None)
                read_in_country[("whatsapp", phone)] = row.line
        member_id = _owner(row, owners, roster, problems)
        if member_id is not None and member_id in claimed:
            problems.append(
                f"this is the same member (#{member_id}) as line {claimed[member_id]}: "
                "merge the two lines"
            )
        if problems:
            errors.extend(RowError(row.line, problem) for problem in problems)
            continue
        if member_id is None:
            planned.append(_create(row, group, languages, default_country))
        else:
            claimed[member_id] = row.line
            planned.append(_update(row, roster[member_id], group, owners, group_names))
    errors.sort(key=lambda error: error.line)
    return ImportPlan(tuple(planned), tuple(errors), _large_groups(planned, entries, groups))


def national_phone(number: str, group: GroupRecord) -> str | None:
    """A number written without + read in the country of the group's time zone (Africa/Nairobi
    is Kenya): +E.164, or None when it is no valid number there."""
    region = get_global("zone_territories").get(group.timezone)
    if region is None:
        return None
    candidates = [number]
    digits = "".join(ch for ch in number if ch.isdigit())
    if digits.startswith(str(phonenumbers.country_code_for_region(region))):
        candidates.append("+" + digits)  # the country code without its + (a spreadsheet's doing)
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


def _large_groups(
    planned: Sequence[PlannedMember], entries: Sequence[RosterMember], groups: Sequence[GroupRecord]
) -> tuple[str, ...]:
    """Warnings for the groups the import makes larger than a peer group should be."""
    size = {group.id: 0 for group in groups}
    for entry in entries:
        if entry.group_id is not None:
            size[entry.group_id] = size.get(entry.group_id, 0) + 1
    for member in planned:
        if member.group_id is not None:
            size[member.group_id] = size.get(member.group_id, 0) + 1
    grown = {member.group_id for member in planned if member.group_id is not None}
    return tuple(
        f"{group.name} would have {size[group.id]} members: peer groups work best small "
        "(six to eight people); is the group column right?"
        for group in groups
        if group.id in grown and size[group.id] > LARGE_GROUP
    )


def _owner(
    row: ImportRow,
    owners: dict[Address, int],
    roster: dict[int, RosterMember],
    problems: list[str],
) -> int | None:
    found: dict[int, str] = {}
    for channel, value in row.addresses:
        owner = owners.get((channel, value))
        if owner is not None and owner not in found:
            label = "telegram_id" if channel == "telegram" else f"phone (on {channel})"
            found[owner] = f"{label} {value}"
    if len(found) > 1:
        said = " but ".join(
            f"{what} belongs to member #{owner}{_called(roster[owner])}"
            for owner, what in found.items()
        )
        problems.append(f"{said}: one line cannot be two members")
        return None
    return next(iter(found), None)


def _called(entry: RosterMember) -> str:
    return f" ({entry.name})" if entry.name else ""


def _create(
    row: ImportRow, group: GroupRecord | None, languages: Sequence[str], default_country: str
) -> PlannedMember:
    locale = row.language
    if locale is None and group is not None and group.language in languages:
        locale = group.language
    if locale is None:
        locale = default_locale_for(row.addresses[0][1], default_country, languages)
    changes = [f"new member {row.name or '(no name yet)'}", f"language {locale}"]
    if group is not None:
        changes.append(f"in {group.name}")
    return PlannedMember(
        row=row,
        action=Action.CREATE,
        member_id=None,
        name=row.name,
        locale=locale,
        group_id=group.id if group is not None else None,
        new_addresses=row.addresses,
        changes=tuple(changes),
    )


def _update(
    row: ImportRow,
    member: RosterMember,
    group: GroupRecord | None,
    owners: dict[Address, int],
    group_names: Mapping[int, str],
) -> PlannedMember:
    changes: list[str] = []
    name = locale = group_id = None
    if row.name is not None and row.name != member.name:
        name = row.name
        changes.append(f"name {member.name or '(none)'} -> {row.name}")
    if row.language is not None and row.language != member.locale:
        locale = row.language
        changes.append(f"language {member.locale} -> {row.language}")
    if group is not None and group.id != member.group_id:
        group_id = group.id
        before = group_names.get(member.group_id) if member.group_id is not None else None
        changes.append(f"group {before} -> {group.name}" if before else f"joins {group.name}")
    new_addresses: list[Address] = []
    if row.phone is not None and not any(
        (channel, row.phone) in owners for channel in ("whatsapp", "sms")
    ):
        new_addresses += [("whatsapp", row.phone), ("sms", row.phone)]
        changes.append(f"adds phone {row.phone}")
    if row.telegram_id is not None and ("telegram", row.telegram_id) not in owners:
        new_addresses.append(("telegram", row.telegram_id))
        changes.append(f"adds telegram_id {row.telegram_id}")
    return PlannedMember(
        row=row,
        action=Action.UPDATE if changes else Action.UNCHANGED,
        member_id=member.id,
        name=name,
        locale=locale,
        group_id=group_id,
        new_addresses=tuple(new_addresses),
        changes=tuple(changes),
    )


# --- writing --------------------------------------------------------------------------------


async def apply_import(
    uow: UnitOfWork,
    plan: ImportPlan,
    *,
    at: datetime,
    progress: Callable[[int], object] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> None:
    """Write `plan` in `uow`'s transaction (made by `plan_import` in the same one, so nothing
    changed in between). Raises `ValueError` if the plan has errors.

    The rows are written `chunk_rows` at a time, each chunk set-based in a handful of
    statements (`RosterRepository.write`), so a whole program's roster takes seconds. The
    caller's transaction holds the whole file: the command line and the console commit it once,
    at the end, so a failure anywhere (an address taken meanwhile, the database going away)
    leaves nothing of the file written, never some rows and not others.

    New members get no consent and no onboarding date: like anyone who writes in for the first
    time, they go through onboarding (and are asked for consent) on their first contact. An
    address taken since the plan was made raises `AddressInUse` with the chunk undone and the
    transaction usable; roll back and plan again. `progress(n)` is called after each chunk
    with the number of rows it held (for a progress bar on long imports).
    """
    if plan.errors:
        raise ValueError(f"the import has {plan.error_lines} lines with errors; fix them first")
    if chunk_rows < 1:
        raise ValueError(f"chunks need at least one row, not {chunk_rows}")
    roster = RosterRepository(uow.session)
    members = plan.members
    for start in range(0, len(members), chunk_rows):
        chunk = members[start : start + chunk_rows]
        await roster.write(
            [_write_of(planned) for planned in chunk if planned.action is not Action.UNCHANGED],
            at=at,
        )
        if progress is not None:
            progress(len(chunk))


def _write_of(planned: PlannedMember) -> RosterWrite:
    """What a planned row writes: a new member is created with its name and language."""
    return RosterWrite(
        member_id=planned.member_id,
        name=planned.name,
        locale=planned.locale,
        group_id=planned.group_id,
        addresses=planned.new_addresses,
    )


# --- export ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportRow:
    """A member as a line of the roster file; empty strings for what is unknown."""

    name: str
    phone: str
    telegram_id: str
    group: str
    language: str
    member_id: int
    opted_out: bool
    onboarded: bool

    def cells(self) -> list[str]:
        return [
            self.name,
            self.phone,
            self.telegram_id,
            self.group,
            self.language,
            str(self.member_id),
            "yes" if self.opted_out else "no",
            "yes" if self.onboarded else "no",
        ]


@dataclass(frozen=True, slots=True)
class Export:
    """The roster's lines, and the ids of members left out because they have neither a phone
    nor a Telegram id (reachable only on the terminal console)."""

    rows: tuple[ExportRow, ...]
    left_out: tuple[int, ...]


async def export_members(uow: UnitOfWork) -> Export:
    """Every member who has a phone or a Telegram id, by id, as an importable line.

    A member with several phones (or Telegram ids) is written with the oldest one, WhatsApp
    first: importing the line again finds the same member and changes nothing.
    """
    groups = {group.id: group.name for group in await uow.groups.list()}
    rows: list[ExportRow] = []
    left_out: list[int] = []
    for entry in await RosterRepository(uow.session).entries():
        values: dict[str, str] = {}
        for address in entry.addresses:
            values.setdefault(address.channel, address.value)
        phone = values.get("whatsapp") or values.get("sms") or ""
        telegram_id = values.get("telegram", "")
        if not phone and not telegram_id:
            left_out.append(entry.member.id)
            continue
        member = entry.member
        rows.append(
            ExportRow(
                name=member.name or "",
                phone=phone,
                telegram_id=telegram_id,
                group=groups.get(entry.group_id, "") if entry.group_id is not None else "",
                language=member.locale,
                member_id=member.id,
                opted_out=member.opted_out,
                onboarded=member.onboarded_at is not None,
            )
        )
    return Export(tuple(rows), tuple(left_out))


def members_csv(rows: Sequence[ExportRow]) -> bytes:
    """The roster file: UTF-8 with a byte-order mark (spreadsheets then show every script
    correctly), the header `EXPORT_COLUMNS`, one line per member. A name or group that a
    spreadsheet could take for a formula is quoted
    (`bot.reports.exports.neutralise_formula`); phones in +E.164 are written as they are, and
    `parse_members_csv` reads both back."""
    return to_csv(EXPORT_COLUMNS, [row.cells() for row in rows])
