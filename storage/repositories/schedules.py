"""What the clock asks the database: which groups and sessions are due, whom to reach, and
who holds the clock's lease. Every "what is due" question is an indexed range query with a
limit, so a sweep costs the same whatever the number of members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Address, CheckinSession, Group, Lease, Member, Membership
from storage.records import DEFAULT_QUIET_END, DEFAULT_QUIET_START, GroupRecord
from storage.repositories.mapping import group_record


@dataclass(frozen=True, slots=True)
class Reach:
    """How to reach a member now: their most recently active address that is not blocked,
    and the time zone and quiet hours that apply to them."""

    member_id: int
    channel: str
    address: str
    timezone: str
    quiet_start: str
    quiet_end: str
    group_id: int | None
    consented: bool = True
    """The member said yes to the consent question: only then may anything proactive go."""


class ScheduleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def groups_due(
        self, column: str, now: datetime, limit: int
    ) -> list[tuple[GroupRecord, datetime | None]]:
        """Groups whose `next_checkin_at` / `next_highlight_at` has come, or was never set."""
        moment = getattr(Group, column)
        rows = await self._session.scalars(
            select(Group)
            .where(or_(moment.is_(None), moment <= now))
            .order_by(moment.nulls_first(), Group.id)
            .limit(limit)
        )
        return [(group_record(row, member_count=0), getattr(row, column)) for row in rows]

    async def set_group_moments(self, column: str, moments: dict[int, datetime]) -> None:
        """Set `next_checkin_at` / `next_highlight_at` of many groups: one statement per
        distinct moment (groups on the same schedule and zone share one)."""
        by_moment: dict[datetime, list[int]] = {}
        for group_id, at in moments.items():
            by_moment.setdefault(at, []).append(group_id)
        for at, group_ids in by_moment.items():
            await self._session.execute(
                update(Group)
                .where(Group.id.in_(group_ids))
                .values({column: at})
                .execution_options(synchronize_session=False)
            )

    async def reach(
        self, *, member_ids: list[int] | None = None, group_ids: list[int] | None = None
    ) -> list[Reach]:
        """Where to reach the given members (or the current, onboarded, consenting, not
        opted-out members of the given groups); members with no reachable address are left
        out."""
        best = aliased(Address)
        newer = aliased(Address)
        # the member's address with the latest inbound message (ties: the newest address)
        no_better = ~(
            select(newer.id)
            .where(
                newer.member_id == best.member_id,
                newer.blocked_at.is_(None),
                newer.channel != "console",
                or_(
                    and_(newer.last_inbound_at.is_not(None), best.last_inbound_at.is_(None)),
                    newer.last_inbound_at > best.last_inbound_at,
                    and_(
                        or_(
                            newer.last_inbound_at == best.last_inbound_at,
                            and_(newer.last_inbound_at.is_(None), best.last_inbound_at.is_(None)),
                        ),
                        newer.id > best.id,
                    ),
                ),
            )
            .exists()
        )
        statement = (
            select(
                Member.id,
                best.channel,
                best.value,
                Member.timezone,
                Group.timezone,
                Group.quiet_start,
                Group.quiet_end,
                Group.id,
                Member.consent,
            )
            .join(
                best,
                and_(
                    best.member_id == Member.id,
                    best.blocked_at.is_(None),
                    best.channel != "console",
                ),
            )
            .outerjoin(
                Membership, and_(Membership.member_id == Member.id, Membership.left_at.is_(None))
            )
            .outerjoin(Group, Group.id == Membership.group_id)
            .where(no_better)
        )
        if member_ids is not None:
            statement = statement.where(Member.id.in_(member_ids))
        if group_ids is not None:
            statement = statement.where(
                Membership.group_id.in_(group_ids),
                Member.opted_out.is_(False),
                Member.consent.is_(True),
                Member.onboarded_at.is_not(None),
            )
        rows = await self._session.execute(statement.order_by(Member.id))
        return [
            Reach(
                member_id=row[0],
                channel=row[1],
                address=row[2],
                timezone=row[3] or row[4] or "UTC",
                quiet_start=row[5] or DEFAULT_QUIET_START,
                quiet_end=row[6] or DEFAULT_QUIET_END,
                group_id=row[7],
                consented=row[8] is True,
            )
            for row in rows
        ]

    async def never_asked(self, group_ids: list[int]) -> list[int]:
        """Current members of the given groups who were never asked for consent: no answer
        to it recorded, not onboarded, not opted out, and no conversation ever started (an
        imported member, typically). Their first contact is the consent question."""
        if not group_ids:
            return []
        rows = await self._session.scalars(
            select(Member.id)
            .join(
                Membership,
                and_(
                    Membership.member_id == Member.id,
                    Membership.left_at.is_(None),
                    Membership.group_id.in_(group_ids),
                ),
            )
            .where(
                Member.consent.is_(None),
                Member.opted_out.is_(False),
                Member.onboarded_at.is_(None),
                ~select(CheckinSession.id).where(CheckinSession.member_id == Member.id).exists(),
            )
            .order_by(Member.id)
        )
        return list(rows)

    async def acquire_lease(self, name: str, holder: str, until: datetime, now: datetime) -> bool:
        """Take or renew the lease `name` until `until`; False while another holder's lease
        has not run out."""
        insert = (
            postgresql.insert
            if self._session.get_bind().dialect.name == "postgresql"
            else sqlite.insert
        )
        upsert = (
            insert(Lease)
            .values(name=name, holder=holder, expires_at=until)
            .on_conflict_do_update(
                index_elements=[Lease.name],
                set_={"holder": holder, "expires_at": until},
                where=or_(Lease.expires_at < now, Lease.holder == holder),
            )
            .returning(Lease.holder)
        )
        return (await self._session.execute(upsert)).scalar_one_or_none() == holder

    async def release_lease(self, name: str, holder: str, now: datetime) -> None:
        await self._session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=now)
            .execution_options(synchronize_session=False)
        )
