"""The roster: every member with their addresses and current group, read in one go."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Address, Member, Membership
from storage.records import AddressRecord, RosterEntry
from storage.repositories.mapping import address_record, member_record


class RosterRepository:
    """Whole-roster reads for bulk tools (member import and export), in three queries however
    many members there are. Programs count members in the thousands, so the whole roster fits
    in memory comfortably."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def entries(self) -> list[RosterEntry]:
        """Every member, by id, with their addresses and current group."""
        addresses: defaultdict[int, list[AddressRecord]] = defaultdict(list)
        for row in await self._session.scalars(select(Address).order_by(Address.id)):
            addresses[row.member_id].append(address_record(row))
        current = await self._session.execute(
            select(Membership.member_id, Membership.group_id).where(Membership.left_at.is_(None))
        )
        groups = {member_id: group_id for member_id, group_id in current}
        members = await self._session.scalars(select(Member).order_by(Member.id))
        return [
            RosterEntry(
                member=member_record(row),
                addresses=tuple(addresses.get(row.id, ())),
                group_id=groups.get(row.id),
            )
            for row in members
        ]
