"""The catalogs are complete, consistent with the code, and what they tell members to type works."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from bot.i18n import maintenance as catalog_tools
from bot.i18n.catalogs import DEFAULT_LOCALES_PATH, catalog_path, load_catalogs
from bot.turns.checkins import load_checkins
from conversations.rendering import render_text
from conversations.words import COMMAND_WORDS, KEYWORD_CONTEXT, YES_WORDS, normalize, split_words

CATALOGS = load_catalogs()
CHECKINS = load_checkins(CATALOGS)
TEMPLATE = catalog_tools.extract()
TRANSLATED = [code for code in CATALOGS.codes if code != "en"]


def ids(catalog: object) -> set[tuple[str | None, str]]:
    return {(message.context, message.id) for message in catalog if message.id}  # type: ignore[attr-defined]


def test_the_shipped_languages_in_menu_order() -> None:
    assert [(lang.code, lang.native_name) for lang in CATALOGS.languages] == [
        ("en", "English"),
        ("es", "Español"),
        ("fil", "Filipino"),
        ("sw", "Kiswahili"),
        ("fr", "Français"),
    ]


def test_the_template_is_up_to_date_with_code_and_definitions() -> None:
    with (DEFAULT_LOCALES_PATH / "messages.pot").open("rb") as source:
        shipped = read_po(source)
    assert ids(shipped) == ids(TEMPLATE), "run `mutuality i18n extract`"


def test_every_catalog_is_complete_with_consistent_placeholders() -> None:
    problems = catalog_tools.check(TEMPLATE)
    assert not problems, "\n".join(str(problem) for problem in problems)


def test_a_broken_placeholder_is_reported(tmp_path: object) -> None:
    assert catalog_tools.placeholders("Hi {{ member.name }}, {{member.name}}!") == {"member.name"}
    assert catalog_tools.placeholders("Hola {{ member.nombre }}") != catalog_tools.placeholders(
        "Hi {{ member.name }}"
    )


@pytest.mark.parametrize("locale", CATALOGS.codes)
def test_command_and_keyword_words_do_not_collide(locale: str) -> None:
    owners: dict[str, str] = {}
    entries = [
        (f"command {command}", context, source)
        for command, (context, source) in COMMAND_WORDS.items()
    ]
    entries += [
        (f"keyword {word}", KEYWORD_CONTEXT, word)
        for words in CHECKINS.library.keywords().values()
        for word in words
    ]
    for owner, context, source in entries:
        for word in split_words(CATALOGS.pgettext(locale, context, source)) | split_words(source):
            assert owners.setdefault(word, owner) == owner, (
                f"'{word}' means both {owners[word]} and {owner}"
            )


CAPITALISED = re.compile(r"\b[A-ZÁÉÍÓÚÑ]{3,}\b")


@pytest.mark.parametrize("locale", TRANSLATED)
def test_words_members_are_told_to_send_work_in_their_language(locale: str) -> None:
    lexicon = CHECKINS.lexicon
    yes = split_words(CATALOGS.pgettext(locale, *YES_WORDS))
    with catalog_path(DEFAULT_LOCALES_PATH, locale).open("rb") as source:
        catalog = read_po(source, locale=locale)
    for message in catalog:
        if not message.id or message.context or not isinstance(message.string, str):
            continue
        if message.locations and all(
            path.startswith("bot/web/console/") for path, _ in message.locations
        ):
            continue  # the staff's console: nothing in it is sent to members
        for word in CAPITALISED.findall(message.string):
            if word in {"USD", "KES", "SMS", "OK"}:
                continue
            folded = normalize(word)
            understood = lexicon.command(folded) or lexicon.keyword(folded) or folded in yes
            assert understood, (
                f"[{locale}] tells members to send {word}, which does nothing: {message.string!r}"
            )


@pytest.mark.parametrize("code", CATALOGS.codes)
def test_every_text_that_names_the_member_reads_well_without_a_name(code: str) -> None:
    named = [message.id for message in TEMPLATE if "member.name" in str(message.id)]
    assert len(named) >= 5
    for source in named:
        text = render_text(CATALOGS.gettext(code, source), {"member": {"name": ""}}, code)
        assert text is not None and "{" not in text, source
        assert not re.search(r",\s*(?:[?!.]|$)", text), text
