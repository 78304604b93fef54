"""WhatsApp interactive contents created at Twilio, by the key of what they hold."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import WhatsappContent


class WhatsappContentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def sid(self, key: str) -> str | None:
        """The sid of the content stored under `key`, or None."""
        return await self._session.scalar(
            select(WhatsappContent.content_sid).where(WhatsappContent.key == key)
        )

    async def keep(self, key: str, content_sid: str, kind: str, language: str, at: datetime) -> str:
        """Store the content's sid under `key` and return the sid kept: the one stored first
        when another process created the same content at the same time (both work)."""
        insert = (
            postgresql.insert
            if self._session.get_bind().dialect.name == "postgresql"
            else sqlite.insert
        )
        await self._session.execute(
            insert(WhatsappContent)
            .values(key=key, content_sid=content_sid, kind=kind, language=language, created_at=at)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        kept = await self.sid(key)
        assert kept is not None
        return kept
