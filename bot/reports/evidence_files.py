"""The evidence report as text (a terminal, an email), JSON (other programs) and XLSX (a
spreadsheet with a sheet per table and one that says how each figure is computed).

Amounts are written exactly: JSON carries decimal strings, XLSX numeric cells built from the
`Decimal`, text the plain decimal notation. Names of members and groups go through the same
formula guard as every other export (`bot.reports.exports`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from bot.reports.evidence import Change, EvidenceReport
from bot.reports.spreadsheet import MONEY, PERCENT, add_sheet, new_workbook, workbook_bytes
from storage.repositories.exports import render_decimal


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return render_decimal(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def to_json(report: EvidenceReport) -> bytes:
    """The whole report, figures and methods, as JSON (amounts as decimal strings)."""
    return (
        json.dumps(_plain(dataclasses.asdict(report)), indent=2, ensure_ascii=False).encode()
        + b"\n"
    )


def _amount(value: Decimal | None) -> str:
    return "-" if value is None else render_decimal(value, 2)


def _percent(share: Decimal | None) -> str:
    return "-" if share is None else f"{render_decimal((share * 100).quantize(Decimal('0.1')))}%"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    cells = [list(header), *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  ".join(
            cell.rjust(width) if i else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in cells
    ]


CHANGE_HEADER = (
    "currency",
    "measure",
    "members",
    "too few",
    "baseline (median)",
    "now (median)",
    "median change",
    "improved",
)


def _change_rows(changes: Sequence[Change]) -> list[list[Any]]:
    return [
        [
            c.currency,
            c.measure,
            c.members,
            c.too_few,
            _amount(c.baseline_median),
            _amount(c.now_median),
            _amount(c.median_change),
            f"{c.improved} ({_percent(c.share_improved)})",
        ]
        for c in changes
    ]


def _methods(changes: Sequence[Change]) -> list[str]:
    """Each measure's method once (it is the same in every currency)."""
    methods = {c.measure: c.method for c in changes}
    return ["", *(f"How ({measure}): {method}" for measure, method in methods.items())]


def to_text(report: EvidenceReport) -> str:
    """The report for reading: each section's table, then how its figures are computed."""
    scope = report.group or "the whole program"
    since = f" since {report.since.isoformat()}" if report.since else ""
    lines = [f"Evidence for {scope}{since} (made {report.generated_at:%Y-%m-%d %H:%M} UTC)", ""]
    participation = report.participation
    lines += ["PARTICIPATION"]
    lines += _table(("figure", "value"), ((c.label, c.value) for c in participation.counts))
    lines += [""]
    lines += _table(
        ("week", "invited", "completed", "response rate", "reminders"),
        (
            (w.week, w.invited, w.completed, _percent(w.response_rate), w.reminders)
            for w in participation.weeks
        ),
    )
    lines += ["", "How: " + participation.weeks_method]
    for count in participation.counts:
        if count.key in ("enrolled", "active"):
            lines += [f"How ({count.label}): {count.method}"]
    lines += ["", "BUSINESS CHANGE (weekly check-in)"]
    lines += _table(CHANGE_HEADER, _change_rows(report.business)) if report.business else ["none"]
    lines += _methods(report.business)
    lines += ["", "HOUSEHOLD CHANGE (monthly journal, first against latest)"]
    lines += _table(CHANGE_HEADER, _change_rows(report.household)) if report.household else ["none"]
    lines += _methods(report.household)
    mutuality = report.mutuality
    lines += ["", "MUTUALITY"]
    lines += _table(
        ("kind", "records", "reported by giver", "reported by receiver"),
        (
            (t.kind, t.records, t.reported_by_giver, t.reported_by_receiver)
            for t in mutuality.totals
        ),
    )
    lines += [""]
    lines += _table(("figure", "value"), ((c.label, c.value) for c in mutuality.reciprocity))
    lines += ["", "How: " + mutuality.help_method, "How: " + mutuality.reciprocity[0].method]
    lines += ["", "Help per week"]
    lines += _table(
        ("week", "kind", "records", "by giver", "by receiver"),
        (
            (w.week, w.kind, w.records, w.reported_by_giver, w.reported_by_receiver)
            for w in mutuality.weeks
        ),
    )
    lines += ["", "Who helped whom"]
    lines += _table(
        ("group", "giver", "receiver", "records", "ways"),
        (
            (
                e.group or "-",
                e.giver or f"#{e.giver_id}",
                e.receiver or f"#{e.receiver_id}",
                e.records,
                ", ".join(e.kinds),
            )
            for e in mutuality.network
        ),
    )
    lines += ["", "How: " + mutuality.network_method]
    lines += ["", *report.notes]
    return "\n".join(lines) + "\n"


CHANGE_FORMATS: Final = {
    "baseline median": MONEY,
    "now median": MONEY,
    "median change": MONEY,
    "share improved": PERCENT,
}
"""Every measure of change is an amount of money (sales, costs, profit, savings, household
income and balance), and shares are fractions shown as percentages."""


def to_xlsx(report: EvidenceReport) -> bytes:
    """A workbook: summary, weekly participation, business change, household change, the
    distribution of changes, help per week, the network, and the methods."""
    workbook = new_workbook()
    participation, mutuality = report.participation, report.mutuality
    add_sheet(
        workbook,
        "summary",
        ("figure", "value", "how it is computed"),
        [
            ("scope", report.group or "whole program", ""),
            ("since", report.since or "", ""),
            ("made at (UTC)", report.generated_at, ""),
            *((c.label, c.value, c.method) for c in participation.counts),
            *((c.label, c.value, c.method) for c in mutuality.reciprocity),
        ],
    )
    add_sheet(
        workbook,
        "participation",
        ("week", "invited", "completed", "response rate", "reminders"),
        (
            (w.week, w.invited, w.completed, w.response_rate, w.reminders)
            for w in participation.weeks
        ),
        formats={"response rate": PERCENT},
    )
    change_header = (
        "currency", "measure", "members", "too few", "baseline median", "now median",
        "median change", "improved", "share improved", "how it is computed",
    )  # fmt: skip
    for title, changes in (("business", report.business), ("household", report.household)):
        add_sheet(
            workbook,
            title,
            change_header,
            (
                (
                    c.currency,
                    c.measure,
                    c.members,
                    c.too_few,
                    c.baseline_median,
                    c.now_median,
                    c.median_change,
                    c.improved,
                    c.share_improved,
                    c.method,
                )
                for c in changes
            ),
            formats=CHANGE_FORMATS,
        )
    add_sheet(
        workbook,
        "change distribution",
        ("source", "currency", "measure", "member change"),
        (
            (source, c.currency, c.measure, change)
            for source, changes in (("weekly", report.business), ("journal", report.household))
            for c in changes
            for change in c.changes
        ),
        formats={"member change": MONEY},
    )
    add_sheet(
        workbook,
        "help per week",
        ("week", "kind", "records", "reported by giver", "reported by receiver"),
        (
            (w.week, w.kind, w.records, w.reported_by_giver, w.reported_by_receiver)
            for w in mutuality.weeks
        ),
    )
    add_sheet(
        workbook,
        "help network",
        ("group", "giver id", "giver", "receiver id", "receiver", "records", "ways"),
        (
            (e.group, e.giver_id, e.giver, e.receiver_id, e.receiver, e.records, e.kinds)
            for e in mutuality.network
        ),
    )
    add_sheet(
        workbook,
        "methods",
        ("figure", "how it is computed"),
        [
            ("weekly participation", participation.weeks_method),
            *((f"{c.measure} ({c.currency})", c.method) for c in report.business),
            *((f"{c.measure} ({c.currency})", c.method) for c in report.household),
            ("help records", mutuality.help_method),
            ("help network", mutuality.network_method),
            *(("note", note) for note in report.notes),
        ],
    )
    return workbook_bytes(workbook)
