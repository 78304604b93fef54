"""Story moderation in storage, on every backend: every transition allowed and refused, edits
that keep the member's words, staff-written stories and the queue highlights take from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage import Database, NotFound, UnitOfWork
from storage.records import StoryRecord
from storage.repositories.stories import MAX_STORY_LENGTH, InvalidStory, InvalidTransition

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


async def _setup(uow: UnitOfWork) -> tuple[int, int, int, int]:
    """(group id, member id, moderator id, author id)."""
    group = await uow.groups.create("Kibera Market Peers", "Africa/Nairobi", "sw", "KES", at=T0)
    member = await uow.members.create("whatsapp", "+254712345678", "sw", "KES", at=T0)
    grace = await uow.staff.add("Grace", "coordinator", phone="+254700000001", at=T0)
    bob = await uow.staff.add("Bob", "coordinator", telegram_id="6000000002", at=T0)
    return group.id, member.id, grace.id, bob.id


async def _story_in(uow: UnitOfWork, status: str, member_id: int, staff_id: int) -> StoryRecord:
    story = await uow.stories.propose(member_id, None, None, "I bought a freezer!", T0)
    if status in ("approved", "published"):
        story = await uow.stories.approve(story.id, staff_id, T0 + MINUTE)
    if status == "rejected":
        story = await uow.stories.reject(story.id, staff_id, T0 + MINUTE)
    if status == "published":
        story = await uow.stories.publish(story.id, T0 + 2 * MINUTE)
    assert story.status == status
    return story


ALLOWED = {
    ("proposed", "approve"): "approved",
    ("proposed", "reject"): "rejected",
    ("proposed", "edit"): "proposed",
    ("approved", "reject"): "rejected",
    ("approved", "publish"): "published",
    ("approved", "edit"): "approved",
    ("rejected", "approve"): "approved",
    ("rejected", "edit"): "rejected",
}
CASES = [
    (status, action)
    for status in ("proposed", "approved", "rejected", "published")
    for action in ("approve", "reject", "publish", "edit")
]


@pytest.mark.parametrize(("status", "action"), CASES)
async def test_transitions(database: Database, status: str, action: str) -> None:
    at = T0 + 10 * MINUTE
    async with database.transaction() as uow:
        _, member_id, grace, bob = await _setup(uow)
        story = await _story_in(uow, status, member_id, grace)

    async def act(uow: UnitOfWork) -> StoryRecord:
        if action == "approve":
            return await uow.stories.approve(story.id, bob, at)
        if action == "reject":
            return await uow.stories.reject(story.id, bob, at)
        if action == "publish":
            return await uow.stories.publish(story.id, at)
        return await uow.stories.edit(story.id, bob, "I bought a big freezer!", at)

    expected = ALLOWED.get((status, action))
    async with database.transaction() as uow:
        if expected is None:
            with pytest.raises(InvalidTransition, match=f"story #{story.id} cannot be") as raised:
                await act(uow)
            assert raised.value.status == status
            assert await uow.stories.get(story.id) == story  # nothing changed
            return
        changed = await act(uow)
    assert changed.status == expected
    async with database.transaction() as uow:
        assert await uow.stories.get(story.id) == changed
    if action in ("approve", "reject"):
        assert (changed.moderated_by_id, changed.moderated_at) == (bob, at)
    elif action == "publish":
        assert changed.published_at == at
        assert changed.moderated_by_id == grace  # publishing is no moderation
    else:
        assert (changed.edited_by_id, changed.edited_at) == (bob, at)
        assert changed.moderated_by_id == story.moderated_by_id


async def test_refusals_say_why(database: Database) -> None:
    async with database.transaction() as uow:
        _, member_id, grace, _ = await _setup(uow)
        published = await _story_in(uow, "published", member_id, grace)
        approved = await _story_in(uow, "approved", member_id, grace)
        with pytest.raises(InvalidTransition, match="cannot be approved: it is already approved"):
            await uow.stories.approve(approved.id, grace, T0)
        with pytest.raises(InvalidTransition, match="a published story cannot change"):
            await uow.stories.edit(published.id, grace, "new", T0)
        with pytest.raises(InvalidTransition, match="cannot be rejected: it is already published"):
            await uow.stories.reject(published.id, grace, T0)


async def test_edit_keeps_the_original(database: Database) -> None:
    async with database.transaction() as uow:
        _, member_id, grace, bob = await _setup(uow)
        story = await uow.stories.propose(member_id, None, None, "i bougt a frezer!!", T0)
        first = await uow.stories.edit(story.id, grace, "  I bought a freezer!  ", T0 + MINUTE)
        second = await uow.stories.edit(story.id, bob, "I bought a freezer.", T0 + 2 * MINUTE)
        same = await uow.stories.edit(story.id, grace, "I bought a freezer.", T0 + 3 * MINUTE)
    assert first.text == "I bought a freezer!"
    assert first.original_text == "i bougt a frezer!!"
    assert (first.edited_by_id, first.edited_at) == (grace, T0 + MINUTE)
    assert second.text == "I bought a freezer."
    assert second.original_text == "i bougt a frezer!!"  # later edits keep the first original
    assert (second.edited_by_id, second.edited_at) == (bob, T0 + 2 * MINUTE)
    assert same == second  # the same text again changes nothing
    assert story.original_text is None and story.edited_by_id is None


async def test_staff_written_story_starts_approved(database: Database) -> None:
    async with database.transaction() as uow:
        group_id, _, _, bob = await _setup(uow)
        story = await uow.stories.add_by_staff(
            bob, group_id, " Welcome, everyone! ", T0, approved=True
        )
    assert story.status == "approved"
    assert story.text == "Welcome, everyone!"
    assert story.member_id is None and story.session_id is None
    assert story.author_staff_id == bob
    assert (story.moderated_by_id, story.moderated_at) == (bob, T0)
    assert story.group_id == group_id


async def test_a_story_written_without_the_right_to_moderate_starts_proposed(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        group_id, _, grace, bob = await _setup(uow)
        story = await uow.stories.add_by_staff(bob, group_id, "Welcome!", T0, approved=False)
        assert (story.status, story.author_staff_id) == ("proposed", bob)
        assert (story.moderated_by_id, story.moderated_at) == (None, None)
        assert [found.id for found in await uow.stories.list(status="proposed")] == [story.id]
        approved = await uow.stories.approve(story.id, grace, T0 + MINUTE)
    assert (approved.status, approved.moderated_by_id) == ("approved", grace)


async def test_unknown_story_staff_or_group(database: Database) -> None:
    async with database.transaction() as uow:
        group_id, member_id, grace, _ = await _setup(uow)
        story = await uow.stories.propose(member_id, group_id, None, "New stall.", T0)
        with pytest.raises(NotFound, match="no story #"):
            await uow.stories.approve(story.id + 100, grace, T0)
        with pytest.raises(NotFound, match="no story #"):
            await uow.stories.publish(story.id + 100, T0)
        with pytest.raises(NotFound, match="no staff member #999"):
            await uow.stories.reject(story.id, 999, T0)
        with pytest.raises(NotFound, match="no staff member #999"):
            await uow.stories.add_by_staff(999, group_id, "Hello", T0, approved=True)
        with pytest.raises(NotFound, match="no group #999"):
            await uow.stories.add_by_staff(grace, 999, "Hello", T0, approved=True)
        assert (await uow.stories.get(story.id)) == story


async def test_story_texts_must_fit(database: Database) -> None:
    longest = "x" * MAX_STORY_LENGTH
    async with database.transaction() as uow:
        group_id, member_id, grace, _ = await _setup(uow)
        assert (
            await uow.stories.add_by_staff(grace, group_id, longest, T0, approved=True)
        ).text == longest
        with pytest.raises(InvalidStory, match="1,001 characters; at most 1,000 fit"):
            await uow.stories.add_by_staff(grace, group_id, longest + "y", T0, approved=True)
        with pytest.raises(InvalidStory, match="needs some text"):
            await uow.stories.add_by_staff(grace, group_id, "   ", T0, approved=True)
        # A member may write more; staff must shorten it before approving it.
        long_story = await uow.stories.propose(member_id, group_id, None, longest + "y", T0)
        with pytest.raises(InvalidStory, match="cannot be approved as it is"):
            await uow.stories.approve(long_story.id, grace, T0)
        with pytest.raises(InvalidStory, match="at most 1,000 fit"):
            await uow.stories.edit(long_story.id, grace, longest + "y", T0)
        await uow.stories.edit(long_story.id, grace, "Shorter.", T0)
        assert (await uow.stories.approve(long_story.id, grace, T0)).status == "approved"


async def test_list_and_the_highlight_queue(database: Database) -> None:
    async with database.transaction() as uow:
        group_id, member_id, grace, bob = await _setup(uow)
        other = await uow.groups.create("Tailors", "UTC", "en", "USD", at=T0)
        # Created out of order: the highlight's queue goes by when a story was approved.
        late = await uow.stories.add_by_staff(bob, group_id, "late", T0 + 5 * MINUTE, approved=True)
        early = await uow.stories.propose(member_id, group_id, None, "early", T0 + MINUTE)
        middle = await uow.stories.propose(member_id, group_id, None, "middle", T0 + 2 * MINUTE)
        elsewhere = await uow.stories.add_by_staff(bob, other.id, "elsewhere", T0, approved=True)
        rejected = await uow.stories.propose(member_id, group_id, None, "no", T0)
        await uow.stories.approve(middle.id, grace, T0 + 9 * MINUTE)
        await uow.stories.approve(early.id, grace, T0 + 10 * MINUTE)
        await uow.stories.reject(rejected.id, grace, T0 + 10 * MINUTE)

        queue = uow.highlights.featured_stories
        assert [story.text for story in await queue(group_id, limit=10)] == [
            "late",
            "middle",
            "early",
        ]
        assert [story.text for story in await queue(group_id, 2)] == ["late", "middle"]
        await uow.stories.publish(early.id, T0 + 20 * MINUTE)
        assert [story.text for story in await queue(group_id, 10)] == ["late", "middle"]
        assert [story.text for story in await queue(other.id, 5)] == ["elsewhere"]

        everything = await uow.stories.list()
        assert [s.id for s in everything] == [
            elsewhere.id,
            rejected.id,
            early.id,
            middle.id,
            late.id,
        ]
        assert [s.text for s in await uow.stories.list("approved")] == [
            "elsewhere",
            "middle",
            "late",
        ]
        assert [s.text for s in await uow.stories.list("approved", group_id)] == ["middle", "late"]
        assert [s.text for s in await uow.stories.list(group_id=other.id)] == ["elsewhere"]
        assert [s.text for s in await uow.stories.list("published")] == ["early"]
        assert [s.text for s in await uow.stories.list("rejected")] == ["no"]


async def test_set_status_follows_the_same_transitions(database: Database) -> None:
    async with database.transaction() as uow:
        _, member_id, _, _ = await _setup(uow)
        story = await uow.stories.propose(member_id, None, None, "New stall.", T0)
        with pytest.raises(InvalidTransition):
            await uow.stories.set_status(story.id, "published")
        assert (await uow.stories.set_status(story.id, "approved")).status == "approved"
        assert (await uow.stories.set_status(story.id, "published")).status == "published"
        with pytest.raises(InvalidTransition):
            await uow.stories.set_status(story.id, "rejected")
