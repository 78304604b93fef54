"""The clock: the one process that turns time into work.

Every sweep (APScheduler 3 runs one every `interval` seconds) it takes the clock's lease in the
database, so only one clock sweeps at a time and a dead clock's lease simply runs out. Then it
asks the database what has come due and turns each into a timer event in the inbox, where the
workers handle it like a member's message, in order with everything else the member sends:

- check-in invitations, at each group's own schedule in its own time zone, to members who
  said yes to the consent question; a member never asked (imported from a roster) gets the
  consent question instead, once;
- reminders and expiries of running check-ins, never inside quiet hours (deferred to their end)
  and never when their moment is long gone (then handled silently: no 3 a.m. messages after an
  outage);
- weekly highlights, and scheduled broadcasts;
- retention: words older than `RETENTION_DAYS` (message bodies, answers as typed) redacted.

Timer events carry unique keys (kind, member or session, period), so a repeated sweep, a
restarted clock or a second clock inserts nothing twice. Highlights and broadcasts are written
to the outbox here, not through the workers, so the clock wakes the sender itself (`outbox`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.calendar.cron import ScheduleError, next_fire
from bot.calendar.quiet_hours import next_allowed
from bot.channels.base import TimerEvent
from bot.pipeline.coordination.contracts import WorkQueue
from bot.pipeline.inbox import dump_event
from bot.turns.checkins import Checkins
from conversations.engine import ONBOARDING
from conversations.nudges import expires_at, next_reminder_at
from conversations.session import from_json
from storage.database import Database
from storage.repositories.schedules import Reach
from storage.vocabulary import Channel

log = logging.getLogger(__name__)

LEASE_NAME = "clock"
RETENTION_EVERY = timedelta(hours=1)
"""How often the clock looks for words past the retention period."""
ACTIVE_GRACE = timedelta(hours=1)
"""No reminder within this long of the member's last answer: they are in the middle of it."""


@dataclass(frozen=True)
class SweepPolicy:
    interval: float = 30.0
    lease: timedelta = timedelta(seconds=90)
    max_lateness: timedelta = timedelta(hours=12)
    batch: int = 1000
    retention: timedelta | None = None
    """Message bodies and raw answer texts older than this are redacted (None: kept)."""


@dataclass
class SweepReport:
    invitations: int = 0
    reminders: int = 0
    skipped: int = 0
    expiries: int = 0
    deferred: int = 0
    highlights: int = 0
    broadcasts: int = 0
    redacted: int = 0
    timers: list[int] = field(default_factory=list)
    more: bool = False
    """A batch was full: more is due right now (sweep again at once)."""


class Sweeper:
    def __init__(
        self,
        database: Database,
        checkins: Checkins,
        queue: WorkQueue,
        clock: Callable[[], datetime],
        policy: SweepPolicy | None = None,
        holder: str | None = None,
        outbox: WorkQueue | None = None,
    ) -> None:
        """`outbox`: the sender's wake-ups, pushed when a highlight or a broadcast queues
        lines (None: the sender finds them at its next look)."""
        self.database = database
        self.outbox = outbox
        self.checkins = checkins
        self.queue = queue
        self.clock = clock
        self.policy = policy or SweepPolicy()
        self.holder = holder or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._next_retention = datetime.min.replace(tzinfo=UTC)
        self.scheduled = [
            checkin.id
            for checkin in checkins.library.checkins.values()
            if checkin.schedule == "group"
        ]

    async def sweep(self) -> SweepReport | None:
        """One sweep; None when another clock holds the lease."""
        now = self.clock()
        async with self.database.transaction() as uow:
            held = await uow.schedules.acquire_lease(
                LEASE_NAME, self.holder, now + self.policy.lease, now
            )
        if not held:
            return None
        report = SweepReport()
        await self._invitations(now, report)
        await self._session_nudges(now, report)
        await self._highlights(now, report)
        await self._broadcasts(now, report)
        await self._retention(now, report)
        for entry_id in report.timers[:1000]:
            try:
                await self.queue.push(str(entry_id))
            except Exception:  # the workers' sweep finds them anyway
                log.warning("could not wake workers for timers", exc_info=True)
                break
        return report

    async def release(self) -> None:
        async with self.database.transaction() as uow:
            await uow.schedules.release_lease(LEASE_NAME, self.holder, self.clock())

    # --- invitations ---------------------------------------------------------------------

    async def _invitations(self, now: datetime, report: SweepReport) -> None:
        """Due groups in one batch: their next moments moved on, and one timer per member and
        scheduled check-in, inserted in one statement (a group's moment too late is dropped)."""
        async with self.database.transaction() as uow:
            due = await uow.schedules.groups_due("next_checkin_at", now, self.policy.batch)
            report.more = report.more or len(due) == self.policy.batch
            on_time: dict[int, str] = {}
            moments: dict[int, datetime] = {}
            for group, moment in due:
                try:
                    upcoming = next_fire(
                        group.checkin_schedule, group.timezone, max(now, moment or now)
                    )
                except ScheduleError as error:
                    log.error("group %s has a schedule that cannot work: %s", group.id, error)
                    continue
                moments[group.id] = upcoming
                if moment is None:
                    continue  # first sight of the group: invitations start at its next moment
                if now - moment > self.policy.max_lateness:
                    log.warning(
                        "group %s: invitation of %s too late to send; dropped", group.id, moment
                    )
                    continue
                on_time[group.id] = moment.astimezone(ZoneInfo(group.timezone)).strftime(
                    "%Y-%m-%dT%H:%M"
                )
            await uow.schedules.set_group_moments("next_checkin_at", moments)
            if not on_time or not self.scheduled:
                return
            entries = []
            for reach in await uow.schedules.reach(group_ids=list(on_time)):
                assert reach.group_id is not None
                for checkin_id in self.scheduled:
                    key = f"start:{checkin_id}:{reach.member_id}:{on_time[reach.group_id]}"
                    entries.append(self._timer_entry(reach, key, "start", checkin_id, None))
            # members never asked (imported): their first contact is the consent question,
            # once ever (the key has no period)
            unasked = await uow.schedules.never_asked(list(on_time))
            for reach in await uow.schedules.reach(member_ids=unasked) if unasked else []:
                key = f"consent:{reach.member_id}"
                entries.append(self._timer_entry(reach, key, "consent", ONBOARDING, None))
            stored = await uow.inbox.add_many(entries, now)
        report.invitations += len(stored)
        report.timers.extend(stored)

    # --- reminders and expiries ------------------------------------------------------------

    async def _session_nudges(self, now: datetime, report: SweepReport) -> None:
        """Due sessions in one batch: each gets a timer (remind, skip, expire) or its next
        moment (deferred past quiet hours or past the member's current activity)."""
        async with self.database.transaction() as uow:
            due = await uow.sessions.due_nudges(now, self.policy.batch)
            report.more = report.more or len(due) == self.policy.batch
            if not due:
                return
            reach = {
                r.member_id: r
                for r in await uow.schedules.reach(member_ids=[s.member_id for s in due])
            }
            moments: dict[int, datetime | None] = {}
            entries: list[dict[str, Any]] = []
            kinds: dict[str, str] = {}
            for record in due:
                checkin = self.checkins.library.get(record.checkin_id)
                where = reach.get(record.member_id)
                moments[record.id] = None  # the timer's turn sets the next moment
                if checkin is None or where is None:
                    continue
                state = from_json(record.state)
                ends, remind = expires_at(checkin, state), next_reminder_at(checkin, state)
                if ends is not None and now >= ends:
                    kind = "expire_silent" if now - ends > self.policy.max_lateness else "expire"
                    key = f"expire:{record.id}"
                elif remind is not None and now >= remind:
                    kind = "skip" if now - remind > self.policy.max_lateness else "remind"
                    key = f"remind:{record.id}:{state.reminders_sent}"
                else:
                    moments[record.id] = min(m for m in (ends, remind) if m is not None)
                    continue
                if not where.consented:
                    # no recorded consent: the session moves on, silently
                    kind = {"remind": "skip", "expire": "expire_silent"}.get(kind, kind)
                if kind in ("remind", "expire"):
                    allowed = next_allowed(now, where.timezone, where.quiet_start, where.quiet_end)
                    if kind == "remind" and now - record.updated_at < ACTIVE_GRACE:
                        allowed = max(allowed, record.updated_at + ACTIVE_GRACE)
                    if allowed > now:
                        moments[record.id] = allowed
                        report.deferred += 1
                        continue
                entries.append(self._timer_entry(where, key, kind, checkin.id, record.id))
                kinds[key] = kind
            await uow.sessions.set_next_nudges(moments)
            stored = await uow.inbox.add_many(entries, now)
        report.timers.extend(stored)
        counted = Counter(kinds.values())
        report.reminders += counted["remind"]
        report.skipped += counted["skip"]
        report.expiries += counted["expire"] + counted["expire_silent"]

    def _timer_entry(
        self, reach: Reach, key: str, kind: str, checkin_id: str, session_id: int | None
    ) -> dict[str, Any]:
        channel = cast(Channel, reach.channel)
        event = TimerEvent(channel, reach.address, key, kind, checkin_id, session_id)
        return {
            "channel": channel,
            "provider_id": key,
            "address": reach.address,
            "event": dump_event(event),
        }

    # --- highlights and broadcasts ----------------------------------------------------------

    async def _highlights(self, now: datetime, report: SweepReport) -> None:
        from bot.highlights import weekly as highlights

        async with self.database.read() as uow:
            due = await uow.schedules.groups_due("next_highlight_at", now, self.policy.batch)
        for group, moment in due:
            delivered = False
            async with self.database.transaction() as uow:
                try:
                    upcoming = next_fire(
                        group.highlight_schedule, group.timezone, max(now, moment or now)
                    )
                except ScheduleError as error:
                    log.error(
                        "group %s has a highlight schedule that cannot work: %s", group.id, error
                    )
                    continue
                await uow.schedules.set_group_moments("next_highlight_at", {group.id: upcoming})
                if moment is None or now - moment > timedelta(days=1):
                    continue
                local = moment.astimezone(ZoneInfo(group.timezone))
                year, week, _ = local.isocalendar()
                plan = await highlights.deliver(uow, group, year, week, self.checkins.catalogs, now)
                delivered = getattr(plan, "delivered", True)
                if delivered:
                    report.highlights += 1
            if delivered:
                await self._wake_sender()  # after the commit: the sender sees the group's lines

    async def _broadcasts(self, now: datetime, report: SweepReport) -> None:
        from bot.broadcasts import running as broadcasts

        report.broadcasts = await broadcasts.start_due(self.database, now, wake=self._wake_sender)

    async def _wake_sender(self) -> None:
        """Tell the sender that lines were committed to the outbox; never fails the sweep."""
        if self.outbox is None:
            return
        try:
            await self.outbox.push("1")
        except Exception:
            log.warning("could not wake the sender; it finds the lines anyway", exc_info=True)

    # --- retention ---------------------------------------------------------------------------

    async def _retention(self, now: datetime, report: SweepReport) -> None:
        """A batch of what has outlived the retention period: its words are redacted (message
        bodies, answers as typed), the typed answers and the delivery records stay."""
        if self.policy.retention is None or now < self._next_retention:
            return
        async with self.database.transaction() as uow:
            redacted = await uow.member_data.redact_before(
                now - self.policy.retention, self.policy.batch
            )
        report.redacted = redacted
        full = redacted >= self.policy.batch
        report.more = report.more or full
        # the search scans the message log: hourly, unless a backlog is being worked off
        self._next_retention = now if full else now + RETENTION_EVERY


async def run_sweeper(clock: Sweeper, stop: asyncio.Event) -> None:
    """Sweep every `interval` seconds with APScheduler until `stop` is set. A sweep under way
    then finishes (the process's stop grace bounds it) before the lease is released: cut off
    inside one of its transactions, on SQLite it left the database locked, and the release
    waited out SQLite's 5 s busy timeout, so that `mutuality run` took 5 s to end after
    Ctrl-C when it came during a sweep."""
    idle = asyncio.Event()
    idle.set()

    async def sweep() -> None:
        idle.clear()
        try:
            await sweep_while_due()
        finally:
            idle.set()

    async def sweep_while_due() -> None:
        deadline = asyncio.get_running_loop().time() + clock.policy.interval * 0.8
        while not stop.is_set():
            try:
                report = await clock.sweep()
            except asyncio.CancelledError:
                # the process is stopping and its grace ran out: nothing is half done, each
                # step being its own transaction, and this is no failure
                log.info("clock sweep cancelled: the process is stopping")
                return
            except Exception:
                log.exception("clock sweep failed; the next one will try again")
                return
            if report is None:
                return
            if report.redacted:
                log.info("clock: %s rows past the retention period redacted", report.redacted)
            if report.timers or report.highlights or report.broadcasts:
                log.info(
                    "clock: %s invitations, %s reminders (%s skipped), %s expiries, %s deferred, "
                    "%s highlights, %s broadcasts",
                    report.invitations,
                    report.reminders,
                    report.skipped,
                    report.expiries,
                    report.deferred,
                    report.highlights,
                    report.broadcasts,
                )
            if not report.more or asyncio.get_running_loop().time() > deadline:
                return  # a backlog (thousands of groups at 09:00) is worked off sweep after sweep

    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        sweep,
        "interval",
        seconds=clock.policy.interval,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    scheduler.start()
    try:
        await stop.wait()
    finally:
        scheduler.pause()  # no new sweep; the one under way looks at `stop` between sweeps
        try:
            await idle.wait()
        finally:
            scheduler.shutdown(wait=False)
        await clock.release()
