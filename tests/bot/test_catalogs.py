"""The catalogs are complete, consistent with the code, and what they tell members to type works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

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
    last = "the last %(days)s days, 100% of %(weeks)s"
    assert catalog_tools.placeholders(last) == {"%(days)", "%(weeks)"}
    assert catalog_tools.placeholders("los últimos %(dias)s días, %(weeks)s") != (
        catalog_tools.placeholders(last)
    )
    assert catalog_tools.placeholders("{{ days }}") != catalog_tools.placeholders("%(days)s")


def test_a_translation_that_drops_a_named_placeholder_fails_the_check(tmp_path: Path) -> None:
    """The reports' and the console's `%(name)s` placeholders are held to the same rule as
    the check-ins' `{{ }}`: a translation that loses one would print a method without its
    number, or fail to render."""
    template = Catalog(locale=None)
    template.add("In the last %(days)s days.")
    translated = Catalog(locale="es")
    translated.add("In the last %(days)s days.", "En los últimos días.")
    (tmp_path / "languages.txt").write_text("en es\n", encoding="utf-8")
    target = catalog_path(tmp_path, "es")
    target.parent.mkdir(parents=True)
    with target.open("wb") as out:
        write_po(out, translated)
    (problem,) = catalog_tools.check(template, tmp_path)
    assert (problem.locale, problem.problem) == ("es", "placeholders differ from the source")


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
            path.startswith(("bot/web/console/", "bot/reports/")) for path, _ in message.locations
        ):
            continue  # the staff's console and reports: nothing in them is sent to members
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
