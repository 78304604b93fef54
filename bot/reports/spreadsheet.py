"""The one way the product writes a spreadsheet sheet, so every XLSX reads the same: a bold,
frozen header row with a filter on it, dates and times as real Excel dates with a date format,
amounts as numbers with a number format, and columns as wide as what they hold (capped).

A text a spreadsheet could take for a formula (`bot.reports.exports.looks_like_formula`) is
stored as a text cell with Excel's quote prefix; characters XML cannot hold become U+FFFD.
Import this module only when a workbook is asked for (inside the function that writes one):
openpyxl adds some 15 MiB to a process, and the long-running processes write a workbook only
when staff ask for one. The cells' number formats live in `bot.reports.cell_formats`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.reports.cell_formats import DATE, DATE_TIME, MONEY, PERCENT
from bot.reports.exports import looks_like_formula

MAX_WIDTH: Final = 60
"""Characters: a long note or method wraps nothing and stays readable beside the others."""
MIN_WIDTH: Final = 6
WIDTH_SAMPLE: Final = 2000
"""Rows looked at to fit the widths: enough to see the data's shape without a second pass."""


@dataclass(frozen=True, slots=True)
class Formatted:
    """A cell with a number format of its own, where a column holds values of several kinds
    (an answer's value is money in one row, a count in the next)."""

    value: Any
    number_format: str


def new_workbook() -> Workbook:
    """A workbook with no sheet: `add_sheet` adds them."""
    workbook = Workbook()
    default = workbook.active
    assert default is not None
    workbook.remove(default)
    return workbook


def workbook_bytes(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def add_sheet(
    workbook: Workbook,
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    formats: Mapping[str, str] | None = None,
) -> Worksheet:
    """Add a sheet called `title` holding `header` and `rows`.

    `formats` gives a column (by its header) a number format for its numeric cells, like
    `{"sales": MONEY}`; a `Formatted` cell brings its own. Dates and datetimes are formatted as
    such wherever they are; an aware datetime is written in UTC (Excel has no time zones).
    """
    sheet: Worksheet = workbook.create_sheet(title)
    by_column = [(formats or {}).get(name) for name in header]
    sheet.append(list(header))
    widths = [len(name) for name in header]
    for count, row in enumerate(rows):
        values: list[Any] = []
        styles: list[str | None] = []
        for column, raw in enumerate(row):
            if column >= len(widths):  # a row longer than the header: its cells still count
                by_column.append(None)
                widths.append(0)
            value, style = _value_and_format(raw, by_column[column])
            values.append(value)
            styles.append(style)
        sheet.append(values)
        line = sheet.max_row
        for column, (value, style) in enumerate(zip(values, styles, strict=True), start=1):
            if count < WIDTH_SAMPLE:
                widths[column - 1] = max(widths[column - 1], _shown_length(value, style))
            if style is not None:
                sheet.cell(row=line, column=column).number_format = style
            elif isinstance(value, str) and looks_like_formula(value):
                cell = sheet.cell(row=line, column=column)  # keep it text, shown as typed
                cell.data_type = "s"
                cell.quotePrefix = True
    _finish(sheet, widths)
    return sheet


def _value_and_format(raw: Any, column_format: str | None) -> tuple[Any, str | None]:
    if isinstance(raw, Formatted):
        value, style = _value_and_format(raw.value, None)
        return value, raw.number_format if _is_number(value) else style
    if isinstance(raw, datetime):
        moment = raw.astimezone(UTC).replace(tzinfo=None) if raw.tzinfo else raw
        return moment, DATE_TIME
    if isinstance(raw, date):
        return raw, DATE
    if isinstance(raw, tuple):
        return ", ".join(str(item) for item in raw), None
    if isinstance(raw, str):
        return ILLEGAL_CHARACTERS_RE.sub("\N{REPLACEMENT CHARACTER}", raw), None
    return raw, column_format if _is_number(raw) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _shown_length(value: Any, style: str | None) -> int:
    """About how many characters the cell shows, to fit its column."""
    if value is None:
        return 0
    if style == DATE_TIME:
        return 16
    if style == DATE:
        return 10
    if style == MONEY and _is_number(value):
        return len(f"{Decimal(value):,.2f}")
    if style == PERCENT and _is_number(value):
        return len(f"{Decimal(value) * 100:.1f}%")
    if isinstance(value, str):
        return max((len(part) for part in value.splitlines()), default=0)
    return len(str(value))


def _finish(sheet: Worksheet, widths: list[int]) -> None:
    """The header bold, frozen and filtered; columns fitted to what they hold."""
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
    sheet.freeze_panes = "A2"
    last = get_column_letter(len(widths))
    sheet.auto_filter.ref = f"A1:{last}{sheet.max_row}"
    for column, width in enumerate(widths, start=1):
        shown = min(max(width + 2, MIN_WIDTH), MAX_WIDTH)
        sheet.column_dimensions[get_column_letter(column)].width = shown
