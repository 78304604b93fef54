"""A removed staff user through the whole pipeline: their chat commands are a member's words
now, and their `/link` in a group chat is refused."""

from __future__ import annotations

from tests.pipeline.test_pipeline import Stack, stack, telegram_fixture, text_update

__all__ = ["stack"]  # the fixture

STAFF_CHAT = 6000000001


async def _remove_grace(stack: Stack) -> tuple[int, str]:
    """Grace, coordinator of Kibera with a proposed story waiting, removed by Ada."""
    now = stack.runtime.clock()
    async with stack.runtime.database.transaction() as uow:
        group = await uow.groups.create(
            "Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=now
        )
        await uow.staff.add("Ada", "admin", email="ada@example.org", at=now)
        grace = await uow.staff.add("Grace", "coordinator", telegram_id=str(STAFF_CHAT), at=now)
        await uow.staff.set_groups(grace.id, [group.id])
        member = await uow.members.create("telegram", "5123456789", "en", "KES", at=now)
        story = await uow.stories.propose(member.id, group.id, None, "I sold out!", at=now)
        await uow.staff.remove(grace.id, at=now)
    return story.id, group.join_code


async def test_a_removed_staff_users_commands_are_not_honoured(stack: Stack) -> None:
    story_id, code = await _remove_grace(stack)
    await stack.telegram_post(text_update(400, "/stories", chat=STAFF_CHAT))
    await stack.telegram_post(text_update(401, f"/stories approve {story_id}", chat=STAFF_CHAT))
    await stack.telegram_post(text_update(402, f"/broadcast {code} Hello all", chat=STAFF_CHAT))
    sent = await stack.sent_to(STAFF_CHAT, 3)
    texts = "\n".join(message["text"] for message in sent)
    assert "I sold out!" not in texts and "approved" not in texts and "To Kibera" not in texts
    async with stack.runtime.database.transaction() as uow:
        story = await uow.stories.get(story_id)
        assert story is not None and story.status == "proposed"
        assert await uow.broadcasts.list() == []


async def test_a_removed_staff_users_link_is_refused(stack: Stack) -> None:
    _, code = await _remove_grace(stack)
    link = telegram_fixture("group_command_link")
    link["message"]["from"]["id"] = STAFF_CHAT
    link["message"]["text"] = f"/link {code}"
    await stack.telegram_post(link)
    chat_id = link["message"]["chat"]["id"]
    [refused] = await stack.sent_to(chat_id, 1)
    assert "Nothing was changed" in refused["text"]
    async with stack.runtime.database.transaction() as uow:
        chat = await uow.group_chats.get("telegram", str(chat_id))
    assert chat is None or chat.group_id is None
