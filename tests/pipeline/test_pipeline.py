"""The whole pipeline: webhooks in, worker, sender, real python-telegram-bot and twilio clients
out to fake provider servers on 127.0.0.1 — on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.pipeline.inbox import InboxWriter
from bot.runtime import Runtime
from bot.settings import Settings
from bot.web.app import create_app
from storage import Database
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio, signed_request_headers
from tests.outbox_lines import log_outbound

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TOKEN = "123456:TEST-token"
SECRET = "webhook-secret"
SID = "AC5f1b0e7c2d3a4b5c6d7e8f90a1b2c3d4"
AUTH = "twilio-auth-token"
PUBLIC = "https://bot.example.org"
CHAT = 5123456789


def telegram_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "telegram" / f"{name}.json").read_text())
    return data


def twilio_form(name: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl((FIXTURES / "twilio" / f"{name}.form").read_text().strip()))


def text_update(update_id: int, text: str, chat: int = CHAT) -> dict[str, Any]:
    update = copy.deepcopy(telegram_fixture("message_text"))
    update["update_id"] = update_id
    update["message"]["message_id"] = update_id
    update["message"]["text"] = text
    update["message"]["chat"]["id"] = chat
    update["message"]["from"]["id"] = chat
    return update


def button_update(update_id: int, data: str, chat: int = CHAT) -> dict[str, Any]:
    update = copy.deepcopy(telegram_fixture("callback_query"))
    update["update_id"] = update_id
    update["callback_query"]["data"] = data
    update["callback_query"]["id"] = f"cb{update_id}"
    update["callback_query"]["message"]["chat"]["id"] = chat
    update["callback_query"]["from"]["id"] = chat
    return update


@dataclass
class Stack:
    runtime: Runtime
    client: httpx.AsyncClient
    telegram: FakeTelegram
    twilio: FakeTwilio

    async def telegram_post(self, update: Any, secret: str = SECRET) -> httpx.Response:
        return await self.client.post(
            "/webhooks/telegram",
            content=json.dumps(update) if not isinstance(update, bytes) else update,
            headers={"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"},
        )

    async def twilio_post(
        self, path: str, form: dict[str, str], sign: bool = True
    ) -> httpx.Response:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if sign:
            headers.update(signed_request_headers(AUTH, PUBLIC + path, form))
        return await self.client.post(path, content=urlencode(form), headers=headers)

    async def sent_to(self, chat: int, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        def mine() -> list[dict[str, Any]]:
            return [
                m
                for m in self.telegram.sent
                if str(m["chat_id"]) == str(chat) and m.get("ok", True)
            ]

        await wait_until(lambda: len(mine()) >= count, timeout)
        return mine()


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the pipeline")
        await asyncio.sleep(0.02)


def settings_for(database_url: str, telegram: FakeTelegram, twilio: FakeTwilio) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        DATABASE_URL=database_url,
        PUBLIC_URL=PUBLIC,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=telegram.url,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TWILIO_ACCOUNT_SID=SID,
        TWILIO_AUTH_TOKEN=AUTH,
        TWILIO_API_URL=twilio.url,
        TWILIO_CONTENT_API_URL=twilio.url,
        TWILIO_WHATSAPP_FROM="whatsapp:+14155238886",
        TWILIO_SMS_FROM="+14155238886",
        TELEGRAM_CHAT_RATE_PER_SECOND=50,
    )


@asynccontextmanager
async def running(
    settings: Settings, telegram: FakeTelegram, twilio: FakeTwilio
) -> AsyncIterator[Stack]:
    """The whole stack on these settings: worker and sender running, the web app reachable."""
    async with Runtime.open(settings) as runtime:
        runtime.worker.sweep_interval = 0.2
        runtime.worker.sweep_grace = 0.5
        stop = asyncio.Event()
        loops = [
            asyncio.create_task(runtime.worker.run(stop)),
            asyncio.create_task(runtime.sender.run(stop)),
        ]
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
            try:
                yield Stack(runtime, client, telegram, twilio)
            finally:
                stop.set()
                await asyncio.gather(*loops)


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with FakeTelegram(token=TOKEN) as telegram, FakeTwilio(SID, AUTH) as twilio:
        async with running(settings_for(database_url, telegram, twilio), telegram, twilio) as built:
            yield built


async def receipts_recorded(database: Database, member_id: int, timeout: float = 10.0) -> None:
    """Wait until none of the member's outbound lines is still queued: the fake server has a
    message before the sender writes its receipt."""
    deadline = time.monotonic() + timeout
    while True:
        async with database.transaction() as uow:
            log = await uow.messages.for_member(member_id)
        if not any(m.direction == "out" and m.status == "queued" for m in log):
            return
        assert time.monotonic() < deadline, "receipts were never recorded"
        await asyncio.sleep(0.05)


async def inbox_size(database: Database) -> int:
    from sqlalchemy import func, select

    from storage.models import InboxEntry

    async with database.transaction() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(InboxEntry)) or 0)


async def test_a_telegram_member_is_greeted_with_buttons_and_answers_by_button(
    stack: Stack,
) -> None:
    response = await stack.telegram_post(text_update(1, "hello"))
    assert response.status_code == 200
    [greeting] = await stack.sent_to(CHAT, 1)
    assert greeting["text"].startswith("Welcome!")
    buttons = [row[0] for row in greeting["reply_markup"]["inline_keyboard"]]
    assert [b["text"] for b in buttons][:2] == ["English", "Español"]
    assert buttons[0]["callback_data"] == "s:language:en"

    await stack.telegram_post(button_update(2, "s:language:es"))
    sent = await stack.sent_to(CHAT, 2)
    assert sent[1]["text"].startswith("Guardo lo que me cuentas")
    await wait_until(
        lambda: [a["callback_query_id"] for a in stack.telegram.callback_answers] == ["cb2"]
    )


async def test_the_same_update_delivered_five_times_has_one_effect(stack: Stack) -> None:
    update = text_update(10, "hello")
    responses = await asyncio.gather(*(stack.telegram_post(update) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    await stack.sent_to(CHAT, 1)
    assert await inbox_size(stack.runtime.database) == 1
    async with stack.runtime.database.transaction() as uow:
        member = await uow.members.by_address("telegram", str(CHAT))
        assert member is not None
    # the one entry is handled and its answer's receipt written: nothing is left to send
    await receipts_recorded(stack.runtime.database, member.id)
    assert len(await stack.sent_to(CHAT, 1)) == 1
    async with stack.runtime.database.transaction() as uow:
        log = await uow.messages.for_member(member.id)
    assert [m.direction for m in log] == ["in", "out"]


async def test_a_webhook_answers_before_it_wakes_the_workers(stack: Stack) -> None:
    """The provider waits for the store only: the workers' wake-up (a Redis round trip in
    production) goes after the answer, for Telegram and for Twilio alike."""
    order: list[str] = []
    queue = stack.runtime.coordination.queue

    class Recording:
        async def push_many(self, items: Sequence[str]) -> None:
            order.append("woken")
            await queue.push_many(items)

    stack.runtime.inbox = InboxWriter(stack.runtime.database, Recording())  # type: ignore[arg-type]
    app = create_app(stack.runtime)

    async def answered_first(scope: Any, receive: Any, send: Any) -> None:
        status = 0

        async def recording(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                order.append(f"answered {status}")
            await send(message)

        await app(scope, receive, recording)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=answered_first), base_url=PUBLIC
    ) as client:
        stack.client = client
        assert (await stack.telegram_post(text_update(12, "hello"))).status_code == 200
        assert order == ["answered 200", "woken"]
        form = twilio_form("whatsapp_inbound_text")
        assert (await stack.twilio_post("/webhooks/twilio", form)).status_code == 200
        assert order == ["answered 200", "woken", "answered 200", "woken"]
    await stack.sent_to(CHAT, 1)  # and the woken worker did the work


async def test_two_messages_arriving_together_are_handled_in_order(stack: Stack) -> None:
    await stack.telegram_post(text_update(20, "hi"))
    await stack.sent_to(CHAT, 1)
    # three messages in quick succession, stored before the worker gets to the first
    for update_id, text in [(21, "1"), (22, "yes"), (23, "Amina")]:
        assert (await stack.telegram_post(text_update(update_id, text))).status_code == 200
    sent = await stack.sent_to(CHAT, 4)
    assert [m["text"][:20] for m in sent[1:]] == [
        "I keep what you tell",
        "Thank you! What name",
        "What kind of busines",
    ]


async def test_forged_and_malformed_requests_are_refused_and_nothing_is_stored(
    stack: Stack,
) -> None:
    assert (await stack.telegram_post(text_update(30, "hi"), secret="wrong")).status_code == 403
    assert (await stack.telegram_post(b"{not json")).status_code == 400
    assert (await stack.telegram_post([1, 2])).status_code == 400
    assert (await stack.telegram_post({"update_id": "x", "message": 5})).status_code == 400
    form = twilio_form("whatsapp_inbound_text")
    assert (await stack.twilio_post("/webhooks/twilio", form, sign=False)).status_code == 403
    forged = dict(form, Body="something else")
    headers = signed_request_headers(AUTH, PUBLIC + "/webhooks/twilio", form)
    response = await stack.client.post(
        "/webhooks/twilio",
        content=urlencode(forged),
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 403
    assert (await stack.twilio_post("/webhooks/twilio", {"Body": "no sid"})).status_code == 400
    assert await inbox_size(stack.runtime.database) == 0


async def test_unknown_update_types_are_acknowledged_and_ignored(stack: Stack) -> None:
    response = await stack.telegram_post({"update_id": 40, "a_future_update": {"id": "1"}})
    assert response.status_code == 200
    edited = telegram_fixture("edited_message")
    assert (await stack.telegram_post(edited)).status_code == 200
    assert await inbox_size(stack.runtime.database) == 0


async def test_whatsapp_member_gets_a_list_to_tap_and_status_callbacks_update_it(
    stack: Stack,
) -> None:
    form = twilio_form("whatsapp_inbound_text")
    response = await stack.twilio_post("/webhooks/twilio", form)
    assert response.status_code == 200
    assert "<Response>" in response.text
    await wait_until(lambda: len(stack.twilio.accepted) == 1)
    sent = stack.twilio.accepted[0]
    assert sent["To"] == "whatsapp:+254712345678"
    assert sent["From"] == "whatsapp:+14155238886"
    assert sent["StatusCallback"] == PUBLIC + "/webhooks/twilio/status"
    assert "Body" not in sent and sent["ContentSid"].startswith("HX")
    assert sent["rendered"]["kind"] == "twilio/list-picker"
    assert [item[0] for item in sent["rendered"]["items"]][:2] == ["English", "Español"]

    async with stack.runtime.database.transaction() as uow:
        member = await uow.members.by_address("whatsapp", "+254712345678")
        assert member is not None
    await receipts_recorded(stack.runtime.database, member.id)
    async with stack.runtime.database.transaction() as uow:
        [_, outbound] = await uow.messages.for_member(member.id)
    status = dict(twilio_form("status_delivered"), MessageSid=outbound.provider_message_id or "")
    assert (await stack.twilio_post("/webhooks/twilio/status", status)).status_code == 204
    read = dict(twilio_form("status_read"), MessageSid=outbound.provider_message_id or "")
    assert (await stack.twilio_post("/webhooks/twilio/status", read)).status_code == 204
    async with stack.runtime.database.transaction() as uow:
        [_, outbound] = await uow.messages.for_member(member.id)
    assert outbound.status == "read"

    # the member answers with the number from the list
    answer = dict(form, Body="2", MessageSid="SM" + "2" * 32, SmsMessageSid="SM" + "2" * 32)
    await stack.twilio_post("/webhooks/twilio", answer)
    await wait_until(lambda: len(stack.twilio.accepted) == 2)
    consent = stack.twilio.accepted[1]["rendered"]
    assert consent["body"].startswith("Guardo lo que me cuentas")
    assert [title for title, _ in consent["buttons"]] == ["Sí", "No"]


async def test_sms_stop_opts_the_member_out(stack: Stack) -> None:
    stop = twilio_form("sms_inbound_stop")
    assert (await stack.twilio_post("/webhooks/twilio", stop)).status_code == 200
    await wait_until(lambda: len(stack.twilio.accepted) == 1)
    async with stack.runtime.database.transaction() as uow:
        member = await uow.members.by_address("sms", stop["From"])
    assert member is not None and member.opted_out


async def test_stop_cancels_the_broadcast_lines_queued_for_the_member(stack: Stack) -> None:
    """A broadcast line waiting in the outbox when the member says STOP never goes, and neither
    does one queued a moment after it (planned from a roster read before the STOP)."""
    from datetime import timedelta

    database = stack.runtime.database
    await stack.telegram_post(text_update(80, "hi"))
    await stack.sent_to(CHAT, 1)
    async with database.transaction() as uow:
        member = await uow.members.by_address("telegram", str(CHAT))
        assert member is not None
        now = stack.runtime.clock()
        waiting = await log_outbound(
            uow,
            member_id=member.id,
            channel="telegram",
            address_value=str(CHAT),
            text="Broadcast: market day moved",
            payload={"nudge": "broadcast"},
            at=now,
        )
        # held by the channel's pause, as a line behind a long broadcast is
        await uow.messages.postpone(waiting.id, not_before=now + timedelta(seconds=5), at=now)
    await stack.telegram_post(text_update(81, "STOP"))

    async def status_of(message_id: int) -> tuple[str, str | None]:
        async with database.transaction() as uow:
            log = await uow.messages.for_member(member.id, limit=100)
        [message] = [m for m in log if m.id == message_id]
        return message.status, message.error_code

    deadline = time.monotonic() + 10
    while (await status_of(waiting.id))[0] == "queued":
        assert time.monotonic() < deadline, "the queued broadcast line was never cancelled"
        await asyncio.sleep(0.05)
    assert await status_of(waiting.id) == ("failed", "opted_out")

    async with database.transaction() as uow:
        late = await log_outbound(
            uow,
            member_id=member.id,
            channel="telegram",
            address_value=str(CHAT),
            text="Broadcast: planned before the STOP",
            payload={"nudge": "broadcast"},
            at=stack.runtime.clock(),
        )
    await stack.runtime.coordination.outbox_wakeup.push("outbox")
    while (await status_of(late.id))[0] == "queued":
        assert time.monotonic() < deadline, "the late broadcast line was never cancelled"
        await asyncio.sleep(0.05)
    assert await status_of(late.id) == ("failed", "opted_out")
    assert not any("Broadcast" in str(m.get("text")) for m in stack.telegram.sent)


async def test_a_429_with_retry_after_and_a_5xx_delay_but_lose_nothing(stack: Stack) -> None:
    stack.telegram.fail_next(str(CHAT), "response_429")
    stack.telegram.fail_next(str(CHAT + 1), {"status": 500})
    await stack.telegram_post(text_update(50, "hi"))
    await stack.telegram_post(text_update(51, "hi", chat=CHAT + 1))
    started = time.monotonic()
    [greeting] = await stack.sent_to(CHAT, 1, timeout=15)
    assert greeting["text"].startswith("Welcome!")
    assert time.monotonic() - started >= 0.9  # the fixture says retry_after 1 (or more)
    [other] = await stack.sent_to(CHAT + 1, 1, timeout=15)
    assert other["text"].startswith("Welcome!")
    async with stack.runtime.database.transaction() as uow:
        member = await uow.members.by_address("telegram", str(CHAT))
        assert member is not None
    await receipts_recorded(stack.runtime.database, member.id)
    async with stack.runtime.database.transaction() as uow:
        [_, outbound] = await uow.messages.for_member(member.id)
    assert (outbound.status, outbound.attempts) == ("sent", 2)


async def test_a_member_who_blocked_the_bot_is_marked_and_gets_nothing_more(stack: Stack) -> None:
    stack.telegram.fail_next(str(CHAT), "response_403_blocked")
    await stack.telegram_post(text_update(60, "hi"))

    async def failed() -> bool:
        async with stack.runtime.database.transaction() as uow:
            member = await uow.members.by_address("telegram", str(CHAT))
            return bool(member and member.opted_out)

    deadline = time.monotonic() + 10
    while not await failed():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    async with stack.runtime.database.transaction() as uow:
        address = await uow.members.address("telegram", str(CHAT))
        member = await uow.members.by_address("telegram", str(CHAT))
        assert member is not None
        [_, outbound] = await uow.messages.for_member(member.id)
    assert address is not None and address.blocked_at is not None
    assert (outbound.status, outbound.error_code) == ("failed", "403")


async def test_my_chat_member_kicked_is_an_opt_out(stack: Stack) -> None:
    await stack.telegram_post(text_update(70, "hi"))
    await stack.sent_to(CHAT, 1)
    blocked = telegram_fixture("my_chat_member_blocked")
    blocked["my_chat_member"]["chat"]["id"] = CHAT
    assert (await stack.telegram_post(blocked)).status_code == 200

    async def opted_out() -> bool:
        async with stack.runtime.database.transaction() as uow:
            member = await uow.members.by_address("telegram", str(CHAT))
            return bool(member and member.opted_out)

    deadline = time.monotonic() + 10
    while not await opted_out():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_a_group_chat_is_recorded_and_linked_with_a_code(stack: Stack) -> None:
    async with stack.runtime.database.transaction() as uow:
        group = await uow.groups.create(
            "Kibera Market Peers", "Africa/Nairobi", "sw", "KES", at=stack.runtime.clock()
        )
        grace = await uow.staff.add(
            "Grace", "coordinator", telegram_id="6000000001", at=stack.runtime.clock()
        )
        await uow.staff.set_groups(grace.id, [group.id])
    added = telegram_fixture("my_chat_member_added_to_group")
    await stack.telegram_post(added)
    chat_id = added["my_chat_member"]["chat"]["id"]
    [hello] = await stack.sent_to(chat_id, 1)
    assert "/link" in hello["text"]
    link = telegram_fixture("group_command_link")
    link["message"]["text"] = f"/link@mutuality_bot {group.join_code}"
    link["message"]["chat"]["id"] = chat_id
    await stack.telegram_post(link)
    sent = await stack.sent_to(chat_id, 2)
    assert "Kibera Market Peers" in sent[1]["text"]
    async with stack.runtime.database.transaction() as uow:
        chats = await uow.group_chats.for_group(group.id)
    assert [c.chat_id for c in chats] == [str(chat_id)]
    chatter = telegram_fixture("group_message")
    assert (await stack.telegram_post(chatter)).status_code == 200


async def test_only_a_staff_user_of_the_group_links_or_moves_a_group_chat(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    now = stack.runtime.clock()
    async with stack.runtime.database.transaction() as uow:
        kibera = await uow.groups.create(
            "Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=now
        )
        mathare = await uow.groups.create("Mathare Makers", "Africa/Nairobi", "en", "KES", at=now)
        grace = await uow.staff.add("Grace", "coordinator", telegram_id="6000000001", at=now)
        await uow.staff.set_groups(grace.id, [kibera.id])
        await uow.staff.add("Juma", "coordinator", telegram_id="6000000002", at=now)
    link = telegram_fixture("group_command_link")
    chat_id = link["message"]["chat"]["id"]

    async def send_link(update_id: int, sender: int, code: str) -> list[dict[str, Any]]:
        update = telegram_fixture("group_command_link")
        update["update_id"] = update_id
        update["message"]["from"]["id"] = sender
        update["message"]["text"] = f"/link {code}"
        await stack.telegram_post(update)
        return await stack.sent_to(chat_id, update_id - 900)

    async def bound() -> list[tuple[str, int | None]]:
        async with stack.runtime.database.transaction() as uow:
            chat = await uow.group_chats.get("telegram", str(chat_id))
        return [] if chat is None else [(chat.chat_id, chat.group_id)]

    caplog.set_level(logging.WARNING, logger="bot.pipeline.dispatch")
    # a member who knows the code, and a staff user of another group: refused, nothing stored
    said = await send_link(901, 7000000009, kibera.join_code)
    assert "Nothing was changed" in said[-1]["text"]
    said = await send_link(902, 6000000002, kibera.join_code)
    assert "Nothing was changed" in said[-1]["text"]
    assert await bound() == []
    assert sum("refused" in r.getMessage() for r in caplog.records) == 2
    assert all(str(chat_id) not in r.getMessage() for r in caplog.records)
    # the group's coordinator links it; nobody else moves it to another group, not even her
    said = await send_link(903, 6000000001, kibera.join_code)
    assert "now linked to Kibera Market Peers" in said[-1]["text"]
    for update_id, sender in ((904, 7000000009), (905, 6000000002), (906, 6000000001)):
        said = await send_link(update_id, sender, mathare.join_code)
        assert "Nothing was changed" in said[-1]["text"]
    assert await bound() == [(str(chat_id), kibera.id)]


async def test_sharing_the_phone_number_links_telegram_to_whatsapp(stack: Stack) -> None:
    await stack.twilio_post("/webhooks/twilio", twilio_form("whatsapp_inbound_text"))
    await wait_until(lambda: len(stack.twilio.accepted) == 1)
    contact = telegram_fixture("message_contact")
    await stack.telegram_post(contact)
    chat = contact["message"]["chat"]["id"]
    [linked] = await stack.sent_to(chat, 1)
    assert "linked" in linked["text"]
    async with stack.runtime.database.transaction() as uow:
        on_whatsapp = await uow.members.by_address("whatsapp", "+254712345678")
        on_telegram = await uow.members.by_address("telegram", str(chat))
    assert on_whatsapp is not None and on_telegram is not None
    assert on_whatsapp.id == on_telegram.id


async def test_a_deep_link_joins_the_group(stack: Stack) -> None:
    async with stack.runtime.database.transaction() as uow:
        group = await uow.groups.create(
            "Peers", "Africa/Nairobi", "en", "KES", at=stack.runtime.clock()
        )
    start = telegram_fixture("message_start_deeplink")
    start["message"]["text"] = f"/start join-{group.join_code}"
    await stack.telegram_post(start)
    chat = start["message"]["chat"]["id"]
    await stack.sent_to(chat, 1)
    async with stack.runtime.database.transaction() as uow:
        member = await uow.members.by_address("telegram", str(chat))
        assert member is not None
        joined = await uow.members.current_group(member.id)
    assert joined is not None and joined.id == group.id


async def test_health_and_readiness(stack: Stack) -> None:
    assert (await stack.client.get("/healthz")).json() == {"status": "ok"}
    ready = await stack.client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"database": "ok"}


async def test_webhooks_answer_503_when_the_database_is_unreachable(stack: Stack) -> None:
    healthy, writer = stack.runtime.database, stack.runtime.inbox
    stack.runtime.database = Database("postgresql://postgres@127.0.0.1:9/unreachable")
    stack.runtime.inbox = InboxWriter(stack.runtime.database, stack.runtime.coordination.queue)
    try:
        response = await stack.telegram_post(text_update(80, "hi"))
        assert response.status_code == 503
        ready = await stack.client.get("/readyz")
        assert ready.status_code == 503
        twilio = await stack.twilio_post("/webhooks/twilio", twilio_form("whatsapp_inbound_text"))
        assert twilio.status_code == 503
    finally:
        await stack.runtime.database.dispose()
        stack.runtime.database, stack.runtime.inbox = healthy, writer
    assert await inbox_size(healthy) == 0
    # the provider's retry, once the database is back, is stored and answered
    assert (await stack.telegram_post(text_update(80, "hi"))).status_code == 200
    await stack.sent_to(CHAT, 1)


async def test_sends_stay_within_the_providers_limits(database_url: str) -> None:
    """40 members write at once; Telegram allows 20 sends a second overall (the fake enforces
    it): everything goes out, and never over the limit."""
    async with FakeTelegram(token=TOKEN, global_per_second=20, per_chat_per_second=1) as telegram:
        async with FakeTwilio(SID, AUTH) as twilio:
            settings = settings_for(database_url, telegram, twilio).model_copy(
                update={"telegram_rate_per_second": 20.0, "telegram_chat_rate_per_second": 1.0}
            )
            async with running(settings, telegram, twilio) as stack:
                for member in range(40):
                    await stack.telegram_post(text_update(100 + member, "hi", chat=CHAT + member))
                await wait_until(lambda: len(telegram.sent) >= 40, timeout=20)
    assert telegram.rate_limited == 0
    assert len(telegram.sent) == 40
    # the overall limit is a sliding window of one second: a send and the 20th after it are at
    # least a second apart (how close to the limit it gets is measured by benchmarks/, not here)
    times = [sent["at"] for sent in telegram.sent]
    spans = [later - earlier for earlier, later in zip(times, times[20:], strict=False)]
    assert min(spans) >= 1.0, spans


async def test_a_redis_restart_mid_run_loses_nothing(database_url: str) -> None:
    """Redis goes away while members write, then comes back: webhooks keep storing (the
    database is the truth), and every message is answered once Redis is back."""
    from tests.pipeline.redis_server import RedisServer

    async with RedisServer() as redis, FakeTelegram(token=TOKEN) as telegram:
        async with FakeTwilio(SID, AUTH) as twilio:
            settings = settings_for(database_url, telegram, twilio).model_copy(
                update={"redis_url": redis.url, "redis_prefix": "restart-test:"}
            )
            async with running(settings, telegram, twilio) as stack:
                for member in range(5):
                    await stack.telegram_post(text_update(200 + member, "hi", chat=CHAT + member))
                await wait_until(lambda: len(telegram.sent) >= 5)
                await redis.stop()
                for member in range(5, 10):
                    response = await stack.telegram_post(
                        text_update(200 + member, "hi", chat=CHAT + member)
                    )
                    assert response.status_code == 200  # stored; waking a worker failed
                await asyncio.sleep(1.0)
                await redis.start()
                await wait_until(lambda: len(telegram.sent) >= 10, timeout=30)
    assert sorted(int(m["chat_id"]) - CHAT for m in telegram.sent) == list(range(10))


async def test_the_web_process_registers_the_telegram_webhook_with_its_secret(stack: Stack) -> None:
    await stack.runtime.register_telegram_webhook()
    assert stack.telegram.webhook is not None
    assert stack.telegram.webhook["url"] == PUBLIC + "/webhooks/telegram"
    assert stack.telegram.webhook["secret_token"] == SECRET


async def test_whatsapp_window_sends_a_template_or_records_why_not(stack: Stack) -> None:
    from datetime import timedelta

    from bot.channels.templates import Templates
    from bot.turns.service import queue_outbound
    from conversations.rendering import RenderedMessage

    stack.runtime.sender.templates = Templates(
        {"reminder": {"en": "HX0000000000000000000000000000abcd"}}
    )
    long_ago = stack.runtime.clock() - timedelta(hours=30)
    async with stack.runtime.database.transaction() as uow:
        fresh = await uow.members.create("whatsapp", "+254700000001", "en", "KES", at=long_ago)
        old = await uow.members.create("whatsapp", "+254700000002", "sw", "KES", at=long_ago)
        await uow.members.touch_inbound("whatsapp", "+254700000001", stack.runtime.clock())
        await uow.members.touch_inbound("whatsapp", "+254700000002", long_ago)
        for member, address, locale in [
            (fresh, "+254700000001", "en"),
            (old, "+254700000002", "en"),
            (old, "+254700000002", "sw"),
        ]:
            await queue_outbound(
                uow,
                member.id,
                "whatsapp",
                address,
                RenderedMessage("A friendly reminder", (), locale),
                None,
                stack.runtime.clock(),
                nudge="reminder",
                template={"1": "Amina", "2": "check-in"},
            )
    await stack.runtime.coordination.outbox_wakeup.push("1")
    await wait_until(lambda: len(stack.twilio.accepted) == 2)
    # two chats' lines go out side by side: told apart by recipient, not by order
    sent_to = {request["To"]: request for request in stack.twilio.accepted}
    inside, templated = sent_to["whatsapp:+254700000001"], sent_to["whatsapp:+254700000002"]

    async def recorded() -> list[tuple[str, str | None]]:
        async with stack.runtime.database.transaction() as uow:
            log = await uow.messages.for_member(old.id)
        return [(m.status, m.error_code) for m in log]

    deadline = time.monotonic() + 10
    while ("queued", None) in await recorded():  # the receipts are written after the sends
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert inside["To"] == "whatsapp:+254700000001" and inside["Body"] == "A friendly reminder"
    assert templated["ContentSid"] == "HX0000000000000000000000000000abcd"
    assert json.loads(templated["ContentVariables"]) == {"1": "Amina", "2": "check-in"}
    assert await recorded() == [("sent", None), ("failed", "outside_window")]


async def test_staff_moderate_stories_and_broadcast_from_chat(stack: Stack) -> None:
    now = stack.runtime.clock()
    staff_chat = 6000000001
    async with stack.runtime.database.transaction() as uow:
        group = await uow.groups.create(
            "Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=now
        )
        staff = await uow.staff.add("Grace", "coordinator", telegram_id=str(staff_chat), at=now)
        member = await uow.members.create("telegram", str(CHAT), "en", "KES", at=now)
        await uow.members.update(member.id, at=now, name="Amina", consent=True, onboarded_at=now)
        await uow.members.join_group(member.id, group.id, now)
        story = await uow.stories.propose(
            member.id, group.id, None, "I sold out on Friday!", at=now
        )
    await stack.telegram_post(text_update(300, "/stories", chat=staff_chat))
    [listing] = await stack.sent_to(staff_chat, 1)
    assert f"#{story.id}: I sold out on Friday!" in listing["text"]
    await stack.telegram_post(text_update(301, f"/stories approve {story.id}", chat=staff_chat))
    sent = await stack.sent_to(staff_chat, 2)
    assert sent[1]["text"] == f"Story {story.id} approved."
    async with stack.runtime.database.transaction() as uow:
        approved = await uow.stories.get(story.id)
    assert approved is not None and approved.status == "approved"
    assert approved.moderated_by_id == staff.id

    await stack.telegram_post(
        text_update(
            302, f"/broadcast {group.join_code} Market day moved to Friday", chat=staff_chat
        )
    )
    sent = await stack.sent_to(staff_chat, 3)
    assert sent[2]["text"].startswith("To Kibera Market Peers: 1 members (1 on telegram)")
    code = sent[2]["text"].rsplit(" ", 4)[-4]
    await stack.telegram_post(text_update(303, f"/broadcast yes {code}", chat=staff_chat))
    sent = await stack.sent_to(staff_chat, 4)
    assert "is on its way" in sent[3]["text"]
    async with stack.runtime.database.transaction() as uow:
        [broadcast] = await uow.broadcasts.list()
    assert broadcast.texts == {"en": "Market day moved to Friday"}


async def test_a_turns_messages_to_one_telegram_chat_leave_together(database_url: str) -> None:
    """Telegram allows a chat a short burst: a turn of three messages goes at once (the old
    one-a-second spacing made a quick member wait), the rest about a second apart, and the fake,
    enforcing 3 a second per chat, refuses none."""
    async with FakeTelegram(token=TOKEN, per_chat_per_second=3) as telegram:
        async with FakeTwilio(SID, AUTH) as twilio:
            settings = settings_for(database_url, telegram, twilio).model_copy(
                update={"telegram_chat_rate_per_second": 1.0}
            )
            async with running(settings, telegram, twilio) as stack:
                from bot.turns.service import message_values, utc_now

                now = utc_now()
                async with stack.runtime.database.transaction() as uow:
                    await uow.messages.log_many(
                        [
                            message_values(
                                None, "telegram", str(CHAT), "out", f"line {i}", None,
                                "queued", None, now,
                            )
                            for i in range(5)
                        ]
                    )  # fmt: skip
                await stack.sent_to(CHAT, 5, timeout=20)
    assert telegram.rate_limited == 0
    times = [sent["at"] for sent in telegram.sent]
    assert [sent["text"] for sent in telegram.sent] == [f"line {i}" for i in range(5)]
    assert times[2] - times[0] < 0.9, times  # together, not a second apart
    assert times[3] - times[0] >= 1.0, times  # then no more than 3 in any second
