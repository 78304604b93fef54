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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("whatsapp: [1, 2]", "expected a mapping"),
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
