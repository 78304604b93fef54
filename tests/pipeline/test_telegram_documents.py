"""A member's copy of their data comes as a CSV file in their Telegram chat: `mydata` in, through
the worker and the sender, out as a `sendDocument` upload to the fake Bot API, which keeps the
bytes. The file is made when its line goes out, so it survives a restart, waits out a throttle,
and never goes to a member who blocked the bot or was erased meanwhile."""

from __future__ import annotations

import asyncio
import copy
import csv
import io
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.turns.data_rights import erase_code
from bot.web.app import create_app
from storage.models import DataCopy
from storage.records import MessageRecord
from tests.fakes.telegram_api import FakeTelegram, Upload
from tests.fakes.twilio_api import FakeTwilio
from tests.pipeline.test_pipeline import (
    AUTH,
    PUBLIC,
    SECRET,
    SID,
    TOKEN,
    button_update,
    settings_for,
    telegram_fixture,
    text_update,
    wait_until,
)

AMINA = 5123456789
GRACE = 5123456790
Line = str | tuple[str]
"""What a member sends: text, or `(payload,)` for a button press."""


class Chats:
    """Telegram members writing to the web app's webhook, each update numbered in turn."""

    def __init__(self, client: httpx.AsyncClient, telegram: FakeTelegram) -> None:
        self.client = client
        self.telegram = telegram
        self.update_id = 1000

    async def post(self, update: dict[str, Any]) -> None:
        response = await self.client.post(
            "/webhooks/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert response.status_code == 200

    async def start(self, chat: int, code: str) -> None:
        self.update_id += 1
        start = copy.deepcopy(telegram_fixture("message_start_deeplink"))
        start["update_id"] = self.update_id
        start["message"]["text"] = f"/start join-{code}"
        start["message"]["chat"]["id"] = start["message"]["from"]["id"] = chat
        await self.post(start)

    async def say(self, chat: int, *lines: Line) -> None:
        for line in lines:
            self.update_id += 1
            if isinstance(line, tuple):
                await self.post(button_update(self.update_id, line[0], chat=chat))
            else:
                await self.post(text_update(self.update_id, line, chat=chat))

    def sent(self, chat: int) -> list[dict[str, Any]]:
        return [m for m in self.telegram.sent if str(m["chat_id"]) == str(chat)]

    def documents(self, chat: int) -> list[dict[str, Any]]:
        return [m for m in self.sent(chat) if "document" in m]


@asynccontextmanager
async def serving(
    runtime: Runtime, telegram: FakeTelegram, loops: Sequence[str] = ("worker", "sender")
) -> AsyncIterator[Chats]:
    """The web app, and the runtime's worker and sender loops named in `loops`."""
    stop = asyncio.Event()
    runtime.worker.sweep_interval = 0.2
    tasks = [asyncio.create_task(getattr(runtime, loop).run(stop)) for loop in loops]
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
        try:
            yield Chats(client, telegram)
        finally:
            stop.set()
            await asyncio.gather(*tasks)


async def two_members(runtime: Runtime, chats: Chats) -> None:
    """Amina (in Swahili) and Grace, in one group, each a few answers into a check-in."""
    async with runtime.database.transaction() as uow:
        group = await uow.groups.create(
            "Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=runtime.clock()
        )
    await chats.start(AMINA, group.join_code)
    await chats.say(AMINA, ("s:language:sw",), ("s:consent:yes",), "Amina Otieno")
    await chats.say(AMINA, ("s:business_type:food",), "ndiyo", "checkin", "2500", "300")
    await chats.start(GRACE, group.join_code)
    await chats.say(GRACE, ("s:language:en",), ("s:consent:yes",), "Grace Wanjiru")
    await chats.say(GRACE, ("s:business_type:retail",), "yes", "checkin", "7777")


async def member_id(runtime: Runtime, chat: int) -> int:
    async with runtime.database.transaction() as uow:
        member = await uow.members.by_address("telegram", str(chat))
    assert member is not None
    return member.id


async def lines_of(runtime: Runtime, chat: int) -> list[MessageRecord]:
    """The member's message log (nothing while the worker has not met them yet)."""
    async with runtime.database.transaction() as uow:
        member = await uow.members.by_address("telegram", str(chat))
        return [] if member is None else await uow.messages.for_member(member.id, limit=500)


async def settled(runtime: Runtime, *chats: int) -> None:
    """Wait until none of these members' lines is still queued (their receipts written)."""
    for _ in range(600):
        lines = [line for chat in chats for line in await lines_of(runtime, chat)]
        if lines and not any(line.direction == "out" and line.status == "queued" for line in lines):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("lines still queued")


async def copy_line(runtime: Runtime, chat: int) -> MessageRecord | None:
    """The member's line that carries their copy, once the worker wrote it."""
    for _ in range(600):
        found = [
            line for line in await lines_of(runtime, chat) if (line.payload or {}).get("document")
        ]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    return None


def rows(upload: Upload) -> list[list[str]]:
    return list(csv.reader(io.StringIO(upload.content.decode("utf-8-sig"))))


def answers(upload: Upload) -> dict[tuple[str, str], str]:
    return {(row[2], row[3]): row[4] for row in rows(upload) if row[0] == "answers"}


async def test_mydata_in_swahili_brings_a_csv_of_the_members_own_data(database_url: str) -> None:
    async with FakeTelegram(token=TOKEN) as telegram, FakeTwilio(SID, AUTH) as twilio:
        settings = settings_for(database_url, telegram, twilio)  # PUBLIC_URL is set
        async with Runtime.open(settings) as runtime, serving(runtime, telegram) as chats:
            await two_members(runtime, chats)
            await chats.say(AMINA, "data yangu")
            await wait_until(lambda: len(chats.documents(AMINA)) == 1, 30)
            await settled(runtime, AMINA, GRACE)
            amina = await member_id(runtime, AMINA)
            async with runtime.database.transaction() as uow:
                links = await uow.session.scalar(select(func.count()).select_from(DataCopy))
                audit = [line.action for line in await uow.audit.for_member(amina)]

    summary, document = chats.sent(AMINA)[-2:]
    assert summary["text"].startswith("Hiki ndicho ninachohifadhi kukuhusu:\nJina: Amina Otieno")
    assert document["text"] == (
        "Hii hapa nakala kamili yake, kama faili la jedwali. Ina majibu yako na jumbe zako: "
        "iweke mahali salama."
    )
    upload = document["document"]
    assert (upload.filename, upload.content_type) == ("my-data.csv", "text/csv")
    theirs = answers(upload)
    assert theirs[("weekly_checkin", "sales")] == "2500 KES"
    assert theirs[("weekly_checkin", "costs")] == "300 KES"
    assert theirs[("onboarding", "name")] == "Amina Otieno"
    assert ["addresses", "telegram", str(AMINA)] in [row[:3] for row in rows(upload)]
    text = upload.content.decode("utf-8-sig")
    for other in ("Grace", "Wanjiru", "7777", str(GRACE)):
        assert other not in text
    # no link on Telegram: nothing to download, nothing stored to open it
    assert "http" not in summary["text"] + document["text"]
    assert links == 0
    assert audit == ["member_copy_sent"]


THROTTLE = {
    "ok": False,
    "error_code": 429,
    "description": "Too Many Requests: retry after 1",
    "parameters": {"retry_after": 1},
}


async def test_a_copy_queued_before_a_restart_is_made_and_sent_after_it(
    database_url: str,
) -> None:
    """The worker queues the line and the process stops before any send; the next process's
    sender makes the file from the database, waits out a throttle, and sends it once, after
    every line before it."""
    async with FakeTelegram(token=TOKEN) as telegram, FakeTwilio(SID, AUTH) as twilio:
        settings = settings_for(database_url, telegram, twilio)
        async with Runtime.open(settings) as runtime:
            async with serving(runtime, telegram, loops=["worker"]) as chats:
                await two_members(runtime, chats)
                await chats.say(AMINA, "data yangu")
                assert await copy_line(runtime, AMINA) is not None
        assert telegram.sent == []
        telegram.fail_next(AMINA, THROTTLE, method="sendDocument")
        async with Runtime.open(settings) as runtime, serving(runtime, telegram, ["sender"]):
            await wait_until(lambda: len(chats.documents(AMINA)) == 1, 30)
            await settled(runtime, AMINA)
    [document] = chats.documents(AMINA)
    assert chats.sent(AMINA)[-1] is document
    assert answers(document["document"])[("weekly_checkin", "sales")] == "2500 KES"
    assert telegram.calls.count("sendDocument") == 2  # throttled once, then sent


async def test_a_member_who_blocked_the_bot_gets_no_copy_and_is_opted_out(
    database_url: str,
) -> None:
    async with FakeTelegram(token=TOKEN) as telegram, FakeTwilio(SID, AUTH) as twilio:
        settings = settings_for(database_url, telegram, twilio)
        async with Runtime.open(settings) as runtime, serving(runtime, telegram) as chats:
            await two_members(runtime, chats)
            telegram.fail_next(AMINA, "response_403_blocked", method="sendDocument")
            await chats.say(AMINA, "data yangu")
            line = await copy_line(runtime, AMINA)
            await settled(runtime, AMINA)
            assert line is not None and line.member_id is not None
            async with runtime.database.transaction() as uow:
                member = await uow.members.get(line.member_id)
            [after] = [m for m in await lines_of(runtime, AMINA) if m.id == line.id]
    assert chats.documents(AMINA) == []
    assert member is not None and member.opted_out
    assert (after.status, after.error_code) == ("failed", "403")


async def test_an_erasure_before_the_copy_went_out_leaves_nothing_to_send(
    database_url: str,
) -> None:
    """`mydata`, then `delete` and the word, all handled before the sender runs: the erasure
    takes the queued copy with everything else, and the sender sends nothing to the member."""
    async with FakeTelegram(token=TOKEN) as telegram, FakeTwilio(SID, AUTH) as twilio:
        settings = settings_for(database_url, telegram, twilio)
        async with Runtime.open(settings) as runtime:
            async with serving(runtime, telegram, loops=["worker"]) as chats:
                await two_members(runtime, chats)
                await chats.say(AMINA, "data yangu", "futa")
                assert await copy_line(runtime, AMINA) is not None
                async with runtime.database.transaction() as uow:
                    amina = await uow.members.by_address("telegram", str(AMINA))
                assert amina is not None
                await chats.say(AMINA, erase_code(amina))

                async def erased() -> bool:
                    async with runtime.database.transaction() as uow:
                        return await uow.member_data.erased(amina.id)

                for _ in range(600):
                    if await erased():
                        break
                    await asyncio.sleep(0.05)
                assert await erased()
            async with serving(runtime, telegram, loops=["sender"]):
                await settled(runtime, GRACE)
    assert chats.sent(AMINA) == []
    assert chats.sent(GRACE) != []
    assert "sendDocument" not in telegram.calls
