"""The `SentJournal`s: sends whose receipts wait for the database, in process or in Redis.

In process (the embedded default) one sender is all there is, so a dict is enough. With Redis,
every sender process shares one hash, so a second sender that leases a message the first one
sent during a database outage records it instead of sending it again. Redis going away as
well is the case that remains: then a message whose lease ran out can be sent twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redis.asyncio import Redis

JOURNAL_TTL = 24 * 3600
"""Seconds the Redis journal outlives its last entry: far longer than any database outage a
sender rides out, short enough that a forgotten entry does not linger."""


class MemorySentJournal:
    def __init__(self) -> None:
        self._sent: dict[int, str] = {}

    async def remember(self, receipts: Mapping[int, str]) -> None:
        self._sent.update(receipts)

    async def recall(self, message_ids: Sequence[int]) -> dict[int, str]:
        return {i: self._sent[i] for i in message_ids if i in self._sent}

    async def forget(self, message_ids: Sequence[int]) -> None:
        for message_id in message_ids:
            self._sent.pop(message_id, None)


class RedisSentJournal:
    """One hash, `{prefix}sent`: message id -> provider id. An empty journal (the usual
    state) costs one EXISTS-like HMGET per sender round."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self.key = f"{prefix}sent"

    async def remember(self, receipts: Mapping[int, str]) -> None:
        if not receipts:
            return
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(self.key, mapping={str(k): v for k, v in receipts.items()})
            pipe.expire(self.key, JOURNAL_TTL)
            await pipe.execute()

    async def recall(self, message_ids: Sequence[int]) -> dict[int, str]:
        if not message_ids:
            return {}
        values = await self._client.hmget(self.key, [str(i) for i in message_ids])
        return {
            message_id: value.decode() if isinstance(value, bytes) else str(value)
            for message_id, value in zip(message_ids, values, strict=True)
            if value is not None
        }

    async def forget(self, message_ids: Sequence[int]) -> None:
        if message_ids:
            await self._client.hdel(self.key, *[str(i) for i in message_ids])
