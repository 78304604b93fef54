"""Stories: members' wins, proposed by the engine and moderated by staff, or written by staff.

A story moves through these states, and only along these arrows:

    proposed --approve--> approved --publish--> published   (final)
    proposed --reject---> rejected --approve--> approved
                          approved --reject---> rejected    (withdrawn before it went out)

Who last moderated a story and when is kept on it (`moderated_by_id`, `moderated_at`), as is who
last edited it and when; the first edit keeps the text as it was in `original_text`, which later
edits never touch, so the member's own words are never lost.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Final, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound, StorageError
from storage.models import Group, Member, Staff, Story
from storage.records import StoryRecord
from storage.repositories.mapping import story_record
from storage.vocabulary import StoryStatus

MAX_STORY_LENGTH: Final = 1000
"""A story goes out inside a group's weekly highlight, which must fit in one WhatsApp message
(Twilio: 1,600 characters); 1,000 characters leaves room for the highlight around it."""

TRANSITIONS: Final[Mapping[StoryStatus, frozenset[StoryStatus]]] = {
    "proposed": frozenset({"approved", "rejected"}),
    "approved": frozenset({"published", "rejected"}),
    "rejected": frozenset({"approved"}),
    "published": frozenset(),
}
"""For each status, the statuses a story in it may move to."""

EDITABLE: Final[frozenset[StoryStatus]] = frozenset({"proposed", "approved", "rejected"})


class InvalidStory(StorageError):
    """A story's text cannot be stored as asked (empty, or too long); the message says why."""


class InvalidTransition(StorageError):
    """The story is not in a status that allows what was asked; the message names both."""

    def __init__(self, story_id: int, status: str, wanted: str) -> None:
        if status == "published":
            reason = "it is already published, and a published story cannot change"
        elif status == wanted:
            reason = f"it is already {status}"
        else:
            reason = f"it is {status}"
        super().__init__(f"story #{story_id} cannot be {_verb(wanted)}: {reason}")
        self.story_id = story_id
        self.status = status
        self.wanted = wanted


def _verb(wanted: str) -> str:
    return "edited" if wanted == "edit" else wanted


def clean_story_text(text: str) -> str:
    """`text` without surrounding whitespace; raises `InvalidStory` when it is empty or longer
    than `MAX_STORY_LENGTH` characters."""
    clean = text.strip()
    if not clean:
        raise InvalidStory("a story needs some text")
    if "\x00" in clean:
        raise InvalidStory("a story cannot contain NUL characters")
    if len(clean) > MAX_STORY_LENGTH:
        raise InvalidStory(
            f"the story has {len(clean):,} characters; at most {MAX_STORY_LENGTH:,} fit "
            f"(it must fit in a WhatsApp message with room for the highlight around it): "
            f"shorten it by {len(clean) - MAX_STORY_LENGTH:,}"
        )
    return clean


class StoryRepository:
    """Stories and their moderation. Every change of status goes through `TRANSITIONS`; a move
    it does not allow raises `InvalidTransition` and changes nothing. Unknown stories, staff or
    groups raise `NotFound`."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def propose(
        self,
        member_id: int,
        group_id: int | None,
        session_id: int | None,
        text: str,
        at: datetime,
    ) -> StoryRecord:
        """A member's new story in status `proposed`, waiting for staff. Its length is not
        checked here (the member wrote it; staff shorten it before approving if need be)."""
        row = Story(
            member_id=member_id,
            group_id=group_id,
            session_id=session_id,
            text=text,
            status="proposed",
            created_at=at,
        )
        self._session.add(row)
        await self._session.flush()
        return story_record(row)

    async def add_by_staff(
        self,
        staff_id: int,
        group_id: int | None,
        text: str,
        at: datetime,
        *,
        approved: bool,
    ) -> StoryRecord:
        """A story written by staff for a group (or, with no group, for none in particular).

        With `approved` (its author may moderate) the author is also its first moderator: it
        starts `approved`, with `author_staff_id` and `moderated_by_id` both `staff_id` and
        `moderated_at` `at`, ready for the group's next highlight. Without, it starts
        `proposed`, waiting for a moderator like a member's story. It has no member. Raises
        `InvalidStory` for an empty text or one longer than `MAX_STORY_LENGTH`.
        """
        clean = clean_story_text(text)
        await self._staff_exists(staff_id)
        if group_id is not None and await self._session.get(Group, group_id) is None:
            raise NotFound(f"no group #{group_id}")
        row = Story(
            member_id=None,
            group_id=group_id,
            session_id=None,
            text=clean,
            status="approved" if approved else "proposed",
            created_at=at,
            author_staff_id=staff_id,
            moderated_by_id=staff_id if approved else None,
            moderated_at=at if approved else None,
        )
        self._session.add(row)
        await self._session.flush()
        return story_record(row)

    async def get(self, story_id: int) -> StoryRecord | None:
        row = await self._session.get(Story, story_id)
        return None if row is None else story_record(row)

    async def list(
        self, status: StoryStatus | None = None, group_id: int | None = None
    ) -> builtins.list[StoryRecord]:
        """Stories, oldest first; only those in `status` and of `group_id` when given."""
        statement = select(Story).order_by(Story.created_at, Story.id)
        if status is not None:
            statement = statement.where(Story.status == status)
        if group_id is not None:
            statement = statement.where(Story.group_id == group_id)
        return [story_record(row) for row in await self._session.scalars(statement)]

    async def page(
        self,
        status: StoryStatus | None,
        group_ids: Collection[int] | None,
        *,
        offset: int,
        limit: int,
    ) -> builtins.list[tuple[StoryRecord, str | None]]:
        """One page of stories, oldest first, each with its member's name (None for a story
        staff wrote, or a member with no name yet): in `status` (any when None) and of the
        groups `group_ids` (every story, with or without a group, when None)."""
        statement = (
            select(Story, Member.name)
            .outerjoin(Member, Member.id == Story.member_id)
            .order_by(Story.created_at, Story.id)
        )
        if status is not None:
            statement = statement.where(Story.status == status)
        if group_ids is not None:
            statement = statement.where(Story.group_id.in_(tuple(group_ids)))
        rows = await self._session.execute(statement.offset(offset).limit(limit))
        return [(story_record(row), name) for row, name in rows]

    async def approve(self, story_id: int, staff_id: int, at: datetime) -> StoryRecord:
        """`staff_id` approves the story (proposed or rejected) at `at`.

        Raises `InvalidStory` when its text is longer than `MAX_STORY_LENGTH` (edit it first: an
        approved story must fit in a highlight), `InvalidTransition` from any other status.
        """
        await self._staff_exists(staff_id)
        row = await self._locked(story_id)
        self._check(row, "approved")
        row.status = "approved"
        row.moderated_by_id = staff_id
        row.moderated_at = at
        await self._session.flush()
        return story_record(row)

    async def reject(self, story_id: int, staff_id: int, at: datetime) -> StoryRecord:
        """`staff_id` rejects the story (proposed, or approved and not yet published) at `at`."""
        await self._staff_exists(staff_id)
        row = await self._locked(story_id)
        self._check(row, "rejected")
        row.status = "rejected"
        row.moderated_by_id = staff_id
        row.moderated_at = at
        await self._session.flush()
        return story_record(row)

    async def edit(self, story_id: int, staff_id: int, new_text: str, at: datetime) -> StoryRecord:
        """`staff_id` replaces the story's text at `at`; its status stays as it is.

        The first edit copies the text it replaces to `original_text`; later edits leave
        `original_text` alone. A text equal to the current one (after trimming) changes nothing,
        not even `edited_at`. Raises `InvalidStory` for an empty or too long text and
        `InvalidTransition` for a published story.
        """
        clean = clean_story_text(new_text)
        await self._staff_exists(staff_id)
        row = await self._locked(story_id)
        if row.status not in EDITABLE:
            raise InvalidTransition(story_id, row.status, "edit")
        if clean == row.text:
            return story_record(row)
        if row.original_text is None:
            row.original_text = row.text
        row.text = clean
        row.edited_by_id = staff_id
        row.edited_at = at
        await self._session.flush()
        return story_record(row)

    async def publish(self, story_id: int, at: datetime) -> StoryRecord:
        """The story went out (in a highlight) at `at`: it becomes `published`, for good.
        Raises `InvalidTransition` unless it is approved."""
        row = await self._locked(story_id)
        self._check(row, "published")
        row.status = "published"
        row.published_at = at
        await self._session.flush()
        return story_record(row)

    async def set_status(self, story_id: int, status: StoryStatus) -> StoryRecord:
        """Move a story to `status` along `TRANSITIONS`, recording no one and no time.

        Kept for callers older than moderation; prefer `approve`, `reject` and `publish`, which
        say who and when. Raises `NotFound` and `InvalidTransition`.
        """
        row = await self._locked(story_id)
        self._check(row, status)
        row.status = status
        await self._session.flush()
        return story_record(row)

    async def _locked(self, story_id: int) -> Story:
        """The story's row, locked until the transaction ends (PostgreSQL; SQLite's writer lock
        already serialises), so two moderators cannot both act on the status they read."""
        row = await self._session.scalar(
            select(Story)
            .where(Story.id == story_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if row is None:
            raise NotFound(f"no story #{story_id}")
        return row

    @staticmethod
    def _check(row: Story, wanted: StoryStatus) -> None:
        if wanted not in TRANSITIONS.get(cast(StoryStatus, row.status), frozenset()):
            raise InvalidTransition(row.id, row.status, wanted)
        if wanted == "approved":
            try:
                clean_story_text(row.text)
            except InvalidStory as error:
                raise InvalidStory(
                    f"story #{row.id} cannot be approved as it is: {error} (edit it first)"
                ) from None

    async def _staff_exists(self, staff_id: int) -> None:
        """Refuse a staff user who does not exist or was removed: they act on nothing."""
        row = await self._session.get(Staff, staff_id)
        if row is None:
            raise NotFound(f"no staff member #{staff_id}")
        if row.removed_at is not None:
            raise NotFound(f"staff member #{staff_id} was removed")
