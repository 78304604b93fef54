"""The clock with an injected time: invitations at the group's hour, reminders and expiry,
quiet hours, catch-up without flooding, two clocks at once, a crash mid-sweep, DST."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.calendar.cron import ScheduleError, check_schedule, next_fire
from bot.i18n.catalogs import load_catalogs
from bot.pipeline.coordination.factory import coordination
from bot.pipeline.dispatch import EventHandler
from bot.pipeline.worker import Worker
from bot.schedule.sweeper import Sweeper, SweepPolicy, run_sweeper
from bot.turns.checkins import load_checkins
from bot.turns.service import ConversationService, Inbound
from conversations.inputs import Reply
from storage import Database
from storage.records import GroupRecord, MessageRecord

CHECKINS = load_checkins(load_catalogs())
NAIROBI = "Africa/Nairobi"
# Sunday 29 November 2026, noon in Nairobi (UTC+3)
SUNDAY_NOON = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
MONDAY_9 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # 09:00 in Nairobi


class Time:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, moment: datetime) -> None:
        self.now = moment


@dataclass
class World:
    database: Database
    time: Time
    clock: Sweeper
    worker: Worker
    service: ConversationService
    group: GroupRecord
    members: list[int]

    async def tick(self, moment: datetime, clock: Sweeper | None = None) -> int:
        """Sweep at `moment` and let the worker handle what it stored; returns timers made."""
        self.time.at(moment)
        report = await (clock or self.clock).sweep()
        timers = len(report.timers) if report else 0
        await self.work()
        return timers

    async def work(self) -> None:
        async with self.database.transaction() as uow:
            pending = await uow.inbox.pending_addresses(self.time.now + timedelta(days=365))
        for entry_id in pending:
            await self.worker.handle_entry(entry_id)

    async def said_to(self, member_id: int, nudge: str | None = None) -> list[MessageRecord]:
        """What the bot said to the member; weekly highlights only when asked for."""
        async with self.database.transaction() as uow:
            log = await uow.messages.for_member(member_id, limit=500)
        return [
            m
            for m in log
            if m.direction == "out"
            and (((m.payload or {}).get("nudge") == "highlight") == (nudge == "highlight"))
        ]

    async def write(self, member: int, text: str) -> None:
        async with self.database.transaction() as uow:
            [address] = [a for a in await uow.members.addresses(member) if a.channel == "telegram"]
        async with self.database.transaction() as uow:
            inbound = Inbound("telegram", address.value, Reply(text=text))
            await self.service.message_turn(uow, inbound, inbound.reply, self.time.now)


@pytest.fixture
async def world(database: Database) -> AsyncIterator[World]:
    time = Time(SUNDAY_NOON)
    coordinated = await coordination(None)
    service = ConversationService(database, CHECKINS, "KE", clock=time)
    worker = Worker(database, coordinated, EventHandler(service), {}, time)
    clock = Sweeper(database, CHECKINS, coordinated.queue, time, SweepPolicy(), holder="clock-a")
    members = []
    async with database.transaction() as uow:
        group = await uow.groups.create("Kibera Market Peers", NAIROBI, "en", "KES", at=time.now)
        for i, name in enumerate(["Amina", "Grace", "Joseph"]):
            member = await uow.members.create("telegram", str(5000 + i), "en", "KES", at=time.now)
            await uow.members.update(
                member.id, at=time.now, name=name, consent=True, onboarded_at=time.now
            )
            await uow.members.join_group(member.id, group.id, time.now)
            await uow.members.touch_inbound("telegram", str(5000 + i), time.now)
            members.append(member.id)
    try:
        yield World(database, time, clock, worker, service, group, members)
    finally:
        await coordinated.close()


async def test_invitations_go_out_at_the_groups_hour_once(world: World) -> None:
    assert await world.tick(SUNDAY_NOON) == 0  # the clock learns the group's next moment
    assert await world.tick(MONDAY_9 - timedelta(minutes=1)) == 0
    assert await world.tick(MONDAY_9 + timedelta(seconds=20)) == 3
    said = await world.said_to(world.members[0])
    assert [m.text for m in said] == ["How much did you sell this week, Amina?"]
    assert said[0].payload and said[0].payload["nudge"] == "checkin_invitation"
    # sweeping again, or late, sends nothing more
    assert await world.tick(MONDAY_9 + timedelta(minutes=1)) == 0
    assert len(await world.said_to(world.members[0])) == 1


async def test_reminders_then_expiry_and_never_more_than_the_definition_says(world: World) -> None:
    await world.tick(SUNDAY_NOON)
    await world.tick(MONDAY_9)
    amina = world.members[0]
    await world.tick(MONDAY_9 + timedelta(hours=23))
    assert len(await world.said_to(amina)) == 1
    await world.tick(MONDAY_9 + timedelta(hours=24, minutes=1))
    texts = [m.text for m in await world.said_to(amina)]
    assert texts[-2:] == [
        "A friendly reminder: your weekly check-in is waiting for you.",
        "How much did you sell this week, Amina?",
    ]
    await world.tick(MONDAY_9 + timedelta(hours=30))
    assert len(await world.said_to(amina)) == 3
    await world.tick(MONDAY_9 + timedelta(hours=72, minutes=1))
    assert len(await world.said_to(amina)) == 5
    await world.tick(MONDAY_9 + timedelta(days=5))
    assert len(await world.said_to(amina)) == 5  # two reminders, no more
    await world.tick(MONDAY_9 + timedelta(days=6, minutes=1))
    texts = [m.text for m in await world.said_to(amina)]
    assert texts[-1] == "Your weekly check-in has closed. Thank you for what you shared!"
    async with world.database.transaction() as uow:
        assert await uow.sessions.active_for(amina) is None


async def test_a_member_who_answers_gets_no_reminder_for_that_check_in(world: World) -> None:
    await world.tick(SUNDAY_NOON)
    await world.tick(MONDAY_9)
    amina = world.members[0]
    for text in ["100", "50", "10", "no", "no", "rain", "more stock", "skip"]:
        await world.write(amina, text)
    before = len(await world.said_to(amina))
    await world.tick(MONDAY_9 + timedelta(days=4))
    assert len(await world.said_to(amina)) == before


async def test_reminders_wait_for_the_end_of_quiet_hours(world: World) -> None:
    amina = world.members[0]
    # Amina starts a check-in herself at 23:00 on Monday; its 24 h reminder falls in quiet hours
    world.time.at(datetime(2026, 11, 30, 20, 0, tzinfo=UTC))
    await world.write(amina, "checkin")
    tuesday_2300 = datetime(2026, 12, 1, 20, 0, 30, tzinfo=UTC)
    await world.tick(tuesday_2300)
    assert len(await world.said_to(amina)) == 1  # deferred, not sent at night
    await world.tick(tuesday_2300 + timedelta(hours=3))
    assert len(await world.said_to(amina)) == 1
    await world.tick(datetime(2026, 12, 2, 4, 0, 30, tzinfo=UTC))  # Wednesday 07:00:30 local
    texts = [m.text for m in await world.said_to(amina)]
    assert texts[1] == "A friendly reminder: your weekly check-in is waiting for you."


async def test_missed_sweeps_catch_up_without_flooding(world: World) -> None:
    await world.tick(SUNDAY_NOON)
    await world.tick(MONDAY_9)
    amina = world.members[0]
    # down from Monday 09:00 to Saturday 03:00 local: both reminders are long past
    saturday_3am = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
    for _ in range(3):
        await world.tick(saturday_3am)
    assert len(await world.said_to(amina)) == 1
    async with world.database.transaction() as uow:
        session = await uow.sessions.active_for(amina)
    assert session is not None and session.state["reminders_sent"] == 2
    # an invitation more than 12 hours late is dropped too
    next_monday_9 = MONDAY_9 + timedelta(days=7)
    await world.tick(next_monday_9 + timedelta(hours=13))
    assert len(await world.said_to(amina)) == 1


async def test_two_clocks_at_once_send_nothing_twice(world: World) -> None:
    other = Sweeper(world.database, CHECKINS, world.clock.queue, world.time, holder="clock-b")
    await world.tick(SUNDAY_NOON)
    world.time.at(MONDAY_9)
    reports = await asyncio.gather(world.clock.sweep(), other.sweep())
    assert sum(report is not None for report in reports) == 1
    await world.work()
    assert [len(await world.said_to(m)) for m in world.members] == [1, 1, 1]
    # the first clock dies; once its lease runs out the second takes over
    assert await other.sweep() is None
    world.time.at(MONDAY_9 + timedelta(seconds=91))
    assert await other.sweep() is not None


async def test_a_clock_killed_mid_sweep_leaves_nothing_half_done(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.tick(SUNDAY_NOON)
    from storage.repositories.inbox import InboxRepository

    async def dying(self: InboxRepository, entries: object, at: object) -> list[int]:
        raise RuntimeError("killed while inserting the invitations")

    monkeypatch.setattr(InboxRepository, "add_many", dying)
    world.time.at(MONDAY_9)
    with pytest.raises(RuntimeError):
        await world.clock.sweep()
    monkeypatch.undo()
    restarted = Sweeper(world.database, CHECKINS, world.clock.queue, world.time, holder="clock-c")
    assert await world.tick(MONDAY_9 + timedelta(seconds=91), clock=restarted) == 3
    assert [len(await world.said_to(m)) for m in world.members] == [1, 1, 1]


async def test_a_stop_during_a_sweep_lets_it_finish_then_releases_the_lease(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop (Ctrl-C, SIGTERM) that comes while a sweep runs lets that sweep finish rather
    than cancelling it inside a transaction (which on SQLite left the database locked, and the
    release of the lease waited 5 s for it); then the lease is released at once, so another
    clock sweeps without waiting for it to run out."""
    await world.tick(SUNDAY_NOON)  # the group seen: its invitations go out at 09:00 Monday
    world.time.at(MONDAY_9)
    under_way = asyncio.Event()
    finished: list[int] = []
    invitations = Sweeper._invitations

    async def slow_invitations(self: Sweeper, now: datetime, report: object) -> None:
        under_way.set()
        await asyncio.sleep(0.5)
        await invitations(self, now, report)  # type: ignore[arg-type]
        finished.append(len(report.timers))  # type: ignore[attr-defined]

    monkeypatch.setattr(Sweeper, "_invitations", slow_invitations)
    stop = asyncio.Event()
    running = asyncio.create_task(run_sweeper(world.clock, stop))
    await asyncio.wait_for(under_way.wait(), 30)
    stop.set()
    await asyncio.wait_for(running, 30)
    assert finished == [3], "the sweep under way was cut off"
    world.time.at(MONDAY_9 + timedelta(seconds=1))  # a held lease would run 90 s more
    other = Sweeper(world.database, CHECKINS, world.clock.queue, world.time, holder="clock-b")
    assert await other.sweep() is not None, "the lease was not released"


async def test_a_member_who_opted_out_after_scheduling_gets_nothing(world: World) -> None:
    await world.tick(SUNDAY_NOON)
    world.time.at(MONDAY_9)
    report = await world.clock.sweep()
    assert report is not None and report.invitations == 3
    await world.write(world.members[1], "stop")
    await world.work()
    texts = [m.text for m in await world.said_to(world.members[1])]
    assert texts == [
        "You will not get any more messages from us. What you shared stays safe. Send START if "
        "you want to come back."
    ]


async def test_an_imported_members_first_contact_is_the_consent_question_once(
    world: World,
) -> None:
    async with world.database.transaction() as uow:
        imported = await uow.members.create("sms", "+254711000099", "en", None, at=world.time.now)
        await uow.members.join_group(imported.id, world.group.id, world.time.now)
    await world.tick(SUNDAY_NOON)
    assert await world.tick(MONDAY_9 + timedelta(seconds=20)) == 4
    said = await world.said_to(imported.id)
    assert [m.text for m in said] == [
        "I keep what you tell me about your business and about the help you give and get. Your "
        "group coordinator can read it; your group only sees what you agree to share. Send STOP "
        "at any time to stop. Is that OK with you?\n1) Yes\n2) No"
    ]
    assert said[0].payload and said[0].payload["nudge"] == "consent_request"
    await world.tick(MONDAY_9 + timedelta(days=7, seconds=20))
    assert len(await world.said_to(imported.id)) == 1  # asked once, never invited


async def test_no_reminder_or_expiry_notice_without_recorded_consent(world: World) -> None:
    await world.tick(SUNDAY_NOON)
    await world.tick(MONDAY_9)
    amina = world.members[0]
    async with world.database.transaction() as uow:
        await uow.members.update(amina, at=world.time.now, consent=False)
    await world.tick(MONDAY_9 + timedelta(hours=24, minutes=1))
    await world.tick(MONDAY_9 + timedelta(days=6, minutes=1))
    assert len(await world.said_to(amina)) == 1  # the invitation, before consent was withdrawn
    async with world.database.transaction() as uow:
        assert await uow.sessions.active_for(amina) is None


def test_schedules_follow_the_groups_clock_across_daylight_saving() -> None:
    # New York leaves daylight saving on 1 November 2026: 09:00 is 13:00 UTC before, 14:00 after
    before = next_fire("0 9 * * SUN", "America/New_York", datetime(2026, 10, 24, tzinfo=UTC))
    after = next_fire("0 9 * * SUN", "America/New_York", datetime(2026, 10, 31, tzinfo=UTC))
    assert before == datetime(2026, 10, 25, 13, 0, tzinfo=UTC)
    assert after == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "zone", "message"),
    [
        ("0 25 * * MON", NAIROBI, "not a valid schedule"),
        ("every monday", NAIROBI, "five fields"),
        ("0 9 * * MON", "Mars/Olympus_Mons", "not a time zone"),
        ("30 22 * * MON", NAIROBI, "inside the quiet hours"),
    ],
)
def test_impossible_schedules_are_refused_clearly(expression: str, zone: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        check_schedule(expression, zone, "21:00", "07:00")


def test_a_schedule_is_checked_over_a_whole_week_of_firings() -> None:
    """From 09:00 in Nairobi the next 20 firings of every five minutes are all daytime; the
    week's 2,016 include the night, and the refusal names the first one in quiet hours."""
    morning = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 09:00 in Nairobi, a Monday
    with pytest.raises(ScheduleError, match="fires on Mon at 21:00, inside the quiet hours"):
        check_schedule("*/5 * * * *", NAIROBI, "21:00", "07:00", now=morning)
    with pytest.raises(ScheduleError, match="fires on Sat at 06:30"):
        check_schedule("30 6,12 * * SAT", NAIROBI, "21:00", "07:00", now=morning)
    check_schedule("*/5 7-20 * * *", NAIROBI, "21:00", "07:00", now=morning)
    check_schedule("0 9 * * MON", NAIROBI, "21:00", "07:00", now=morning)


async def test_the_weekly_highlight_goes_out_once_at_the_groups_hour(world: World) -> None:
    await world.tick(SUNDAY_NOON)
    sunday_6pm = datetime(2026, 11, 29, 15, 0, 30, tzinfo=UTC)  # 18:00:30 in Nairobi
    await world.tick(sunday_6pm)
    [highlight] = await world.said_to(world.members[0], nudge="highlight")
    assert highlight.text.startswith("This week in Kibera Market Peers")
    await world.tick(sunday_6pm + timedelta(minutes=5))
    assert len(await world.said_to(world.members[0], nudge="highlight")) == 1


async def test_the_clock_redacts_words_past_the_retention_period(world: World) -> None:
    amina = world.members[0]
    world.time.at(SUNDAY_NOON)
    await world.write(amina, "checkin")
    await world.write(amina, "ksh 2,500")
    clock = Sweeper(
        world.database,
        CHECKINS,
        world.clock.queue,
        world.time,
        SweepPolicy(retention=timedelta(days=730)),
        holder="clock-a",
    )
    await world.tick(SUNDAY_NOON + timedelta(days=729), clock=clock)
    async with world.database.transaction() as uow:
        log = await uow.messages.for_member(amina, limit=50)
        [sales] = [a for a in await uow.exports.answer_rows() if a.step_id == "sales"]
    assert "ksh 2,500" in [m.text for m in log] and sales.raw_text == "ksh 2,500"

    world.time.at(SUNDAY_NOON + timedelta(days=731))
    report = await clock.sweep()
    assert report is not None and report.redacted >= 4
    async with world.database.transaction() as uow:
        log = await uow.messages.for_member(amina, limit=50)
        [sales] = [a for a in await uow.exports.answer_rows() if a.step_id == "sales"]
    assert {m.text for m in log} == {""}  # every body redacted; the rows (and statuses) stay
    assert sales.raw_text is None and sales.value == "2500.00" and sales.currency == "KES"
