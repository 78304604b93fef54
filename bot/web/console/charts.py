"""The reports page's charts as SVG drawn on the server: no chart library, no script, so they
show under the console's Content-Security-Policy, without JavaScript and on paper.

Each chart is a pure function of the report's figures and returns its SVG markup; the page puts
the same figures in a table beside it. Every drawn mark carries its numbers in `data-`
attributes, so a test can read back what was drawn and compare it with what was computed.
Elements take their colours from `reports.css` through classes (the screen's colours, and black
and white for print); the SVG is `role="img"` with a `<title>` and a `<desc>`.

Built with ElementTree, which escapes every text and attribute (members' names among them).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from markupsafe import Markup

from bot.reports.evidence import NetworkEdge, WeekParticipation

Format = Callable[[Decimal], str]


@dataclass(frozen=True, slots=True)
class Labels:
    """A chart's accessible name and description, in the reader's language."""

    chart_id: str
    title: str
    description: str


def _svg(labels: Labels, width: int, height: int) -> ET.Element:
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {width} {height}",
            "role": "img",
            "aria-labelledby": f"{labels.chart_id}-title {labels.chart_id}-desc",
            "class": "chart",
            "id": labels.chart_id,
        },
    )
    ET.SubElement(svg, "title", {"id": f"{labels.chart_id}-title"}).text = labels.title
    ET.SubElement(svg, "desc", {"id": f"{labels.chart_id}-desc"}).text = labels.description
    return svg


def _markup(svg: ET.Element) -> Markup:
    return Markup(ET.tostring(svg, encoding="unicode"))  # ElementTree escaped every text


def _n(value: float) -> str:
    return f"{value:.1f}"


def _text(parent: ET.Element, x: float, y: float, text: str, css: str, anchor: str) -> None:
    ET.SubElement(
        parent, "text", {"x": _n(x), "y": _n(y), "class": css, "text-anchor": anchor}
    ).text = text


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1): an
    axis's top."""
    if value <= 1:
        return 1
    power = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    raise AssertionError("unreachable")


# -- the weekly trend -------------------------------------------------------------------------


def week_monday(label: str) -> date:
    """The Monday of an ISO week label (`2026-W48`)."""
    year, week = label.split("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def _label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def every_week(weeks: Sequence[WeekParticipation]) -> list[WeekParticipation]:
    """The report's weeks with the weeks between them that had nothing (no invitation, no
    check-in, no reminder) filled in as zeros: a trend's time axis has no holes."""
    if not weeks:
        return []
    known = {week.week: week for week in weeks}
    day, last = week_monday(weeks[0].week), week_monday(weeks[-1].week)
    filled = []
    while day <= last:
        label = _label(day)
        filled.append(known.get(label) or WeekParticipation(label, 0, 0, 0, None))
        day += timedelta(weeks=1)
    return filled


TREND_WIDTH, TREND_HEIGHT = 640, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 52, 20, 44


def rate_ceiling(weeks: Sequence[WeekParticipation]) -> Decimal:
    """The response-rate axis's top: 100%, or higher in quarters when a week exceeds it."""
    highest = max((w.response_rate for w in weeks if w.response_rate is not None), default=None)
    if highest is None or highest <= 1:
        return Decimal(1)
    return Decimal(math.ceil(highest * 4)) / 4


def trend_svg(
    weeks: Sequence[WeekParticipation], labels: Labels, percent: Format, legend: tuple[str, str]
) -> Markup:
    """Check-ins completed per week as bars (left axis) and the response rate as a line with a
    dot per week that had invitations (right axis)."""
    svg = _svg(labels, TREND_WIDTH, TREND_HEIGHT)
    plot_w = TREND_WIDTH - _LEFT - _RIGHT
    plot_h = TREND_HEIGHT - _TOP - _BOTTOM
    bottom = _TOP + plot_h
    top_count = nice_ceiling(max((w.completed for w in weeks), default=0))
    top_rate = rate_ceiling(weeks)
    axes = ET.SubElement(svg, "g", {"class": "axes"})
    for fraction in (0, 0.5, 1) if top_count % 2 == 0 else (0, 1):
        y = bottom - fraction * plot_h
        ET.SubElement(
            axes,
            "line",
            {"x1": _n(_LEFT), "x2": _n(_LEFT + plot_w), "y1": _n(y), "y2": _n(y), "class": "grid"},
        )
        count = top_count * fraction
        _text(axes, _LEFT - 6, y + 4, f"{count:g}", "tick", "end")
        rate = percent(top_rate * Decimal(fraction))
        _text(axes, _LEFT + plot_w + 6, y + 4, rate, "tick", "start")
    slot = plot_w / max(len(weeks), 1)
    every = max(1, math.ceil(len(weeks) / 7))
    bars = ET.SubElement(svg, "g", {"class": "bars"})
    points: list[tuple[float, float, WeekParticipation]] = []
    for index, week in enumerate(weeks):
        x = _LEFT + index * slot
        height = plot_h * week.completed / top_count
        ET.SubElement(
            bars,
            "rect",
            {
                "x": _n(x + slot * 0.15),
                "y": _n(bottom - height),
                "width": _n(slot * 0.7),
                "height": _n(height),
                "class": "bar",
                "data-week": week.week,
                "data-completed": str(week.completed),
            },
        )
        if len(weeks) <= 16 and week.completed:
            _text(bars, x + slot / 2, bottom - height - 3, str(week.completed), "value", "middle")
        if index % every == 0:
            _text(axes, x + slot / 2, bottom + 16, week.week, "tick", "middle")
        if week.response_rate is not None:
            y = bottom - plot_h * float(week.response_rate / top_rate)
            points.append((x + slot / 2, y, week))
    line = ET.SubElement(svg, "g", {"class": "rate"})
    if len(points) > 1:
        ET.SubElement(
            line,
            "polyline",
            {"points": " ".join(f"{_n(x)},{_n(y)}" for x, y, _ in points), "class": "rate-line"},
        )
    for x, y, week in points:
        assert week.response_rate is not None
        ET.SubElement(
            line,
            "circle",
            {
                "cx": _n(x),
                "cy": _n(y),
                "r": "3.5",
                "class": "rate-dot",
                "data-week": week.week,
                "data-rate": str(week.response_rate),
            },
        )
    key = ET.SubElement(svg, "g", {"class": "legend"})
    ET.SubElement(
        key, "rect", {"x": _n(_LEFT), "y": _n(TREND_HEIGHT - 14), "width": "12", "height": "10",
                      "class": "bar"},
    )  # fmt: skip
    _text(key, _LEFT + 16, TREND_HEIGHT - 5, legend[0], "tick", "start")
    middle = _LEFT + plot_w / 2
    ET.SubElement(
        key, "line", {"x1": _n(middle), "x2": _n(middle + 16), "y1": _n(TREND_HEIGHT - 9),
                      "y2": _n(TREND_HEIGHT - 9), "class": "rate-line"},
    )  # fmt: skip
    ET.SubElement(
        key, "circle", {"cx": _n(middle + 8), "cy": _n(TREND_HEIGHT - 9), "r": "3.5",
                        "class": "rate-dot"},
    )  # fmt: skip
    _text(key, middle + 22, TREND_HEIGHT - 5, legend[1], "tick", "start")
    return _markup(svg)


# -- the distribution of members' change ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bin:
    """Members whose change is at least `low` and below `high`."""

    low: Decimal
    high: Decimal
    members: int


def _nice_step(span: Decimal, wanted: int) -> Decimal:
    """A bin width of 1, 2 or 5 times a power of ten giving about `wanted` bins over `span`."""
    raw = span / wanted
    power = Decimal(1).scaleb(raw.adjusted())
    for step in (1, 2, 5, 10):
        if step * power >= raw:
            return step * power
    raise AssertionError("unreachable")


def bins(changes: Sequence[Decimal]) -> list[Bin]:
    """Equal bins on round edges (zero always an edge), about as many as the square root of
    the members (3 to 10), covering every change; empty bins inside the range are kept."""
    if not changes:
        return []
    low, high = min(changes), max(changes)
    wanted = min(10, max(3, math.isqrt(len(changes)) + 1))
    span = high - low
    if span == 0:
        step = Decimal(1).scaleb(abs(low).adjusted()) if low else Decimal(1)
    else:
        step = _nice_step(span, wanted)
    first = math.floor(low / step)
    last = math.floor(high / step)
    counts = [0] * (last - first + 1)
    for change in changes:
        counts[math.floor(change / step) - first] += 1
    return [
        Bin((first + i) * step, (first + i + 1) * step, count) for i, count in enumerate(counts)
    ]


HIST_WIDTH, HIST_HEIGHT = 320, 190
_H_LEFT, _H_RIGHT, _H_TOP, _H_BOTTOM = 32, 24, 18, 40


def histogram_svg(
    histogram: Sequence[Bin], median_change: Decimal | None, labels: Labels, amount: Format
) -> Markup:
    """Members per bin of change as bars, the line of no change and the median change."""
    svg = _svg(labels, HIST_WIDTH, HIST_HEIGHT)
    plot_w = HIST_WIDTH - _H_LEFT - _H_RIGHT
    plot_h = HIST_HEIGHT - _H_TOP - _H_BOTTOM
    bottom = _H_TOP + plot_h
    if not histogram:
        return _markup(svg)
    top = nice_ceiling(max(b.members for b in histogram))
    low, high = histogram[0].low, histogram[-1].high

    def x_of(value: Decimal) -> float:
        return _H_LEFT + plot_w * float((value - low) / (high - low))

    axes = ET.SubElement(svg, "g", {"class": "axes"})
    ET.SubElement(
        axes, "line", {"x1": _n(_H_LEFT), "x2": _n(_H_LEFT + plot_w), "y1": _n(bottom),
                       "y2": _n(bottom), "class": "grid"},
    )  # fmt: skip
    _text(axes, _H_LEFT - 5, bottom + 4, "0", "tick", "end")
    _text(axes, _H_LEFT - 5, _H_TOP + 4, str(top), "tick", "end")
    bars = ET.SubElement(svg, "g", {"class": "bars"})
    for index, group in enumerate(histogram):
        left, right = x_of(group.low), x_of(group.high)
        height = plot_h * group.members / top
        ET.SubElement(
            bars,
            "rect",
            {
                "x": _n(left + 1),
                "y": _n(bottom - height),
                "width": _n(right - left - 2),
                "height": _n(height),
                "class": "bar",
                "data-low": str(group.low),
                "data-high": str(group.high),
                "data-members": str(group.members),
            },
        )
        if group.members:
            _text(bars, (left + right) / 2, bottom - height - 3, str(group.members), "value",
                  "middle")  # fmt: skip
        if index == 0 or len(histogram) <= 6 or index % 2 == 0:
            _text(axes, left, bottom + 14, amount(group.low), "tick", "middle")
    _text(axes, x_of(high), bottom + 14, amount(high), "tick", "middle")
    marks = ET.SubElement(svg, "g", {"class": "marks"})
    if low <= 0 <= high:
        ET.SubElement(
            marks, "line", {"x1": _n(x_of(Decimal(0))), "x2": _n(x_of(Decimal(0))),
                            "y1": _n(_H_TOP - 6), "y2": _n(bottom), "class": "zero"},
        )  # fmt: skip
    if median_change is not None:
        x = x_of(median_change)
        ET.SubElement(
            marks,
            "line",
            {"x1": _n(x), "x2": _n(x), "y1": _n(_H_TOP - 10), "y2": _n(bottom), "class": "median",
             "data-median": str(median_change)},
        )  # fmt: skip
        _text(marks, x, HIST_HEIGHT - 6, f"▲ {amount(median_change)}", "tick median-label",
              "middle")  # fmt: skip
    return _markup(svg)


# -- the help network -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    member_id: int
    name: str
    x: float
    y: float


NET_WIDTH, NET_HEIGHT = 560, 400
_RADIUS = 140
_NODE = 7.0


def layout(edges: Sequence[NetworkEdge]) -> list[Node]:
    """Every member in the edges on one circle, in the order of their names (then ids), the
    first at the top, going clockwise: the same edges always give the same picture."""
    names: dict[int, str] = {}
    for edge in edges:
        names[edge.giver_id] = edge.giver or f"#{edge.giver_id}"
        names[edge.receiver_id] = edge.receiver or f"#{edge.receiver_id}"
    ordered = sorted(names.items(), key=lambda item: (item[1].casefold(), item[0]))
    nodes = []
    for index, (member_id, name) in enumerate(ordered):
        angle = 2 * math.pi * index / len(ordered) - math.pi / 2
        nodes.append(
            Node(
                member_id,
                name,
                NET_WIDTH / 2 + _RADIUS * math.cos(angle),
                NET_HEIGHT / 2 + _RADIUS * math.sin(angle),
            )
        )
    return nodes


def _short(name: str, limit: int = 16) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def network_svg(edges: Sequence[NetworkEdge], labels: Labels) -> Markup:
    """Members as dots on a circle, an arrow from giver to receiver for each pair, as thick as
    their help records are many and labelled with their number. Arrows bend to their right, so
    help both ways between two members shows as two arrows."""
    svg = _svg(labels, NET_WIDTH, NET_HEIGHT)
    nodes = {node.member_id: node for node in layout(edges)}
    marker = f"{labels.chart_id}-arrow"
    defs = ET.SubElement(svg, "defs")
    arrow = ET.SubElement(
        defs,
        "marker",
        {"id": marker, "viewBox": "0 0 10 10", "refX": "9", "refY": "5", "markerWidth": "4",
         "markerHeight": "4", "orient": "auto"},
    )  # fmt: skip
    ET.SubElement(arrow, "path", {"d": "M0,0 L10,5 L0,10 z", "class": "arrow"})
    most = max((edge.records for edge in edges), default=1)
    lines = ET.SubElement(svg, "g", {"class": "edges"})
    for edge in edges:
        start, end = nodes[edge.giver_id], nodes[edge.receiver_id]
        dx, dy = end.x - start.x, end.y - start.y
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        bend = 0.12 * length
        control = ((start.x + end.x) / 2 - uy * bend, (start.y + end.y) / 2 + ux * bend)
        gap = _NODE + 3
        x1, y1 = start.x + ux * gap, start.y + uy * gap
        x2, y2 = end.x - ux * gap, end.y - uy * gap
        width = 1.5 + (3 * (edge.records - 1) / (most - 1) if most > 1 else 0)
        ET.SubElement(
            lines,
            "path",
            {
                "d": f"M{_n(x1)},{_n(y1)} Q{_n(control[0])},{_n(control[1])} {_n(x2)},{_n(y2)}",
                "class": "edge",
                "stroke-width": _n(width),
                "marker-end": f"url(#{marker})",
                "data-giver": str(edge.giver_id),
                "data-receiver": str(edge.receiver_id),
                "data-records": str(edge.records),
            },
        )
        # the curve's midpoint: halfway between the chord's middle and the control point
        mid_x = (x1 + x2) / 4 + control[0] / 2
        mid_y = (y1 + y2) / 4 + control[1] / 2
        _text(lines, mid_x, mid_y + 4, str(edge.records), "value edge-count", "middle")
    dots = ET.SubElement(svg, "g", {"class": "nodes"})
    for node in nodes.values():
        group = ET.SubElement(dots, "g", {"class": "node", "data-member": str(node.member_id)})
        ET.SubElement(group, "title").text = node.name
        ET.SubElement(
            group, "circle", {"cx": _n(node.x), "cy": _n(node.y), "r": _n(_NODE), "class": "dot"}
        )
        outward_x = (node.x - NET_WIDTH / 2) / _RADIUS
        outward_y = (node.y - NET_HEIGHT / 2) / _RADIUS
        anchor = "start" if outward_x > 0.3 else "end" if outward_x < -0.3 else "middle"
        _text(
            group,
            node.x + outward_x * 12,
            node.y + outward_y * 14 + 4,
            _short(node.name),
            "name",
            anchor,
        )
    return _markup(svg)
