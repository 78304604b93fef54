"""Group chats the bot is in, and the peer groups they are bound to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import GroupChat
from storage.records import GroupChatRecord
from storage.repositories.mapping import group_chat_record
from storage.vocabulary import Channel


class GroupChatRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self, channel: Channel, chat_id: str, title: str, *, at: datetime
    ) -> GroupChatRecord:
        """The chat, created on first sight; its title kept current."""
        row = await self._session.scalar(
            select(GroupChat).where(GroupChat.channel == channel, GroupChat.chat_id == chat_id)
        )
        if row is None:
            row = GroupChat(channel=channel, chat_id=chat_id, title=title[:255], created_at=at)
            self._session.add(row)
        else:
            row.title = title[:255]
        await self._session.flush()
        return group_chat_record(row)

    async def link(
        self, channel: Channel, chat_id: str, title: str, group_id: int, *, at: datetime
    ) -> GroupChatRecord:
        """Bind the chat to a peer group (a later /link moves it to another group)."""
        await self.record(channel, chat_id, title, at=at)
        row = await self._session.scalar(
            select(GroupChat).where(GroupChat.channel == channel, GroupChat.chat_id == chat_id)
        )
        assert row is not None
        row.group_id = group_id
        row.linked_at = at
        await self._session.flush()
        return group_chat_record(row)

    async def for_group(self, group_id: int) -> list[GroupChatRecord]:
        rows = await self._session.scalars(
            select(GroupChat).where(GroupChat.group_id == group_id).order_by(GroupChat.id)
        )
        return [group_chat_record(row) for row in rows]

    async def get(self, channel: Channel, chat_id: str) -> GroupChatRecord | None:
        row = await self._session.scalar(
            select(GroupChat).where(GroupChat.channel == channel, GroupChat.chat_id == chat_id)
        )
        return None if row is None else group_chat_record(row)
