"""The evidence report's figures equal those computed here, in plain Python, from the plan the
database was seeded with, on every backend: for a group, for the whole program and from a date.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from statistics import median

import pytest

from bot.reports.evidence import EvidenceReport, build_report
from storage import Database

from .plan import NOW, SKIP, Amount, Checkin, Plan, program, seed

pytestmark = pytest.mark.asyncio


def _week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def _value(amount: Amount) -> Decimal | None:
    if isinstance(amount, list):
        amount = amount[-1]
    if amount is None or amount == SKIP:
        return None
    return Decimal(amount)


def _in_scope(plan: Plan, group: str | None, since: datetime | None, checkin_id: str) -> list:
    return [
        c
        for c in plan.checkins
        if c.checkin_id == checkin_id
        and c.status == "completed"
        and (group is None or c.group == group)
        and (since is None or c.ended >= since)
    ]


def _tally(tallies: dict, measure: str, first: list, last: list, enough: bool) -> None:
    """A member's values of a measure at each end, as (value, currency), into `tallies`:
    {(currency, measure): [pairs, too_few, mixed]}."""
    if not first and not last:
        return
    currency = (last or first)[-1][1]
    tally = tallies[(currency, measure)]
    if not enough or not first or not last:
        tally[1] += 1
    elif any(c != currency for _, c in first + last):
        tally[2] += 1
    else:
        tally[0].append((median(v for v, _ in first), median(v for v, _ in last)))


def _expected(tallies: dict) -> dict:
    expected = {}
    for key, (pairs, too_few, mixed) in tallies.items():
        changes = [now - base for base, now in pairs]
        expected[key] = (
            len(pairs),
            too_few,
            mixed,
            median([b for b, _ in pairs]) if pairs else None,
            median([n for _, n in pairs]) if pairs else None,
            median(changes) if changes else None,
            sum(1 for change in changes if change > 0),
        )
    return expected


def expected_business(plan: Plan, group: str | None, since: datetime | None) -> dict:
    """{(currency, measure): (members, too_few, mixed, baseline, now, median change, improved)}."""
    weeks: dict[str, dict[str, object]] = defaultdict(dict)
    for c in sorted(_in_scope(plan, group, since, "weekly_checkin"), key=lambda c: c.ended):
        weeks[c.member][_week(c.ended)] = c  # the later one in a week wins
    tallies: dict[tuple[str, str], list] = defaultdict(lambda: [[], 0, 0])
    for member_weeks in weeks.values():
        ordered = [member_weeks[w] for w in sorted(member_weeks)]
        for measure in ("sales", "costs", "profit", "savings"):

            def pick(c: Checkin, measure: str = measure) -> tuple[Decimal, str] | None:
                sales, costs = _value(c.steps["sales"]), _value(c.steps["costs"])
                if measure == "profit":
                    return None if sales is None or costs is None else (sales - costs, c.currency)
                value = _value(c.steps["saved" if measure == "savings" else measure])
                return None if value is None else (value, c.currency)

            first = [p for p in map(pick, ordered[:4]) if p is not None]
            last = [p for p in map(pick, ordered[-4:]) if p is not None]
            _tally(tallies, measure, first, last, len(ordered) >= 8)
    return _expected(tallies)


def expected_household(plan: Plan, group: str | None, since: datetime | None) -> dict:
    journals: dict[str, list[Checkin]] = defaultdict(list)
    for c in sorted(_in_scope(plan, group, since, "monthly_journal"), key=lambda c: c.ended):
        journals[c.member].append(c)
    tallies: dict[tuple[str, str], list] = defaultdict(lambda: [[], 0, 0])
    for series in journals.values():
        for step in ("household_income", "savings_balance"):
            ends = []
            for c in (series[0], series[-1]):
                value = _value(c.steps[step])
                ends.append([] if value is None else [(value, c.currency)])
            _tally(tallies, step, ends[0], ends[1], len(series) >= 2)
    return _expected(tallies)


def expected_weeks(plan: Plan, group: str | None, since: datetime | None) -> dict:
    """{week: (invited, completed, reminders)}."""
    completed: dict[str, set[str]] = defaultdict(set)
    for c in _in_scope(plan, group, since, "weekly_checkin"):
        completed[_week(c.ended)].add(c.member)
    invited: dict[str, set[str]] = defaultdict(set)
    reminders: dict[str, int] = defaultdict(int)
    for n in plan.nudges:
        if n.status == "failed" or (since is not None and n.at < since):
            continue
        if group is not None and _group_at(plan, n.member, n.at) != group:
            continue
        if n.kind == "checkin_invitation":
            invited[_week(n.at)].add(n.member)
        else:
            reminders[_week(n.at)] += 1
    return {
        week: (len(invited[week]), len(completed[week]), reminders[week])
        for week in sorted(set(completed) | set(invited) | set(reminders))
    }


def _group_at(plan: Plan, member: str, at: datetime) -> str | None:
    current = None
    for who, group, joined in sorted(plan.joins, key=lambda j: j[2]):
        if who == member and joined <= at:
            current = group
    return current


def expected_help(plan: Plan, group: str | None) -> tuple[dict, tuple, dict]:
    records = [h for h in plan.help if group is None or h.group == group]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for h in records:
        total = totals[h.kind]
        total[0] += 1
        total[1] += h.reporter == h.giver
        total[2] += h.reporter == h.receiver
    gave = {h.giver for h in records}
    received = {h.receiver for h in records}
    edges: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for h in records:
        edges[(h.group, h.giver.title(), h.receiver.title())].append(h.kind)
    return (
        {kind: tuple(values) for kind, values in totals.items()},
        (len(gave), len(received), len(gave & received), len(gave | received)),
        {key: (len(kinds), tuple(sorted(set(kinds)))) for key, kinds in edges.items()},
    )


def _figures(changes: tuple) -> dict:
    return {
        (c.currency, c.measure): (
            c.members,
            c.too_few,
            c.mixed_currency,
            c.baseline_median,
            c.now_median,
            c.median_change,
            c.improved,
        )
        for c in changes
    }


async def _report(
    database: Database, group_id: int | None, name: str | None, since: date | None
) -> EvidenceReport:
    return await build_report(database, group_id=group_id, group_name=name, since=since, now=NOW)


@pytest.mark.parametrize(
    ("group", "since"),
    [
        ("Kibera", None),
        (None, None),
        ("Mombasa", None),
        ("Kibera", date(2026, 8, 24)),
        (None, date(2026, 8, 31)),
    ],
)
async def test_the_report_equals_the_figures_computed_from_the_plan(
    database: Database, group: str | None, since: date | None
) -> None:
    plan = program()
    async with database.transaction() as uow:
        groups, _ = await seed(uow, plan)
    start = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
    report = await _report(database, groups[group] if group else None, group, since)

    assert _figures(report.business) == expected_business(plan, group, start)
    assert _figures(report.household) == expected_household(plan, group, start)
    weeks = {w.week: (w.invited, w.completed, w.reminders) for w in report.participation.weeks}
    assert weeks == expected_weeks(plan, group, start)
    for w in report.participation.weeks:
        if w.invited:
            assert w.response_rate == (Decimal(w.completed) / w.invited).quantize(Decimal("0.0001"))
        else:
            assert w.response_rate is None
    if since is None:  # the help ledger of the plan has no date filter in expected_help
        totals, reciprocity, edges = expected_help(plan, group)
        mutuality = report.mutuality
        assert {
            t.kind: (t.records, t.reported_by_giver, t.reported_by_receiver)
            for t in mutuality.totals
        } == totals
        assert tuple(c.value for c in mutuality.reciprocity) == reciprocity
        assert {
            (e.group, e.giver, e.receiver): (e.records, e.kinds) for e in mutuality.network
        } == edges
    for change in (*report.business, *report.household):
        assert change.method
        assert len(change.changes) == change.members
        assert list(change.changes) == sorted(change.changes)


async def test_the_plan_exercises_what_it_claims(database: Database) -> None:
    """The figures above are not vacuous: counted members, members with too few check-ins,
    several currencies and a member who left all show up."""
    plan = program()
    async with database.transaction() as uow:
        groups, _ = await seed(uow, plan)
    kibera = await _report(database, groups["Kibera"], "Kibera", None)
    business = _figures(kibera.business)
    assert business[("KES", "sales")][:3] == (2, 1, 0)  # amina, baraka; esther too few
    assert business[("USD", "sales")][:3] == (1, 1, 0)  # diego; chausiku (latest in USD)
    assert business[("KES", "sales")][3:] == (
        # amina: 1150 then 1750 (week 3's later check-in, week 5's corrected answer);
        # baraka: 1900 (week 1 skipped) then 1675: medians of the two
        Decimal("1525"),
        Decimal("1712.5"),
        Decimal("187.5"),
        1,  # amina improved, baraka did not
    )
    assert kibera.participation.count("enrolled") == 5
    assert (kibera.participation.count("current"), kibera.participation.count("left")) == (4, 1)
    program_wide = await _report(database, None, None, None)
    program_business = _figures(program_wide.business)
    assert program_business[("KES", "sales")][:3] == (5, 0, 0)  # esther counts now, hassan too
    assert program_business[("USD", "sales")][:3] == (1, 1, 1)  # grace: KES, then USD
    assert program_wide.participation.count("enrolled") == 8
    assert program_wide.participation.count("left") == 0


async def test_active_members_answered_in_the_last_four_weeks(database: Database) -> None:
    plan = program()
    async with database.transaction() as uow:
        groups, _ = await seed(uow, plan)
    cutoff = NOW - timedelta(days=28)
    for group in ("Kibera", "Mombasa", None):
        expected = {
            c.member
            for c in plan.checkins
            if c.ended - timedelta(minutes=4) >= cutoff and (group is None or c.group == group)
        }
        report = await _report(database, groups[group] if group else None, group, None)
        assert report.participation.count("active") == len(expected), group
