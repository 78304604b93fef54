"""The reports page's SVG charts draw the report's numbers: each mark's numbers equal the
computed figures, and its size and place on the axis say the same (read back from the SVG)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import pytest

from bot.reports.evidence import EvidenceReport, NetworkEdge, WeekParticipation, build_report
from bot.web.console import charts
from storage import Database
from tests.reports.plan import NOW, program, seed

SVG = "{http://www.w3.org/2000/svg}"
LABELS = charts.Labels("chart", "A title", "A description")


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def marks(svg: ET.Element, css: str, tag: str = "rect") -> list[ET.Element]:
    return [e for e in svg.iter(f"{SVG}{tag}") if css in (e.get("class") or "").split()]


def number(element: ET.Element, name: str) -> float:
    return float(element.get(name) or "nan")


@pytest.fixture
async def report(database: Database) -> EvidenceReport:
    async with database.transaction() as uow:
        groups, _ = await seed(uow, program())
    return await build_report(database, group_id=groups["Kibera"], group_name="Kibera", now=NOW)


def test_every_week_fills_the_weeks_without_anything_across_a_year_end() -> None:
    weeks = [
        WeekParticipation("2026-W52", 6, 5, 1, Decimal("0.8333")),
        WeekParticipation("2027-W02", 6, 6, 0, Decimal("1.0000")),
    ]
    filled = charts.every_week(weeks)
    assert [w.week for w in filled] == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
    assert filled[1] == WeekParticipation("2026-W53", 0, 0, 0, None)
    assert filled[0] is weeks[0] and filled[3] is weeks[1]
    assert charts.every_week([]) == []
    assert charts.week_monday("2027-W01") == date(2027, 1, 4)


async def test_the_trend_draws_each_weeks_completed_and_response_rate(
    report: EvidenceReport,
) -> None:
    weeks = charts.every_week(report.participation.weeks)
    assert len(weeks) > len(report.participation.weeks)  # the plan has a week with nothing
    svg = parse(charts.trend_svg(weeks, LABELS, str, ("completed", "rate")))
    bars = [b for b in marks(svg, "bar") if b.get("data-week")]
    assert [(b.get("data-week"), int(b.get("data-completed") or -1)) for b in bars] == [
        (w.week, w.completed) for w in weeks
    ]
    # heights in proportion to the counts, all standing on one baseline
    tallest = max(weeks, key=lambda w: w.completed)
    tallest_height = number(bars[weeks.index(tallest)], "height")
    baseline = {round(number(b, "y") + number(b, "height"), 1) for b in bars}
    assert len(baseline) == 1
    for bar, week in zip(bars, weeks, strict=True):
        assert number(bar, "height") == pytest.approx(
            tallest_height * week.completed / tallest.completed, abs=0.11
        )
    # a dot for each week with invitations, its height in proportion to the rate
    dots = marks(svg, "rate-dot", "circle")
    dots = [d for d in dots if d.get("data-week")]
    rated = [w for w in weeks if w.response_rate is not None]
    assert rated, "the plan has weeks with invitations"
    assert [(d.get("data-week"), Decimal(d.get("data-rate") or "")) for d in dots] == [
        (w.week, w.response_rate) for w in rated
    ]
    bottom = baseline.pop()
    top_rate = max(rated, key=lambda w: w.response_rate or 0)
    top_height = bottom - number(dots[rated.index(top_rate)], "cy")
    for dot, week in zip(dots, rated, strict=True):
        assert week.response_rate is not None and top_rate.response_rate is not None
        expected = top_height * float(week.response_rate / top_rate.response_rate)
        assert bottom - number(dot, "cy") == pytest.approx(expected, abs=0.11)
    # the dots are over their weeks' bars
    for dot in dots:
        bar = bars[[b.get("data-week") for b in bars].index(dot.get("data-week"))]
        middle = number(bar, "x") + number(bar, "width") / 2
        assert number(dot, "cx") == pytest.approx(middle, abs=0.11)


def test_bins_hold_every_change_once_on_round_edges() -> None:
    changes = [Decimal(v) for v in ("-420.5", "-3", "0", "0.25", "19.99", "180", "1250")]
    found = charts.bins(changes)
    assert sum(b.members for b in found) == len(changes)
    width = found[0].high - found[0].low
    for previous, current in itertools.pairwise(found):
        assert previous.high == current.low
        assert current.high - current.low == width
    for group in found:
        assert group.members == sum(1 for c in changes if group.low <= c < group.high)
        assert (group.low / width) == (group.low / width).to_integral_value()  # zero is an edge
    assert found[0].low <= min(changes) and max(changes) < found[-1].high
    same = charts.bins([Decimal("150")] * 4)
    assert same == [charts.Bin(Decimal(100), Decimal(200), 4)]
    assert charts.bins([Decimal(0)]) == [charts.Bin(Decimal(0), Decimal(1), 1)]
    assert charts.bins([]) == []


async def test_each_distribution_draws_the_members_of_each_bin_and_the_median(
    report: EvidenceReport,
) -> None:
    drawn = 0
    for change in (*report.business, *report.household):
        histogram = charts.bins(change.changes)
        assert sum(b.members for b in histogram) == change.members
        if not histogram:
            continue
        svg = parse(charts.histogram_svg(histogram, change.median_change, LABELS, str))
        bars = marks(svg, "bar")
        assert [
            (Decimal(b.get("data-low") or ""), Decimal(b.get("data-high") or ""),
             int(b.get("data-members") or -1))
            for b in bars
        ] == [(b.low, b.high, b.members) for b in histogram]  # fmt: skip
        fullest = max(histogram, key=lambda b: b.members)
        full_height = number(bars[histogram.index(fullest)], "height")
        for bar, group in zip(bars, histogram, strict=True):
            assert number(bar, "height") == pytest.approx(
                full_height * group.members / fullest.members, abs=0.11
            )
        # the median's line sits where the median falls on the bins' axis
        (median,) = marks(svg, "median", "line")
        assert change.median_change is not None
        assert Decimal(median.get("data-median") or "") == change.median_change
        left = number(bars[0], "x") - 1
        right = number(bars[-1], "x") + number(bars[-1], "width") + 1
        share = float(
            (change.median_change - histogram[0].low) / (histogram[-1].high - histogram[0].low)
        )
        assert number(median, "x1") == pytest.approx(left + share * (right - left), abs=0.11)
        drawn += 1
    assert drawn >= 4


async def test_the_network_draws_each_pair_once_with_its_help_records(
    report: EvidenceReport,
) -> None:
    network = report.mutuality.network
    svg = parse(charts.network_svg(network, LABELS))
    edges = marks(svg, "edge", "path")
    assert [
        (int(e.get("data-giver") or 0), int(e.get("data-receiver") or 0),
         int(e.get("data-records") or 0))
        for e in edges
    ] == [(e.giver_id, e.receiver_id, e.records) for e in network]  # fmt: skip
    counts = [t.text for t in svg.iter(f"{SVG}text") if "edge-count" in (t.get("class") or "")]
    assert counts == [str(e.records) for e in network]
    nodes = {
        int(g.get("data-member") or 0): g.findtext(f"{SVG}title")
        for g in svg.iter(f"{SVG}g")
        if g.get("data-member")
    }
    assert nodes == {
        **{e.giver_id: e.giver for e in network},
        **{e.receiver_id: e.receiver for e in network},
    }
    thickest = max(edges, key=lambda e: number(e, "stroke-width"))
    assert int(thickest.get("data-records") or 0) == max(e.records for e in network)


def _edge(giver: tuple[int, str], receiver: tuple[int, str], records: int) -> NetworkEdge:
    return NetworkEdge("G", giver[0], giver[1], receiver[0], receiver[1], records, ("advice",))


def test_the_network_layout_is_the_same_for_the_same_edges_and_escapes_names() -> None:
    evil = (3, '<script>alert("x")</script> & Co')
    edges = [_edge((1, "Zawadi"), (2, "amina"), 2), _edge(evil, (1, "Zawadi"), 1)]
    assert charts.layout(edges) == charts.layout(list(reversed(edges)))
    assert [n.name for n in charts.layout(edges)] == ["<script>alert(\"x\")</script> & Co",
                                                      "amina", "Zawadi"]  # fmt: skip
    markup = str(charts.network_svg(edges, LABELS))
    assert "<script" not in markup and "&lt;script&gt;" in markup
    assert parse(markup).find(f".//{SVG}g[@data-member='3']/{SVG}title").text == evil[1]  # type: ignore[union-attr]


def test_every_chart_has_an_accessible_name_and_description() -> None:
    week = WeekParticipation("2026-W40", 2, 1, 0, Decimal("0.5"))
    drawn = [
        charts.trend_svg([week], LABELS, str, ("a", "b")),
        charts.histogram_svg(charts.bins([Decimal(1)]), Decimal(1), LABELS, str),
        charts.network_svg([_edge((1, "A"), (2, "B"), 1)], LABELS),
    ]
    for markup in drawn:
        svg = parse(markup)
        assert svg.get("role") == "img"
        title_id, description_id = (svg.get("aria-labelledby") or "").split()
        assert svg.find(f"{SVG}title[@id='{title_id}']").text == "A title"  # type: ignore[union-attr]
        assert svg.find(f"{SVG}desc[@id='{description_id}']").text == "A description"  # type: ignore[union-attr]
