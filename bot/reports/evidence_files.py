"""The evidence report as text (a terminal, an email), JSON (other programs) and XLSX (a
spreadsheet with a sheet per table and one that says how each figure is computed).

Amounts are written exactly: JSON carries decimal strings, XLSX numeric cells built from the
`Decimal`, text the plain decimal notation. Names of members and groups go through the same
formula guard as every other export (`bot.reports.exports`).

Text and XLSX are written in a `Wording`: the plain English report by default, or the report
read in a language (headers, sheet names, figures, methods and help kinds translated). JSON is
always the plain English report, its keys and method texts a stable interface for programs.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from bot.reports.cell_formats import MONEY, PERCENT
from bot.reports.evidence import Change, EvidenceReport
from bot.reports.method import Method
from bot.reports.wording import PLAIN, Wording
from conversations.i18n import N_
from storage.repositories.exports import render_decimal


def _plain(value: Any) -> Any:
    """JSON's values: a method as its English text, amounts as decimal strings, days and times
    in ISO notation, a dataclass or a named tuple as an object of its fields in their order."""
    if isinstance(value, Method):
        return value.render()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {name: _plain(getattr(value, name)) for name in value._fields}
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
    """The whole report, figures and methods, as JSON (amounts as decimal strings), in English
    whatever the reader's language."""
    return json.dumps(_plain(report), indent=2, ensure_ascii=False).encode() + b"\n"


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


# TRANSLATORS: the column headers of the evidence report as text (a terminal, an email).
CHANGE_HEADER = (
    N_("currency"),
    N_("measure"),
    N_("members"),
    N_("too few"),
    N_("baseline (median)"),
    N_("now (median)"),
    N_("median change"),
    N_("improved"),
)
WEEK_HEADER = (N_("week"), N_("invited"), N_("completed"), N_("response rate"), N_("reminders"))
KIND_HEADER = (N_("kind"), N_("records"), N_("reported by giver"), N_("reported by receiver"))
HELP_WEEK_HEADER = (N_("week"), N_("kind"), N_("records"), N_("by giver"), N_("by receiver"))
NETWORK_HEADER = (N_("group"), N_("giver"), N_("receiver"), N_("records"), N_("ways"))


def _change_rows(changes: Sequence[Change], w: Wording) -> list[list[Any]]:
    return [
        [
            c.currency,
            w.measure(c.measure),
            c.members,
            c.too_few,
            _amount(c.baseline_median),
            _amount(c.now_median),
            _amount(c.median_change),
            f"{c.improved} ({_percent(c.share_improved)})",
        ]
        for c in changes
    ]


def _how(w: Wording, method: Method) -> str:
    return w.text(N_("How: %(method)s"), method=w.method(method))


def _how_for(w: Wording, figure: str, method: Method) -> str:
    return w.text(N_("How (%(figure)s): %(method)s"), figure=figure, method=w.method(method))


def _methods(changes: Sequence[Change], w: Wording) -> list[str]:
    """Each measure's method once (it is the same in every currency)."""
    methods = {c.measure: c.method for c in changes}
    return ["", *(_how_for(w, w.measure(measure), method) for measure, method in methods.items())]


def _header(w: Wording, *names: str) -> tuple[str, ...]:
    return tuple(w.text(name) for name in names)


def _title(report: EvidenceReport, w: Wording) -> str:
    scope = report.group or w.text(N_("the whole program"))
    made = f"{report.generated_at:%Y-%m-%d %H:%M}"
    if report.since:
        return w.text(
            N_("Evidence for %(scope)s since %(day)s (made %(made)s UTC)"),
            scope=scope,
            day=report.since.isoformat(),
            made=made,
        )
    return w.text(N_("Evidence for %(scope)s (made %(made)s UTC)"), scope=scope, made=made)


def to_text(report: EvidenceReport, wording: Wording = PLAIN) -> str:
    """The report for reading: each section's table, then how its figures are computed."""
    w = wording
    lines = [_title(report, w), ""]
    participation = report.participation
    figure_value = _header(w, N_("figure"), N_("value"))
    lines += [w.text(N_("PARTICIPATION"))]
    lines += _table(figure_value, ((w.count(c), c.value) for c in participation.counts))
    lines += [""]
    lines += _table(
        _header(w, *WEEK_HEADER),
        (
            (week.week, week.invited, week.completed, _percent(week.response_rate), week.reminders)
            for week in participation.weeks
        ),
    )
    lines += ["", _how(w, participation.weeks_method)]
    for count in participation.counts:
        if count.key in ("enrolled", "active"):
            lines += [_how_for(w, w.count(count), count.method)]
    change_header = _header(w, *CHANGE_HEADER)
    none = [w.text(N_("none"))]
    lines += ["", w.text(N_("BUSINESS CHANGE (weekly check-in)"))]
    lines += _table(change_header, _change_rows(report.business, w)) if report.business else none
    lines += _methods(report.business, w)
    lines += ["", w.text(N_("HOUSEHOLD CHANGE (monthly journal, first against latest)"))]
    lines += _table(change_header, _change_rows(report.household, w)) if report.household else none
    lines += _methods(report.household, w)
    mutuality = report.mutuality
    lines += ["", w.text(N_("MUTUALITY"))]
    lines += _table(
        _header(w, *KIND_HEADER),
        (
            (w.kind(t.kind), t.records, t.reported_by_giver, t.reported_by_receiver)
            for t in mutuality.totals
        ),
    )
    lines += [""]
    lines += _table(figure_value, ((w.count(c), c.value) for c in mutuality.reciprocity))
    lines += ["", _how(w, mutuality.help_method), _how(w, mutuality.reciprocity[0].method)]
    lines += ["", w.text(N_("Help per week"))]
    lines += _table(
        _header(w, *HELP_WEEK_HEADER),
        (
            (h.week, w.kind(h.kind), h.records, h.reported_by_giver, h.reported_by_receiver)
            for h in mutuality.weeks
        ),
    )
    lines += ["", w.text(N_("Who helped whom"))]
    lines += _table(
        _header(w, *NETWORK_HEADER),
        (
            (
                e.group or "-",
                e.giver or f"#{e.giver_id}",
                e.receiver or f"#{e.receiver_id}",
                e.records,
                w.kinds(e.kinds),
            )
            for e in mutuality.network
        ),
    )
    lines += ["", _how(w, mutuality.network_method)]
    lines += ["", *(w.method(note) for note in report.notes)]
    return "\n".join(lines) + "\n"


CHANGE_FORMATS: Final = {
    N_("baseline median"): MONEY,
    N_("now median"): MONEY,
    N_("median change"): MONEY,
    N_("share improved"): PERCENT,
}
"""Every measure of change is an amount of money (sales, costs, profit, savings, household
income and balance), and shares are fractions shown as percentages."""
# TRANSLATORS: the column headers of the evidence report's spreadsheet.
SHEET_CHANGE_HEADER = (
    N_("currency"),
    N_("measure"),
    N_("members"),
    N_("too few"),
    N_("baseline median"),
    N_("now median"),
    N_("median change"),
    N_("improved"),
    N_("share improved"),
    N_("how it is computed"),
)
DISTRIBUTION_HEADER = (N_("source"), N_("currency"), N_("measure"), N_("member change"))
SHEET_HELP_WEEK_HEADER = (
    N_("week"),
    N_("kind"),
    N_("records"),
    N_("reported by giver"),
    N_("reported by receiver"),
)
SHEET_NETWORK_HEADER = (
    N_("group"),
    N_("giver id"),
    N_("giver"),
    N_("receiver id"),
    N_("receiver"),
    N_("records"),
    N_("ways"),
)
_NOT_IN_SHEET_TITLES = re.compile(r"[\\*?:/\[\]]")
SHEET_TITLE_LENGTH: Final = 31


def _sheet(w: Wording, title: str) -> str:
    """A sheet's title in the language, as Excel allows it: none of `\\*?:/[]`, at most 31
    characters, no quote or space at either end (a translation may not break the file)."""
    return _NOT_IN_SHEET_TITLES.sub("-", w.text(title))[:SHEET_TITLE_LENGTH].strip(" '")


def _formats(w: Wording, formats: Mapping[str, str]) -> dict[str, str]:
    return {w.text(header): style for header, style in formats.items()}


def to_xlsx(report: EvidenceReport, wording: Wording = PLAIN) -> bytes:
    """A workbook: summary, weekly participation, business change, household change, the
    distribution of changes, help per week, the network, and the methods."""
    from bot.reports.spreadsheet import add_sheet, new_workbook, workbook_bytes

    w = wording
    workbook = new_workbook()
    participation, mutuality = report.participation, report.mutuality
    how = w.text(N_("how it is computed"))
    add_sheet(
        workbook,
        _sheet(w, N_("summary")),
        (w.text(N_("figure")), w.text(N_("value")), how),
        [
            (w.text(N_("scope")), report.group or w.text(N_("whole program")), ""),
            (w.text(N_("since")), report.since or "", ""),
            (w.text(N_("made at (UTC)")), report.generated_at, ""),
            *((w.count(c), c.value, w.method(c.method)) for c in participation.counts),
            *((w.count(c), c.value, w.method(c.method)) for c in mutuality.reciprocity),
        ],
    )
    add_sheet(
        workbook,
        _sheet(w, N_("participation")),
        _header(w, *WEEK_HEADER),
        (
            (week.week, week.invited, week.completed, week.response_rate, week.reminders)
            for week in participation.weeks
        ),
        formats=_formats(w, {N_("response rate"): PERCENT}),
    )
    change_header = _header(w, *SHEET_CHANGE_HEADER)
    for title, changes in ((N_("business"), report.business), (N_("household"), report.household)):
        add_sheet(
            workbook,
            _sheet(w, title),
            change_header,
            (
                (
                    c.currency,
                    w.measure(c.measure),
                    c.members,
                    c.too_few,
                    c.baseline_median,
                    c.now_median,
                    c.median_change,
                    c.improved,
                    c.share_improved,
                    w.method(c.method),
                )
                for c in changes
            ),
            formats=_formats(w, CHANGE_FORMATS),
        )
    sources = ((w.text(N_("weekly")), report.business), (w.text(N_("journal")), report.household))
    add_sheet(
        workbook,
        _sheet(w, N_("change distribution")),
        _header(w, *DISTRIBUTION_HEADER),
        (
            (source, c.currency, w.measure(c.measure), change)
            for source, changes in sources
            for c in changes
            for change in c.changes
        ),
        formats=_formats(w, {N_("member change"): MONEY}),
    )
    add_sheet(
        workbook,
        _sheet(w, N_("help per week")),
        _header(w, *SHEET_HELP_WEEK_HEADER),
        (
            (h.week, w.kind(h.kind), h.records, h.reported_by_giver, h.reported_by_receiver)
            for h in mutuality.weeks
        ),
    )
    add_sheet(
        workbook,
        _sheet(w, N_("help network")),
        _header(w, *SHEET_NETWORK_HEADER),
        (
            (e.group, e.giver_id, e.giver, e.receiver_id, e.receiver, e.records, w.kinds(e.kinds))
            for e in mutuality.network
        ),
    )
    add_sheet(
        workbook,
        _sheet(w, N_("methods")),
        (w.text(N_("figure")), how),
        [
            (w.text(N_("weekly participation")), w.method(participation.weeks_method)),
            *(
                (f"{w.measure(c.measure)} ({c.currency})", w.method(c.method))
                for c in report.business
            ),
            *(
                (f"{w.measure(c.measure)} ({c.currency})", w.method(c.method))
                for c in report.household
            ),
            (w.text(N_("help records")), w.method(mutuality.help_method)),
            (w.text(N_("help network")), w.method(mutuality.network_method)),
            *((w.text(N_("note")), w.method(note)) for note in report.notes),
        ],
    )
    return workbook_bytes(workbook)
