"""Answers and help records as CSV or XLSX, for coordinators and evaluators.

One row per answer (or help record), with names and addresses spelled out, so a spreadsheet user
needs no join. Amounts stay exact: CSV carries the decimal string as stored; XLSX carries numbers
as numeric cells built from the Decimal.

Every text in an export was typed by someone else (a member's name and answers, a group's name),
so none may become a formula when a coordinator opens the file: a name like
`=HYPERLINK("http://…","Click")` would otherwise run in their spreadsheet (CSV or formula
injection). Following OWASP's guidance, a text that begins with `=`, `+`, `-`, `@`, a tab or a
carriage return is written so that the spreadsheet takes it as text:

- in CSV, with a single quote in front (`'=HYPERLINK(…)`). A text that is only a number with a
  sign (`+254712345678`, `-500`, `-12.5`) is left as it is: a spreadsheet reads it as that
  number, which can compute nothing, and a phone in +E.164 must stay importable as it is.
  `restore_text` takes the quote off again, so a roster export imports back unchanged (see
  `bot.members.roster`);
- in XLSX, as a text cell marked with Excel's own "quote prefix" (what Excel records when
  someone types `'=…`): the value is stored exactly, without a visible quote, and stays text
  even when the cell is edited. Numbers are numeric cells and are never marked, so a negative
  amount stays a number; a phone is a text cell, marked like any other text beginning with `+`.

Leading spaces and quotes are looked past when deciding, as a precaution (` =1+1` in a program
that trims cells); a text that already begins with quotes before such a character gets one more,
so that taking one off always gives back what was written.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from storage.records import AnswerRow, HelpRow

NUMERIC_TYPES = {"money", "number", "integer"}
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may take as the start of a formula (OWASP's list for CSV injection)."""
_SIGNED_NUMBER: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?", re.ASCII)

ANSWER_COLUMNS = (
    "answered_at",
    "member_id",
    "member_name",
    "member_address",
    "group",
    "checkin",
    "step",
    "type",
    "value",
    "currency",
    "skipped",
    "raw_text",
)
HELP_COLUMNS = (
    "recorded_at",
    "giver_id",
    "giver",
    "receiver_id",
    "receiver",
    "group",
    "kind",
    "note",
)


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


def answer_table(rows: Sequence[AnswerRow]) -> list[list[Any]]:
    table: list[list[Any]] = []
    for row in rows:
        value: Any = row.value
        if row.answer_type in NUMERIC_TYPES and row.value and not row.skipped:
            value = Decimal(row.value)
        table.append(
            [
                row.created_at,
                row.member_id,
                row.member_name or "",
                row.member_address or "",
                row.group_name or "",
                row.checkin_id,
                row.step_id,
                row.answer_type,
                value,
                row.currency or "",
                "yes" if row.skipped else "no",
                row.raw_text or "",
            ]
        )
    return table


def help_table(rows: Sequence[HelpRow]) -> list[list[Any]]:
    return [
        [
            row.created_at,
            row.giver_id,
            row.giver_name or "",
            row.receiver_id,
            row.receiver_name or "",
            row.group_name or "",
            row.kind,
            row.note or "",
        ]
        for row in rows
    ]


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could take `text` for a formula (past leading spaces and quotes)."""
    return text.lstrip(" '").startswith(FORMULA_STARTS)


def neutralise_formula(text: str) -> str:
    """`text` as a CSV cell no spreadsheet takes for a formula: with a single quote in front
    when it could be one, unchanged when it is a plain number with a sign (see the module's
    docstring). `restore_text` undoes it exactly."""
    if _SIGNED_NUMBER.fullmatch(text) or not looks_like_formula(text):
        return text
    return "'" + text


def restore_text(cell: str) -> str:
    """The text `neutralise_formula` was given, from the cell it made: for every string,
    `restore_text(neutralise_formula(text)) == text`. A cell no export would have quoted is
    returned as it is, so hand-written files read as they always did."""
    if cell.startswith("'") and looks_like_formula(cell):
        return cell[1:]
    return cell


def to_csv(header: Sequence[str], table: list[list[Any]]) -> bytes:
    """The table as CSV; texts are neutralised (`neutralise_formula`), numbers and dates are
    written as they are."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(
        [
            [neutralise_formula(cell) if isinstance(cell, str) else str(cell) for cell in line]
            for line in table
        ]
    )
    # UTF-8 with a byte-order mark so spreadsheet programs show names in any script correctly
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(title: str, header: Sequence[str], table: list[list[Any]]) -> bytes:
    """The table as a workbook of one sheet (`bot.reports.spreadsheet`): a text that could be a
    formula stays text; numbers and dates keep their own cell types, money answers carry a
    money format."""
    from bot.reports.spreadsheet import add_sheet, new_workbook, workbook_bytes

    workbook = new_workbook()
    add_sheet(workbook, title, header, table)
    return workbook_bytes(workbook)


def _for_xlsx(kind: str, table: list[list[Any]]) -> list[list[Any]]:
    """The table with real dates and times where the CSV has ISO 8601 texts (the moment of
    each line, a date answer) and money answers marked for the money format: a value column
    holds amounts, counts, dates and texts, row by row."""
    from bot.reports.cell_formats import MONEY
    from bot.reports.spreadsheet import Formatted

    value, kind_at = ANSWER_COLUMNS.index("value"), ANSWER_COLUMNS.index("type")
    converted = []
    for line in table:
        line = [_moment(line[0]), *line[1:]] if line else line
        if kind == "answers" and len(line) > value:
            if line[kind_at] == "money" and isinstance(line[value], Decimal):
                line[value] = Formatted(line[value], MONEY)
            elif line[kind_at] == "date" and isinstance(line[value], str):
                line[value] = _day(line[value])
        converted.append(line)
    return converted


def _moment(text: Any) -> Any:
    """An ISO 8601 moment as a datetime; anything else as it is."""
    if not isinstance(text, str):
        return text
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return text


def _day(text: str) -> date | str:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text


def render(kind: str, export_format: ExportFormat, table: list[list[Any]]) -> bytes:
    header = ANSWER_COLUMNS if kind == "answers" else HELP_COLUMNS
    if export_format is ExportFormat.XLSX:
        return to_xlsx(kind, header, _for_xlsx(kind, table))
    return to_csv(header, table)
