"""The WhatsApp templates file: read per nudge kind and language, refused clearly when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channels.templates import Templates, TemplatesError, load_templates


def test_no_file_means_no_templates() -> None:
    assert load_templates(None) == Templates()


def test_templates_are_looked_up_by_kind_and_language(tmp_path: Path) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text("whatsapp:\n  reminder: {en: HX1, sw: HX2}\n", encoding="utf-8")
    templates = load_templates(path)
    assert templates.lookup("reminder", "sw") == "HX2"
    assert templates.lookup("reminder", "fr") is None
    assert templates.lookup("highlight", "en") is None


def test_console_templates_are_named_and_offered_per_language(tmp_path: Path) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(
        "whatsapp:\n  reminder: {en: HX1}\n  console:\n"
        "    follow_up: {en: HXa1, sw: HXa2}\n    call_back: {en: HXb1}\n",
        encoding="utf-8",
    )
    templates = load_templates(path)
    assert templates.for_console("en") == {"call_back": "HXb1", "follow_up": "HXa1"}
    assert templates.for_console("sw") == {"follow_up": "HXa2"}
    assert templates.for_console("fr") == {}
    assert templates.lookup("console", "en") is None  # not a nudge: the bot never sends them


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("whatsapp: [1, 2]", "expected a mapping"),
        ("whatsapp:\n  console: [HX1]\n", "expected template names"),
        ("whatsapp:\n  console:\n    Follow Up: {en: HX1}\n", "not a name like follow_up"),
        ("whatsapp:\n  console:\n    follow_up: {en: HX1/../x}\n", "give a ContentSid"),
        ("whatsapp:\n  birthday: {en: HX1}\n", "unknown nudge kind 'birthday'"),
        ("whatsapp:\n  reminder: {en: 12}\n", "give a ContentSid"),
        ("whatsapp: {reminder: [", "cannot read"),
    ],
)
def test_a_bad_file_is_explained(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TemplatesError, match=message):
        load_templates(path)
