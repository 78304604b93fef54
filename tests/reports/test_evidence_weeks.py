"""Evidence weeks run Monday to Sunday on each group's calendar, not in UTC: a member in Manila
who answers at 07:00 on a Monday (23:00 on Sunday in UTC) answered in that Monday's week, and
a member in Bogotá who answers at 21:00 on a Sunday (02:00 on Monday in UTC) in that Sunday's.
The figures expected here are computed from local dates with `zoneinfo`, on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.reports.evidence import EvidenceReport, build_report
from storage import Database, UnitOfWork
from storage.repositories.answers import NewAnswer
from storage.repositories.messages import message_values

pytestmark = pytest.mark.asyncio

MANILA = ZoneInfo("Asia/Manila")
BOGOTA = ZoneInfo("America/Bogota")
MONDAY = date(2026, 8, 3)  # 2026-W32
NOW = datetime(2026, 11, 2, tzinfo=UTC)


def local(zone: ZoneInfo, day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone).astimezone(UTC)


def iso(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


async def _checkin(uow: UnitOfWork, member: int, group: int, ended: datetime, sales: str) -> None:
    session = await uow.sessions.start(
        member, "weekly_checkin", 1, None, {}, ended - timedelta(minutes=5)
    )
    await uow.answers.add(
        NewAnswer(
            session_id=session.id,
            member_id=member,
            group_id=group,
            checkin_id="weekly_checkin",
            step_id="sales",
            answer_type="money",
            at=ended - timedelta(minutes=1),
            value_number=Decimal(sales),
            currency="PHP",
        )
    )
    await uow.sessions.save(session.id, None, "completed", {}, ended, "completed")
    await uow.checkin_results.record([session.id])


async def _seed(database: Database) -> dict[str, int]:
    at = datetime(2026, 7, 1, tzinfo=UTC)
    async with database.transaction() as uow:
        manila = await uow.groups.create("Manila", "Asia/Manila", "fil", "PHP", at=at)
        bogota = await uow.groups.create("Bogota", "America/Bogota", "es", "COP", at=at)
        ids = {}
        for who, group in (("maria", manila.id), ("juan", bogota.id), ("ana", None)):
            member = await uow.members.create("whatsapp", f"+6391700000{len(ids)}", at=at)
            if group is not None:
                await uow.members.join_group(member.id, group, at)
            ids[who] = member.id
        # Maria, in Manila, every Monday at 10:00 local (02:00 UTC, Monday), and once more in
        # the first week at 07:00 local (23:00 UTC, the Sunday before): the later one counts
        await _checkin(uow, ids["maria"], manila.id, local(MANILA, MONDAY, 7), "99999")
        for week in range(8):
            monday = MONDAY + timedelta(weeks=week)
            await _checkin(uow, ids["maria"], manila.id, local(MANILA, monday, 10), str(100 + week))
        # Juan, in Bogotá, on the Sunday before at 21:00 local (02:00 UTC, Monday)
        await _checkin(
            uow, ids["juan"], bogota.id, local(BOGOTA, MONDAY - timedelta(days=1), 21), "50"
        )
        await uow.help.add(
            giver_id=ids["maria"],
            receiver_id=ids["maria"],
            group_id=manila.id,
            kind="advice",
            session_id=None,
            reported_by_id=ids["maria"],
            at=local(MANILA, MONDAY, 7),
        )
        nudges = [
            (ids["maria"], local(MANILA, MONDAY, 7)),
            (ids["juan"], local(BOGOTA, MONDAY - timedelta(days=1), 21)),
            # Ana belongs to no group: her week is the UTC one (Sunday 23:00 UTC)
            (ids["ana"], datetime(2026, 8, 2, 23, tzinfo=UTC)),
        ]
        await uow.messages.log_many(
            [
                message_values(
                    member,
                    "whatsapp",
                    "+639170000000",
                    "out",
                    "Time for your check-in",
                    {"nudge": "checkin_invitation", "template": {}, "locale": "en"},
                    "sent",
                    None,
                    moment,
                )
                for member, moment in nudges
            ]
        )
    return {"manila": manila.id, "bogota": bogota.id}


async def _report(database: Database, group_id: int | None = None) -> EvidenceReport:
    return await build_report(database, group_id=group_id, now=NOW)


async def test_weeks_are_counted_on_each_groups_calendar(database: Database) -> None:
    await _seed(database)
    report = await _report(database)
    sunday = MONDAY - timedelta(days=1)
    weeks = {w.week: (w.invited, w.completed) for w in report.participation.weeks}
    expected = {iso(MONDAY): (1, 1)}  # Maria: Monday's week in Manila, once
    expected[iso(sunday)] = (2, 1)  # Juan, on his Sunday; Ana, in UTC
    for week in range(1, 8):
        expected[iso(MONDAY + timedelta(weeks=week))] = (0, 1)
    assert weeks == expected
    assert [(h.week, h.records) for h in report.mutuality.weeks] == [(iso(MONDAY), 1)]


async def test_a_members_check_ins_are_one_per_local_week(database: Database) -> None:
    groups = await _seed(database)
    report = await _report(database, groups["manila"])
    sales = next(c for c in report.business if c.measure == "sales")
    # eight local weeks, the Monday 07:00 one replaced by the 10:00 one: no 99999 at the start
    assert (sales.members, sales.too_few) == (1, 0)
    assert sales.baseline_median == Decimal("101.5")
    assert sales.now_median == Decimal("105.5")
    assert [w.week for w in report.participation.weeks] == [
        iso(MONDAY + timedelta(weeks=week)) for week in range(8)
    ]


async def test_a_group_that_changes_its_time_zone_has_its_check_ins_on_the_new_calendar(
    database: Database,
) -> None:
    """The stored weeks of a group's check-ins follow the group to its new time zone, in the
    same transaction: the report after the change counts as if the group had always been
    there, and the other groups' weeks stay where they were."""
    groups = await _seed(database)
    async with database.transaction() as uow:
        manila = await uow.groups.get(groups["manila"])
        assert manila is not None
        await uow.groups.set_schedule(
            manila.id,
            timezone="America/Bogota",
            checkin_schedule=manila.checkin_schedule,
            highlight_schedule=manila.highlight_schedule,
            quiet_start=manila.quiet_start,
            quiet_end=manila.quiet_end,
        )
    report = await _report(database, groups["manila"])
    # Maria's Mondays at 07:00 and 10:00 in Manila are Sunday evenings in Bogotá (18:00 and
    # 21:00): each week moves to the week before, the first still one check-in for Maria
    sunday = MONDAY - timedelta(days=1)
    assert [(w.week, w.completed) for w in report.participation.weeks] == [
        (iso(sunday + timedelta(weeks=week)), 1) for week in range(8)
    ]
    sales = next(c for c in report.business if c.measure == "sales")
    assert sales.baseline_median == Decimal("101.5")
    # Juan's group kept its calendar: his Sunday 21:00 stays in the Sunday's week
    bogota = await _report(database, groups["bogota"])
    assert [w.completed for w in bogota.participation.weeks if w.week == iso(sunday)] == [1]
    # the whole program: Maria's invitation (Monday 07:00 in Manila, Sunday 18:00 in Bogotá)
    # moved to the Sunday's week, beside Juan's and Ana's
    program = await _report(database)
    invited = {w.week: w.invited for w in program.participation.weeks if w.invited}
    assert invited == {iso(sunday): 3}
