"""Load the Babel catalogs in `locales/` straight from their `.po` files.

Reading the `.po` sources at start-up (and compiling them in memory) means a fresh checkout works
with no compile step, and a translator sees their change on the next start. The menu order of
languages comes from `locales/languages.txt`; a catalog not listed there is offered last.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from conversations.i18n import IDENTITY, SOURCE_LOCALE, Catalogs, Language, Translator

DEFAULT_LOCALES_PATH = Path(__file__).resolve().parents[2] / "locales"
DOMAIN = "messages"


def native_name(code: str) -> str:
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def catalog_path(locales: Path, code: str) -> Path:
    return locales / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def available_codes(locales: Path) -> list[str]:
    found = sorted(p.parent.parent.name for p in locales.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    order_file = locales / "languages.txt"
    listed = order_file.read_text(encoding="utf-8").split() if order_file.exists() else []
    ordered = [code for code in listed if code == SOURCE_LOCALE or code in found]
    if SOURCE_LOCALE not in ordered:
        ordered.insert(0, SOURCE_LOCALE)
    return ordered + [code for code in found if code not in ordered]


def load_translator(po_file: Path) -> Translator:
    with po_file.open("rb") as source:
        catalog = read_po(source)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return _BabelTranslator(Translations(fp=buffer, domain=DOMAIN))


class _BabelTranslator:
    """Babel's Translations behind the core's Translator protocol (plain strings only)."""

    def __init__(self, translations: Translations) -> None:
        self._translations = translations

    def gettext(self, message: str) -> str:
        return str(self._translations.gettext(message))

    def pgettext(self, context: str, message: str) -> str:
        return str(self._translations.pgettext(context, message))


def load_catalogs(locales: Path | None = None) -> Catalogs:
    locales = locales or DEFAULT_LOCALES_PATH
    translators: dict[str, Translator] = {SOURCE_LOCALE: IDENTITY}
    languages = []
    for code in available_codes(locales):
        if code != SOURCE_LOCALE:
            translators[code] = load_translator(catalog_path(locales, code))
        languages.append(Language(code, native_name(code)))
    return Catalogs(translators=translators, languages=tuple(languages))
