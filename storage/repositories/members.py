"""Members, their addresses and their group memberships."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Final

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import AddressInUse, NotFound
from storage.records import AddressRecord, GroupRecord, MemberRecord
from storage.repositories.groups import WITH_MEMBER_COUNT, counted_group_record
from storage.repositories.mapping import address_record, member_record
from storage.repositories.messages import cancel_proactive
from storage.repositories.tables import ADDRESSES, GROUPS, MEMBERS, MEMBERSHIPS
from storage.vocabulary import Channel


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""Marks a field `MemberRepository.update` leaves alone (None is a value: it clears)."""

_THE_ADDRESS = and_(
    ADDRESSES.c.channel == bindparam("address_channel"),
    ADDRESSES.c.value == bindparam("address_value"),
)
"""The address given as `address_channel` and `address_value` (see `_address`): names that are
no column's, so an UPDATE of addresses can filter with it."""

_BY_ADDRESS = (
    select(MEMBERS).join(ADDRESSES, ADDRESSES.c.member_id == MEMBERS.c.id).where(_THE_ADDRESS)
)
_BY_ADDRESSES = (
    select(MEMBERS, ADDRESSES.c.value.label("address_value"))
    .join(ADDRESSES, ADDRESSES.c.member_id == MEMBERS.c.id)
    .where(
        ADDRESSES.c.channel == bindparam("address_channel"),
        ADDRESSES.c.value.in_(bindparam("address_values", expanding=True)),
    )
)
_BY_ID = select(MEMBERS).where(MEMBERS.c.id == bindparam("member_id"))
_INSERT_MEMBER = insert(MEMBERS).returning(*MEMBERS.c)
_UPDATE_MEMBER = update(MEMBERS).where(MEMBERS.c.id == bindparam("member_id")).returning(*MEMBERS.c)
"""Sets the columns named in the parameters (besides `member_id`); SQLAlchemy compiles it once
per set of names."""

_ADDRESS = select(ADDRESSES).where(_THE_ADDRESS)
_ADDRESS_ID = select(ADDRESSES.c.id).where(_THE_ADDRESS)
_ADDRESSES_OF = (
    select(ADDRESSES)
    .where(ADDRESSES.c.member_id == bindparam("member_id"))
    .order_by(ADDRESSES.c.id)
)
_INSERT_ADDRESS = insert(ADDRESSES).returning(*ADDRESSES.c)
_TOUCH_INBOUND = (
    update(ADDRESSES)
    .where(_THE_ADDRESS)
    .where(
        or_(ADDRESSES.c.last_inbound_at.is_(None), ADDRESSES.c.last_inbound_at < bindparam("at"))
    )
    .values(last_inbound_at=bindparam("at"), blocked_at=None)
    .returning(ADDRESSES.c.id)
)
_TOUCH_MANY_INBOUND = (
    update(ADDRESSES)
    .where(
        ADDRESSES.c.channel == bindparam("address_channel"),
        ADDRESSES.c.value.in_(bindparam("address_values", expanding=True)),
        or_(ADDRESSES.c.last_inbound_at.is_(None), ADDRESSES.c.last_inbound_at < bindparam("at")),
    )
    .values(last_inbound_at=bindparam("at"), blocked_at=None)
)
_MOVE_ADDRESS = update(ADDRESSES).where(_THE_ADDRESS).values(member_id=bindparam("member_id"))
_SET_BLOCKED = update(ADDRESSES).where(_THE_ADDRESS).values(blocked_at=bindparam("blocked_at"))
_LAST_INBOUND = select(ADDRESSES.c.value, ADDRESSES.c.last_inbound_at).where(
    ADDRESSES.c.channel == bindparam("address_channel"),
    ADDRESSES.c.value.in_(bindparam("address_values", expanding=True)),
)

_IS_CURRENT = and_(
    MEMBERSHIPS.c.member_id == bindparam("member_id"), MEMBERSHIPS.c.left_at.is_(None)
)
"""The current membership of the member given as `member_id`."""

_CURRENT_GROUP = WITH_MEMBER_COUNT.join(MEMBERSHIPS, MEMBERSHIPS.c.group_id == GROUPS.c.id).where(
    _IS_CURRENT
)
_CURRENT_GROUPS = (
    WITH_MEMBER_COUNT.add_columns(MEMBERSHIPS.c.member_id.label("of_member_id"))
    .join(MEMBERSHIPS, MEMBERSHIPS.c.group_id == GROUPS.c.id)
    .where(
        MEMBERSHIPS.c.member_id.in_(bindparam("member_ids", expanding=True)),
        MEMBERSHIPS.c.left_at.is_(None),
    )
)
_CURRENT_MEMBERSHIP = select(MEMBERSHIPS.c.id, MEMBERSHIPS.c.group_id).where(_IS_CURRENT)
_END_MEMBERSHIP = (
    update(MEMBERSHIPS)
    .where(MEMBERSHIPS.c.id == bindparam("membership_id"))
    .values(left_at=bindparam("left_at"))
)
_INSERT_MEMBERSHIP = insert(MEMBERSHIPS)


def _address(channel: Channel, value: str) -> dict[str, Any]:
    return {"address_channel": channel, "address_value": value}


class MemberRepository:
    """Members, found by any of their addresses."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_address(self, channel: Channel, value: str) -> MemberRecord | None:
        """The member reachable at (`channel`, `value`), if any."""
        row = (await self._session.execute(_BY_ADDRESS, _address(channel, value))).one_or_none()
        return None if row is None else member_record(row)

    async def by_addresses(self, channel: Channel, values: list[str]) -> dict[str, MemberRecord]:
        """`by_address` for several addresses of one channel in one query: the member of each
        known address, by address."""
        if not values:
            return {}
        rows = await self._session.execute(
            _BY_ADDRESSES, {"address_channel": channel, "address_values": values}
        )
        return {row.address_value: member_record(row) for row in rows}

    async def create(
        self,
        channel: Channel,
        value: str,
        locale: str = "en",
        currency: str | None = None,
        *,
        at: datetime,
    ) -> MemberRecord:
        """A new member with one address. Raises `AddressInUse` (and writes nothing, leaving
        the transaction usable) when the address already belongs to a member."""
        try:
            async with self._session.begin_nested():
                result = await self._session.execute(
                    _INSERT_MEMBER,
                    {
                        "locale": locale,
                        "currency": currency,
                        "opted_out": False,
                        "created_at": at,
                        "updated_at": at,
                    },
                )
                member = member_record(result.one())
                await self._insert_address(member.id, channel, value, at)
        except IntegrityError:
            if await self._address_taken(channel, value):
                raise AddressInUse(channel, value) from None
            raise
        return member

    async def add_address(
        self, member_id: int, channel: Channel, value: str, *, at: datetime
    ) -> AddressRecord:
        """Give a member another address (say, the phone number behind a Telegram chat).

        Raises `AddressInUse` when it belongs to a member already, this one included, leaving
        the transaction usable; an unknown `member_id` raises SQLAlchemy's `IntegrityError`.
        """
        try:
            async with self._session.begin_nested():
                return await self._insert_address(member_id, channel, value, at)
        except IntegrityError:
            if await self._address_taken(channel, value):
                raise AddressInUse(channel, value) from None
            raise

    async def get(self, member_id: int) -> MemberRecord | None:
        row = (await self._session.execute(_BY_ID, {"member_id": member_id})).one_or_none()
        return None if row is None else member_record(row)

    async def update(
        self,
        member_id: int,
        *,
        at: datetime,
        name: str | _Unset | None = UNSET,
        locale: str | _Unset = UNSET,
        currency: str | _Unset | None = UNSET,
        business_type: str | _Unset | None = UNSET,
        consent: bool | _Unset | None = UNSET,
        opted_out: bool | _Unset = UNSET,
        onboarded_at: datetime | _Unset | None = UNSET,
    ) -> MemberRecord:
        """Set the given fields; the others keep their values. `updated_at` becomes `at`.

        Setting `consent` also sets `consented_at` to `at` (or clears it with `consent=None`);
        `opted_out=True` sets `opted_out_at` to `at`, `opted_out=False` clears it; opting out
        also cancels the member's queued proactive lines (see `cancel_proactive`), whichever
        path it came by (STOP, a provider's opt-out error or callback, a blocked bot). Raises
        `NotFound` for an unknown member.
        """
        columns: dict[str, Any] = {"updated_at": at}
        if name is not UNSET:
            columns["name"] = name
        if locale is not UNSET:
            columns["locale"] = locale
        if currency is not UNSET:
            columns["currency"] = currency
        if business_type is not UNSET:
            columns["business_type"] = business_type
        if consent is not UNSET:
            columns["consent"] = consent
            columns["consented_at"] = None if consent is None else at
        if opted_out is not UNSET:
            columns["opted_out"] = opted_out
            columns["opted_out_at"] = at if opted_out else None
        if onboarded_at is not UNSET:
            columns["onboarded_at"] = onboarded_at
        result = await self._session.execute(_UPDATE_MEMBER, {"member_id": member_id, **columns})
        row = result.one_or_none()
        if row is None:
            raise NotFound(f"no member #{member_id}")
        if opted_out is True:
            await cancel_proactive(self._session, member_id, at)
        return member_record(row)

    async def touch_inbound(self, channel: Channel, value: str, at: datetime) -> bool:
        """Record that a message came in from this address at `at` (it opens WhatsApp's 24-hour
        window, and proves a blocked address reachable again). Never moves the time backwards.
        Returns whether the address is known."""
        touched = await self._session.scalar(_TOUCH_INBOUND, {**_address(channel, value), "at": at})
        if touched is not None:
            return True
        return await self._address_taken(channel, value)

    async def touch_many_inbound(self, channel: Channel, values: list[str], at: datetime) -> None:
        """`touch_inbound` for several addresses of one channel in one statement (unknown
        addresses are left out, without telling)."""
        if values:
            await self._session.execute(
                _TOUCH_MANY_INBOUND,
                {"address_channel": channel, "address_values": values, "at": at},
            )

    async def address(self, channel: Channel, value: str) -> AddressRecord | None:
        row = (await self._session.execute(_ADDRESS, _address(channel, value))).one_or_none()
        return None if row is None else address_record(row)

    async def move_address(self, channel: Channel, value: str, member_id: int) -> None:
        """Re-attach an address to another member (linking a chat to who its owner already is).

        Addresses keep no change time, so no `at` is taken; raises `NotFound` for an unknown
        address."""
        result = await self._session.execute(
            _MOVE_ADDRESS, {**_address(channel, value), "member_id": member_id}
        )
        if not getattr(result, "rowcount", 0):
            raise NotFound(f"no address {channel}:{value}")

    async def last_inbound(self, channel: Channel, values: list[str]) -> dict[str, datetime | None]:
        """When each of these addresses last wrote to us (WhatsApp's 24-hour window)."""
        if not values:
            return {}
        rows = await self._session.execute(
            _LAST_INBOUND, {"address_channel": channel, "address_values": values}
        )
        return {value: at for value, at in rows}

    async def set_blocked(
        self, channel: Channel, value: str, blocked: bool, *, at: datetime
    ) -> None:
        """Mark an address as gone (the member blocked the bot, unsubscribed, or the number is
        unreachable) or reachable again. Nothing proactive goes to a blocked address."""
        await self._session.execute(
            _SET_BLOCKED, {**_address(channel, value), "blocked_at": at if blocked else None}
        )

    async def current_group(self, member_id: int) -> GroupRecord | None:
        """The group the member belongs to now, if any."""
        result = await self._session.execute(_CURRENT_GROUP, {"member_id": member_id})
        row = result.one_or_none()
        return None if row is None else counted_group_record(row)

    async def current_groups(self, member_ids: list[int]) -> dict[int, GroupRecord]:
        """`current_group` for several members in one query, by member id (members in no
        group are left out)."""
        if not member_ids:
            return {}
        rows = await self._session.execute(_CURRENT_GROUPS, {"member_ids": member_ids})
        return {row.of_member_id: counted_group_record(row) for row in rows}

    async def join_group(self, member_id: int, group_id: int, at: datetime) -> None:
        """Make `group_id` the member's current group from `at` on, ending the previous current
        membership at `at`. Joining the group the member is already in changes nothing."""
        result = await self._session.execute(_CURRENT_MEMBERSHIP, {"member_id": member_id})
        current = result.one_or_none()
        if current is not None:
            if current.group_id == group_id:
                return
            await self._session.execute(
                _END_MEMBERSHIP, {"membership_id": current.id, "left_at": at}
            )
        await self._session.execute(
            _INSERT_MEMBERSHIP, {"member_id": member_id, "group_id": group_id, "joined_at": at}
        )

    async def addresses(self, member_id: int) -> list[AddressRecord]:
        """The member's addresses, oldest first."""
        rows = await self._session.execute(_ADDRESSES_OF, {"member_id": member_id})
        return [address_record(row) for row in rows]

    async def _insert_address(
        self, member_id: int, channel: Channel, value: str, at: datetime
    ) -> AddressRecord:
        result = await self._session.execute(
            _INSERT_ADDRESS,
            {"member_id": member_id, "channel": channel, "value": value, "created_at": at},
        )
        return address_record(result.one())

    async def _address_taken(self, channel: Channel, value: str) -> bool:
        found = await self._session.scalar(_ADDRESS_ID, _address(channel, value))
        return found is not None
