"""Answers and help records as CSV or XLSX, for coordinators and evaluators.

One row per answer (or help record), with names and addresses spelled out, so a spreadsheet user
needs no join. Amounts stay exact: CSV carries the decimal string as stored; XLSX carries numbers
as numeric cells built from the Decimal.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

from openpyxl import Workbook

from storage.records import AnswerRow, HelpRow

NUMERIC_TYPES = {"money", "number", "integer"}

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


def to_csv(header: Sequence[str], table: list[list[Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([[str(cell) for cell in line] for line in table])
    # UTF-8 with a byte-order mark so spreadsheet programs show names in any script correctly
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(title: str, header: Sequence[str], table: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    sheet.append(list(header))
    for line in table:
        sheet.append(line)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def render(kind: str, export_format: ExportFormat, table: list[list[Any]]) -> bytes:
    header = ANSWER_COLUMNS if kind == "answers" else HELP_COLUMNS
    if export_format is ExportFormat.XLSX:
        return to_xlsx(kind, header, table)
    return to_csv(header, table)
