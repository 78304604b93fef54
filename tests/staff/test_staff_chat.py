"""`/stories` in chat, on every backend: who may approve and reject, and what the others hear."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.staff.chat import handle_staff_command, staff_for
from bot.turns.service import Inbound
from conversations.inputs import Reply
from storage import Database
from storage.records import StaffRole, StoryRecord

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
STAFF_CHAT = "6000000001"


async def _seed(database: Database, role: StaffRole) -> tuple[int, StoryRecord]:
    """A staff user with `role` on Telegram (their id) and a member's proposed story."""
    async with database.transaction() as uow:
        group = await uow.groups.create("Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=T0)
        staff = await uow.staff.add("Grace", role, telegram_id=STAFF_CHAT, at=T0)
        member = await uow.members.create("whatsapp", "+254712345678", "en", "KES", at=T0)
        await uow.members.join_group(member.id, group.id, T0)
        story = await uow.stories.propose(member.id, group.id, None, "I sold out on Friday!", T0)
    return staff.id, story


async def _say(database: Database, text: str) -> str:
    """The reply to `text` sent by the staff user's Telegram chat."""
    async with database.transaction() as uow:
        staff = await staff_for(uow, "telegram", STAFF_CHAT)
        assert staff is not None
        inbound = Inbound("telegram", STAFF_CHAT, Reply(text=text))
        [reply] = await handle_staff_command(uow, staff, inbound, None, T0)
    return reply.text


async def _story(database: Database, story_id: int) -> StoryRecord | None:
    async with database.transaction() as uow:
        return await uow.stories.get(story_id)


@pytest.mark.parametrize("action", ["approve", "reject"])
async def test_the_staff_role_cannot_moderate_in_chat(database: Database, action: str) -> None:
    _, story = await _seed(database, "staff")
    reply = await _say(database, f"/stories {action} {story.id}")
    assert reply == (
        "Sorry, Grace: approving or rejecting a story takes a coordinator or an admin, and your "
        "role is staff. Nothing was changed; please ask a coordinator or an admin to review it."
    )
    unchanged = await _story(database, story.id)
    assert unchanged == story
    assert unchanged.status == "proposed" and unchanged.moderated_by_id is None


@pytest.mark.parametrize("role", ["coordinator", "admin"])
async def test_coordinators_and_admins_moderate_in_chat(
    database: Database, role: StaffRole
) -> None:
    staff_id, story = await _seed(database, role)
    assert await _say(database, f"/stories approve {story.id}") == f"Story {story.id} approved."
    approved = await _story(database, story.id)
    assert approved is not None
    assert (approved.status, approved.moderated_by_id) == ("approved", staff_id)
    assert await _say(database, f"/stories reject {story.id}") == f"Story {story.id} rejected."
    rejected = await _story(database, story.id)
    assert rejected is not None and rejected.status == "rejected"


@pytest.mark.parametrize(
    ("role", "last_line"),
    [
        ("staff", "A coordinator or an admin can approve or reject them."),
        ("coordinator", "Reply /stories approve ID or /stories reject ID."),
    ],
)
async def test_every_role_lists_the_stories_in_chat(
    database: Database, role: StaffRole, last_line: str
) -> None:
    _, story = await _seed(database, role)
    listing = (await _say(database, "/stories")).splitlines()
    assert listing == [f"#{story.id}: I sold out on Friday!", last_line]
