"""Stories: members' wins, proposed by the engine and moderated by staff."""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound
from storage.models import Story
from storage.records import StoryRecord
from storage.repositories.mapping import story_record
from storage.vocabulary import StoryStatus


class StoryRepository:
    """Stories start `proposed`; staff then set any status (the order is theirs to keep)."""

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
        """A new story in status `proposed`, waiting for staff."""
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

    async def list(self, status: StoryStatus | None = None) -> builtins.list[StoryRecord]:
        """Stories, oldest first; only those in `status` when it is given."""
        statement = select(Story).order_by(Story.created_at, Story.id)
        if status is not None:
            statement = statement.where(Story.status == status)
        return [story_record(row) for row in await self._session.scalars(statement)]

    async def set_status(self, story_id: int, status: StoryStatus) -> StoryRecord:
        """Move a story to `status` (staff approve, reject or publish it). Raises `NotFound`."""
        row = await self._session.get(Story, story_id)
        if row is None:
            raise NotFound(f"no story #{story_id}")
        row.status = status
        await self._session.flush()
        return story_record(row)
