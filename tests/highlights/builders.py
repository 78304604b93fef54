"""Build a peer group's weeks through the repositories, with explicit timestamps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import update

from storage import UnitOfWork
from storage.models import Story
from storage.records import GroupRecord, MemberRecord
from storage.repositories.answers import NewAnswer
from storage.vocabulary import Channel, SessionStatus

JOINED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SKIP: Final = "skip"
"""An answer the member skipped."""


def local(zone: str, text: str) -> datetime:
    """ "2026-11-25 19:00" on the wall clock of `zone`, as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


async def add_member(
    uow: UnitOfWork,
    group_id: int,
    name: str,
    value: str,
    channel: Channel = "whatsapp",
    *,
    at: datetime = JOINED,
    consent: bool | None = True,
) -> MemberRecord:
    """A member of the group; `consent` None is one never asked (imported from a roster)."""
    member = await uow.members.create(channel, value, at=at)
    member = await uow.members.update(member.id, at=at, name=name, consent=consent)
    await uow.members.join_group(member.id, group_id, at)
    return member


async def checkin(
    uow: UnitOfWork,
    member_id: int,
    group_id: int,
    ended_at: datetime,
    sales: Decimal | str | list[Decimal] | None,
    saved: Decimal | str | None,
    *,
    currency: str = "KES",
    status: SessionStatus = "completed",
    checkin_id: str = "weekly_checkin",
) -> int:
    """A check-in session with its `sales` and `saved` answers (a list: answered again)."""
    started = ended_at - timedelta(minutes=5)
    session = await uow.sessions.start(member_id, checkin_id, 1, "sales", {}, started)
    for step, value in (("sales", sales), ("saved", saved)):
        for amount in value if isinstance(value, list) else [value]:
            if amount is None:
                continue
            skipped = amount == SKIP
            await uow.answers.add(
                NewAnswer(
                    session_id=session.id,
                    member_id=member_id,
                    group_id=group_id,
                    checkin_id=checkin_id,
                    step_id=step,
                    answer_type="money",
                    at=started + timedelta(minutes=1),
                    value_number=None if skipped else Decimal(amount),
                    currency=None if skipped else currency,
                    skipped=skipped,
                )
            )
    if status != "active":
        await uow.sessions.save(session.id, None, status, {}, ended_at, end_reason=status)
    return session.id


async def help_given(
    uow: UnitOfWork, giver: MemberRecord, receiver: MemberRecord, group_id: int, at: datetime
) -> None:
    await uow.help.add(
        giver_id=giver.id,
        receiver_id=receiver.id,
        group_id=group_id,
        kind="advice",
        session_id=None,
        reported_by_id=giver.id,
        at=at,
    )


async def member_story(
    uow: UnitOfWork,
    member: MemberRecord,
    group_id: int,
    text: str,
    *,
    created: datetime,
    approved: datetime | None,
    status: str = "approved",
) -> int:
    story = await uow.stories.propose(member.id, group_id, None, text, at=created)
    await uow.session.execute(
        update(Story)
        .where(Story.id == story.id)
        .values(status=status, moderated_at=approved)
        .execution_options(synchronize_session=False)
    )
    return story.id


async def staff_story(
    uow: UnitOfWork, group_id: int | None, text: str, *, created: datetime, status: str = "approved"
) -> int:
    row = Story(
        member_id=None,
        group_id=group_id,
        text=text,
        status=status,
        created_at=created,
        moderated_at=created,
    )
    uow.session.add(row)
    await uow.session.flush()
    return row.id


@dataclass
class Seeded:
    group: GroupRecord
    members: dict[str, MemberRecord] = field(default_factory=dict)
    stories: dict[str, int] = field(default_factory=dict)


async def seed_group_weeks(
    uow: UnitOfWork,
    *,
    name: str = "Kibera Market Peers",
    zone: str = "Africa/Nairobi",
    language: str = "en",
    currency: str = "KES",
    last_week_sales: str = "3000",
    last_week_saved: str = "500",
) -> Seeded:
    """Two weeks of a group: 2026-W48 (this week) and 2026-W47, plus everything that must
    NOT count (see each line)."""
    group = await uow.groups.create(name, zone, language, currency, at=JOINED)
    other = await uow.groups.create(f"Next door to {name}", zone, language, currency, at=JOINED)
    seeded = Seeded(group)
    m = seeded.members
    for index, who in enumerate(("Amina Wanjiku", "Grace", "Juma", "Wanjiru"), start=1):
        m[who.split()[0]] = await add_member(uow, group.id, who, f"+25470000000{index}")
    m["Otieno"] = await add_member(uow, group.id, "Otieno", "+254700000009")
    await uow.members.join_group(m["Otieno"].id, other.id, datetime(2026, 11, 10, tzinfo=UTC))

    def at(text: str) -> datetime:
        return local(zone, text)

    # This week, 2026-W48 (Monday 23 to Sunday 29 November).
    await checkin(
        uow, m["Amina"].id, group.id, at("2026-11-23 08:00"), "100", "10", currency=currency
    )  # superseded
    await checkin(
        uow, m["Amina"].id, group.id, at("2026-11-25 19:00"), "2000", "500", currency=currency
    )
    await checkin(
        uow,
        m["Grace"].id,
        group.id,
        at("2026-11-29 23:59"),
        ["1000", "1500.50"],
        SKIP,
        currency=currency,
    )
    await checkin(
        uow, m["Juma"].id, group.id, at("2026-11-26 12:00"), "50", "10", currency="USD"
    )  # other currency
    await checkin(
        uow,
        m["Juma"].id,
        group.id,
        at("2026-11-27 12:00"),
        "9999",
        None,
        currency=currency,
        status="active",
    )
    await checkin(
        uow,
        m["Wanjiru"].id,
        group.id,
        at("2026-11-24 12:00"),
        "5555",
        None,
        currency=currency,
        status="expired",
    )
    await checkin(
        uow,
        m["Wanjiru"].id,
        group.id,
        at("2026-11-24 13:00"),
        "7777",
        "7",
        currency=currency,
        checkin_id="monthly_journal",
    )
    await checkin(
        uow, m["Wanjiru"].id, group.id, at("2026-11-30 00:00"), "8888", "8", currency=currency
    )  # next week
    await checkin(
        uow, m["Otieno"].id, other.id, at("2026-11-25 10:00"), "4444", "4", currency=currency
    )  # other group
    await help_given(uow, m["Amina"], m["Grace"], group.id, at("2026-11-24 10:00"))
    await help_given(uow, m["Grace"], m["Juma"], group.id, at("2026-11-29 23:00"))
    await help_given(uow, m["Otieno"], m["Juma"], other.id, at("2026-11-25 10:00"))

    # Last week, 2026-W47.
    await checkin(
        uow,
        m["Amina"].id,
        group.id,
        at("2026-11-20 18:00"),
        last_week_sales,
        last_week_saved,
        currency=currency,
    )
    await help_given(uow, m["Juma"], m["Amina"], group.id, at("2026-11-19 10:00"))

    s = seeded.stories
    s["amina"] = await member_story(
        uow,
        m["Amina"],
        group.id,
        "I opened a second stall at the market!",
        created=at("2026-11-05 10:00"),
        approved=at("2026-11-20 10:00"),
    )
    s["staff"] = await staff_story(
        uow,
        group.id,
        "Keep your receipts in one envelope: the week's sums get easy.",
        created=at("2026-11-10 10:00"),
    )
    s["grace"] = await member_story(
        uow,
        m["Grace"],
        group.id,
        "My first bulk order of flour.",
        created=at("2026-11-06 10:00"),
        approved=at("2026-11-21 10:00"),
    )
    s["proposed"] = await member_story(
        uow,
        m["Juma"],
        group.id,
        "Not approved yet.",
        created=at("2026-11-01 10:00"),
        approved=None,
        status="proposed",
    )
    s["published"] = await member_story(
        uow,
        m["Juma"],
        group.id,
        "Already out.",
        created=at("2026-11-01 10:00"),
        approved=at("2026-11-01 11:00"),
        status="published",
    )
    s["other"] = await staff_story(
        uow, other.id, "Another group's story.", created=at("2026-11-01 10:00")
    )
    return seeded
