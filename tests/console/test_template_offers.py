"""The templates a coordinator is offered outside WhatsApp's window: the approved text, read
from Twilio once, with the member's and the coordinator's names filled in."""

from __future__ import annotations

import pytest

from bot.channels.templates import Templates
from bot.channels.whatsapp_content import ContentError
from bot.web.console.template_offers import TemplateOffer, TemplateOffers, filled

TEMPLATES = Templates(console={"follow_up": {"en": "HXf"}, "call_back": {"en": "HXc", "sw": "HXs"}})


class Twilio:
    """Bodies by sid, as the Content API gives them; counts the reads, refuses unknown sids."""

    def __init__(self, bodies: dict[str, str]) -> None:
        self.bodies = bodies
        self.reads: list[str] = []

    async def body(self, sid: str) -> str:
        self.reads.append(sid)
        if sid not in self.bodies:
            raise ContentError("Twilio refused the content (404): Not found")
        return self.bodies[sid]


def test_variables_are_filled_and_unknown_ones_left() -> None:
    assert filled("Hi {{1}}, {{ 2 }} here {{3}}", {"1": "Wanjiru", "2": "Juan"}) == (
        "Hi Wanjiru, Juan here {{3}}"
    )
    assert filled("{{1}}", {"1": "{{2}}", "2": "x"}) == "{{2}}"  # a name is never a variable


async def test_the_members_language_decides_and_each_text_is_read_once() -> None:
    twilio = Twilio({"HXf": "Hello {{1}}, {{2}} here.", "HXc": "{{2}} will call you, {{1}}."})
    offers = TemplateOffers(TEMPLATES, twilio.body)
    english = await offers.for_member("en", "Wanjiru", "Juan")
    assert english == [
        TemplateOffer(
            "call_back", "HXc", {"1": "Wanjiru", "2": "Juan"}, "Juan will call you, Wanjiru."
        ),
        TemplateOffer(
            "follow_up", "HXf", {"1": "Wanjiru", "2": "Juan"}, "Hello Wanjiru, Juan here."
        ),
    ]
    await offers.for_member("en", "Amina", "Grace")
    assert sorted(twilio.reads) == ["HXc", "HXf"]
    assert await offers.for_member("fr", "Amina", "Grace") == []


async def test_a_template_whose_text_cannot_be_read_is_shown_unavailable_and_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    twilio = Twilio({"HXc": "Habari {{1}}"})
    offers = TemplateOffers(TEMPLATES, twilio.body)
    [call_back, follow_up] = await offers.for_member("en", "Amina", "Juan")
    assert call_back.available and not follow_up.available and follow_up.text == ""
    assert await offers.one("follow_up", "en", "Amina", "Juan") is None
    assert await offers.one("call_back", "en", "Amina", "Juan") == call_back
    assert await offers.one("nothing", "en", "Amina", "Juan") is None
    assert "could not be read" in caplog.text
    twilio.bodies["HXf"] = "Hello {{1}}"  # Twilio answers again: read again, then kept
    assert (await offers.one("follow_up", "en", "Amina", "Juan")) is not None


async def test_without_whatsapp_nothing_can_be_read() -> None:
    [call_back, follow_up] = await TemplateOffers(TEMPLATES, None).for_member("en", None, "Juan")
    assert not call_back.available and not follow_up.available
