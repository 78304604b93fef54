"""The business and household figures have two paths: PostgreSQL sums up each member's ends in
SQL (`weekly_ends`, `journal_ends`), SQLite hands the check-ins at the ends to Python. Both must give the same
figures, to the last digit and member by member (the distribution), on the same data.

A random program (seeded, so every run is the same) with what makes the ends hard: gaps, several
check-ins in a week at either end (the index walk cannot settle those and reads the member
whole), skipped and corrected answers, amounts with and without decimals, costs above sales, a
change of currency, members who move groups, and members with too few weeks; monthly journals, none to several, some in another
currency or with a skipped amount. Its figures are also computed independently from the plan
(`expected_business`, `expected_household`), on every backend.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from bot.reports.evidence import (
    MEASURES,
    _business_here,
    _business_in_sql,
    _change_method,
    _household_here,
    _household_in_sql,
    build_report,
)
from storage import Database
from storage.repositories.evidence import Scope

from .plan import NOW, SKIP, WEEK0, Amount, Checkin, Plan, journal, program, seed
from .test_evidence import _figures, expected_business, expected_household

pytestmark = pytest.mark.asyncio


def _amount(rng: random.Random) -> Amount:
    roll = rng.random()
    if roll < 0.08:
        return SKIP
    value = (
        f"{rng.randint(0, 5000)}"
        if roll < 0.6
        else f"{rng.randint(0, 5000)}.{rng.randint(0, 99):02d}"
    )
    if rng.random() < 0.05:
        return [str(rng.randint(1, 99)), value]  # corrected: the last counts
    return value


def random_program(seed_value: int, members: int = 24) -> Plan:
    rng = random.Random(seed_value)
    plan = Plan()
    joined = WEEK0 - timedelta(days=7)
    for index in range(members):
        who = f"member{index:02d}"
        group = rng.choice(("Kibera", "Mombasa"))
        plan.joins.append((who, group, joined))
        moved_at = rng.randint(3, 10) if rng.random() < 0.2 else None
        if moved_at is not None:
            group_after = "Mombasa" if group == "Kibera" else "Kibera"
            plan.joins.append((who, group_after, WEEK0 + timedelta(weeks=moved_at)))
        currency = "USD" if rng.random() < 0.2 else "KES"
        switch_at = rng.randint(4, 10) if rng.random() < 0.15 else None
        weeks = 14 if rng.random() < 0.7 else rng.randint(2, 9)
        for week in range(weeks):
            if rng.random() < 0.15:
                continue  # a gap
            in_week = 1 if rng.random() < 0.75 else rng.randint(2, 4)
            for turn in range(in_week):
                # Monday to Friday, daytime: the same week in UTC and in Nairobi
                ended = WEEK0 + timedelta(
                    weeks=week, days=rng.randint(0, 4), hours=rng.randint(6, 18), minutes=turn
                )
                if moved_at is not None and week >= moved_at:
                    current = "Mombasa" if group == "Kibera" else "Kibera"
                else:
                    current = group
                plan.checkins.append(
                    Checkin(
                        who,
                        ended,
                        current,
                        currency if switch_at is None or week < switch_at else "USD",
                        {
                            "sales": _amount(rng),
                            "costs": None if rng.random() < 0.1 else _amount(rng),
                            "saved": _amount(rng),
                        },
                        status="completed" if rng.random() < 0.93 else "expired",
                    )
                )
        for month in range(rng.randint(0, 3)):  # monthly journals: none, one or several
            journal_currency = "USD" if rng.random() < 0.2 else currency
            plan.checkins.append(
                journal(
                    who,
                    month,
                    plan.joins[-1][1]
                    if moved_at is not None and 30 * month + 1 >= 7 * moved_at
                    else group,
                    _journal_amount(rng),
                    _journal_amount(rng),
                    currency=journal_currency,
                )
            )
    plan.checkins.sort(key=lambda c: c.ended)
    return plan


def _journal_amount(rng: random.Random) -> str:
    return SKIP if rng.random() < 0.1 else f"{rng.randint(0, 20000)}.{rng.randint(0, 9)}"


async def _both_paths(database: Database, group_id: int | None) -> tuple[tuple, tuple | None]:
    """Business and household figures from the Python path, and from the SQL path where the
    backend has one (None elsewhere)."""
    async with database.read() as uow:
        scope = Scope(group_id, None, NOW)
        await uow.evidence.prepare()
        members = await uow.evidence.members(scope)
        here = (
            (await _business_here(uow, scope, members)).figures(MEASURES, _change_method),
            await _household_here(uow, scope),
        )
        in_sql = None
        if uow.evidence.ends_in_sql:
            in_sql = (
                (await _business_in_sql(uow, scope, members)).figures(MEASURES, _change_method),
                await _household_in_sql(uow, scope),
            )
    return here, in_sql


@pytest.mark.parametrize("seed_value", [7, 2026])
async def test_both_paths_give_the_figures_computed_from_a_random_program(
    database: Database, seed_value: int
) -> None:
    plan = random_program(seed_value)
    async with database.transaction() as uow:
        groups, _ = await seed(uow, plan)
    for group in (None, "Kibera", "Mombasa"):
        group_id = groups[group] if group else None
        here, in_sql = await _both_paths(database, group_id)
        assert _figures(here[0]) == expected_business(plan, group, None), group
        assert _figures(here[1]) == expected_household(plan, group, None), group
        if in_sql is not None:  # PostgreSQL: the SQL path, member by member
            assert in_sql == here, group
    report = await build_report(database, now=NOW)
    assert _figures(report.business) == expected_business(plan, None, None)
    assert _figures(report.household) == expected_household(plan, None, None)


async def test_the_random_program_exercises_the_hard_cases() -> None:
    """Not vacuous: members are counted, too few and mixed, in both currencies, and some
    members' ends have several check-ins in a week."""
    plan = random_program(7)
    figures = expected_business(plan, None, None)
    assert {currency for currency, _ in figures} == {"KES", "USD"}
    assert sum(counted for counted, *_ in figures.values()) > 20
    assert sum(too_few for _, too_few, *_ in figures.values()) > 10
    assert sum(mixed for _, _, mixed, *_ in figures.values()) > 0
    weeks_with_several = {
        (c.member, c.ended.isocalendar()[:2])
        for c in plan.checkins
        if sum(
            1
            for other in plan.checkins
            if other.member == c.member
            and other.ended.isocalendar()[:2] == c.ended.isocalendar()[:2]
        )
        > 1
    }
    assert len(weeks_with_several) > 10
    household = expected_household(plan, None, None)
    assert sum(counted for counted, *_ in household.values()) > 5
    assert sum(too_few for _, too_few, *_ in household.values()) > 5
    assert sum(mixed for _, _, mixed, *_ in household.values()) > 0


async def test_both_paths_agree_on_the_plan_of_the_report_tests(database: Database) -> None:
    async with database.transaction() as uow:
        groups, _ = await seed(uow, program())
    for group_id in (None, groups["Kibera"], groups["Mombasa"]):
        here, in_sql = await _both_paths(database, group_id)
        if in_sql is not None:
            assert in_sql == here
        assert all(here)  # the plan has business and household figures in every scope


async def test_the_sql_path_refuses_ends_it_cannot_pick_the_middle_of(database: Database) -> None:
    """The middle values are picked with sums, least and greatest, which hold for at most four
    values: more must fail loudly rather than give no median."""
    async with database.read() as uow:
        with pytest.raises(ValueError, match="at most 4"):
            await uow.evidence.weekly_ends(Scope(None, None, NOW), [1], 5)
