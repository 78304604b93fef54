"""Storing inbound events durably, and reading them back.

`store` is what a webhook does before it answers: one statement stores every event of the
request (a redelivery stores nothing new); workers are woken (`wake`) only after that, once the
answer is on its way (`ingest` does both, for the polling loop). If the
database cannot be reached, the exception reaches the web layer, which answers 503 so that the
provider tries again later: nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.channels.base import (
    ContactEvent,
    GroupChatEvent,
    InboundEvent,
    MessageEvent,
    OptOutEvent,
    TimerEvent,
)
from bot.pipeline.coordination.contracts import WorkQueue
from bot.pipeline.rounds import Rounds
from conversations.answers import Location, Photo
from conversations.inputs import Reply
from storage.database import Database
from storage.errors import refused_values

log = logging.getLogger(__name__)

WAKE_TIMEOUT = 0.5
"""Seconds a webhook may spend waking workers after its events are stored."""


def address_of(event: InboundEvent) -> str:
    return event.chat_id if isinstance(event, GroupChatEvent) else event.address


def dump_event(event: InboundEvent) -> dict[str, Any]:
    match event:
        case MessageEvent():
            reply = event.reply
            return {
                "type": "message",
                "text": reply.text,
                "choice": reply.choice,
                "choice_step": reply.choice_step,
                "photo": [reply.photo.media_ref, reply.photo.content_type] if reply.photo else None,
                "location": (
                    [str(reply.location.latitude), str(reply.location.longitude)]
                    if reply.location
                    else None
                ),
                "contact_phone": reply.contact_phone,
                "media_kind": reply.media_kind,
                "command": event.command,
                "argument": event.argument,
                "callback_id": event.callback_id,
            }
        case OptOutEvent():
            return {"type": "opt_out"}
        case ContactEvent():
            return {"type": "contact", "phone": event.phone}
        case GroupChatEvent():
            return {
                "type": "group_chat",
                "title": event.title,
                "code": event.code,
                "sender": event.sender_id,
            }
        case TimerEvent():
            return {
                "type": "timer",
                "kind": event.kind,
                "checkin_id": event.checkin_id,
                "session_id": event.session_id,
            }


def load_event(channel: Any, address: str, provider_id: str, data: dict[str, Any]) -> InboundEvent:
    kind = data["type"]
    if kind == "opt_out":
        return OptOutEvent(channel, address, provider_id)
    if kind == "contact":
        return ContactEvent(channel, address, provider_id, data["phone"])
    if kind == "timer":
        return TimerEvent(
            channel, address, provider_id, data["kind"], data["checkin_id"], data.get("session_id")
        )
    if kind == "group_chat":
        return GroupChatEvent(
            channel, address, provider_id, data["title"], data.get("code"), data.get("sender")
        )
    photo = data.get("photo")
    location = data.get("location")
    reply = Reply(
        text=data.get("text") or "",
        choice=data.get("choice"),
        choice_step=data.get("choice_step"),
        photo=Photo(photo[0], photo[1]) if photo else None,
        location=Location(Decimal(location[0]), Decimal(location[1])) if location else None,
        contact_phone=data.get("contact_phone"),
        media_kind=data.get("media_kind"),
    )
    return MessageEvent(
        channel,
        address,
        provider_id,
        reply,
        command=data.get("command"),
        argument=data.get("argument") or "",
        callback_id=data.get("callback_id"),
    )


async def ingest(
    database: Database, queue: WorkQueue, events: Sequence[InboundEvent], now: datetime
) -> list[int]:
    """Store the events, then wake workers for the new ones; returns the new entries' ids."""
    stored = await store(database, events, now)
    await wake(queue, stored)
    return stored


async def store(database: Database, events: Sequence[InboundEvent], now: datetime) -> list[int]:
    """Store the events in one statement (all or none); the ids of the new ones (an event whose
    provider id was stored before is skipped). What a webhook does before it answers."""
    if not events:
        return []
    rows = [
        {
            "channel": event.channel,
            "provider_id": event.provider_id,
            "address": address_of(event),
            "event": dump_event(event),
        }
        for event in events
    ]
    async with database.one_statement() as uow:
        return await uow.inbox.add_many(rows, now)


class InboxWriter:
    """Stores webhooks' events and wakes workers for them, the requests that arrive together
    in one statement and one push.

    A request's `store` returns once its events are durably stored, as `store` does. While one
    statement is under way, the requests arriving meanwhile wait for it and then go together
    in the next (see `Rounds`): alone, a request is stored at once; under load, one INSERT
    serves every request of the last round trip instead of one each, which is most of what a
    webhook costs the web process and the database. An outage fails every request of its
    statement (each answers 503, so the providers retry); nothing is half-stored, as a
    statement is atomic. A statement the database refuses for its values (one request's row
    it cannot hold) is not an outage: each request is then stored alone, so only the request
    that holds the bad row fails, with the database's refusal, and its neighbours are stored.
    `wake` shares its pushes to the workers' queue the same way."""

    def __init__(self, database: Database, queue: WorkQueue) -> None:
        self._database = database
        self._queue = queue
        self._stores: Rounds[list[dict[str, Any]], list[int] | Exception] = Rounds(self._store_rows)
        self._wakes: Rounds[Sequence[int], None] = Rounds(self._push)

    async def store(self, events: Sequence[InboundEvent], now: datetime) -> list[int]:
        """`store`, for one request: the ids of its new events."""
        if not events:
            return []
        stored = await self._stores([_row(event, now) for event in events])
        if isinstance(stored, Exception):
            raise stored
        return stored

    async def wake(self, entry_ids: Sequence[int]) -> None:
        """`wake`, for one request."""
        if not entry_ids:
            return
        try:
            async with asyncio.timeout(WAKE_TIMEOUT):
                await self._wakes(entry_ids)
        except Exception:
            log.warning(
                "could not wake a worker for inbox entries %s", list(entry_ids), exc_info=True
            )

    async def _store_rows(
        self, requests: list[list[dict[str, Any]]]
    ) -> list[list[int] | Exception]:
        try:
            return list(await self._insert(requests))
        except Exception as error:
            if len(requests) == 1 or not refused_values(error):
                raise
        log.warning(
            "the database refused a grouped insert of %d webhooks' events; storing each alone",
            len(requests),
        )
        stored: list[list[int] | Exception] = []
        for request in requests:
            try:
                [ids] = await self._insert([request])
            except Exception as error:
                if not refused_values(error):
                    raise
                stored.append(error)
            else:
                stored.append(ids)
        return stored

    async def _insert(self, requests: list[list[dict[str, Any]]]) -> list[list[int]]:
        """Every request's rows in one statement; each request's new ids."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for request in requests:
            for row in request:
                rows.setdefault(_key(row), row)  # in the order they came
        async with self._database.one_statement() as uow:
            ids = await uow.inbox.add_keyed(list(rows.values()))
        return [[ids[_key(row)] for row in request if _key(row) in ids] for request in requests]

    async def _push(self, requests: list[Sequence[int]]) -> list[None]:
        await self._queue.push_many([str(entry_id) for ids in requests for entry_id in ids])
        return [None] * len(requests)


def _row(event: InboundEvent, now: datetime) -> dict[str, Any]:
    return {
        "channel": event.channel,
        "provider_id": event.provider_id,
        "address": address_of(event),
        "event": dump_event(event),
        "received_at": now,
    }


def _key(row: dict[str, Any]) -> tuple[str, str]:
    return row["channel"], row["provider_id"]


async def wake(queue: WorkQueue, entry_ids: Sequence[int]) -> None:
    """Wake workers for stored entries. Best effort, and held to `WAKE_TIMEOUT`: an entry
    whose wake-up is lost is found by the workers' sweep."""
    if not entry_ids:
        return
    try:
        async with asyncio.timeout(WAKE_TIMEOUT):
            await queue.push_many([str(entry_id) for entry_id in entry_ids])
    except Exception:
        log.warning("could not wake a worker for inbox entries %s", list(entry_ids), exc_info=True)
