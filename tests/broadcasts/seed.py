"""Members, addresses, groups and answers for the broadcast tests, written through the
repositories (and, for what they do not set, such as a member's own time zone, the session)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import update

from storage import Database
from storage.models import Member, Staff
from storage.records import GroupRecord
from storage.repositories.answers import NewAnswer
from storage.unit_of_work import UnitOfWork
from storage.vocabulary import Channel

# Friday 27 November 2026, 12:00 in Nairobi: outside the default quiet hours (21:00-07:00).
NOON = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
# The same evening at 22:30 in Nairobi: inside them; they end at 07:00 on Saturday (04:00 UTC).
NIGHT = datetime(2026, 11, 27, 19, 30, tzinfo=UTC)
MORNING = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


async def group(
    uow: UnitOfWork, name: str = "Kibera Market Peers", timezone: str = "Africa/Nairobi"
) -> GroupRecord:
    return await uow.groups.create(name, timezone, "sw", "KES", at=NOON - timedelta(days=30))


async def member(
    uow: UnitOfWork,
    address: tuple[Channel, str],
    group_id: int | None,
    *,
    locale: str = "en",
    business_type: str | None = None,
    opted_out: bool = False,
    consent: bool | None = True,
    blocked: bool = False,
    more: tuple[tuple[Channel, str, datetime | None], ...] = (),
    last_inbound_at: datetime | None = None,
    timezone: str | None = None,
) -> int:
    """A member reachable at `address` (blocked when `blocked`), with `more` addresses (each
    with the time of its last inbound message), in `group_id`; `consent` is their answer to
    the consent question (None: never asked, as an imported member)."""
    at = NOON - timedelta(days=20)
    created = await uow.members.create(address[0], address[1], locale, "KES", at=at)
    await uow.members.update(
        created.id,
        at=at,
        name=f"member {address[1]}",
        business_type=business_type,
        consent=consent,
    )
    if opted_out:
        await uow.members.update(created.id, at=at, opted_out=True)
    if last_inbound_at is not None:
        await uow.members.touch_inbound(address[0], address[1], last_inbound_at)
    if blocked:
        await uow.members.set_blocked(address[0], address[1], True, at=at)
    for channel, value, seen in more:
        await uow.members.add_address(created.id, channel, value, at=at)
        if seen is not None:
            await uow.members.touch_inbound(channel, value, seen)
    if group_id is not None:
        await uow.members.join_group(created.id, group_id, at)
    if timezone is not None:
        await uow.session.execute(
            update(Member).where(Member.id == created.id).values(timezone=timezone)
        )
    return created.id


async def answer(
    uow: UnitOfWork,
    member_id: int,
    group_id: int | None,
    step_id: str,
    at: datetime,
    *,
    number: str | None = None,
    choice: str | None = None,
    skipped: bool = False,
    checkin_id: str = "weekly_checkin",
) -> None:
    session = await uow.sessions.start(member_id, checkin_id, 1, step_id, {}, at)
    await uow.answers.add(
        NewAnswer(
            session_id=session.id,
            member_id=member_id,
            group_id=group_id,
            checkin_id=checkin_id,
            step_id=step_id,
            answer_type="money" if number is not None else "yes_no",
            at=at,
            value_number=Decimal(number) if number is not None else None,
            currency="KES" if number is not None else None,
            value_choice=choice,
            skipped=skipped,
        )
    )
    await uow.sessions.save(session.id, None, "completed", {}, at, "completed")


async def staff(uow: UnitOfWork, name: str = "Amina") -> int:
    row = Staff(name=name, role="staff", created_at=NOON - timedelta(days=40))
    uow.session.add(row)
    await uow.session.flush()
    return row.id


async def count(database: Database, statement: str) -> int:
    from sqlalchemy import text

    async with database.transaction() as uow:
        return int((await uow.session.execute(text(statement))).scalar_one())
