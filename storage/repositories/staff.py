"""Staff users: the people who moderate stories, write them and broadcast."""

from __future__ import annotations

import builtins
import re
from datetime import datetime
from typing import Final, cast

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import StorageError
from storage.models import Group, Staff, StaffGroup
from storage.records import STAFF_ROLES, StaffRecord, StaffRole

MAX_NAME_LENGTH: Final = 120
E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")
TELEGRAM_ID: Final = re.compile(r"[1-9][0-9]{0,19}")
EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL_LENGTH: Final = 254


def normalize_email(email: str) -> str:
    """The form in which emails are stored and compared: trimmed, lower case."""
    return email.strip().lower()


class InvalidStaff(StorageError):
    """A staff user cannot be added as asked; the message says what to fix."""


class DuplicateStaff(InvalidStaff):
    """The name, phone or Telegram id is already another staff user's; `existing` is that one."""

    def __init__(self, what: str, existing: StaffRecord) -> None:
        super().__init__(
            f"{what} already belongs to staff #{existing.id} {existing.name} ({existing.role})"
        )
        self.existing = existing


def staff_name_key(name: str) -> str:
    """The form in which staff names are compared: spaces collapsed, case folded."""
    return " ".join(name.split()).casefold()


def staff_record(row: Staff) -> StaffRecord:
    return StaffRecord(
        id=row.id,
        name=row.name,
        role=cast(StaffRole, row.role),
        phone=row.phone,
        telegram_id=row.telegram_id,
        created_at=row.created_at,
        email=row.email,
        language=row.language,
    )


class StaffRepository:
    """Staff users, found by id, phone, Telegram id or name.

    Names are unique regardless of case and spacing (so a name alone identifies whoever approved
    a story), as are phones and Telegram ids. Phones are stored as +E.164: normalising what a
    person typed is the caller's job (see `bot.members.roster.normalize_phone`); this repository
    only refuses what is not already in that form.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        name: str,
        role: StaffRole,
        *,
        phone: str | None = None,
        telegram_id: str | None = None,
        email: str | None = None,
        at: datetime,
    ) -> StaffRecord:
        """Add a staff user; `name` is stored with its spaces collapsed, `email` in lower case.

        Raises `InvalidStaff` when the name is empty or longer than 120 characters, the role is
        not one of admin, coordinator or staff, none of a phone, a Telegram id or an email is
        given, the phone is not +E.164, the Telegram id is not a positive number or the email
        has no `name@domain.tld` shape; `DuplicateStaff` (naming the existing staff user) when
        the name, phone, Telegram id or email is taken. Nothing is written when it raises, and
        the transaction stays usable.
        """
        clean_name = " ".join(name.split())
        phone = phone.strip() if phone else None
        telegram_id = telegram_id.strip() if telegram_id else None
        email = normalize_email(email) if email and email.strip() else None
        _validate(clean_name, role, phone, telegram_id, email)
        await self._refuse_duplicates(clean_name, phone, telegram_id, email)
        row = Staff(
            name=clean_name,
            role=role,
            phone=phone,
            telegram_id=telegram_id,
            email=email,
            created_at=at,
        )
        try:
            async with self._session.begin_nested():
                self._session.add(row)
                await self._session.flush()
        except IntegrityError:
            # Someone added the same phone, Telegram id or email since we looked: name them.
            await self._refuse_duplicates(clean_name, phone, telegram_id, email)
            raise
        return staff_record(row)

    async def by_email(self, email: str) -> StaffRecord | None:
        """The staff user with this email, in any case."""
        row = await self._session.scalar(select(Staff).where(Staff.email == normalize_email(email)))
        return None if row is None else staff_record(row)

    async def group_ids(self, staff_id: int) -> frozenset[int]:
        """The groups this staff user works with."""
        rows = await self._session.scalars(
            select(StaffGroup.group_id).where(StaffGroup.staff_id == staff_id)
        )
        return frozenset(rows)

    async def group_names(self, staff_id: int) -> builtins.list[str]:
        rows = await self._session.scalars(
            select(Group.name)
            .join(StaffGroup, StaffGroup.group_id == Group.id)
            .where(StaffGroup.staff_id == staff_id)
            .order_by(Group.name)
        )
        return builtins.list(rows)

    async def set_groups(self, staff_id: int, group_ids: builtins.list[int]) -> None:
        """Make these the staff user's groups (replacing any before)."""
        await self._session.execute(delete(StaffGroup).where(StaffGroup.staff_id == staff_id))
        if group_ids:
            await self._session.execute(
                insert(StaffGroup),
                [{"staff_id": staff_id, "group_id": group_id} for group_id in set(group_ids)],
            )

    async def set_language(self, staff_id: int, language: str | None) -> None:
        await self._session.execute(
            update(Staff).where(Staff.id == staff_id).values(language=language)
        )

    async def serves(self, staff: StaffRecord, group_id: int) -> bool:
        """Whether the staff user works with the group: admins with every group, the others
        with the groups given to them."""
        return staff.role == "admin" or group_id in await self.group_ids(staff.id)

    async def list(self) -> builtins.list[StaffRecord]:
        """Every staff user, in the order they were added."""
        rows = await self._session.scalars(select(Staff).order_by(Staff.id))
        return [staff_record(row) for row in rows]

    async def get(self, staff_id: int) -> StaffRecord | None:
        row = await self._session.get(Staff, staff_id)
        return None if row is None else staff_record(row)

    async def by_phone(self, phone: str) -> StaffRecord | None:
        """The staff user with this +E.164 phone, if any."""
        row = await self._session.scalar(select(Staff).where(Staff.phone == phone.strip()))
        return None if row is None else staff_record(row)

    async def by_telegram_id(self, telegram_id: str) -> StaffRecord | None:
        row = await self._session.scalar(
            select(Staff).where(Staff.telegram_id == telegram_id.strip())
        )
        return None if row is None else staff_record(row)

    async def by_name(self, name: str) -> builtins.list[StaffRecord]:
        """Staff users with this name in any case and spacing: one, or none (or, should two
        have been added at the same moment, both; callers must then ask for more)."""
        key = staff_name_key(name)
        if not key:
            return []
        # Few staff exist; comparing in Python keeps the case folding Unicode-correct on SQLite.
        return [staff for staff in await self.list() if staff_name_key(staff.name) == key]

    async def _refuse_duplicates(
        self, name: str, phone: str | None, telegram_id: str | None, email: str | None = None
    ) -> None:
        if email is not None and (existing := await self.by_email(email)) is not None:
            raise DuplicateStaff(f"the email {email}", existing)
        if phone is not None and (existing := await self.by_phone(phone)) is not None:
            raise DuplicateStaff(f"the phone {phone}", existing)
        if (
            telegram_id is not None
            and (existing := await self.by_telegram_id(telegram_id)) is not None
        ):
            raise DuplicateStaff(f"the Telegram id {telegram_id}", existing)
        for existing in await self.by_name(name):
            raise DuplicateStaff(f'the name "{name}"', existing)


def _validate(
    name: str, role: str, phone: str | None, telegram_id: str | None, email: str | None
) -> None:
    if not name:
        raise InvalidStaff("a staff user needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidStaff(f"a staff name can have at most {MAX_NAME_LENGTH} characters")
    if not name.isprintable():
        raise InvalidStaff("a staff name cannot have control characters")
    if role not in STAFF_ROLES:
        raise InvalidStaff(f'unknown role "{role}": use one of {", ".join(STAFF_ROLES)}')
    if phone is None and telegram_id is None and email is None:
        raise InvalidStaff("a staff user needs a phone number, a Telegram id or an email")
    if email is not None and (len(email) > MAX_EMAIL_LENGTH or not EMAIL.fullmatch(email)):
        raise InvalidStaff(f'"{email}" is not an email address, like grace@example.org')
    if phone is not None and not E164.fullmatch(phone):
        raise InvalidStaff(f'"{phone}" is not a +E.164 phone number, like +254700000001')
    if telegram_id is not None and not TELEGRAM_ID.fullmatch(telegram_id):
        raise InvalidStaff(
            f'"{telegram_id}" is not a Telegram user id: it is a number, like 6000000001'
        )
