"""Staff users in storage, on every backend: adding, finding, and refusing duplicates."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from storage import Database
from storage.records import StaffRole
from storage.repositories.staff import DuplicateStaff, InvalidStaff

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


async def test_add_list_and_find(database: Database) -> None:
    async with database.transaction() as uow:
        grace = await uow.staff.add(
            "  Grace   Wanjiku ",
            "coordinator",
            phone="+254700000001",
            telegram_id="6000000001",
            at=T0,
        )
        bob = await uow.staff.add("Bob", "staff", telegram_id="6000000002", at=T0)
    assert grace.name == "Grace Wanjiku"
    assert (grace.role, grace.phone, grace.telegram_id) == (
        "coordinator",
        "+254700000001",
        "6000000001",
    )
    assert bob.phone is None
    async with database.transaction() as uow:
        assert await uow.staff.list() == [grace, bob]
        assert await uow.staff.get(grace.id) == grace
        assert await uow.staff.get(bob.id + 100) is None
        assert await uow.staff.by_phone("+254700000001") == grace
        assert await uow.staff.by_phone("+254700000009") is None
        assert await uow.staff.by_telegram_id("6000000002") == bob
        assert await uow.staff.by_telegram_id("1") is None
        assert await uow.staff.by_name("grace  WANJIKU") == [grace]
        assert await uow.staff.by_name("Grace") == []
        assert await uow.staff.by_name("  ") == []


@pytest.mark.parametrize(
    ("name", "phone", "telegram_id", "message"),
    [
        (
            "Other",
            "+254700000001",
            None,
            "the phone +254700000001 already belongs to staff #1 Grace (coordinator)",
        ),
        (
            "Other",
            None,
            "6000000001",
            "the Telegram id 6000000001 already belongs to staff #1 Grace",
        ),
        ("GRACE", "+254700000002", None, 'the name "GRACE" already belongs to staff #1 Grace'),
    ],
)
async def test_duplicates_name_the_existing_staff_user(
    database: Database, name: str, phone: str | None, telegram_id: str | None, message: str
) -> None:
    async with database.transaction() as uow:
        await uow.staff.add(
            "Grace", "coordinator", phone="+254700000001", telegram_id="6000000001", at=T0
        )
    async with database.transaction() as uow:
        with pytest.raises(DuplicateStaff, match=re.escape(message)) as raised:
            await uow.staff.add(name, "staff", phone=phone, telegram_id=telegram_id, at=T0)
        assert raised.value.existing.name == "Grace"
        # The transaction is still usable and nothing was added.
        assert [staff.name for staff in await uow.staff.list()] == ["Grace"]


@pytest.mark.parametrize(
    ("name", "role", "phone", "telegram_id", "message"),
    [
        ("", "staff", "+254700000001", None, "needs a name"),
        ("x" * 121, "staff", "+254700000001", None, "at most 120"),
        ("Ann", "boss", "+254700000001", None, 'unknown role "boss"'),
        ("Ann", "staff", None, None, "a phone number, a Telegram id or an email"),
        ("Ann", "staff", "0700000001", None, "not a \\+E.164 phone number"),
        ("Ann", "staff", None, "-100123", "not a Telegram user id"),
    ],
)
async def test_invalid_staff_is_refused(
    database: Database,
    name: str,
    role: str,
    phone: str | None,
    telegram_id: str | None,
    message: str,
) -> None:
    async with database.transaction() as uow:
        with pytest.raises(InvalidStaff, match=message):
            await uow.staff.add(
                name,
                role,  # type: ignore[arg-type]
                phone=phone,
                telegram_id=telegram_id,
                at=T0,
            )
        assert await uow.staff.list() == []


async def test_every_role(database: Database) -> None:
    roles: list[StaffRole] = ["admin", "coordinator", "staff"]
    async with database.transaction() as uow:
        for number, role in enumerate(roles):
            await uow.staff.add(f"Person {number}", role, telegram_id=str(number + 1), at=T0)
        assert [staff.role for staff in await uow.staff.list()] == roles
