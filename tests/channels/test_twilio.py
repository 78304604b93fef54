"""The Twilio channel: webhook parsing and signatures on recorded payloads, sending through the
real twilio client (its aiohttp client) against a fake Twilio REST server, SMS segments."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.base import (
    ChannelAdapter,
    MessageEvent,
    OutgoingChoice,
    OutgoingMessage,
    PermanentFailure,
    RecipientGone,
    RetryAfter,
    SendResult,
    Sent,
    StatusUpdate,
)
from bot.channels.sms_segments import sms_segments, split_for_sms
from bot.channels.twilio import (
    SMS_CAPABILITIES,
    WHATSAPP_CAPABILITIES,
    TwilioChannel,
    TwilioPayloadError,
    parse_inbound,
    parse_status,
    result_for_error,
    verify_signature,
)
from conversations.answers import Location, Photo
from conversations.inputs import Reply
from tests.fakes.twilio_api import FakeTwilio, signed_request_headers

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "twilio"
ACCOUNT_SID = "AC5f1b0e7c2d3a4b5c6d7e8f90a1b2c3d4"
AUTH_TOKEN = "12345678901234567890123456789012"
WHATSAPP_FROM = "whatsapp:+14155238886"
SMS_FROM = "+14155550100"
MEMBER = "+254712345678"
PUBLIC_URL = "https://bot.example.org"
CALLBACK = PUBLIC_URL + "/twilio/status"
MEDIA = "https://api.twilio.com/2010-04-01/Accounts/AC5f1b0e7c2d3a4b5c6d7e8f90a1b2c3d4/Messages"


def form(name: str) -> dict[str, str]:
    text = (FIXTURES / f"{name}.form").read_text(encoding="utf-8").strip()
    return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))


def message(text: str = "Hello", **changes: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "message_id": 1,
        "channel": "whatsapp",
        "address": MEMBER,
        "text": text,
    }
    fields.update(changes)
    return OutgoingMessage(**fields)


# --- inbound -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "whatsapp_inbound_text",
            MessageEvent(
                "whatsapp", MEMBER, "SM0b7d3c9e2f1a4b6c8d0e2f4a6b8c0d2e", Reply(text="Ksh 2,500")
            ),
        ),
        (
            "whatsapp_inbound_button",
            MessageEvent(
                "whatsapp",
                MEMBER,
                "SM1c8e4d0f3a2b5c7d9e1f3a5b7c9d1e3f",
                Reply(text="Yes", choice="yes", choice_step="help_given"),
            ),
        ),
        (
            "whatsapp_inbound_list",
            MessageEvent(
                "whatsapp",
                MEMBER,
                "SM7d2e9f1a3b5c7d9e0f2a4b6c8d0e1f3a",
                Reply(text="Kiswahili", choice="sw", choice_step="language"),
            ),
        ),
        (
            "whatsapp_inbound_image",
            MessageEvent(
                "whatsapp",
                MEMBER,
                "MM2d9f5e1a4b3c6d8e0f2a4b6c8d0e2f4a",
                Reply(
                    text="My new stall",
                    photo=Photo(
                        f"{MEDIA}/MM2d9f5e1a4b3c6d8e0f2a4b6c8d0e2f4a/Media/ME3e0a6f2b5c4d7e9f1a3b5c7d9e1f3a5b",
                        "image/jpeg",
                    ),
                ),
            ),
        ),
        (
            "whatsapp_inbound_voice",
            MessageEvent(
                "whatsapp", MEMBER, "MM4f1b7a3c6d5e8f0a2b4c6d8e0f2a4b6c", Reply(media_kind="voice")
            ),
        ),
        (
            "whatsapp_inbound_location",
            MessageEvent(
                "whatsapp",
                MEMBER,
                "SM6b3d9c5e8f7a0b2c4d6e8f0a2b4c6d8e",
                Reply(location=Location(Decimal("-1.286389"), Decimal("36.817223"))),
            ),
        ),
        (
            "sms_inbound_stop",
            MessageEvent(
                "sms", "+15105550123", "SM7c4e0d6f9a8b1c3d5e7f9a1b3c5d7e9f", Reply(text="STOP")
            ),
        ),
    ],
)
def test_inbound_fixtures_are_parsed(fixture: str, expected: MessageEvent) -> None:
    assert parse_inbound(form(fixture)) == expected


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [("video/mp4", "video"), ("application/pdf", "document"), ("text/vcard", "document")],
)
def test_other_media_are_named_by_kind(content_type: str, kind: str) -> None:
    fields = form("whatsapp_inbound_image") | {"MediaContentType0": content_type}
    assert parse_inbound(fields).reply == Reply(text="My new stall", media_kind=kind)


def test_a_foreign_button_payload_is_all_choice() -> None:
    fields = form("whatsapp_inbound_button") | {"ButtonPayload": "yes", "ButtonText": "Yes!"}
    assert parse_inbound(fields).reply == Reply(text="Yes!", choice="yes")


@pytest.mark.parametrize(
    ("changes", "message_part"),
    [
        ({"From": ""}, "From"),
        ({"MessageSid": ""}, "MessageSid"),
        ({"From": "whatsapp:254712345678"}, "E.164"),
        ({"From": "whatsapp:+2547abc"}, "E.164"),
        ({"NumMedia": "one"}, "NumMedia"),
        ({"NumMedia": "-1"}, "NumMedia"),
        ({"NumMedia": "1"}, "MediaUrl0"),
        ({"Latitude": "-1.28"}, "Latitude"),
        ({"Latitude": "north", "Longitude": "36.8"}, "Latitude"),
        ({"Latitude": "91", "Longitude": "36.8"}, "Latitude"),
        ({"Latitude": "1", "Longitude": "Infinity"}, "Longitude"),
    ],
)
def test_malformed_inbound_forms_raise(changes: dict[str, str], message_part: str) -> None:
    with pytest.raises(TwilioPayloadError, match=message_part):
        parse_inbound(form("whatsapp_inbound_text") | changes)


def test_payload_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        parse_inbound({})


# --- status callbacks ----------------------------------------------------------------------


SID = "SM8d5f1e7a0b9c2d4e6f8a0b2c4d6e8f0a"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("status_delivered", StatusUpdate("whatsapp", SID, "delivered")),
        ("status_read", StatusUpdate("whatsapp", SID, "read")),
        ("status_failed_63016", StatusUpdate("whatsapp", SID, "failed", "63016")),
        ("status_undelivered_63018", StatusUpdate("whatsapp", SID, "undelivered", "63018")),
    ],
)
def test_status_fixtures_are_parsed(fixture: str, expected: StatusUpdate) -> None:
    assert parse_status(form(fixture)) == expected


@pytest.mark.parametrize(
    ("twilio_status", "ours"),
    [("accepted", "queued"), ("queued", "queued"), ("sending", "sent"), ("sent", "sent")],
)
def test_intermediate_statuses_are_folded(twilio_status: str, ours: str) -> None:
    sms = {"MessageSid": SID, "MessageStatus": twilio_status, "To": MEMBER, "From": SMS_FROM}
    assert parse_status(sms) == StatusUpdate("sms", SID, ours)


@pytest.mark.parametrize(
    "changes",
    [{"MessageSid": ""}, {"MessageStatus": ""}, {"MessageStatus": "teleported"}, {"To": ""}],
)
def test_malformed_status_callbacks_raise(changes: dict[str, str]) -> None:
    fields = form("status_delivered") | changes
    if "To" in changes:
        fields["From"] = ""
    with pytest.raises(TwilioPayloadError):
        parse_status(fields)


# --- signatures ----------------------------------------------------------------------------


def test_a_valid_signature_passes() -> None:
    fields = form("whatsapp_inbound_text")
    headers = signed_request_headers(AUTH_TOKEN, PUBLIC_URL + "/twilio/whatsapp?x=1", fields)
    signature = headers["X-Twilio-Signature"]
    assert verify_signature(
        AUTH_TOKEN, PUBLIC_URL + "/", "/twilio/whatsapp", "x=1", fields, signature
    )


def test_forged_or_missing_signatures_fail() -> None:
    fields = form("whatsapp_inbound_text")
    url = PUBLIC_URL + "/twilio/whatsapp"
    signature = signed_request_headers(AUTH_TOKEN, url, fields)["X-Twilio-Signature"]
    forged_body = fields | {"Body": "Ksh 25,000"}
    assert not verify_signature(
        AUTH_TOKEN, PUBLIC_URL, "/twilio/whatsapp", "", forged_body, signature
    )
    assert not verify_signature("0" * 32, PUBLIC_URL, "/twilio/whatsapp", "", fields, signature)
    assert not verify_signature(AUTH_TOKEN, PUBLIC_URL, "/twilio/sms", "", fields, signature)
    assert not verify_signature(AUTH_TOKEN, PUBLIC_URL, "/twilio/whatsapp", "", fields, None)
    assert not verify_signature(AUTH_TOKEN, PUBLIC_URL, "/twilio/whatsapp", "", fields, "")
    assert not verify_signature(AUTH_TOKEN, PUBLIC_URL, "/twilio/whatsapp", "", fields, "AAAA")


async def test_a_request_behind_a_proxy_validates_against_the_public_url() -> None:
    """Twilio signs https://bot.example.org/...; the app sees http://internal:8000/...."""
    seen: list[str] = []

    async def webhook(request: web.Request) -> web.Response:
        seen.append(str(request.url))
        posted = await request.post()
        valid = verify_signature(
            AUTH_TOKEN,
            PUBLIC_URL,
            request.path,
            request.query_string,
            {key: str(value) for key, value in posted.items()},
            request.headers.get("X-Twilio-Signature"),
        )
        return web.Response(status=204 if valid else 403)

    app = web.Application()
    app.router.add_post("/twilio/whatsapp", webhook)
    fields = form("whatsapp_inbound_image")
    headers = signed_request_headers(AUTH_TOKEN, PUBLIC_URL + "/twilio/whatsapp?ch=wa", fields)
    async with TestClient(TestServer(app)) as client:
        proxied = headers | {"Host": "internal:8000", "X-Forwarded-Proto": "https"}
        response = await client.post(
            "/twilio/whatsapp?ch=wa", data=urlencode(fields), headers=proxied
        )
        assert response.status == 204
        tampered = urlencode(fields | {"Body": "Forged"})
        response = await client.post("/twilio/whatsapp?ch=wa", data=tampered, headers=proxied)
        assert response.status == 403
    assert seen[0] == "http://internal:8000/twilio/whatsapp?ch=wa"


# --- sending -------------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
async def make_channel() -> AsyncIterator[Callable[..., TwilioChannel]]:
    channels: list[TwilioChannel] = []

    def make(
        api_url: str,
        channel: Literal["whatsapp", "sms"] = "whatsapp",
        from_number: str = WHATSAPP_FROM,
        status_callback_url: str | None = CALLBACK,
        **options: Any,
    ) -> TwilioChannel:
        options.setdefault("account_sid", ACCOUNT_SID)
        options.setdefault("auth_token", AUTH_TOKEN)
        created = TwilioChannel(
            channel,
            from_number=from_number,
            status_callback_url=status_callback_url,
            api_url=api_url,
            **options,
        )
        channels.append(created)
        return created

    yield make
    for channel in channels:
        await channel.close()


def test_capabilities_and_sender_numbers() -> None:
    whatsapp = TwilioChannel("whatsapp", ACCOUNT_SID, AUTH_TOKEN, "+14155238886", None)
    sms = TwilioChannel("sms", ACCOUNT_SID, AUTH_TOKEN, SMS_FROM, None)
    adapters: list[ChannelAdapter] = [whatsapp, sms]
    assert [adapter.name for adapter in adapters] == ["whatsapp", "sms"]
    assert whatsapp.capabilities == WHATSAPP_CAPABILITIES
    assert not WHATSAPP_CAPABILITIES.buttons  # choices are numbered in the text
    assert sms.capabilities == SMS_CAPABILITIES
    assert not SMS_CAPABILITIES.buttons
    assert whatsapp.from_number == WHATSAPP_FROM
    assert TwilioChannel("whatsapp", ACCOUNT_SID, AUTH_TOKEN, WHATSAPP_FROM, None).from_number == (
        WHATSAPP_FROM
    )
    with pytest.raises(ValueError):
        TwilioChannel("sms", ACCOUNT_SID, AUTH_TOKEN, WHATSAPP_FROM, None)
    with pytest.raises(ValueError):
        TwilioChannel("whatsapp", ACCOUNT_SID, AUTH_TOKEN, "14155238886", None)


async def test_a_channel_never_used_closes_cleanly() -> None:
    """Closing opens nothing to close it (no HTTP session is made for an unused channel), and
    a second close is harmless."""
    channel = TwilioChannel("sms", ACCOUNT_SID, AUTH_TOKEN, SMS_FROM, None)
    await channel.close()
    assert (channel._http, channel._client) == (None, None)
    await channel.close()
    assert (channel._http, channel._client) == (None, None)


async def test_send_text_with_numbered_choices(
    fake: FakeTwilio, make_channel: Callable[..., TwilioChannel]
) -> None:
    channel = make_channel(fake.url, from_number="+14155238886")
    choices = (OutgoingChoice("yes", "Yes"), OutgoingChoice("no", "No"))
    result = await channel.send(message("Did you help a member?", choices=choices))
    assert isinstance(result, Sent)
    assert result.provider_id.startswith("SM") and len(result.provider_id) == 34
    assert len(fake.sent) == 1
    sent = fake.sent[0]
    assert sent["Body"] == "Did you help a member?\n1) Yes\n2) No"
    assert sent["To"] == "whatsapp:" + MEMBER
    assert sent["From"] == WHATSAPP_FROM
    assert sent["StatusCallback"] == CALLBACK
    assert "ContentSid" not in sent


async def test_send_sms_without_status_callback(
    fake: FakeTwilio, make_channel: Callable[..., TwilioChannel]
) -> None:
    channel = make_channel(fake.url, "sms", SMS_FROM, status_callback_url=None)
    result = await channel.send(message("Asante!", channel="sms"))
    assert isinstance(result, Sent)
    assert fake.sent[0]["To"] == MEMBER
    assert fake.sent[0]["From"] == SMS_FROM
    assert fake.sent[0]["Body"] == "Asante!"
    assert "StatusCallback" not in fake.sent[0]


async def test_send_template_by_content_sid(
    fake: FakeTwilio, make_channel: Callable[..., TwilioChannel]
) -> None:
    channel = make_channel(fake.url)
    template = message(
        "Time for your weekly check-in",
        content_sid="HX1234567890abcdef1234567890abcdef",
        content_variables={"1": "Amina", "2": "Jumatatu"},
    )
    assert isinstance(await channel.send(template), Sent)
    sent = fake.sent[0]
    assert sent["ContentSid"] == "HX1234567890abcdef1234567890abcdef"
    assert json.loads(sent["ContentVariables"]) == {"1": "Amina", "2": "Jumatatu"}
    assert "Body" not in sent
    assert sent["StatusCallback"] == CALLBACK


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ("response_400_21610_unsubscribed", RecipientGone("21610", "", opted_out=True)),
        ("response_400_21211_invalid_to", RecipientGone("21211", "")),
        ({"status": 400, "code": 21614, "message": "not a mobile"}, RecipientGone("21614", "")),
        (
            {"status": 400, "code": 63016, "message": "outside the allowed window"},
            PermanentFailure("63016", "outside the WhatsApp 24-hour window: a template is needed"),
        ),
        ("response_429_20429", RetryAfter(1.0, scope="channel")),
        ({"status": 429, "code": 63018, "message": "channel rate"}, RetryAfter(1.0, "channel")),
        ({"status": 429, "code": 14107, "message": "reply rate"}, RetryAfter(1.0, scope="chat")),
        ({"status": 400, "code": 14107, "message": "reply rate"}, RetryAfter(1.0, scope="chat")),
        ({"status": 400, "code": 21617, "message": "too long"}, PermanentFailure("21617", "")),
        ({"status": 404}, PermanentFailure("404", "")),
        ({"status": 500}, RetryAfter(5.0, scope="chat")),
        ({"status": 503, "code": 20503, "message": "unavailable"}, RetryAfter(5.0, "chat")),
    ],
)
async def test_errors_are_mapped(
    fake: FakeTwilio,
    make_channel: Callable[..., TwilioChannel],
    failure: str | dict[str, Any],
    expected: SendResult,
) -> None:
    fake.fail_next(MEMBER, failure)
    result = await make_channel(fake.url).send(message())
    if isinstance(expected, PermanentFailure) and expected.code == "63016":
        assert result == expected
    else:
        assert type(result) is type(expected)
        assert _without_reason(result) == _without_reason(expected)
    assert fake.accepted == []


def _without_reason(result: SendResult) -> tuple[Any, ...]:
    if isinstance(result, RetryAfter):
        return (result.seconds, result.scope)
    if isinstance(result, PermanentFailure | RecipientGone):
        return (result.code,)
    return (result.provider_id,)


async def test_the_reason_is_twilios_message(
    fake: FakeTwilio, make_channel: Callable[..., TwilioChannel]
) -> None:
    fake.fail_next(MEMBER, "response_400_21610_unsubscribed")
    result = await make_channel(fake.url).send(message())
    assert isinstance(result, RecipientGone)
    assert "unsubscribed recipient" in result.reason


async def test_failures_are_injected_per_recipient_and_run_out(
    fake: FakeTwilio, make_channel: Callable[..., TwilioChannel]
) -> None:
    channel = make_channel(fake.url)
    fake.fail_next(MEMBER, {"status": 500}, times=2)
    other = await channel.send(message(address="+254700000001"))
    first, second, third = [await channel.send(message()) for _ in range(3)]
    assert isinstance(other, Sent)
    assert isinstance(first, RetryAfter)
    assert first == second == RetryAfter(5.0, "chat", first.reason)
    assert isinstance(third, Sent)
    assert [sent["response_status"] for sent in fake.sent] == [201, 500, 500, 201]


async def test_wrong_credentials_are_a_permanent_failure(
    fake: FakeTwilio, make_channel: Callable[..., TwilioChannel]
) -> None:
    result = await make_channel(fake.url, auth_token="0" * 32).send(message())
    assert isinstance(result, PermanentFailure)
    assert result.code == "20003"
    assert fake.sent == []


async def test_the_fake_enforces_messages_per_second_per_sender(
    make_channel: Callable[..., TwilioChannel],
) -> None:
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, mps_per_sender=2) as fake:
        whatsapp = make_channel(fake.url)
        sms = make_channel(fake.url, "sms", SMS_FROM)
        results = await asyncio.gather(*(whatsapp.send(message(str(i))) for i in range(3)))
        assert sorted(type(result).__name__ for result in results) == ["RetryAfter", "Sent", "Sent"]
        assert RetryAfter(1.0, "channel") in [
            RetryAfter(r.seconds, r.scope) for r in results if isinstance(r, RetryAfter)
        ]
        assert isinstance(await sms.send(message(channel="sms")), Sent)  # another sender
        assert fake.rate_limited == 1
        assert len(fake.accepted) == 3
        await whatsapp.close()
        await sms.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_network_errors_are_retried(make_channel: Callable[..., TwilioChannel]) -> None:
    channel = make_channel(f"http://127.0.0.1:{_closed_port()}")
    result = await channel.send(message())
    assert isinstance(result, RetryAfter)
    assert (result.seconds, result.scope) == (5.0, "chat")


async def test_timeouts_are_retried(make_channel: Callable[..., TwilioChannel]) -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes the connection
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        channel = make_channel(f"http://127.0.0.1:{port}", timeout=0.2)
        result = await channel.send(message())
        assert isinstance(result, RetryAfter)
        assert (result.seconds, result.scope) == (5.0, "chat")
        await channel.close()
    finally:
        server.close()
        await server.wait_closed()


def test_status_callback_error_codes_map_like_rest_errors() -> None:
    assert result_for_error(None, "63016", "window") == PermanentFailure(
        "63016", "outside the WhatsApp 24-hour window: a template is needed"
    )
    assert result_for_error(None, "21610", "stop") == RecipientGone("21610", "stop", opted_out=True)
    assert result_for_error(None, "63018", "rate") == RetryAfter(1.0, "channel", "rate")
    assert result_for_error(400, 63038, "daily") == RetryAfter(3600.0, "channel", "daily")


# --- SMS segments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 0),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("a" * 159 + "€", 2),
        ("[" * 80, 1),
        ("a" * 152 + "€" * 77, 3),  # an escape pair is never cut across two segments
        ("é" * 160, 1),  # é is GSM-7
        ("ç" * 70, 1),  # ç is not: UCS-2
        ("ç" * 71, 2),
        ("a" * 69 + "😀", 2),  # an emoji forces UCS-2 and takes two code units
        ("a" * 68 + "😀", 1),
        ("a" * 100 + "😀", 2),
        ("ы" * 66 + "😀" + "ы" * 66, 3),  # a surrogate pair is never cut across two segments
        ("ы" * 134, 2),
    ],
)
def test_sms_segments(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


def _words(count: int, word: str = "mutuality") -> str:
    return " ".join(f"{word}{i}" for i in range(count))


def test_short_texts_are_not_split() -> None:
    assert split_for_sms("Asante sana!") == ["Asante sana!"]


def test_long_texts_split_on_paragraphs_lines_then_words() -> None:
    paragraphs = [_words(30), _words(40, "help") + "\n" + _words(60, "week"), _words(500, "sold")]
    text = "\n\n".join(paragraphs)
    parts = split_for_sms(text)
    assert len(parts) > 2
    assert all(sms_segments(part) <= 10 for part in parts)
    assert " ".join(parts).split() == text.split()
    assert parts[0].startswith(paragraphs[0] + "\n\n")  # paragraphs are packed together


def test_a_paragraph_boundary_is_preferred() -> None:
    first, second = "a" * 100, "b" * 100
    assert split_for_sms(first + "\n\n" + second, max_segments=1) == [first, second]
    assert split_for_sms(first + "\n" + second, max_segments=1) == [first, second]
    assert split_for_sms("x y\n\n" + first + " " + second, max_segments=1) == [
        "x y",
        first,
        second,
    ]


def test_a_word_too_long_is_cut_between_characters() -> None:
    word = "x" * 2000
    parts = split_for_sms(word, max_segments=2)
    assert all(sms_segments(part) <= 2 for part in parts)
    assert "".join(parts) == word
    assert [len(part) for part in parts[:1]] == [306]


@pytest.mark.parametrize("emoji", ["😀", "\ud83d\ude00"])  # a code point, or a surrogate pair
def test_splitting_never_cuts_a_surrogate_pair(emoji: str) -> None:
    word = emoji * 400
    parts = split_for_sms(word, max_segments=3)
    assert "".join(parts) == word
    assert all(sms_segments(part) <= 3 for part in parts)
    assert all(not part.startswith("\ude00") for part in parts)


def test_unicode_parts_are_counted_as_ucs2() -> None:
    text = _words(200, "habari😀")
    parts = split_for_sms(text, max_segments=2)
    assert all(sms_segments(part) <= 2 for part in parts)
    assert " ".join(parts).split() == text.split()


def test_max_segments_must_be_positive() -> None:
    with pytest.raises(ValueError):
        split_for_sms("hello", max_segments=0)


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(
        st.text(alphabet="abcxyz€[é😀ыç", min_size=1, max_size=12), min_size=1, max_size=300
    ),
    separators=st.lists(st.sampled_from([" ", "\n", "\n\n", "  "]), min_size=1, max_size=300),
    max_segments=st.integers(min_value=1, max_value=10),
)
def test_split_keeps_every_part_within_the_limit_and_every_word(
    words: list[str], separators: list[str], max_segments: int
) -> None:
    text = "".join(word + separators[i % len(separators)] for i, word in enumerate(words))
    parts = split_for_sms(text, max_segments)
    assert all(sms_segments(part) <= max_segments for part in parts)
    assert " ".join(parts).split() == text.split()
