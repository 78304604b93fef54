"""The roster: every member with their addresses and current group, read in one go, and
members written in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import AddressInUse
from storage.records import AddressRecord, RosterEntry, RosterMember, RosterWrite
from storage.repositories.mapping import address_record, member_record
from storage.repositories.tables import ADDRESSES, MEMBERS, MEMBERSHIPS
from storage.vocabulary import Channel

_ADDRESSES = select(ADDRESSES).order_by(ADDRESSES.c.id)
_CURRENT_GROUPS = select(MEMBERSHIPS.c.member_id, MEMBERSHIPS.c.group_id).where(
    MEMBERSHIPS.c.left_at.is_(None)
)
_MEMBERS = select(MEMBERS).order_by(MEMBERS.c.id)
_ADDRESS_KEYS = select(ADDRESSES.c.member_id, ADDRESSES.c.channel, ADDRESSES.c.value).order_by(
    ADDRESSES.c.id
)
_MEMBER_KEYS = select(MEMBERS.c.id, MEMBERS.c.name, MEMBERS.c.locale).order_by(MEMBERS.c.id)

_INSERT_IN_ORDER = {
    table.name: insert(table).returning(table.c.id, sort_by_parameter_order=True)
    for table in (MEMBERS, ADDRESSES, MEMBERSHIPS)
}
"""PostgreSQL's bulk INSERTs: with RETURNING, SQLAlchemy sends the rows as multi-row statements
("insertmanyvalues", a thousand rows each) rather than one execution per row, and with
`sort_by_parameter_order` the ids are drawn from the sequence in the rows' order and come back
in it (an address's id says which is older)."""
_INSERT_PLAIN = {table.name: insert(table) for table in (MEMBERS, ADDRESSES, MEMBERSHIPS)}
"""SQLite's: the driver's `executemany`, one call that inserts the rows one after the other."""
_LAST_MEMBER_ID = select(func.max(MEMBERS.c.id))
_SET_NAMES = (
    update(MEMBERS)
    .where(MEMBERS.c.id == bindparam("member_key"))
    .values(
        name=func.coalesce(bindparam("new_name", type_=MEMBERS.c.name.type), MEMBERS.c.name),
        locale=func.coalesce(
            bindparam("new_locale", type_=MEMBERS.c.locale.type), MEMBERS.c.locale
        ),
        updated_at=bindparam("changed_at", type_=MEMBERS.c.updated_at.type),
    )
)
"""Run once with a parameter set per member: a None name or locale keeps the stored one."""
_CURRENT_MEMBERSHIPS = select(
    MEMBERSHIPS.c.id, MEMBERSHIPS.c.member_id, MEMBERSHIPS.c.group_id
).where(
    MEMBERSHIPS.c.member_id.in_(bindparam("member_ids", expanding=True)),
    MEMBERSHIPS.c.left_at.is_(None),
)
_END_MEMBERSHIPS = (
    update(MEMBERSHIPS)
    .where(MEMBERSHIPS.c.id == bindparam("membership_key"))
    .values(left_at=bindparam("ended_at", type_=MEMBERSHIPS.c.left_at.type))
)
_TAKEN = select(ADDRESSES.c.value).where(
    ADDRESSES.c.channel == bindparam("address_channel"),
    ADDRESSES.c.value.in_(bindparam("address_values", expanding=True)),
)


class RosterRepository:
    """Whole-roster reads and bulk writes for member import and export: a roster is read in
    three queries and a batch of members is written in a handful of statements, however many
    members there are. Programs count members in the thousands, so the whole roster fits in
    memory comfortably."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def entries(self) -> list[RosterEntry]:
        """Every member, by id, with their addresses and current group (Core queries: no ORM
        objects for tens of thousands of rows)."""
        addresses: defaultdict[int, list[AddressRecord]] = defaultdict(list)
        for row in await self._session.execute(_ADDRESSES):
            addresses[row.member_id].append(address_record(row))
        groups = {
            member_id: group_id
            for member_id, group_id in await self._session.execute(_CURRENT_GROUPS)
        }
        members = await self._session.execute(_MEMBERS)
        return [
            RosterEntry(
                member=member_record(row),
                addresses=tuple(addresses.get(row.id, ())),
                group_id=groups.get(row.id),
            )
            for row in members
        ]

    async def to_match(self) -> list[RosterMember]:
        """Every member, by id, as an import matches rows against them (`RosterMember`): the
        roster of `entries` without its timestamps, read in a tenth of the time, which a
        writing transaction planning an import (holding SQLite's write lock) is glad of."""
        addresses: defaultdict[int, list[tuple[Channel, str]]] = defaultdict(list)
        for member_id, channel, value in await self._session.execute(_ADDRESS_KEYS):
            addresses[member_id].append((channel, value))
        groups = {
            member_id: group_id
            for member_id, group_id in await self._session.execute(_CURRENT_GROUPS)
        }
        return [
            RosterMember(id_, name, locale, groups.get(id_), tuple(addresses.get(id_, ())))
            for id_, name, locale in await self._session.execute(_MEMBER_KEYS)
        ]

    async def write(self, writes: Sequence[RosterWrite], *, at: datetime) -> tuple[int, ...]:
        """Write a batch of members, set-based: one INSERT of the new members (their ids come
        back in order), one of every address, one UPDATE run over the names and languages
        that change, one read of the current memberships, then one UPDATE ending those that
        change group and one INSERT of the new ones. Returns each write's member id, in order.

        The writes are as `MemberRepository.create`, `add_address`, `update` and `join_group`
        would make them one by one: new members with no consent, not onboarded and not opted
        out (`at` is their creation time); `updated_at` becomes `at` only for members whose
        name or language is written; joining the group a member is in already changes nothing,
        joining another ends the current membership at `at`.

        All of it or nothing: the batch runs in a SAVEPOINT. An address that belongs to a
        member already (someone wrote to the bot from it since the import was planned, or a
        write gives it twice) raises `AddressInUse` for the first such address of the batch,
        with nothing of the batch written and the transaction still usable. The unique
        constraint on addresses decides it, so a member created by a conversation at the same
        moment is never duplicated: on PostgreSQL the second of the two INSERTs waits for the
        first transaction and fails if it commits; on SQLite writers take turns.
        """
        if not writes:
            return ()
        try:
            async with self._session.begin_nested():
                return await self._write(writes, at)
        except IntegrityError:
            taken = await self._first_taken(writes)
            if taken is not None:
                raise AddressInUse(*taken) from None
            raise

    async def _write(self, writes: Sequence[RosterWrite], at: datetime) -> tuple[int, ...]:
        new = [write for write in writes if write.member_id is None]
        created: list[int] = []
        if new:
            created = await self._insert_members(
                [
                    {
                        "name": write.name,
                        "locale": write.locale or "en",
                        "currency": None,
                        "opted_out": False,
                        "created_at": at,
                        "updated_at": at,
                    }
                    for write in new
                ]
            )
        fresh = iter(created)
        ids = tuple(
            write.member_id if write.member_id is not None else next(fresh) for write in writes
        )
        addresses = [
            {"member_id": member_id, "channel": channel, "value": value, "created_at": at}
            for member_id, write in zip(ids, writes, strict=True)
            for channel, value in write.addresses
        ]
        if addresses:
            await self._insert(ADDRESSES, addresses)
        renamed = [
            {
                "member_key": write.member_id,
                "new_name": write.name,
                "new_locale": write.locale,
                "changed_at": at,
            }
            for write in writes
            if write.member_id is not None and (write.name is not None or write.locale is not None)
        ]
        if renamed:
            await self._session.execute(_SET_NAMES, renamed)
        await self._join_groups(
            {
                member_id: write.group_id
                for member_id, write in zip(ids, writes, strict=True)
                if write.group_id is not None
            },
            at,
        )
        return ids

    def _on_sqlite(self) -> bool:
        return self._session.get_bind().dialect.name == "sqlite"

    async def _insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if self._on_sqlite():
            await self._session.execute(_INSERT_PLAIN[table.name], rows)
        else:
            await self._session.execute(_INSERT_IN_ORDER[table.name], rows)

    async def _insert_members(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert members; their ids, in the order of `rows`.

        PostgreSQL returns them (`_INSERT_IN_ORDER`). SQLite's multi-row INSERT does not
        promise the order of its RETURNING rows, and SQLAlchemy then falls back to one INSERT
        per row (a round trip to the driver's thread each: seconds for a program); instead the
        ids are given here, following the largest one. That is safe because a writing
        transaction on SQLite holds the database's write lock from its `BEGIN IMMEDIATE`
        (`storage.engines`): no other connection can add a member in between, and were one to
        try, the INSERT would fail on the primary key rather than mix up ids.
        """
        if not self._on_sqlite():
            result = await self._session.execute(_INSERT_IN_ORDER[MEMBERS.name], rows)
            return [row.id for row in result]
        last = await self._session.scalar(_LAST_MEMBER_ID) or 0
        ids = list(range(last + 1, last + 1 + len(rows)))
        await self._session.execute(
            _INSERT_PLAIN[MEMBERS.name],
            [{"id": id_, **row} for id_, row in zip(ids, rows, strict=True)],
        )
        return ids

    async def _join_groups(self, joining: dict[int, int], at: datetime) -> None:
        """Make each member's group the one given, as `MemberRepository.join_group`."""
        if not joining:
            return
        current = await self._session.execute(_CURRENT_MEMBERSHIPS, {"member_ids": list(joining)})
        ended: list[dict[str, Any]] = []
        for membership_id, member_id, group_id in current:
            if joining[member_id] == group_id:
                del joining[member_id]  # in that group already
            else:
                ended.append({"membership_key": membership_id, "ended_at": at})
        if ended:
            await self._session.execute(_END_MEMBERSHIPS, ended)
        if joining:
            await self._insert(
                MEMBERSHIPS,
                [
                    {"member_id": member_id, "group_id": group_id, "joined_at": at}
                    for member_id, group_id in joining.items()
                ],
            )

    async def _first_taken(self, writes: Sequence[RosterWrite]) -> tuple[Channel, str] | None:
        """The first address of `writes` that is stored already or given twice, if any."""
        wanted = [address for write in writes for address in write.addresses]
        by_channel: defaultdict[Channel, list[str]] = defaultdict(list)
        for channel, value in wanted:
            by_channel[channel].append(value)
        stored: set[tuple[Channel, str]] = set()
        for channel, values in by_channel.items():
            rows = await self._session.scalars(
                _TAKEN, {"address_channel": channel, "address_values": values}
            )
            stored.update((channel, value) for value in rows)
        seen: set[tuple[Channel, str]] = set()
        for address in wanted:
            if address in stored or address in seen:
                return address
            seen.add(address)
        return None
