"""Removing and editing staff users in storage, on every backend: removal is a state that every
lookup respects, the last admin stays, and an edit keeps the rules `add` keeps."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from storage import Database
from storage.errors import NotFound
from storage.models import Staff
from storage.repositories.broadcasts import InvalidBroadcast
from storage.repositories.staff import DuplicateStaff, InvalidStaff, LastAdmin

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)


async def _seed(database: Database) -> tuple[int, int, int]:
    """An admin, and a coordinator (Grace, of one group) with every kind of address."""
    async with database.transaction() as uow:
        group = await uow.groups.create("Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=T0)
        admin = await uow.staff.add("Ada", "admin", email="ada@example.org", at=T0)
        grace = await uow.staff.add(
            "Grace",
            "coordinator",
            phone="+254700000001",
            telegram_id="6000000001",
            email="grace@example.org",
            at=T0,
        )
        await uow.staff.set_groups(grace.id, [group.id])
    return admin.id, grace.id, group.id


async def test_every_lookup_leaves_a_removed_staff_user_out(database: Database) -> None:
    """The removed state alone (addresses still on the row) hides them from every lookup."""
    _, grace_id, group_id = await _seed(database)
    async with database.transaction() as uow:
        grace = await uow.staff.get(grace_id)
        assert grace is not None and await uow.staff.serves(grace, group_id)
        await uow.session.execute(update(Staff).where(Staff.id == grace_id).values(removed_at=T1))
    async with database.transaction() as uow:
        assert await uow.staff.get(grace_id) is None
        assert await uow.staff.by_phone("+254700000001") is None
        assert await uow.staff.by_telegram_id("6000000001") is None
        assert await uow.staff.by_email("grace@example.org") is None
        assert await uow.staff.by_name("grace") == []
        assert [person.name for person in await uow.staff.list()] == ["Ada"]
        assert await uow.sign_in.for_login("grace@example.org") is None
        assert await uow.sign_in.for_login("+254700000001") is None
        removed = await uow.staff.get(grace_id, include_removed=True)
        assert removed is not None and removed.removed_at == T1
        assert not await uow.staff.serves(removed, group_id)
        assert [
            person.name for person in await uow.staff.by_name("GRACE", include_removed=True)
        ] == ["Grace"]
        assert [p.name for p in await uow.staff.list(include_removed=True)] == ["Ada", "Grace"]


async def test_removal_keeps_the_row_releases_addresses_and_ends_sessions(
    database: Database,
) -> None:
    _, grace_id, _ = await _seed(database)
    async with database.transaction() as uow:
        before = await uow.sign_in.get(grace_id)
        assert before is not None
        member = await uow.members.create("whatsapp", "+254712345678", "en", "KES", at=T0)
        story = await uow.stories.propose(member.id, None, None, "I sold out!", T0)
        await uow.stories.approve(story.id, grace_id, T0)
        removed = await uow.staff.remove(grace_id, at=T1)
    assert (removed.name, removed.role, removed.removed_at) == ("Grace", "coordinator", T1)
    assert (removed.phone, removed.telegram_id, removed.email) == (None, None, None)
    async with database.transaction() as uow:
        after = await uow.sign_in.get(grace_id)
        assert after is not None and after.session_version == before.session_version + 1
        assert await uow.staff.group_ids(grace_id) == frozenset()
        kept = await uow.stories.get(story.id)
        assert kept is not None and kept.moderated_by_id == grace_id
        # what she wrote still names her; she acts on nothing more
        with pytest.raises(NotFound, match="was removed"):
            await uow.stories.reject(story.id, grace_id, T1)
        with pytest.raises(InvalidBroadcast, match="was removed"):
            await uow.broadcasts.create(
                created_by_id=grace_id, group_id=None, language=None, segment=None,
                texts={"en": "Hello"}, scheduled_at=T1, at=T1,
            )  # fmt: skip
        with pytest.raises(InvalidStaff, match="no working staff user"):
            await uow.staff.remove(grace_id, at=T1)
        # her addresses are free for someone else; her name still says who she was
        again = await uow.staff.add("Grace W", "staff", phone="+254700000001", at=T1)
        assert again.phone == "+254700000001"
        with pytest.raises(DuplicateStaff, match=r"staff #\d+ Grace \(coordinator, removed\)"):
            await uow.staff.add("grace", "staff", telegram_id="6000000009", at=T1)


async def test_the_last_admin_is_neither_removed_nor_demoted(database: Database) -> None:
    admin_id, grace_id, _ = await _seed(database)
    async with database.transaction() as uow:
        with pytest.raises(LastAdmin, match="Ada is the last admin"):
            await uow.staff.remove(admin_id, at=T1)
        with pytest.raises(LastAdmin, match="Ada is the last admin"):
            await uow.staff.edit(admin_id, role="coordinator")
        await uow.staff.edit(grace_id, role="admin")
        await uow.staff.remove(admin_id, at=T1)
        with pytest.raises(LastAdmin, match="Grace is the last admin"):
            await uow.staff.remove(grace_id, at=T1)
    async with database.transaction() as uow:
        assert [(p.name, p.role) for p in await uow.staff.list()] == [("Grace", "admin")]


async def test_two_admins_removing_each_other_at_once_leave_one(database: Database) -> None:
    admin_id, grace_id, _ = await _seed(database)
    async with database.transaction() as uow:
        await uow.staff.edit(grace_id, role="admin")

    async def remove(staff_id: int) -> str:
        try:
            async with database.transaction() as uow:
                await uow.staff.remove(staff_id, at=T1)
                await asyncio.sleep(0.05)  # both hold their transaction open at once
        except LastAdmin:
            return "refused"
        except Exception as error:  # SQLite refuses the second writer instead of waiting
            return type(error).__name__
        return "removed"

    outcomes = await asyncio.gather(remove(admin_id), remove(grace_id))
    assert outcomes.count("removed") == 1, outcomes
    async with database.transaction() as uow:
        assert len([p for p in await uow.staff.list() if p.role == "admin"]) == 1


async def test_edit_changes_what_is_given_and_keeps_the_rules(database: Database) -> None:
    admin_id, grace_id, _ = await _seed(database)
    async with database.transaction() as uow:
        edited = await uow.staff.edit(
            grace_id,
            name="  Grace   Wanjiku ",
            phone="",
            email="GRACE.W@Example.org",
            language="sw",
        )
    assert (edited.name, edited.phone, edited.email, edited.language) == (
        "Grace Wanjiku", None, "grace.w@example.org", "sw",
    )  # fmt: skip
    assert (edited.role, edited.telegram_id) == ("coordinator", "6000000001")
    async with database.transaction() as uow:
        assert await uow.staff.by_phone("+254700000001") is None
        assert await uow.staff.by_email("grace.w@example.org") == edited
        # her own name, in another case, is no duplicate of herself
        assert (await uow.staff.edit(grace_id, name="grace wanjiku")).name == "grace wanjiku"
        with pytest.raises(DuplicateStaff, match=r"the email ada@example\.org"):
            await uow.staff.edit(grace_id, email="ada@example.org")
        with pytest.raises(DuplicateStaff, match='the name "ada" already'):
            await uow.staff.edit(grace_id, name="ada")
        with pytest.raises(InvalidStaff, match="needs a phone number, a Telegram id or an email"):
            await uow.staff.edit(grace_id, telegram_id="", email="")
        with pytest.raises(InvalidStaff, match="not a Telegram user id"):
            await uow.staff.edit(grace_id, telegram_id="abc")
        with pytest.raises(InvalidStaff, match="unknown role"):
            await uow.staff.edit(grace_id, role="owner")  # type: ignore[arg-type]
        with pytest.raises(InvalidStaff, match="needs a name"):
            await uow.staff.edit(grace_id, name="  ")
    async with database.transaction() as uow:
        # nothing of the refused edits was written
        assert await uow.staff.get(grace_id) == replace(edited, name="grace wanjiku")
        assert (await uow.staff.get(admin_id)) is not None
