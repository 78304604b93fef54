"""Keep the translation catalogs in step with the code and the check-ins.

`extract` writes `locales/messages.pot` from the Python sources (strings marked `N_`/`NP_`), the
console's templates (texts marked `_()`) and the check-in definitions; `update` merges it into
every language's `.po`; `check` reports what a translator still has to do: missing or fuzzy
translations, and translations whose placeholders differ from the source's (which would break
or leak a message): the check-ins' `{{ }}` and the console's and reports' `%(name)s`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n.catalogs import DEFAULT_LOCALES_PATH, DOMAIN, available_codes, catalog_path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"N_": None, "NP_": ((1, "c"), 2), "pgettext": ((1, "c"), 2), "_": None}
METHOD_MAP = [
    ("conversations/definitions/*.yaml", "conversations.extraction:extract_checkins"),
    ("conversations/**.py", "python"),
    ("bot/web/console/**.py", "python"),
    ("bot/reports/**.py", "python"),
    ("bot/web/console/templates/**.html", "jinja2.ext:babel_extract"),
]
FIXED_DATE = datetime(2026, 1, 1)
PLACEHOLDER = re.compile(r"{{\s*(.*?)\s*}}")
NAMED_FORMAT = re.compile(r"%\((\w+)\)[sd]")


def placeholders(text: str) -> set[str]:
    """The `{{ }}` expressions of a message, spacing ignored, and its `%(name)s` placeholders
    (written as they are, so the two kinds never match each other)."""
    expressions = {" ".join(found.split()) for found in PLACEHOLDER.findall(text)}
    return expressions | {f"%({name})" for name in NAMED_FORMAT.findall(text)}


def extract(root: Path = PROJECT_ROOT) -> Catalog:
    catalog = Catalog(
        project="Mutuality", domain=DOMAIN, creation_date=FIXED_DATE, revision_date=FIXED_DATE
    )
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root),
        METHOD_MAP,
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def write_template(catalog: Catalog, locales: Path = DEFAULT_LOCALES_PATH) -> Path:
    target = locales / f"{DOMAIN}.pot"
    with target.open("wb") as out:
        write_po(out, catalog, width=100, sort_output=False, omit_header=False)
    return target


def update(template: Catalog, locales: Path = DEFAULT_LOCALES_PATH) -> list[Path]:
    """Merge the template into every language's catalog, creating missing ones."""
    written = []
    for code in available_codes(locales):
        if code == "en":
            continue
        path = catalog_path(locales, code)
        with path.open("rb") as source:
            catalog = read_po(source, locale=code)
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as out:
            write_po(out, catalog, width=100, ignore_obsolete=True)
        written.append(path)
    return written


@dataclass(frozen=True)
class CatalogProblem:
    locale: str
    msgid: str
    problem: str

    def __str__(self) -> str:
        return f"[{self.locale}] {self.problem}: {self.msgid[:70]!r}"


def check(template: Catalog, locales: Path = DEFAULT_LOCALES_PATH) -> list[CatalogProblem]:
    problems = []
    for code in available_codes(locales):
        if code == "en":
            continue
        with catalog_path(locales, code).open("rb") as source:
            catalog = read_po(source, locale=code)
        for message in template:
            if not message.id:
                continue
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            translated = catalog.get(msgid, context=message.context)
            if translated is None or not translated.string:
                problems.append(CatalogProblem(code, msgid, "missing translation"))
                continue
            if translated.fuzzy:
                problems.append(CatalogProblem(code, msgid, "fuzzy translation"))
            string = (
                translated.string if isinstance(translated.string, str) else translated.string[0]
            )
            if placeholders(string) != placeholders(msgid):
                problems.append(CatalogProblem(code, msgid, "placeholders differ from the source"))
    return problems
