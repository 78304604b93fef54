"""Phone linking on Telegram: a new chat is offered the button that shares the member's own
number (a one-time reply keyboard under the message box), a question for typed words takes it
away, and only the member's own contact is ever read as their phone."""

from __future__ import annotations

import copy
from typing import Any

from tests.pipeline.test_pipeline import (
    CHAT,
    Stack,
    button_update,
    stack,
    telegram_fixture,
    text_update,
    twilio_form,
    wait_until,
)

__all__ = ["stack"]  # the fixture, for pytest

CONTACT_BUTTON = {
    "keyboard": [[{"text": "📱 Share my phone number", "request_contact": True}]],
    "resize_keyboard": True,
    "one_time_keyboard": True,
}
REMOVE = {"remove_keyboard": True}
OWN_NUMBER = "+254712345678"


def start(update_id: int, chat: int = CHAT) -> dict[str, Any]:
    update = copy.deepcopy(telegram_fixture("message_start"))
    update["update_id"] = update_id
    update["message"]["chat"]["id"] = update["message"]["from"]["id"] = chat
    return update


def contact(update_id: int, owner: int | None, chat: int = CHAT) -> dict[str, Any]:
    """The fixture's shared contact, from `chat`, of the Telegram user `owner` (None: someone
    who is not on Telegram)."""
    update = copy.deepcopy(telegram_fixture("message_contact"))
    update["update_id"] = update_id
    update["message"]["chat"]["id"] = update["message"]["from"]["id"] = chat
    if owner is None:
        del update["message"]["contact"]["user_id"]
    else:
        update["message"]["contact"]["user_id"] = owner
    return update


async def test_a_new_chat_is_offered_the_contact_button_which_a_typed_question_removes(
    stack: Stack,
) -> None:
    await stack.telegram_post(start(1))
    greeting, offer = await stack.sent_to(CHAT, 2)
    assert greeting["text"].startswith("Welcome!")
    assert "inline_keyboard" in greeting["reply_markup"]
    assert offer["text"].startswith("Already keeping this journal on WhatsApp or SMS?")
    assert offer["reply_markup"] == CONTACT_BUTTON

    await stack.telegram_post(button_update(2, "s:language:en"))
    await stack.telegram_post(button_update(3, "s:consent:yes"))
    sent = await stack.sent_to(CHAT, 4)
    consent, name = sent[2:4]
    assert "inline_keyboard" in consent["reply_markup"]  # a line carries one keyboard
    assert name["text"] == "Thank you! What name should I call you?"
    assert name["reply_markup"] == REMOVE

    # a chat met before is not offered it again, and a statement carries no keyboard
    await stack.telegram_post(start(4))
    await stack.telegram_post(text_update(5, "Amina"))
    sent = await stack.sent_to(CHAT, 6)
    assert [line["reply_markup"] for line in sent].count(CONTACT_BUTTON) == 1
    assert all(line["reply_markup"] != CONTACT_BUTTON for line in sent[4:])


async def test_only_the_members_own_contact_links_their_phone(stack: Stack) -> None:
    await stack.twilio_post("/webhooks/twilio", twilio_form("whatsapp_inbound_text"))
    await wait_until(lambda: len(stack.twilio.accepted) == 1)

    # someone else's contact, and a number with no Telegram user: never read as the phone
    await stack.telegram_post(contact(1, owner=42))
    await stack.telegram_post(contact(2, owner=None))
    first, second = await stack.sent_to(CHAT, 2)
    for refused in (first, second):
        assert refused["text"] == (
            "Please share your own phone number, with the button under the message box."
        )
        assert refused["reply_markup"] == CONTACT_BUTTON
    async with stack.runtime.database.transaction() as uow:
        on_telegram = await uow.members.by_address("telegram", str(CHAT))
        on_whatsapp = await uow.members.by_address("whatsapp", OWN_NUMBER)
        assert on_telegram is not None and on_whatsapp is not None
        assert on_telegram.id != on_whatsapp.id
        log = await uow.messages.for_member(on_telegram.id)
    assert all(OWN_NUMBER.lstrip("+") not in (line.text + str(line.payload)) for line in log)

    await stack.telegram_post(contact(3, owner=CHAT))
    linked = (await stack.sent_to(CHAT, 3))[2]
    assert (
        linked["text"] == f"Thank you! Your phone number {OWN_NUMBER} is now linked to this chat."
    )
    assert linked["reply_markup"] == REMOVE
    async with stack.runtime.database.transaction() as uow:
        on_telegram = await uow.members.by_address("telegram", str(CHAT))
        on_whatsapp = await uow.members.by_address("whatsapp", OWN_NUMBER)
    assert on_telegram is not None and on_whatsapp is not None
    assert on_telegram.id == on_whatsapp.id
