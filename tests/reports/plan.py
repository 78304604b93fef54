"""A program's weeks as plain data, written to a database through the repositories.

The tests compute the figures they expect from this plan with their own plain Python, never
from the database, and compare them with what the report computed in SQL.

Two groups in KES: Kibera (amina, baraka, chausiku, diego in USD, esther until week 5) and
Mombasa (esther from week 5, fatuma, grace who changed currency, hassan who checks in five
times a week). Gaps, a skipped answer, a corrected answer, a second
check-in in one week, expired and active sessions, several currencies, a member who left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from storage import UnitOfWork
from storage.repositories.answers import NewAnswer
from storage.repositories.messages import message_values

WEEK0 = datetime(2026, 8, 3, tzinfo=UTC)  # a Monday: 2026-W32
NOW = WEEK0 + timedelta(weeks=14, hours=12)
SKIP = "skip"

Amount = str | list[str] | None
"""An amount as typed; a list: answered again (the last counts); SKIP: skipped; None: not asked."""


def wednesday(week: int, hour: int = 10) -> datetime:
    return WEEK0 + timedelta(weeks=week, days=2, hours=hour)


@dataclass(frozen=True)
class Checkin:
    member: str
    ended: datetime
    group: str
    currency: str
    steps: dict[str, Amount]
    status: str = "completed"
    checkin_id: str = "weekly_checkin"


@dataclass(frozen=True)
class Help:
    group: str
    giver: str
    receiver: str
    kind: str
    reporter: str
    at: datetime


@dataclass(frozen=True)
class Nudge:
    member: str
    kind: str
    at: datetime
    parts: int = 1
    status: str = "sent"


@dataclass
class Plan:
    joins: list[tuple[str, str, datetime]] = field(default_factory=list)
    checkins: list[Checkin] = field(default_factory=list)
    help: list[Help] = field(default_factory=list)
    nudges: list[Nudge] = field(default_factory=list)


def weekly(
    member: str, week: int, group: str, sales: Amount, costs: Amount, saved: Amount, **kw: str
) -> Checkin:
    ended = kw.pop("ended", None)
    return Checkin(
        member,
        datetime.fromisoformat(ended) if ended else wednesday(week),
        group,
        kw.pop("currency", "KES"),
        {"sales": sales, "costs": costs, "saved": saved},
        **kw,  # type: ignore[arg-type]
    )


def journal(member: str, month: int, group: str, income: str, balance: str, **kw: str) -> Checkin:
    return Checkin(
        member,
        WEEK0 + timedelta(days=30 * month + 1, hours=15),
        group,
        kw.get("currency", "KES"),
        {"household_income": income, "savings_balance": balance, "debts": "0"},
        checkin_id="monthly_journal",
    )


def program() -> Plan:
    plan = Plan()
    joined = WEEK0 - timedelta(days=7)
    for who in ("amina", "baraka", "chausiku", "diego", "esther"):
        plan.joins.append((who, "Kibera", joined))
    plan.joins.append(("fatuma", "Mombasa", joined))
    plan.joins.append(("grace", "Mombasa", joined))
    plan.joins.append(("hassan", "Mombasa", joined))
    moved = WEEK0 + timedelta(weeks=5)
    plan.joins.append(("esther", "Mombasa", moved))

    add = plan.checkins.append
    for week in range(10):
        sales: Amount = str(1000 + 100 * week)
        if week == 5:
            sales = ["700", "1500"]  # corrected: 1500 counts
        add(weekly("amina", week, "Kibera", sales, str(600 + 50 * week), str(50 + 10 * week)))
    # an earlier check-in the same week 3: the later one counts
    add(weekly("amina", 3, "Kibera", "99999", "1", "1", ended="2026-08-24T08:00:00+00:00"))
    for index, week in enumerate((0, 1, 3, 6, 7, 9, 10, 12, 13)):
        sales = SKIP if week == 1 else str(2000 - 50 * index)
        add(weekly("baraka", week, "Kibera", sales, "1500", "20"))
    add(weekly("baraka", 2, "Kibera", "5555", "5", "5", status="expired"))
    add(weekly("baraka", 4, "Kibera", "7777", None, None, status="active"))
    for week in range(5):
        add(weekly("chausiku", week, "Kibera", str(300 + week), "100", "3"))
    add(weekly("chausiku", 5, "Kibera", "40", "10", "1", currency="USD"))
    for week in range(8):
        add(
            weekly(
                "diego", week, "Kibera", f"{300 + 10 * week}.25", "100.50", "5.5", currency="USD"
            )
        )
    for week in range(13):
        group = "Kibera" if week < 5 else "Mombasa"
        add(weekly("esther", week, group, str(500 + 25 * week), "200", str(10 + week % 3)))
    for week in range(10):
        add(weekly("fatuma", week, "Mombasa", "800", "900", "0"))
    for week in range(10):  # five times a week: more sessions than the report reads at first
        for day, bump in ((0, 0), (1, 3), (2, 7), (3, 5), (4, 11)):  # the Friday one counts
            ended = WEEK0 + timedelta(weeks=week, days=day, hours=16)
            sales = str(400 + 10 * week + bump)
            add(weekly("hassan", week, "Mombasa", sales, "100", str(bump), ended=ended.isoformat()))
    for week in range(8):  # changed currency half way: her ends are in two currencies
        add(
            weekly("grace", week, "Mombasa", "70", "20", "5", currency="KES" if week < 4 else "USD")
        )

    add(journal("amina", 0, "Kibera", "1000", "100"))
    add(journal("amina", 1, "Kibera", "1200", "150"))
    add(journal("amina", 2, "Kibera", "1500", "300"))
    add(journal("baraka", 1, "Kibera", "900", "40"))
    add(journal("diego", 0, "Kibera", "400", "50", currency="USD"))
    add(journal("diego", 2, "Kibera", "380", "80", currency="USD"))
    add(journal("esther", 0, "Kibera", "700", "70"))
    add(journal("esther", 2, "Mombasa", "650", "70"))

    plan.help += [
        Help("Kibera", "amina", "baraka", "advice", "amina", wednesday(1, 11)),
        Help("Kibera", "amina", "baraka", "advice", "baraka", wednesday(1, 12)),
        Help("Kibera", "baraka", "chausiku", "money", "baraka", wednesday(2, 11)),
        Help("Kibera", "chausiku", "amina", "goods", "chausiku", wednesday(2, 12)),
        Help("Kibera", "esther", "amina", "customers", "amina", wednesday(3, 11)),
        Help("Mombasa", "esther", "fatuma", "work", "esther", wednesday(7, 11)),
        Help("Mombasa", "fatuma", "esther", "advice", "esther", wednesday(8, 11)),
    ]
    for week in range(3):
        monday = WEEK0 + timedelta(weeks=week, hours=9)
        for who in ("amina", "baraka", "chausiku", "diego", "esther", "fatuma"):
            failed = who == "chausiku" and week == 0
            plan.nudges.append(
                Nudge(who, "checkin_invitation", monday, status="failed" if failed else "sent")
            )
    plan.nudges.append(Nudge("baraka", "reminder", wednesday(1, 9), parts=2))
    plan.nudges.append(Nudge("diego", "reminder", wednesday(2, 9)))
    plan.nudges.append(Nudge("esther", "checkin_invitation", WEEK0 + timedelta(weeks=6, hours=9)))
    return plan


async def seed(uow: UnitOfWork, plan: Plan) -> tuple[dict[str, int], dict[str, int]]:
    """Write the plan; the ids of its groups and members, by name."""
    created = WEEK0 - timedelta(days=30)
    groups = {
        "Kibera": (await uow.groups.create("Kibera", "Africa/Nairobi", "en", "KES", at=created)).id,
        "Mombasa": (
            await uow.groups.create("Mombasa", "Africa/Nairobi", "sw", "KES", at=created)
        ).id,
    }
    members: dict[str, int] = {}
    for index, (who, group, at) in enumerate(plan.joins):
        if who not in members:
            member = await uow.members.create("whatsapp", f"+2547000000{index:02d}", at=created)
            await uow.members.update(member.id, at=created, name=who.title())
            members[who] = member.id
        await uow.members.join_group(members[who], groups[group], at)

    for checkin in plan.checkins:
        member_id, group_id = members[checkin.member], groups[checkin.group]
        started = checkin.ended - timedelta(minutes=5)
        session = await uow.sessions.start(member_id, checkin.checkin_id, 1, None, {}, started)
        for step, amount in checkin.steps.items():
            for typed in amount if isinstance(amount, list) else [amount]:
                if typed is None:
                    continue
                skipped = typed == SKIP
                await uow.answers.add(
                    NewAnswer(
                        session_id=session.id,
                        member_id=member_id,
                        group_id=group_id,
                        checkin_id=checkin.checkin_id,
                        step_id=step,
                        answer_type="money",
                        at=started + timedelta(minutes=1),
                        value_number=None if skipped else Decimal(typed),
                        currency=None if skipped else checkin.currency,
                        skipped=skipped,
                        raw_text=typed,
                    )
                )
        if checkin.status != "active":
            await uow.sessions.save(session.id, None, checkin.status, {}, checkin.ended)  # type: ignore[arg-type]
            # as the turn that completes a check-in does, after its last answer
            await uow.checkin_results.record([session.id])

    for record in plan.help:
        await uow.help.add(
            giver_id=members[record.giver],
            receiver_id=members[record.receiver],
            group_id=groups[record.group],
            kind=record.kind,
            session_id=None,
            reported_by_id=members[record.reporter],
            at=record.at,
        )

    lines = []
    for nudge in plan.nudges:
        for part in range(nudge.parts):
            lines.append(
                message_values(
                    members[nudge.member],
                    "whatsapp",
                    "+254700000000",
                    "out",
                    f"part {part}",
                    {"nudge": nudge.kind, "template": {}, "locale": "en"},
                    nudge.status,  # type: ignore[arg-type]
                    None,
                    nudge.at,
                )
            )
    await uow.messages.log_many(lines)
    return groups, members
