"""Every XLSX the product writes reads the same: a bold, frozen, filtered header row, dates and
times as real Excel dates, money as numbers with a money format, columns fitted (capped)."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.cli import main
from bot.reports.cell_formats import DATE, DATE_TIME, MONEY, PERCENT
from bot.reports.exports import ANSWER_COLUMNS, ExportFormat, answer_table, render
from bot.reports.spreadsheet import (
    MAX_WIDTH,
    Formatted,
    add_sheet,
    new_workbook,
    workbook_bytes,
)
from storage.records import AnswerRow
from tests.reports.test_cli import _seeded

SALES = AnswerRow(
    answer_id=1,
    member_id=7,
    member_name="Amina Wanjiru Otieno",
    member_address="whatsapp:+254712345678",
    group_id=1,
    group_name="Kibera Market Peers",
    checkin_id="weekly_checkin",
    step_id="sales",
    answer_type="money",
    value="1234567.5",
    currency="KES",
    skipped=False,
    raw_text="1.2m " + "and some more words " * 10,
    created_at="2026-11-28T09:00:00+00:00",
)


def _sheet(data: bytes, title: str | None = None) -> Worksheet:
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook[title] if title else workbook.active
    assert isinstance(sheet, Worksheet)
    return sheet


def _by_header(sheet: Worksheet, row: int) -> dict[str, object]:
    header = [cell.value for cell in sheet[1]]
    return dict(zip(header, sheet[row], strict=True))


def _assert_header_row(sheet: Worksheet) -> None:
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}" + str(
        sheet.max_row
    )


def _width(sheet: Worksheet, column: str) -> float:
    return float(sheet.column_dimensions[column].width)


def test_the_answers_export_has_dates_money_widths_and_a_filtered_header() -> None:
    count = replace(SALES, answer_id=2, step_id="staff", answer_type="number", value="3",
                    currency=None, raw_text="3")  # fmt: skip
    day = replace(SALES, answer_id=3, step_id="market_day", answer_type="date",
                  value="2026-12-06", currency=None, raw_text="6 dic")  # fmt: skip
    data = render("answers", ExportFormat.XLSX, answer_table([SALES, count, day]))
    sheet = _sheet(data)
    _assert_header_row(sheet)
    assert sheet.auto_filter.ref == "A1:L4"

    sales = _by_header(sheet, 2)
    moment = sales["answered_at"]
    assert moment.is_date and moment.number_format == DATE_TIME  # type: ignore[attr-defined]
    assert moment.value == datetime(2026, 11, 28, 9, 0)  # type: ignore[attr-defined]
    amount = sales["value"]
    assert amount.data_type == "n" and amount.number_format == MONEY  # type: ignore[attr-defined]
    assert Decimal(str(amount.value)) == Decimal("1234567.5")  # type: ignore[attr-defined]
    staff = _by_header(sheet, 3)["value"]
    assert staff.value == 3 and staff.number_format == "General"  # type: ignore[attr-defined]
    market_day = _by_header(sheet, 4)["value"]
    assert market_day.is_date and market_day.number_format == DATE  # type: ignore[attr-defined]
    assert market_day.value == datetime(2026, 12, 6)  # type: ignore[attr-defined]

    columns = {name: sheet.cell(1, i + 1).column_letter for i, name in enumerate(ANSWER_COLUMNS)}
    assert _width(sheet, columns["member_name"]) == len("Amina Wanjiru Otieno") + 2
    assert _width(sheet, columns["answered_at"]) == 16 + 2  # yyyy-mm-dd hh:mm
    assert _width(sheet, columns["value"]) == len("1,234,567.50") + 2
    assert _width(sheet, columns["raw_text"]) == MAX_WIDTH  # a long answer is capped
    assert _width(sheet, columns["skipped"]) == len("skipped") + 2  # the header decides


def test_the_help_export_has_real_times_and_a_filtered_header(tmp_path: Path) -> None:
    from bot.reports.exports import help_table
    from storage.records import HelpRow

    row = HelpRow(help_id=1, giver_id=7, giver_name="Amina", receiver_id=8,
                  receiver_name="Musa", group_id=None, group_name=None, kind="advice",
                  note="", created_at="2026-11-28T09:02:00+00:00")  # fmt: skip
    sheet = _sheet(render("help", ExportFormat.XLSX, help_table([row])))
    _assert_header_row(sheet)
    recorded = _by_header(sheet, 2)["recorded_at"]
    assert recorded.is_date and recorded.value == datetime(2026, 11, 28, 9, 2)  # type: ignore[attr-defined]


def test_the_evidence_workbook_formats_every_sheet(tmp_path: Path) -> None:
    runner = _seeded(tmp_path)
    output = tmp_path / "evidence.xlsx"
    written = runner.invoke(
        main,
        [
            "report",
            "evidence",
            "--since",
            "2026-01-05",
            "--format",
            "xlsx",
            "--output",
            str(output),
        ],
    )
    assert written.exit_code == 0, written.output
    workbook = load_workbook(output)
    for sheet in workbook.worksheets:
        assert isinstance(sheet, Worksheet)
        _assert_header_row(sheet)
        for letter, dimension in sheet.column_dimensions.items():
            assert 6 <= dimension.width <= MAX_WIDTH, (sheet.title, letter)
    summary = {row[0].value: row[1] for row in workbook["summary"].iter_rows(min_row=2)}
    assert summary["made at (UTC)"].is_date
    assert summary["made at (UTC)"].number_format == DATE_TIME
    assert summary["since"].is_date and summary["since"].number_format == DATE
    business = workbook["business"]
    assert isinstance(business, Worksheet)
    kes_sales = next(r for r in range(2, business.max_row + 1)
                     if (business.cell(r, 1).value, business.cell(r, 2).value) == ("KES", "sales"))  # fmt: skip
    row = _by_header(business, kes_sales)
    for money in ("baseline median", "now median", "median change"):
        assert row[money].data_type == "n" and row[money].number_format == MONEY  # type: ignore[attr-defined]
    assert row["share improved"].number_format == PERCENT  # type: ignore[attr-defined]
    assert row["members"].number_format == "General"  # type: ignore[attr-defined]
    participation = workbook["participation"]
    assert isinstance(participation, Worksheet)
    rates = [
        _by_header(participation, r)["response rate"] for r in range(2, participation.max_row + 1)
    ]
    assert rates and all(cell.number_format == PERCENT for cell in rates if cell.value is not None)  # type: ignore[attr-defined]


def test_the_helper_keeps_texts_text_and_a_cells_own_format() -> None:
    workbook = new_workbook()
    add_sheet(
        workbook,
        "mixed",
        ("when", "amount", "note"),
        [
            (date(2026, 12, 6), Formatted(Decimal("-12.5"), MONEY), '=HYPERLINK("x")'),
            (datetime(2026, 12, 6, 12, 30, tzinfo=UTC), Formatted("n/a", MONEY), "fine"),
        ],
        formats={"when": MONEY},  # a date is a date whatever its column says
    )
    sheet = _sheet(workbook_bytes(workbook), "mixed")
    _assert_header_row(sheet)
    first, second = _by_header(sheet, 2), _by_header(sheet, 3)
    assert first["when"].number_format == DATE  # type: ignore[attr-defined]
    assert second["when"].number_format == DATE_TIME  # type: ignore[attr-defined]
    assert first["amount"].number_format == MONEY  # type: ignore[attr-defined]
    assert (second["amount"].value, second["amount"].number_format) == ("n/a", "General")  # type: ignore[attr-defined]
    assert (first["note"].data_type, first["note"].quotePrefix) == ("s", True)  # type: ignore[attr-defined]


def test_the_web_process_loads_no_spreadsheet_library_until_a_workbook_is_asked_for() -> None:
    """openpyxl adds some 15 MiB to a process: the web process (console, reports, exports)
    imports it only inside the functions that write a workbook."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bot.web.app, bot.reports.evidence_files, bot.reports.exports; "
            "print('openpyxl' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "False"
