"""The Telegram channel: recorded updates parse to exactly the events they stand for, and the real
python-telegram-bot client, talking to a fake Bot API server, maps every answer to a SendResult."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from bot.channels.base import (
    ContactEvent,
    GroupChatEvent,
    InboundEvent,
    MessageEvent,
    OptOutEvent,
    OutgoingChoice,
    OutgoingDocument,
    OutgoingMessage,
    PermanentFailure,
    RecipientGone,
    RetryAfter,
    Sent,
)
from bot.channels.telegram import (
    ALLOWED_UPDATES,
    TelegramChannel,
    TelegramPayloadError,
    TokenRejected,
    parse_update,
    poll,
)
from conversations.answers import Location, Photo
from conversations.inputs import Reply
from tests.fakes.telegram_api import FIXTURES, FakeTelegram, Upload, load_fixture

TOKEN = "123:abc"
AMINA = "5123456789"
GROUP = "-1002233445566"


def message(provider_id: str, reply: Reply, address: str = AMINA, **extra: Any) -> MessageEvent:
    return MessageEvent("telegram", address, f"tg:{provider_id}", reply, **extra)


EXPECTED: dict[str, list[InboundEvent]] = {
    "message_start": [
        message("480132001", Reply(text="/start"), command="start", argument=""),
    ],
    "message_start_deeplink": [
        message(
            "480132002",
            Reply(text="/start join-4821"),
            address="5123456790",
            command="start",
            argument="join-4821",
        ),
    ],
    "message_text": [message("480132003", Reply(text="Ksh 2,500"))],
    "message_text_unicode": [
        message("480132004", Reply(text="١٢٣٤ 💰🙏🏽  na asante sana!")),
    ],
    "callback_query": [
        message(
            "480132005",
            Reply(text="Yes", choice="yes", choice_step="help_given"),
            callback_id="4382bfdwdsb323b2d9",
        ),
    ],
    "message_contact": [ContactEvent("telegram", AMINA, "tg:480132006", "+254712345678")],
    "message_photo": [
        message(
            "480132007",
            Reply(text="My new stall", photo=Photo("AgACAgQAAxkBAAIBc2VAAAF", "image/jpeg")),
        ),
    ],
    "message_location": [
        message("480132008", Reply(location=Location(Decimal("-1.286389"), Decimal("36.817223")))),
    ],
    "message_voice": [message("480132009", Reply(media_kind="voice"))],
    "message_sticker": [message("480132010", Reply(text="", media_kind="sticker"))],
    "edited_message": [],
    "group_message": [],
    "group_command_link": [
        GroupChatEvent(
            "telegram",
            GROUP,
            "tg:480132013",
            "Kibera Market Peers",
            code="4821",
            sender_id="6000000001",
        ),
    ],
    "my_chat_member_added_to_group": [
        GroupChatEvent("telegram", GROUP, "tg:480132014", "Kibera Market Peers", code=None),
    ],
    "my_chat_member_blocked": [OptOutEvent("telegram", AMINA, "tg:480132015")],
}


def test_every_update_fixture_has_an_expectation() -> None:
    updates = {
        path.stem for path in FIXTURES.glob("*.json") if not path.stem.startswith("response")
    }
    assert updates == EXPECTED.keys()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_its_events(name: str) -> None:
    assert parse_update(load_fixture(name), bot_username="mutuality_bot") == EXPECTED[name]
    assert parse_update(load_fixture(name)) == EXPECTED[name]


def _private_message(**content: Any) -> dict[str, Any]:
    update = load_fixture("message_text")
    del update["message"]["text"]
    update["message"].update(content)
    return update


@pytest.mark.parametrize(
    ("content", "reply"),
    [
        ({"text": "/help"}, Reply(text="/help")),
        ({"text": "/START"}, Reply(text="/START")),
        (
            {
                "video": {
                    "file_id": "v",
                    "file_unique_id": "v",
                    "width": 1,
                    "height": 1,
                    "duration": 1,
                }
            },
            Reply(media_kind="video"),
        ),
        (
            {"document": {"file_id": "d", "file_unique_id": "d"}, "caption": "receipt"},
            Reply(text="receipt", media_kind="document"),
        ),
        (
            {"audio": {"file_id": "a", "file_unique_id": "a", "duration": 3}},
            Reply(media_kind="audio"),
        ),
        (
            {
                "animation": {
                    "file_id": "g",
                    "file_unique_id": "g",
                    "width": 1,
                    "height": 1,
                    "duration": 1,
                },
                "document": {"file_id": "g", "file_unique_id": "g"},
            },
            Reply(media_kind="animation"),
        ),
        (
            {"contact": {"phone_number": "+1 (415) 555-0100", "first_name": "Jose", "user_id": 42}},
            Reply(media_kind="contact"),
        ),
        (
            {"contact": {"phone_number": "254700000000", "first_name": "Jose"}},
            Reply(media_kind="contact"),
        ),
    ],
)
def test_private_message_contents(content: dict[str, Any], reply: Reply) -> None:
    events = parse_update(_private_message(**content))
    expected_command = {"command": "start"} if content.get("text") == "/START" else {}
    assert events == [message("480132003", reply, **expected_command)]


def test_own_contact_with_a_plus_and_spaces_is_normalised() -> None:
    update = load_fixture("message_contact")
    update["message"]["contact"]["phone_number"] = "+254 712 345-678"
    assert parse_update(update) == EXPECTED["message_contact"]


def test_own_contact_with_an_impossible_number_is_no_phone() -> None:
    update = load_fixture("message_contact")
    update["message"]["contact"]["phone_number"] = "12"
    assert parse_update(update) == [message("480132006", Reply(media_kind="contact"))]


def test_private_service_message_is_ignored() -> None:
    assert (
        parse_update(
            _private_message(
                pinned_message={"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}
            )
        )
        == []
    )


@pytest.mark.parametrize(
    ("text", "bot_username", "expected"),
    [
        ("/start@mutuality_bot join-1", "mutuality_bot", ("start", "join-1")),
        ("/start@Mutuality_Bot", "@mutuality_bot", ("start", "")),
        ("/start@other_bot join-1", None, ("start", "join-1")),
    ],
)
def test_start_addressed_to_the_bot(
    text: str, bot_username: str | None, expected: tuple[str, str]
) -> None:
    events = parse_update(_private_message(text=text), bot_username=bot_username)
    command, argument = expected
    assert events == [message("480132003", Reply(text=text), command=command, argument=argument)]


def test_start_addressed_to_another_bot_is_text() -> None:
    events = parse_update(_private_message(text="/start@other_bot"), bot_username="mutuality_bot")
    assert events == [message("480132003", Reply(text="/start@other_bot"))]


@pytest.mark.parametrize(
    ("text", "events"),
    [
        (
            "/link join-4821 ",
            [
                GroupChatEvent(
                    "telegram",
                    GROUP,
                    "tg:480132013",
                    "Kibera Market Peers",
                    "join-4821",
                    "6000000001",
                )
            ],
        ),
        ("/link@other_bot 4821", []),
        ("/linkage 4821", []),
        ("/start", []),
    ],
)
def test_group_commands(text: str, events: list[InboundEvent]) -> None:
    update = load_fixture("group_command_link")
    update["message"]["text"] = text
    assert parse_update(update, bot_username="mutuality_bot") == events


def test_callback_with_a_foreign_payload_and_no_keyboard() -> None:
    update = load_fixture("callback_query")
    update["callback_query"]["data"] = "legacy"
    del update["callback_query"]["message"]["reply_markup"]
    assert parse_update(update) == [
        message("480132005", Reply(text="", choice="legacy"), callback_id="4382bfdwdsb323b2d9")
    ]


def test_callback_in_a_group_or_without_data_is_ignored() -> None:
    in_group = load_fixture("callback_query")
    in_group["callback_query"]["message"]["chat"] = {
        "id": int(GROUP),
        "type": "supergroup",
        "title": "x",
    }
    without_data = load_fixture("callback_query")
    del without_data["callback_query"]["data"]
    assert parse_update(in_group) == []
    assert parse_update(without_data) == []


def _membership(name: str, old: str, new: str) -> dict[str, Any]:
    update = load_fixture(name)
    for side, status in (("old_chat_member", old), ("new_chat_member", new)):
        update["my_chat_member"][side]["status"] = status
        update["my_chat_member"][side].pop("until_date", None)
        if status == "kicked":
            update["my_chat_member"][side]["until_date"] = 0
    return update


def test_membership_changes_that_mean_nothing() -> None:
    unblocked = _membership("my_chat_member_blocked", "kicked", "member")
    removed_from_group = _membership("my_chat_member_added_to_group", "member", "left")
    assert parse_update(unblocked) == []
    assert parse_update(removed_from_group) == []


def test_ignored_updates_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.telegram")
    assert parse_update(load_fixture("edited_message")) == []
    assert parse_update({"update_id": 7, "poll_answer_from_the_future": {"x": 1}}) == []
    assert "tg:480132011: edited message ignored" in caplog.text
    assert "tg:7: update of kind poll_answer_from_the_future ignored" in caplog.text


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "update",
        {},
        {"update_id": "seven"},
        {"update_id": 1, "message": "hello"},
        {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1}}},
        {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 1, "type": "private"},
                "text": {"a": 1},
            },
        },
        {"update_id": 1, "callback_query": {"from": {"id": 1, "is_bot": False, "first_name": "A"}}},
        {"update_id": 1, "my_chat_member": {"chat": {"id": 1, "type": "private"}}},
    ],
)
def test_malformed_payloads_raise(payload: Any) -> None:
    with pytest.raises(TelegramPayloadError, match="Telegram update"):
        parse_update(payload)


def test_malformed_payload_error_does_not_repeat_what_the_member_wrote() -> None:
    update = load_fixture("message_text")
    update["message"]["text"] = "my secret"
    del update["message"]["date"]
    with pytest.raises(TelegramPayloadError) as raised:
        parse_update(update)
    assert "message.date" in str(raised.value)
    assert "secret" not in str(raised.value)


# --- talking to the (fake) Bot API ----------------------------------------------------------


# One server and one channel for the module (as a process has one client); every
# test that talks to them runs on the module's event loop and starts from a reset server.
module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def channel(server: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(TOKEN, api_url=server.url, timeout=5)
    try:
        yield channel
    finally:
        await channel.close()


@pytest_asyncio.fixture(loop_scope="module")
async def fake(server: FakeTelegram) -> FakeTelegram:
    server.reset()
    return server


def outgoing(text: str = "Asante!", address: str = AMINA, **extra: Any) -> OutgoingMessage:
    return OutgoingMessage(message_id=1, channel="telegram", address=address, text=text, **extra)


@module_loop
async def test_send_text_with_buttons(fake: FakeTelegram, channel: TelegramChannel) -> None:
    choices = (OutgoingChoice("yes", "Yes 👍"), OutgoingChoice("no", "No"))
    result = await channel.send(outgoing("Did you help?", choices=choices, step_id="gave_help"))
    plain = await channel.send(outgoing("Thanks"))

    assert result == Sent("5123456789:19")
    assert plain == Sent("5123456789:20")
    first, second = fake.sent
    assert (first["chat_id"], first["text"]) == (int(AMINA), "Did you help?")
    assert first["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Yes 👍", "callback_data": "s:gave_help:yes"}],
            [{"text": "No", "callback_data": "s:gave_help:no"}],
        ]
    }
    assert (second["text"], second["reply_markup"]) == ("Thanks", None)


@module_loop
async def test_a_contact_button_and_its_removal(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    """A contact request is a reply keyboard of one button that shares the member's own
    number, sized to fit and gone once used; a later line may take it away."""
    offer = outgoing("Share your number?", contact_button="📱 Share my phone number")
    assert await channel.send(offer) == Sent("5123456789:19")
    assert await channel.send(outgoing("Your name?", clear_keyboard=True)) == Sent("5123456789:20")
    # choices win: a line carries one keyboard, and a question's buttons are inline
    both = outgoing(
        "Help?", choices=(OutgoingChoice("no", "No"),), step_id="s1", contact_button="Share"
    )
    await channel.send(both)
    first, second, third = (sent["reply_markup"] for sent in fake.sent)
    assert first == {
        "keyboard": [[{"text": "📱 Share my phone number", "request_contact": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }
    assert second == {"remove_keyboard": True}
    assert third == {"inline_keyboard": [[{"text": "No", "callback_data": "s:s1:no"}]]}


CSV = "table,c1\n# answers,value\nanswers,Ksh 2\u202f500 ✓\n".encode()


@module_loop
async def test_a_document_goes_as_a_multipart_upload_with_its_caption(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    document = OutgoingDocument("my-data.csv", CSV)
    result = await channel.send(outgoing("Nakala yako kamili", document=document))

    assert result == Sent("5123456789:19")
    [sent] = fake.sent
    assert (sent["chat_id"], sent["text"], sent["reply_markup"]) == (
        int(AMINA),
        "Nakala yako kamili",
        None,
    )
    assert sent["document"] == Upload("my-data.csv", "text/csv", CSV)
    assert fake.calls == ["sendDocument"]


@module_loop
async def test_a_document_fails_like_any_send(fake: FakeTelegram, channel: TelegramChannel) -> None:
    document = OutgoingDocument("my-data.csv", CSV)
    fake.fail_next(AMINA, "response_429")
    throttled = await channel.send(outgoing("Copy", document=document))
    fake.fail_next(AMINA, "response_403_blocked")
    blocked = await channel.send(outgoing("Copy", document=document))
    assert isinstance(throttled, RetryAfter) and throttled.seconds == 7
    assert blocked == RecipientGone("403", "Forbidden: bot was blocked by the user", opted_out=True)
    assert fake.sent == []


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (outgoing("x" * 1025, document=OutgoingDocument("a.csv", b"a")), "too_long"),
        (outgoing("Copy", document=OutgoingDocument("a.csv", b"")), "bad_document"),
    ],
)
@module_loop
async def test_unsendable_documents_never_reach_telegram(
    fake: FakeTelegram, channel: TelegramChannel, message: OutgoingMessage, code: str
) -> None:
    result = await channel.send(message)
    assert isinstance(result, PermanentFailure)
    assert result.code == code
    assert fake.calls == []


@module_loop
async def test_the_longest_caption_is_sent_whole(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    document = OutgoingDocument("my-data.csv", CSV)
    assert await channel.send(outgoing("é" * 1024, document=document)) == Sent("5123456789:19")
    assert fake.sent[0]["text"] == "é" * 1024


@module_loop
async def test_a_pressed_button_parses_back(fake: FakeTelegram, channel: TelegramChannel) -> None:
    await channel.send(outgoing("Help?", choices=(OutgoingChoice("no", "No"),), step_id="s1"))
    update = load_fixture("callback_query")
    update["callback_query"]["data"] = fake.sent[0]["reply_markup"]["inline_keyboard"][0][0][
        "callback_data"
    ]
    update["callback_query"]["message"]["reply_markup"] = fake.sent[0]["reply_markup"]
    [event] = parse_update(update)
    assert isinstance(event, MessageEvent)
    assert event.reply == Reply(text="No", choice="no", choice_step="s1")


FAILURES: list[tuple[str | dict[str, Any], RetryAfter | RecipientGone | PermanentFailure]] = [
    ("response_429", RetryAfter(7, scope="chat")),
    (
        {"ok": False, "error_code": 429, "description": "Too Many Requests"},
        RetryAfter(1, scope="chat"),
    ),
    (
        "response_403_blocked",
        RecipientGone("403", "Forbidden: bot was blocked by the user", opted_out=True),
    ),
    ("response_400_chat_not_found", RecipientGone("400", "Bad Request: chat not found")),
    (
        {"ok": False, "error_code": 400, "description": "Bad Request: BUTTON_DATA_INVALID"},
        PermanentFailure("400", "Bad Request: BUTTON_DATA_INVALID"),
    ),
    (
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": -1001234567890},
        },
        PermanentFailure(
            "migrated", "Bad Request: group chat was upgraded to a supergroup chat (-1001234567890)"
        ),
    ),
    ({"status": 429, "body": "<html>Slow down</html>"}, RetryAfter(1, scope="chat")),
    ({"status": 404}, RetryAfter(60, scope="channel")),
    ({"status": 500}, RetryAfter(5, scope="chat")),
    ({"status": 502, "body": "<html>Bad Gateway</html>"}, RetryAfter(5, scope="chat")),
]


@module_loop
async def test_send_failures_map_to_results(fake: FakeTelegram, channel: TelegramChannel) -> None:
    """One channel for all the cases: each failure is only the next answer for that chat."""
    for response, expected in FAILURES:
        fake.fail_next(AMINA, response)
        result = await channel.send(outgoing())
        if isinstance(expected, RetryAfter):
            assert isinstance(result, RetryAfter), response
            assert (result.seconds, result.scope) == (expected.seconds, expected.scope), response
            assert result.reason, response
        else:
            assert result == expected, response
    assert await channel.send(outgoing()) == Sent("5123456789:19")
    assert len(fake.sent) == 1


@module_loop
async def test_unreachable_server_is_a_retry() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = TelegramChannel(TOKEN, api_url=f"http://127.0.0.1:{port}", timeout=2)
    try:
        result = await channel.send(outgoing())
    finally:
        await channel.close()
    assert isinstance(result, RetryAfter)
    assert (result.seconds, result.scope) == (5, "chat")


@module_loop
async def test_wrong_token_pauses_the_channel(fake: FakeTelegram) -> None:
    channel = TelegramChannel("999:wrong", api_url=fake.url)
    try:
        result = await channel.send(outgoing())
        with pytest.raises(TokenRejected):
            await channel.bot_username()
    finally:
        await channel.close()
    assert isinstance(result, RetryAfter)
    assert result.scope == "channel"
    assert fake.calls == []  # the fake refused before reading the method


@pytest.mark.parametrize(
    ("message", "code"),
    [(outgoing("x" * 4097), "too_long"), (outgoing(address="@amina"), "bad_address")],
)
@module_loop
async def test_unsendable_messages_never_reach_telegram(
    fake: FakeTelegram, channel: TelegramChannel, message: OutgoingMessage, code: str
) -> None:
    result = await channel.send(message)
    assert isinstance(result, PermanentFailure)
    assert result.code == code
    assert fake.calls == []


@module_loop
async def test_longest_text_is_sent_whole(fake: FakeTelegram, channel: TelegramChannel) -> None:
    assert await channel.send(outgoing("é" * 4096)) == Sent("5123456789:19")
    assert fake.sent[0]["text"] == "é" * 4096


@module_loop
async def test_answer_callback_reaches_telegram_and_never_raises(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    await channel.answer_callback("4382bfdwdsb323b2d9")
    fake.fail_next(None, {"status": 500})
    await channel.answer_callback("too-old")
    assert [answer["callback_query_id"] for answer in fake.callback_answers] == [
        "4382bfdwdsb323b2d9"
    ]


@module_loop
async def test_webhook_and_identity(fake: FakeTelegram, channel: TelegramChannel) -> None:
    await channel.set_webhook("https://bot.example.org/telegram", "s3cret")
    assert fake.webhook == {
        "url": "https://bot.example.org/telegram",
        "secret_token": "s3cret",
        "allowed_updates": list(ALLOWED_UPDATES),
    }
    await channel.delete_webhook()
    assert fake.webhook is None
    assert await channel.bot_username() == "mutuality_bot"
    asked = fake.calls.count("getMe")
    assert await channel.bot_username() == "mutuality_bot"
    assert fake.calls.count("getMe") == asked <= 1  # asked once per channel


@module_loop
async def test_get_updates_gives_webhook_shaped_dicts(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    names = sorted(EXPECTED)
    for name in names:
        fake.push_update(load_fixture(name))
    updates = await channel.get_updates(None, 0)
    assert updates == [load_fixture(name) for name in names]
    assert "from" in updates[names.index("callback_query")]["callback_query"]


@module_loop
async def test_poll_delivers_in_order_exactly_once_and_stops(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    await channel.set_webhook("https://old.example.org/telegram", "old")
    for name in ("message_start", "message_text", "callback_query"):
        fake.push_update(load_fixture(name))
    seen: list[int] = []

    async def handle(update: dict[str, Any]) -> None:
        seen.append(update["update_id"])

    stop = asyncio.Event()
    polling = asyncio.create_task(poll(channel, handle, stop))  # Telegram's 25 s long poll
    await _until(lambda: len(seen) == 3)
    fake.push_update(load_fixture("message_photo"))
    await _until(lambda: len(seen) == 4 and not fake.pending_updates)

    stop.set()
    await asyncio.wait_for(polling, 1)  # promptly, though a long poll was waiting
    assert seen == [480132001, 480132003, 480132005, 480132007]
    assert fake.calls[1:3] == ["deleteWebhook", "getUpdates"]
    assert fake.webhook is None


@module_loop
async def test_poll_redelivers_after_a_crash_and_skips_malformed_updates(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    for name in ("message_start", "message_text", "message_voice"):
        fake.push_update(load_fixture(name))
    seen: list[int] = []
    crashed = False

    async def handle(update: dict[str, Any]) -> None:
        nonlocal crashed
        if update["update_id"] == 480132001:
            raise TelegramPayloadError("unreadable")
        if update["update_id"] == 480132003 and not crashed:
            crashed = True
            raise RuntimeError("database went away")
        seen.append(update["update_id"])

    stop = asyncio.Event()
    polling = asyncio.create_task(poll(channel, handle, stop, timeout=5))
    await _until(lambda: len(seen) == 2, seconds=4)  # after one second of back-off
    stop.set()
    await asyncio.wait_for(polling, 1)
    assert seen == [480132003, 480132009]


@module_loop
async def test_poll_with_a_wrong_token_raises(fake: FakeTelegram) -> None:
    channel = TelegramChannel("999:wrong", api_url=fake.url)

    async def handle(update: dict[str, Any]) -> None:
        raise AssertionError("no update expected")

    try:
        with pytest.raises(TokenRejected):
            await asyncio.wait_for(poll(channel, handle, asyncio.Event()), 2)
    finally:
        await channel.close()


async def _until(condition: Callable[[], bool], seconds: float = 3) -> None:
    """Wait for a condition spanning the poller and the fake (no one event says it)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


# --- the fake's own limits ------------------------------------------------------------------


@module_loop
async def test_fake_enforces_the_per_chat_limit() -> None:
    async with FakeTelegram(token=TOKEN, per_chat_per_second=1) as fake:
        channel = TelegramChannel(TOKEN, api_url=fake.url)
        try:
            first = await channel.send(outgoing("one"))
            second = await channel.send(outgoing("two"))
            other_chat = await channel.send(outgoing("three", address="5123456790"))
        finally:
            await channel.close()
    assert first == Sent("5123456789:19")
    assert isinstance(second, RetryAfter)
    assert second.seconds == 1
    assert other_chat == Sent("5123456790:20")
    assert fake.rate_limited == 1
    assert [sent["text"] for sent in fake.sent] == ["one", "three"]


@module_loop
async def test_fake_enforces_the_global_limit() -> None:
    async with FakeTelegram(token=TOKEN, global_per_second=3) as fake:
        channel = TelegramChannel(TOKEN, api_url=fake.url)
        try:
            results = await asyncio.gather(
                *(channel.send(outgoing(address=str(1000 + n))) for n in range(5))
            )
        finally:
            await channel.close()
    assert sum(isinstance(result, Sent) for result in results) == 3
    assert sum(isinstance(result, RetryAfter) for result in results) == 2
    assert fake.rate_limited == 2
    assert len(fake.sent) == 3


# --- the process's connection pool ----------------------------------------------------------


class _SlowTelegram(FakeTelegram):
    """Answers each send after a moment, counting how many were in flight at once."""

    def __init__(self) -> None:
        super().__init__(token=TOKEN)
        self.in_flight = 0
        self.most_in_flight = 0

    async def _send_message(self, params: dict[str, Any]) -> Any:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.2)
            return await super()._send_message(params)
        finally:
            self.in_flight -= 1


async def test_channels_share_the_process_pool_which_bounds_sends_in_flight() -> None:
    """The first channel of a process sizes the pool; a second one uses the same connections,
    and keeps them when the first closes."""
    async with _SlowTelegram() as fake:
        first = TelegramChannel(TOKEN, api_url=fake.url, connections=3)
        second = TelegramChannel(TOKEN, api_url=fake.url, connections=50)
        try:
            results = await asyncio.gather(
                *(
                    channel.send(outgoing(address=str(1000 + n)))
                    for n, channel in enumerate([first, second] * 4)
                )
            )
            assert all(isinstance(result, Sent) for result in results)
            assert fake.most_in_flight == 3
            await first.close()
            assert isinstance(await second.send(outgoing()), Sent)
        finally:
            await first.close()
            await second.close()


async def test_a_pool_sized_for_the_sender_sends_that_many_at_once() -> None:
    async with _SlowTelegram() as fake:
        channel = TelegramChannel(TOKEN, api_url=fake.url, connections=12)
        try:
            await asyncio.gather(
                *(channel.send(outgoing(address=str(1000 + n))) for n in range(12))
            )
        finally:
            await channel.close()
    assert fake.most_in_flight == 12
