"""Members, their addresses and their group memberships."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Final

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import AddressInUse, NotFound
from storage.models import Address, Member, Membership
from storage.records import AddressRecord, GroupRecord, MemberRecord
from storage.repositories.groups import GroupRepository
from storage.repositories.mapping import address_record, member_record
from storage.vocabulary import Channel


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""Marks a field `MemberRepository.update` leaves alone (None is a value: it clears)."""


class MemberRepository:
    """Members, found by any of their addresses."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_address(self, channel: Channel, value: str) -> MemberRecord | None:
        """The member reachable at (`channel`, `value`), if any."""
        statement = (
            select(Member)
            .join(Address, Address.member_id == Member.id)
            .where(Address.channel == channel, Address.value == value)
        )
        row = await self._session.scalar(statement)
        return None if row is None else member_record(row)

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
        member = Member(
            locale=locale,
            currency=currency,
            opted_out=False,
            created_at=at,
            updated_at=at,
        )
        try:
            async with self._session.begin_nested():
                self._session.add(member)
                await self._session.flush()
                self._session.add(
                    Address(member_id=member.id, channel=channel, value=value, created_at=at)
                )
                await self._session.flush()
        except IntegrityError:
            if await self._address_taken(channel, value):
                raise AddressInUse(channel, value) from None
            raise
        return member_record(member)

    async def add_address(
        self, member_id: int, channel: Channel, value: str, *, at: datetime
    ) -> AddressRecord:
        """Give a member another address (say, the phone number behind a Telegram chat).

        Raises `AddressInUse` when it belongs to a member already, this one included, leaving
        the transaction usable; an unknown `member_id` raises SQLAlchemy's `IntegrityError`.
        """
        address = Address(member_id=member_id, channel=channel, value=value, created_at=at)
        try:
            async with self._session.begin_nested():
                self._session.add(address)
                await self._session.flush()
        except IntegrityError:
            if await self._address_taken(channel, value):
                raise AddressInUse(channel, value) from None
            raise
        return address_record(address)

    async def get(self, member_id: int) -> MemberRecord | None:
        row = await self._session.get(Member, member_id)
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
        `opted_out=True` sets `opted_out_at` to `at`, `opted_out=False` clears it. Raises
        `NotFound` for an unknown member.
        """
        row = await self._session.get(Member, member_id)
        if row is None:
            raise NotFound(f"no member #{member_id}")
        if name is not UNSET:
            row.name = name
        if locale is not UNSET:
            row.locale = locale
        if currency is not UNSET:
            row.currency = currency
        if business_type is not UNSET:
            row.business_type = business_type
        if consent is not UNSET:
            row.consent = consent
            row.consented_at = None if consent is None else at
        if opted_out is not UNSET:
            row.opted_out = opted_out
            row.opted_out_at = at if opted_out else None
        if onboarded_at is not UNSET:
            row.onboarded_at = onboarded_at
        row.updated_at = at
        await self._session.flush()
        return member_record(row)

    async def touch_inbound(self, channel: Channel, value: str, at: datetime) -> bool:
        """Record that a message came in from this address at `at` (it opens WhatsApp's 24-hour
        window, and proves a blocked address reachable again). Never moves the time backwards.
        Returns whether the address is known."""
        statement = (
            update(Address)
            .where(Address.channel == channel, Address.value == value)
            .where(or_(Address.last_inbound_at.is_(None), Address.last_inbound_at < at))
            .values(last_inbound_at=at, blocked_at=None)
            .returning(Address.id)
        )
        if await self._session.scalar(statement) is not None:
            return True
        return await self._address_taken(channel, value)

    async def address(self, channel: Channel, value: str) -> AddressRecord | None:
        row = await self._session.scalar(
            select(Address).where(Address.channel == channel, Address.value == value)
        )
        return None if row is None else address_record(row)

    async def move_address(self, channel: Channel, value: str, member_id: int) -> None:
        """Re-attach an address to another member (linking a chat to who its owner already is).

        Addresses keep no change time, so no `at` is taken; raises `NotFound` for an unknown
        address."""
        result = await self._session.execute(
            update(Address)
            .where(Address.channel == channel, Address.value == value)
            .values(member_id=member_id)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            raise NotFound(f"no address {channel}:{value}")

    async def last_inbound(self, channel: Channel, values: list[str]) -> dict[str, datetime | None]:
        """When each of these addresses last wrote to us (WhatsApp's 24-hour window)."""
        if not values:
            return {}
        rows = await self._session.execute(
            select(Address.value, Address.last_inbound_at).where(
                Address.channel == channel, Address.value.in_(values)
            )
        )
        return {value: at for value, at in rows}

    async def set_blocked(
        self, channel: Channel, value: str, blocked: bool, *, at: datetime
    ) -> None:
        """Mark an address as gone (the member blocked the bot, unsubscribed, or the number is
        unreachable) or reachable again. Nothing proactive goes to a blocked address."""
        await self._session.execute(
            update(Address)
            .where(Address.channel == channel, Address.value == value)
            .values(blocked_at=at if blocked else None)
            .execution_options(synchronize_session=False)
        )

    async def current_group(self, member_id: int) -> GroupRecord | None:
        """The group the member belongs to now, if any."""
        group_id = await self._session.scalar(
            select(Membership.group_id).where(
                Membership.member_id == member_id, Membership.left_at.is_(None)
            )
        )
        if group_id is None:
            return None
        return await GroupRepository(self._session).get(group_id)

    async def join_group(self, member_id: int, group_id: int, at: datetime) -> None:
        """Make `group_id` the member's current group from `at` on, ending the previous current
        membership at `at`. Joining the group the member is already in changes nothing."""
        current = await self._session.scalar(
            select(Membership).where(
                Membership.member_id == member_id, Membership.left_at.is_(None)
            )
        )
        if current is not None:
            if current.group_id == group_id:
                return
            current.left_at = at
            await self._session.flush()
        self._session.add(Membership(member_id=member_id, group_id=group_id, joined_at=at))
        await self._session.flush()

    async def addresses(self, member_id: int) -> list[AddressRecord]:
        """The member's addresses, oldest first."""
        rows = await self._session.scalars(
            select(Address).where(Address.member_id == member_id).order_by(Address.id)
        )
        return [address_record(row) for row in rows]

    async def _address_taken(self, channel: Channel, value: str) -> bool:
        found = await self._session.scalar(
            select(Address.id).where(Address.channel == channel, Address.value == value)
        )
        return found is not None
