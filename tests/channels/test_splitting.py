"""Long messages are cut into parts each channel accepts, at natural boundaries."""

from __future__ import annotations

from bot.channels.sms_segments import sms_segments
from bot.channels.splitting import outbound_parts, split_plain
from conversations.rendering import RenderedChoice, RenderedMessage

CHOICES = (RenderedChoice("yes", "Yes"), RenderedChoice("no", "No"))


def test_short_texts_are_one_part() -> None:
    assert split_plain("hello", 10) == ["hello"]


def test_parts_break_at_paragraphs_then_words_and_lose_nothing() -> None:
    text = "\n\n".join(" ".join(f"word{i}-{j}" for j in range(40)) for i in range(30))
    parts = split_plain(text, 500)
    assert all(len(part) <= 500 for part in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


def test_a_word_longer_than_the_limit_is_cut() -> None:
    assert split_plain("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_telegram_gets_buttons_on_the_last_part_only() -> None:
    parts = outbound_parts("telegram", RenderedMessage("a " * 3000, CHOICES))
    assert len(parts) == 2
    assert all(len(part.text) <= 4096 for part in parts)
    assert parts[0].choices == () and parts[1].choices == CHOICES


def test_whatsapp_and_sms_get_a_numbered_list_in_the_text() -> None:
    [part] = outbound_parts("whatsapp", RenderedMessage("Did you help?", CHOICES))
    assert part.text == "Did you help?\n1) Yes\n2) No"
    long_sms = outbound_parts("sms", RenderedMessage("Habari yako leo? " * 200, CHOICES))
    assert len(long_sms) > 1
    assert all(sms_segments(part.text) <= 10 for part in long_sms)
    assert long_sms[-1].text.endswith("1) Yes\n2) No")
