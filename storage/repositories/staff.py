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
        state = f"{existing.role}, removed" if existing.removed else existing.role
        super().__init__(
            f"{what} already belongs to staff #{existing.id} {existing.name} ({state})"
        )
        self.existing = existing


class LastAdmin(InvalidStaff):
    """The change would leave no admin, and nobody could then manage staff."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name} is the last admin: make someone else an admin first "
            "(mutuality staff edit NAME --role admin --by ...), so staff can still be managed"
        )


UNCHANGED: Final = None
"""For `StaffRepository.edit`: leave this field as it is (an empty string clears it)."""


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
        removed_at=row.removed_at,
    )


CURRENT = Staff.removed_at.is_(None)
"""The condition every lookup of a working staff user carries: removed staff are left out."""


class StaffRepository:
    """Staff users, found by id, phone, Telegram id or name.

    A removed staff user (`remove`) keeps their row, so the audit log and what they wrote still
    name them, but no lookup finds them unless it asks with `include_removed`: they cannot sign
    in, send chat commands, be named after `--by` or be given groups. Removal also releases their
    phone, Telegram id and email, so no address leads to them and each may be given to someone.

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
        row = await self._session.scalar(
            select(Staff).where(Staff.email == normalize_email(email), CURRENT)
        )
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
        return not staff.removed and (
            staff.role == "admin" or group_id in await self.group_ids(staff.id)
        )

    async def list(self, *, include_removed: bool = False) -> builtins.list[StaffRecord]:
        """Every working staff user (and the removed ones too if asked), in the order they were
        added."""
        statement = select(Staff).order_by(Staff.id)
        if not include_removed:
            statement = statement.where(CURRENT)
        return [staff_record(row) for row in await self._session.scalars(statement)]

    async def get(self, staff_id: int, *, include_removed: bool = False) -> StaffRecord | None:
        """Staff user `staff_id`; a removed one only with `include_removed` (to name them)."""
        row = await self._session.get(Staff, staff_id, populate_existing=True)
        if row is None or (row.removed_at is not None and not include_removed):
            return None
        return staff_record(row)

    async def by_phone(self, phone: str) -> StaffRecord | None:
        """The working staff user with this +E.164 phone, if any."""
        row = await self._session.scalar(select(Staff).where(Staff.phone == phone.strip(), CURRENT))
        return None if row is None else staff_record(row)

    async def by_telegram_id(self, telegram_id: str) -> StaffRecord | None:
        row = await self._session.scalar(
            select(Staff).where(Staff.telegram_id == telegram_id.strip(), CURRENT)
        )
        return None if row is None else staff_record(row)

    async def by_name(
        self, name: str, *, include_removed: bool = False
    ) -> builtins.list[StaffRecord]:
        """Staff users with this name in any case and spacing: one, or none (or, should two
        have been added at the same moment, both; callers must then ask for more)."""
        key = staff_name_key(name)
        if not key:
            return []
        # Few staff exist; comparing in Python keeps the case folding Unicode-correct on SQLite.
        return [
            staff
            for staff in await self.list(include_removed=include_removed)
            if staff_name_key(staff.name) == key
        ]

    async def remove(self, staff_id: int, *, at: datetime) -> StaffRecord:
        """Mark staff user `staff_id` removed: their phone, Telegram id and email are released,
        their groups taken away and every console session of theirs ends.

        Raises `InvalidStaff` when there is no such working staff user, and `LastAdmin` (with
        nothing written) when they are the last admin.
        """
        person = await self.get(staff_id)
        if person is None:
            raise InvalidStaff(f"no working staff user #{staff_id}")
        if person.role == "admin":
            await self._keep_an_admin(person)
        await self.set_groups(staff_id, [])
        await self._session.execute(
            update(Staff)
            .where(Staff.id == staff_id)
            .values(
                removed_at=at,
                phone=None,
                telegram_id=None,
                email=None,
                session_version=Staff.session_version + 1,
            )
        )
        removed = await self.get(staff_id, include_removed=True)
        assert removed is not None
        return removed

    async def edit(
        self,
        staff_id: int,
        *,
        name: str | None = UNCHANGED,
        role: StaffRole | None = UNCHANGED,
        phone: str | None = UNCHANGED,
        telegram_id: str | None = UNCHANGED,
        email: str | None = UNCHANGED,
        language: str | None = UNCHANGED,
    ) -> StaffRecord:
        """Change what is given of a working staff user; an empty phone, Telegram id, email or
        language clears it. The same rules as `add` hold for the result (a name, a known role,
        one way to reach them, valid forms, nothing another staff user has).

        Raises `InvalidStaff`, `DuplicateStaff` or `LastAdmin` (demoting the last admin), with
        nothing written.
        """
        person = await self.get(staff_id)
        if person is None:
            raise InvalidStaff(f"no working staff user #{staff_id}")
        new_name = person.name if name is None else " ".join(name.split())
        new_role = person.role if role is None else role
        new_phone = person.phone if phone is None else (phone.strip() or None)
        new_telegram = person.telegram_id if telegram_id is None else (telegram_id.strip() or None)
        new_email = person.email if email is None else (normalize_email(email) or None)
        new_language = person.language if language is None else (language.strip() or None)
        _validate(new_name, new_role, new_phone, new_telegram, new_email)
        await self._refuse_duplicates(
            new_name,
            new_phone if new_phone != person.phone else None,
            new_telegram if new_telegram != person.telegram_id else None,
            new_email if new_email != person.email else None,
            other_than=staff_id,
        )
        if person.role == "admin" and new_role != "admin":
            await self._keep_an_admin(person)
        await self._session.execute(
            update(Staff)
            .where(Staff.id == staff_id)
            .values(
                name=new_name,
                role=new_role,
                phone=new_phone,
                telegram_id=new_telegram,
                email=new_email,
                language=new_language,
            )
        )
        edited = await self.get(staff_id)
        assert edited is not None
        return edited

    async def _keep_an_admin(self, leaving: StaffRecord) -> None:
        """Refuse to let the last working admin go. The working admins' rows are locked first
        (on PostgreSQL), so two admins removing each other at once cannot both succeed."""
        admins = await self._session.scalars(
            select(Staff.id).where(Staff.role == "admin", CURRENT).with_for_update()
        )
        if not set(admins) - {leaving.id}:
            raise LastAdmin(leaving.name)

    async def _refuse_duplicates(
        self,
        name: str,
        phone: str | None,
        telegram_id: str | None,
        email: str | None = None,
        *,
        other_than: int | None = None,
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
        # Removed staff keep their names: a name still says who approved or wrote a story.
        for existing in await self.by_name(name, include_removed=True):
            if existing.id != other_than:
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
