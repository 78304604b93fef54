"""WhatsApp's tap-to-answer contents: which form a question's choices take, and their creation
at a fake Twilio Content API through the real twilio client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.channels.base import OutgoingChoice, OutgoingMessage, Sent
from bot.channels.twilio import TwilioChannel
from bot.channels.whatsapp_content import (
    LIST_PICKER,
    QUICK_REPLY,
    ContentCreator,
    ContentError,
    InteractiveContent,
    interactive_content,
    short_title,
)
from tests.fakes.twilio_api import FakeTwilio

SID = "AC5f1b0e7c2d3a4b5c6d7e8f90a1b2c3d4"
AUTH = "twilio-auth-token"
YES_NO = (OutgoingChoice("yes", "Yes"), OutgoingChoice("no", "No"))
SIX = tuple(OutgoingChoice(f"c{i}", f"Option {i}") for i in range(1, 7))
TWELVE = tuple(OutgoingChoice(f"c{i}", f"Option {i}") for i in range(1, 13))


def test_up_to_three_short_choices_are_quick_reply_buttons() -> None:
    content = interactive_content("gave_help", YES_NO, "sw", "Chagua")
    assert content is not None and content.kind == QUICK_REPLY
    assert content.fields == {
        "actions": [
            {"title": "Yes", "id": "s:gave_help:yes"},
            {"title": "No", "id": "s:gave_help:no"},
        ]
    }


def test_four_to_ten_choices_are_a_list_with_the_button_in_the_language() -> None:
    content = interactive_content("business", SIX, "es", "Elegir")
    assert content is not None and content.kind == LIST_PICKER
    assert content.fields["button"] == "Elegir"
    assert [item["item"] for item in content.fields["items"]] == [c.label for c in SIX]
    assert content.fields["items"][0]["id"] == "s:business:c1"


def test_more_than_ten_choices_or_none_keep_the_numbered_list() -> None:
    assert interactive_content("business", TWELVE, "en", "Choose") is None
    assert interactive_content("business", (), "en", "Choose") is None


def test_three_choices_with_a_long_label_become_a_list() -> None:
    choices = (*YES_NO, OutgoingChoice("maybe", "Not this week, maybe later"))
    content = interactive_content("s", choices, "en", "Choose")
    assert content is not None and content.kind == LIST_PICKER


def test_a_label_too_long_for_an_item_is_shortened_and_kept_whole_below() -> None:
    label = "Tailoring and clothes (sewing, repairs)"
    choices = (*SIX[:4], OutgoingChoice("tailor", label))
    content = interactive_content("business", choices, "en", "Choose")
    assert content is not None
    item = content.fields["items"][-1]
    assert item == {
        "item": "Tailoring and clothes",
        "id": "s:business:tailor",
        "description": label,
    }
    assert all(len(item["item"]) <= 24 for item in content.fields["items"])


def test_short_titles_end_on_whole_words() -> None:
    title = short_title("Selling vegetables at the Saturday market")
    assert title == "Selling vegetables at…" and len(title) <= 24
    assert short_title("Transport: boda boda and taxis") == "Transport"


def test_a_label_over_72_characters_keeps_the_numbered_list() -> None:
    choices = (*SIX[:4], OutgoingChoice("long", "x" * 73))
    assert interactive_content("business", choices, "en", "Choose") is None


def test_equal_contents_share_a_key_and_any_difference_changes_it() -> None:
    first = interactive_content("gave_help", YES_NO, "en", "Choose")
    again = interactive_content("gave_help", YES_NO, "en", "Choose")
    other_language = interactive_content("gave_help", YES_NO, "sw", "Chagua")
    other_step = interactive_content("got_help", YES_NO, "en", "Choose")
    assert first is not None and again is not None
    assert other_language is not None and other_step is not None
    assert first.key == again.key
    assert len({first.key, other_language.key, other_step.key}) == 3


def test_the_question_is_the_one_variable() -> None:
    content = interactive_content("gave_help", YES_NO, "fil", "Pumili")
    assert content is not None
    request = content.create_request()
    assert request["types"][QUICK_REPLY]["body"] == "{{1}}"
    assert request["language"] == "fil" and set(request["variables"]) == {"1"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(SID, AUTH) as server:
        yield server


@pytest.fixture
async def channel(fake: FakeTwilio) -> AsyncIterator[TwilioChannel]:
    created = TwilioChannel(
        "whatsapp", SID, AUTH, "+14155238886", api_url=fake.url, content_api_url=fake.url
    )
    yield created
    await created.close()


async def test_the_whatsapp_channel_creates_content_and_sends_it_with_the_question(
    fake: FakeTwilio, channel: TwilioChannel
) -> None:
    assert isinstance(channel, ContentCreator)
    content = interactive_content("business", SIX, "es", "Elegir")
    assert content is not None
    sid = await channel.create_content(content)
    assert sid.startswith("HX") and fake.contents[sid]["types"][LIST_PICKER]["button"] == "Elegir"
    assert fake.contents[sid]["language"] == "es"

    question = "¿Qué negocio tienes, Amina?"
    sent = await channel.send(
        OutgoingMessage(
            1, "whatsapp", "+254712345678", "ignored", content_sid=sid,
            content_variables={"1": question},
        )
    )  # fmt: skip
    assert isinstance(sent, Sent)
    [request] = fake.accepted
    assert "Body" not in request and json.loads(request["ContentVariables"]) == {"1": question}
    assert request["rendered"]["body"] == question
    assert request["rendered"]["button"] == "Elegir"
    assert [item[0] for item in request["rendered"]["items"]] == [c.label for c in SIX]


async def test_a_refused_or_unreachable_content_api_is_a_content_error(
    fake: FakeTwilio, channel: TwilioChannel
) -> None:
    too_many = InteractiveContent(
        QUICK_REPLY, "en", {"actions": [{"title": f"t{i}", "id": f"i{i}"} for i in range(4)]}
    )
    with pytest.raises(ContentError, match="400"):
        await channel.create_content(too_many)
    fake.fail_next_contents()
    content = interactive_content("gave_help", YES_NO, "en", "Choose")
    assert content is not None
    with pytest.raises(ContentError, match="500"):
        await channel.create_content(content)
    assert fake.contents == {}
    unreachable = TwilioChannel(
        "whatsapp", SID, AUTH, "+14155238886", api_url=fake.url,
        content_api_url="http://127.0.0.1:9",
    )  # fmt: skip
    try:
        with pytest.raises(ContentError, match="reached"):
            await unreachable.create_content(content)
    finally:
        await unreachable.close()
