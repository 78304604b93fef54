"""The evidence a program can show: participation, business and household change per currency,
and the help members exchanged, each figure with the method that computed it.

`build_report` is the one call: a command prints its result, a web page renders it. On
PostgreSQL its parts (participation, each half of the members' business figures, household,
mutuality) run side by side, each in a read-only transaction of its own that sees the same
snapshot of the database (`Database.read_together`), so a large program's report takes about
as long as its longest part rather than all of them in turn; on SQLite they run in turn in one
transaction. The result
is plain frozen dataclasses (numbers as `Decimal`, weeks as ISO labels like `2026-W48`), so a
caller needs no database or session to use it.

How the numbers are made (the `method` beside each figure says the same; it is a `Method`, an
English message id with its numbers, which a reader renders in their language):

- Weeks run Monday to Sunday on each group's calendar (its time zone; UTC for what belongs to
  no group). A weekly check-in counts when completed; a member who
  completed it more than once in a week counts once, with the last; a step answered twice in a
  check-in counts with the last answer; a skipped step has no value.
- Change is per member, in one currency, never summed across currencies: baseline = the median
  of the member's first four weekly check-ins, now = the median of their last four (medians of
  the check-ins that answered that question). A member needs eight check-in weeks so the two
  ends are different weeks; fewer, and they are counted apart as "too few"; values at the ends
  in more than one currency are counted apart as "mixed currency". The group's figures are the
  medians over its members and the share whose now is above their baseline.
- Medians are exact, from the stored row of each completed check-in, `MEMBERS_AT_ONCE` members
  at a time: never a table whole. On PostgreSQL the database picks each member's middle values
  at both ends in `numeric`, gives each member their verdict and hands over per measure and
  currency the counts and the counted members' ends (`EvidenceRepository.weekly_ends`);
  elsewhere it hands over each member's check-ins at the two ends
  (`EvidenceRepository.session_ends`) and the medians and verdicts are made here in `Decimal`.
  Both give the same figures to the last digit (`tests/reports/test_evidence_paths.py`). The
  medians over members (the group's figures) are taken here on both. The household figures
  likewise, from each member's first and latest journal (`journal_ends` on PostgreSQL).
- While a report reads, Python's cyclic garbage collector is held off (`_collector_paused`).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from bot.reports.method import Method
from conversations.i18n import N_
from storage.database import Database
from storage.repositories.evidence import (
    MONTHLY_JOURNAL,
    WEEKLY_CHECKIN,
    WEEKLY_STEPS,
    EndsTally,
    HelpEdge,
    Scope,
    SessionEnd,
    Valued,
)
from storage.unit_of_work import UnitOfWork

ENDS = 4
"""Check-ins at each end of a member's series: the baseline and now are medians of four."""
ACTIVE_DAYS = 28
INVITATION = "checkin_invitation"
REMINDER = "reminder"
MEASURES = ("sales", "costs", "profit", "savings")
JOURNAL_STEPS = ("household_income", "savings_balance")
_EPOCH_MONDAY = date(1970, 1, 5)
_SHARE = Decimal("0.0001")


WEEK_METHOD = Method(
    # TRANSLATORS: how the evidence report counts weeks; other methods include it as %(weeks)s.
    N_("Weeks run Monday to Sunday in each group's time zone (what belongs to no group: in UTC).")
)
ENROLLED_METHOD = Method(
    N_(
        "Members with a membership of the group (of any group, for the whole program) that "
        "lasted into the period; current: still members; left: no longer."
    )
)
ACTIVE_METHOD = Method.of(
    N_(
        "Members who answered at least one question in the last %(days)s days (in the group, "
        "for a group)."
    ),
    days=ACTIVE_DAYS,
)
COMPLETED_METHOD = Method.of(
    # TRANSLATORS: %(weeks)s is the sentence on how weeks run ("Weeks run Monday to Sunday...").
    N_("Members who completed the weekly check-in that week (one per member and week). %(weeks)s"),
    weeks=WEEK_METHOD,
)
INVITED_METHOD = Method(
    N_(
        "Members the bot sent a weekly check-in invitation that week (failed sends left out); "
        "for a group, those who belonged to it when it was sent."
    )
)
RATE_METHOD = Method(
    N_(
        "Completed divided by invited. A member may also start a check-in without an "
        "invitation, so a week can exceed 100%."
    )
)
REMINDERS_METHOD = Method(
    N_(
        "Reminders the bot sent about an unfinished check-in (failed sends left out; a reminder "
        "cut into several messages counts once)."
    )
)
WEEKS_METHOD = Method.of(
    # TRANSLATORS: each placeholder is the whole method of that column of the weekly table.
    N_(
        "Completed: %(completed)s Invited: %(invited)s Response rate: %(rate)s Reminders: "
        "%(reminders)s"
    ),
    completed=COMPLETED_METHOD,
    invited=INVITED_METHOD,
    rate=RATE_METHOD,
    reminders=REMINDERS_METHOD,
)
HELP_METHOD = Method.of(
    # TRANSLATORS: %(weeks)s is the sentence on how weeks run ("Weeks run Monday to Sunday...").
    N_(
        "Help records: each time a member said in a check-in that they helped someone or that "
        "someone helped them. Reported by giver / by receiver says who told it; one act of help "
        "both sides reported is two records. %(weeks)s"
    ),
    weeks=WEEK_METHOD,
)
RECIPROCITY_METHOD = Method(
    N_(
        "Members who gave help at least once and also received it at least once, out of the "
        "members who appear in any help record."
    )
)
NETWORK_METHOD = Method(
    N_(
        "Each line: in a group, a giver, a receiver, the number of help records between them "
        "in that direction, and the ways they helped."
    )
)
CURRENCIES_NOTE = Method(N_("Amounts are never added across currencies."))
# TRANSLATORS: %(what)s names the answer, like "the weekly sales answer"; %(ends)s is the
# number of check-ins at each end (4), %(weeks)s twice that (8).
CHANGE_METHOD = N_(
    "Per member, from %(what)s: baseline = median of the member's first %(ends)s weekly "
    "check-ins, now = median of their last %(ends)s (one check-in per week, the last "
    "completed; a step answered twice counts with the last answer; check-ins that skipped "
    "it left out). Change = now minus baseline. Members with fewer than %(weeks)s "
    "check-in weeks (the two ends would share weeks), or no value at one end, are counted "
    "as too few; members whose values at the ends are not all in one currency are counted "
    "as mixed currency; both are left out of the medians. A member counts in the currency "
    "of their latest value. Group figures: medians over members, and the share of members "
    "whose change is above zero. Never summed across currencies."
)
CHANGE_SOURCES = {
    # TRANSLATORS: this and the next three take the place of %(what)s in "Per member, from
    # %(what)s: baseline = ..."
    "sales": N_("the weekly sales answer"),
    "costs": N_("the weekly costs answer"),
    "profit": N_("sales minus costs of the same check-in (both answered, in one currency)"),
    "savings": N_("the weekly amount saved"),
}
# TRANSLATORS: %(what)s names the answer, like "the total savings balance".
JOURNAL_METHOD = N_(
    "Per member, %(what)s from the monthly journal: their first completed journal "
    "against their latest. Members with one journal, or without this answer in either, are "
    "counted as too few; answers in two currencies as mixed currency. Group figures: "
    "medians over members and the share whose latest is above their first. Never summed "
    "across currencies."
)
JOURNAL_SOURCES = {
    # TRANSLATORS: this and the next take the place of %(what)s in "Per member, %(what)s from
    # the monthly journal: ..."
    "household_income": N_("the household income of the month"),
    "savings_balance": N_("the total savings balance"),
}


def _change_method(measure: str) -> Method:
    return Method.of(CHANGE_METHOD, what=Method(CHANGE_SOURCES[measure]), ends=ENDS, weeks=2 * ENDS)


def _journal_method(step: str) -> Method:
    return Method.of(JOURNAL_METHOD, what=Method(JOURNAL_SOURCES[step]))


def iso_week(index: int) -> str:
    """The ISO week label (`2026-W48`) of a week index (weeks since Monday 1970-01-05)."""
    year, week, _ = (_EPOCH_MONDAY + timedelta(weeks=index)).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True, slots=True)
class Count:
    """One counted figure, with how it is counted."""

    key: str
    label: str
    value: int
    method: Method


@dataclass(frozen=True, slots=True)
class WeekParticipation:
    week: str
    invited: int
    completed: int
    reminders: int
    response_rate: Decimal | None
    """completed / invited, to four decimals; None when nobody was invited that week."""


@dataclass(frozen=True, slots=True)
class Participation:
    counts: tuple[Count, ...]
    weeks: tuple[WeekParticipation, ...]
    weeks_method: Method = WEEKS_METHOD

    def count(self, key: str) -> int:
        return next(count.value for count in self.counts if count.key == key)


@dataclass(frozen=True, slots=True)
class Change:
    """A measure's change in one currency over the members who have both ends.

    `changes` is every counted member's change, sorted (the distribution, with no member
    named); `too_few` members had a value in this currency but not enough check-ins (or no
    value at one end); `mixed_currency` members answered in more than one currency at the ends.
    A member counts in the currency of their latest value."""

    measure: str
    currency: str
    members: int
    too_few: int
    mixed_currency: int
    baseline_median: Decimal | None
    now_median: Decimal | None
    median_change: Decimal | None
    improved: int
    share_improved: Decimal | None
    changes: tuple[Decimal, ...]
    method: Method


@dataclass(frozen=True, slots=True)
class HelpWeek:
    week: str
    kind: str
    records: int
    reported_by_giver: int
    reported_by_receiver: int


@dataclass(frozen=True, slots=True)
class HelpKindTotal:
    kind: str
    records: int
    reported_by_giver: int
    reported_by_receiver: int


NetworkEdge = HelpEdge
"""One line of the help network: group, giver, receiver, records and kinds, as the repository
counted and named them."""


@dataclass(frozen=True, slots=True)
class Mutuality:
    weeks: tuple[HelpWeek, ...]
    totals: tuple[HelpKindTotal, ...]
    reciprocity: tuple[Count, ...]
    network: tuple[NetworkEdge, ...]
    help_method: Method = HELP_METHOD
    network_method: Method = NETWORK_METHOD


@dataclass(frozen=True, slots=True)
class EvidenceReport:
    """Everything the report shows for one group (`group` None: the whole program)."""

    group: str | None
    since: date | None
    generated_at: datetime
    participation: Participation
    business: tuple[Change, ...]
    household: tuple[Change, ...]
    mutuality: Mutuality
    notes: tuple[Method, ...] = field(default=())


async def build_report(
    database: Database,
    *,
    group_id: int | None = None,
    group_name: str | None = None,
    since: date | None = None,
    now: datetime,
) -> EvidenceReport:
    """The evidence report for a group (or the program), from `since` (a date, UTC midnight)
    to `now`, from one state of the database. Reads only; never loads a table whole."""
    start = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
    scope = Scope(group_id, start, now)
    parts = (
        lambda uow: _participation(uow, scope),
        # the business figures are the longest part: each half of the members on its own
        lambda uow: _business_tallies(uow, scope, FIRST_HALF),
        lambda uow: _business_tallies(uow, scope, SECOND_HALF),
        lambda uow: _household(uow, scope),
        lambda uow: _mutuality(uow, scope),
    )
    with _collector_paused():
        async with database.read_together(TRANSACTIONS) as readers:
            for reader in readers:
                await reader.evidence.prepare()
            participation, first, second, household, mutuality = await _side_by_side(readers, parts)
    return EvidenceReport(
        group=group_name,
        since=since,
        generated_at=now,
        participation=participation,
        business=first.merged(second).figures(MEASURES, _change_method),
        household=household,
        mutuality=mutuality,
        notes=(WEEK_METHOD, CURRENCIES_NOTE),
    )


_pauses = 0
"""Reports under way in this process with the cyclic garbage collector paused for them."""


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector held off while a report reads its rows. A program's
    report makes some 200,000 objects that all live until it ends (rows, amounts, tallies), and
    the collector would walk them again and again as they pile up, finding nothing to free: a
    third of the report's CPU in this process (`benchmarks/evidence.py`). Reference counting
    still frees everything at once; the collector comes back when the last report under way
    ends, unless something else had it off before."""
    global _pauses
    if _pauses == 0 and not gc.isenabled():
        yield
        return
    _pauses += 1
    gc.disable()
    try:
        yield
    finally:
        _pauses -= 1
        if _pauses == 0:
            gc.enable()


async def _side_by_side(
    readers: tuple[UnitOfWork, ...],
    parts: tuple[Callable[[UnitOfWork], Coroutine[Any, Any, Any]], ...],
) -> list[Any]:
    """Each part on a reader of its own, all at once, when there are as many readers as parts
    (if one fails, the others are cancelled); else every part in turn on the first reader."""
    if len(readers) < len(parts):
        return [await part(readers[0]) for part in parts]
    async with asyncio.TaskGroup() as group:
        tasks: list[asyncio.Task[Any]] = [
            group.create_task(part(uow)) for part, uow in zip(parts, readers, strict=False)
        ]
    return [task.result() for task in tasks]


async def _participation(uow: UnitOfWork, scope: Scope) -> Participation:
    evidence = uow.evidence
    enrolment = await evidence.enrolment(scope)
    active_since = scope.until - timedelta(days=ACTIVE_DAYS)
    active = await evidence.active_members(scope, active_since)
    completed = {c.week: c.count for c in await evidence.completed_per_week(scope)}
    invited: dict[int, int] = {}
    reminders: dict[int, int] = {}
    for c in await evidence.nudges_per_week(scope, (INVITATION, REMINDER)):
        if c.kind == INVITATION:
            invited[c.week] = c.members
        else:
            reminders[c.week] = c.nudges
    weeks = tuple(
        WeekParticipation(
            iso_week(week),
            invited.get(week, 0),
            completed.get(week, 0),
            reminders.get(week, 0),
            _share(completed.get(week, 0), invited.get(week, 0)),
        )
        for week in sorted(set(completed) | set(invited) | set(reminders))
    )
    total_completed, total_invited = sum(completed.values()), sum(invited.values())
    counts = (
        Count("enrolled", "members enrolled", enrolment.enrolled, ENROLLED_METHOD),
        Count("current", "still members", enrolment.current, ENROLLED_METHOD),
        Count("left", "members who left", enrolment.left, ENROLLED_METHOD),
        Count("active", f"active (last {ACTIVE_DAYS} days)", active, ACTIVE_METHOD),
        Count("completed", "weekly check-ins completed", total_completed, COMPLETED_METHOD),
        Count("invited", "weekly invitations", total_invited, INVITED_METHOD),
        Count("reminders", "reminders sent", sum(reminders.values()), REMINDERS_METHOD),
    )
    return Participation(counts, weeks)


def _share(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_SHARE)


FETCH = ENDS + 1
"""Sessions read from each end of a member's series: one more than the ends need, which shows
that the first four weeks are whole (a fifth week began). A member who completed the check-in
more than once in a week at one end has their sessions read in full instead (`_settle`)."""
MEMBERS_AT_ONCE = 2000
"""Members whose amounts are read in one round: memory stays bounded on any program size."""


@dataclass
class _Tally:
    """One measure in one currency, filled member by member."""

    baselines: list[Decimal] = field(default_factory=list)
    nows: list[Decimal] = field(default_factory=list)
    changes: list[Decimal] = field(default_factory=list)
    too_few: int = 0
    mixed: int = 0

    def add(self, baseline: Decimal, now: Decimal) -> None:
        self.baselines.append(baseline)
        self.nows.append(now)
        self.changes.append(now - baseline)

    def figure(self, measure: str, currency: str, method: Method) -> Change:
        changes = tuple(sorted(self.changes))
        improved = sum(1 for change in changes if change > 0)
        members = len(changes)
        return Change(
            measure=measure,
            currency=currency,
            members=members,
            too_few=self.too_few,
            mixed_currency=self.mixed,
            baseline_median=median(self.baselines) if members else None,
            now_median=median(self.nows) if members else None,
            median_change=median(changes) if members else None,
            improved=improved,
            share_improved=_share(improved, members),
            changes=changes,
            method=method,
        )


class _Tallies:
    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], _Tally] = {}

    def merged(self, other: _Tallies) -> _Tallies:
        """These tallies and `other`'s (of other members) together."""
        both = _Tallies()
        for tallies in (self, other):
            for key, tally in tallies.by_key.items():
                into = both.by_key.setdefault(key, _Tally())
                into.baselines += tally.baselines
                into.nows += tally.nows
                into.changes += tally.changes
                into.too_few += tally.too_few
                into.mixed += tally.mixed
        return both

    def add(self, measure: str, first: list[Valued], last: list[Valued], enough: bool) -> None:
        """One member's values of a measure at each end (oldest first). Tallied in the
        currency of their latest value; counted apart when the ends share check-ins or lack a
        value (too few), or when not all in one currency (mixed)."""
        if not first and not last:
            return
        currency = (last or first)[-1][1]
        tally = self.by_key.setdefault((measure, currency), _Tally())
        if not enough or not first or not last:
            tally.too_few += 1
        elif any(c != currency for _, c in (*first, *last)):
            tally.mixed += 1
        else:
            tally.add(_median_of(first), _median_of(last))

    def add_tallied(self, ends: EndsTally, middles: bool) -> None:
        """Members whose ends the database tallied (`weekly_ends`, `journal_ends`), with the
        same verdicts as `add`. With `middles`, each side of a pair is the sum of that end's
        middle values, halved here into the median exactly as `statistics.median` makes it
        (half the sum of the middle two; a middle value doubled and halved is itself, to the
        last digit)."""
        tally = self.by_key.setdefault((ends.measure, ends.currency), _Tally())
        tally.too_few += ends.too_few
        tally.mixed += ends.mixed
        pairs = [(b / 2, n / 2) for b, n in ends.pairs] if middles else ends.pairs
        tally.baselines += [baseline for baseline, _ in pairs]
        tally.nows += [now for _, now in pairs]
        tally.changes += [now - baseline for baseline, now in pairs]

    def figures(
        self, order: tuple[str, ...], method: Callable[[str], Method]
    ) -> tuple[Change, ...]:
        keys = sorted(self.by_key, key=lambda k: (k[1], order.index(k[0])))
        return tuple(self.by_key[k].figure(k[0], k[1], method(k[0])) for k in keys)


def _median_of(values: list[Valued]) -> Decimal:
    """The median of amounts (a single one is itself: the household figures' common case)."""
    if len(values) == 1:
        return values[0][0]
    return median(value for value, _ in values)


def _settled(side: list[SessionEnd], weeks_needed: int) -> bool:
    """Whether one end's sessions settle its weeks: fewer than were fetched (the member has no
    more), or enough distinct weeks that no week at the end can have been cut."""
    return len(side) < FETCH or len({s.week for s in side}) >= weeks_needed


def _ends(sessions: Iterable[SessionEnd]) -> tuple[list[SessionEnd], list[SessionEnd]]:
    """The check-ins of the first and last `ENDS` weeks (the last check-in of each week), from
    a member's check-ins in the order they ended."""
    latest: dict[int, SessionEnd] = {}
    for s in sessions:
        latest[s.week] = s
    weeks = sorted(latest)
    return [latest[w] for w in weeks[:ENDS]], [latest[w] for w in weeks[-ENDS:]]


def _weekly_values(amounts: dict[str, Valued]) -> dict[str, Valued]:
    """A check-in's value of each measure (profit only from sales and costs in one currency)."""
    values = {
        measure: amounts[step]
        for measure, step in (("sales", "sales"), ("costs", "costs"), ("savings", "saved"))
        if step in amounts
    }
    if "sales" in values and "costs" in values and values["sales"][1] == values["costs"][1]:
        values["profit"] = (values["sales"][0] - values["costs"][0], values["sales"][1])
    return values


async def _settle(
    uow: UnitOfWork, scope: Scope, checkin_id: str, member_id: int, rows: list[SessionEnd]
) -> list[SessionEnd]:
    first = [r for r in rows if r.from_start]
    last = [r for r in rows if not r.from_start]
    if _settled(first, ENDS + 1) and _settled(last, ENDS):
        return rows
    return await uow.evidence.member_sessions(scope, checkin_id, member_id, WEEKLY_STEPS)


def _members_of(ends: list[SessionEnd]) -> dict[int, list[SessionEnd]]:
    by_member: dict[int, list[SessionEnd]] = {}
    for end in ends:
        by_member.setdefault(end.member_id, []).append(end)
    return by_member


async def _business(uow: UnitOfWork, scope: Scope) -> tuple[Change, ...]:
    """The business figures of every member in scope, in one transaction."""
    return (await _business_tallies(uow, scope, slice(None))).figures(MEASURES, _change_method)


TRANSACTIONS = 5
"""The read-only transactions `build_report` runs side by side on PostgreSQL, one per part:
participation, each half of the business figures, household, mutuality."""
FIRST_HALF, SECOND_HALF = slice(None, 1), slice(1, None)
"""The members of each half of the business figures (`_business_tallies`): the first half of
the members in id order, and the rest."""


async def _business_tallies(uow: UnitOfWork, scope: Scope, half: slice) -> _Tallies:
    """The business tallies of some of the members in scope (`half`: a slice of the two
    halves of them, in id order): each member's ends summed up in SQL where the database can
    pick middle values (PostgreSQL), else from their check-ins at the ends, here. Both give
    the same figures to the last digit (`tests/reports/test_evidence_paths.py`)."""
    members = await uow.evidence.members(scope)
    middle = (len(members) + 1) // 2
    halves: list[list[int]] = [members[:middle], members[middle:]]
    chosen = [member for part in halves[half] for member in part]
    if uow.evidence.ends_in_sql:
        return await _business_in_sql(uow, scope, chosen)
    return await _business_here(uow, scope, chosen)


async def _business_in_sql(uow: UnitOfWork, scope: Scope, members: list[int]) -> _Tallies:
    tallies = _Tallies()
    for start in range(0, len(members), MEMBERS_AT_ONCE):
        chunk = members[start : start + MEMBERS_AT_ONCE]
        for ends in await uow.evidence.weekly_ends(scope, chunk, ENDS):
            tallies.add_tallied(ends, middles=True)
    return tallies


async def _business_here(uow: UnitOfWork, scope: Scope, members: list[int]) -> _Tallies:
    tallies = _Tallies()
    for start in range(0, len(members), MEMBERS_AT_ONCE):
        chunk = members[start : start + MEMBERS_AT_ONCE]
        ends = await uow.evidence.session_ends(scope, WEEKLY_CHECKIN, FETCH, chunk, WEEKLY_STEPS)
        for member_id, rows in _members_of(ends).items():
            first, last = _ends(await _settle(uow, scope, WEEKLY_CHECKIN, member_id, rows))
            shared = {s.session_id for s in first} & {s.session_id for s in last}
            enough = not shared and len(first) == len(last) == ENDS
            at_first = [_weekly_values(s.amounts) for s in first]
            at_last = [_weekly_values(s.amounts) for s in last]
            for measure in MEASURES:
                tallies.add(
                    measure,
                    [v[measure] for v in at_first if measure in v],
                    [v[measure] for v in at_last if measure in v],
                    enough,
                )
    return tallies


async def _household(uow: UnitOfWork, scope: Scope) -> tuple[Change, ...]:
    """The household figures: each member's first and latest journal side by side in one row
    where the database can (PostgreSQL), else from their check-ins at the two ends. Both feed
    the same tally (`tests/reports/test_evidence_paths.py`)."""
    if uow.evidence.ends_in_sql:
        return await _household_in_sql(uow, scope)
    return await _household_here(uow, scope)


async def _household_in_sql(uow: UnitOfWork, scope: Scope) -> tuple[Change, ...]:
    tallies = _Tallies()
    members = await uow.evidence.members(scope)
    for start in range(0, len(members), MEMBERS_AT_ONCE):
        chunk = members[start : start + MEMBERS_AT_ONCE]
        for ends in await uow.evidence.journal_ends(scope, chunk, JOURNAL_STEPS):
            tallies.add_tallied(ends, middles=False)
    return tallies.figures(JOURNAL_STEPS, _journal_method)


async def _household_here(uow: UnitOfWork, scope: Scope) -> tuple[Change, ...]:
    tallies = _Tallies()
    members = await uow.evidence.members(scope)
    for start in range(0, len(members), MEMBERS_AT_ONCE):
        chunk = members[start : start + MEMBERS_AT_ONCE]
        ends = await uow.evidence.session_ends(scope, MONTHLY_JOURNAL, 1, chunk, JOURNAL_STEPS)
        for rows in _members_of(ends).values():
            first = next(r for r in rows if r.from_start)
            last = next(r for r in rows if not r.from_start)
            two = first.session_id != last.session_id
            for step in JOURNAL_STEPS:
                at_first, at_last = first.amounts.get(step), last.amounts.get(step)
                tallies.add(step, [at_first] if at_first else [], [at_last] if at_last else [], two)
    return tallies.figures(JOURNAL_STEPS, _journal_method)


async def _mutuality(uow: UnitOfWork, scope: Scope) -> Mutuality:
    evidence = uow.evidence
    counts = await evidence.help_per_week(scope)
    weeks = tuple(
        HelpWeek(iso_week(c.week), c.kind, c.records, c.reported_by_giver, c.reported_by_receiver)
        for c in counts
    )
    totals: dict[str, list[int]] = {}
    for c in counts:
        total = totals.setdefault(c.kind, [0, 0, 0])
        total[0] += c.records
        total[1] += c.reported_by_giver
        total[2] += c.reported_by_receiver
    reciprocity = await evidence.reciprocity(scope)
    network = tuple(await evidence.help_edges(scope))
    return Mutuality(
        weeks=weeks,
        totals=tuple(HelpKindTotal(kind, *totals[kind]) for kind in sorted(totals)),
        reciprocity=(
            Count("gave", "members who gave help", reciprocity.gave, RECIPROCITY_METHOD),
            Count(
                "received", "members who received help", reciprocity.received, RECIPROCITY_METHOD
            ),
            Count("both", "members who gave and received", reciprocity.both, RECIPROCITY_METHOD),
            Count(
                "involved", "members in any help record", reciprocity.involved, RECIPROCITY_METHOD
            ),
        ),
        network=network,
    )
