"""Currency markers: the codes, symbols and words members use to name a currency.

Private to the package; `money` and `currency` build their contracts on `find_markers`,
`whole_marker` and `resolve`. Tables come from Babel's CLDR data (ISO codes, symbols and the
currency names of the shipped languages) plus the words members actually type ("bob", "lucas"
are not in CLDR); they are built once, on first use.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from babel import Locale
from babel.numbers import get_currency_name, get_territory_currencies, list_currencies

_NAME_LOCALES = ("en", "es", "fil", "sw", "fr")
_SYMBOL_LOCALES = (
    *_NAME_LOCALES,
    *("en_KE", "sw_KE", "en_UG", "sw_UG", "en_TZ", "sw_TZ", "en_RW", "en_LR", "en_SL"),
    *("en_NG", "en_GH", "en_ZA", "en_ZM", "en_MW", "en_PH", "fil_PH", "es_MX", "es_CO"),
    *("es_US", "fr_SN", "fr_CI", "fr_CM", "fr_CD", "fr_RW"),
)
_IN_USE_ON = date(2025, 1, 1)
"""Currencies legal tender somewhere on this day lend their CLDR names and symbols to the tables
(so "sucre", sugar in French, is no currency); fixed, so the tables do not change with time."""
_NOT_MONEY = frozenset({"XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XBA", "XBB", "XBC", "XBD"})

COMMON_CODES = frozenset(
    {
        *("KES", "UGX", "TZS", "RWF", "BIF", "SSP", "SOS", "ETB", "CDF", "ZMW", "MWK", "MZN"),
        *("ZAR", "NGN", "GHS", "XOF", "XAF", "LRD", "SLE", "GMD", "GNF", "USD", "EUR", "GBP"),
        *("PHP", "MXN", "COP", "PEN", "GTQ", "HNL", "NIO", "CRC", "DOP", "ARS", "CLP", "INR"),
    }
)
"""ISO codes read anywhere in a reply, whatever their case; others only in capitals next to
the amount (so that "all" or "top" in a sentence is not a currency)."""

_FAMILIES: dict[str, tuple[str, str | None]] = {
    "dollar": ("dollar", "USD"),
    "peso": ("peso", "MXN"),
    "shilling": ("shilling", "KES"),
    "franc": ("franc", None),
    "pound": ("pound", "GBP"),
    "rupee": ("rupee", "INR"),
    "kwacha": ("kwacha", None),
}
"""Family: (word in Babel's English currency name, currency meant when the default is not one
of the family, None when there is no safe guess)."""

_WORDS: dict[str, str] = {
    **dict.fromkeys(("dollar", "dollars", "dolar", "dolares", "dola", "dolyar", "bucks"), "dollar"),
    **dict.fromkeys(("peso", "pesos", "piso"), "peso"),
    **dict.fromkeys(("shilling", "shillings", "shilingi", "bob", "chelin", "chelines"), "shilling"),
    **dict.fromkeys(("sh", "shs"), "shilling"),
    **dict.fromkeys(("franc", "francs", "franco", "francos", "faranga"), "franc"),
    **dict.fromkeys(("cfa", "fcfa", "f cfa", "franc cfa", "francs cfa", "francos cfa"), "cfa"),
    **dict.fromkeys(("pound", "pounds"), "pound"),
    **dict.fromkeys(("rupee", "rupees", "rupia", "rupias"), "rupee"),
    "kwacha": "kwacha",
    **dict.fromkeys(("ksh", "kshs"), "KES"),
    **dict.fromkeys(("ush", "ushs"), "UGX"),
    **dict.fromkeys(("tsh", "tshs"), "TZS"),
    "ld": "LRD",
    **dict.fromkeys(("euro", "euros"), "EUR"),
    "naira": "NGN",
    **dict.fromkeys(("cedi", "cedis", "ghc"), "GHS"),
    "rand": "ZAR",
    "birr": "ETB",
    "dalasi": "GMD",
    **dict.fromkeys(("leone", "leones"), "SLE"),
    **dict.fromkeys(("quetzal", "quetzales"), "GTQ"),
    **dict.fromkeys(("lempira", "lempiras"), "HNL"),
    **dict.fromkeys(("cordoba", "cordobas"), "NIO"),
    **dict.fromkeys(("sol", "soles"), "PEN"),
    **dict.fromkeys(("colon", "colones"), "CRC"),
}
"""Words members type, folded: to a family name above or "cfa", or to an ISO code."""

_SYMBOLS: dict[str, str] = {
    "$": "dollar sign",
    **dict.fromkeys(("us$", "u$s", "$us"), "USD"),
    **dict.fromkeys(("l$", "ld$", "$l"), "LRD"),
    **dict.fromkeys(("mx$", "mex$"), "MXN"),
    **dict.fromkeys(("col$", "cop$"), "COP"),
    "₱": "PHP",
    "€": "EUR",
    "£": "pound",
    "₦": "NGN",
    **dict.fromkeys(("₵", "gh₵", "gh¢"), "GHS"),
    "₹": "INR",
    "/=": "shilling",
}
"""Symbols that are not plain words, folded: to a family name, "dollar sign" or an ISO code."""


@dataclass(frozen=True, slots=True)
class Marker:
    """A way of naming a currency: every currency it may mean, and the one it means otherwise."""

    codes: frozenset[str]
    fallback: str | None


@dataclass(frozen=True, slots=True)
class Found:
    """A marker written in a reply, at `start`/`end`."""

    marker: Marker
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Tables:
    codes: frozenset[str]
    words: dict[str, Marker]
    symbols: dict[str, Marker]
    default_only: dict[str, frozenset[str]]
    symbol_pattern: re.Pattern[str]
    symbol_chars: frozenset[str]


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def _name_key(name: str) -> str | None:
    words = re.findall(r"[^\W\d_]+", _key(name))
    if not words or re.search(r"\d", name):
        return None
    return " ".join(words)


@lru_cache(maxsize=1)
def known_codes() -> frozenset[str]:
    """The ISO 4217 codes Babel knows, without test codes, metals and "no currency"."""
    return frozenset(list_currencies()) - _NOT_MONEY


@lru_cache(maxsize=1)
def _in_use() -> frozenset[str]:
    territories = [code for code in Locale.parse("en").territories if str(code).isalpha()]
    return frozenset(
        code
        for territory in territories
        for code in get_territory_currencies(str(territory), start_date=_IN_USE_ON)
    )


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    codes = known_codes()
    in_use = _in_use() & codes
    english = Locale.parse("en").currencies
    families = {
        family: Marker(
            frozenset(code for code in codes if word in english.get(code, "").casefold()), fallback
        )
        for family, (word, fallback) in _FAMILIES.items()
    }
    families["cfa"] = Marker(frozenset({"XOF", "XAF"}), "XOF")
    families["dollar sign"] = Marker(
        families["dollar"].codes | (families["peso"].codes - {"PHP"}), "USD"
    )

    def marker(target: str) -> Marker:
        return families.get(target) or Marker(frozenset({target}), target)

    words = _babel_names(in_use)
    words.update({key: marker(target) for key, target in _WORDS.items()})
    symbols = {key: marker(target) for key, target in _SYMBOLS.items()}
    default_only: dict[str, frozenset[str]] = {}
    for symbol, symbol_codes in _babel_symbols(in_use).items():
        key = _key(symbol).rstrip(".")
        if not key or key in words or key in symbols:
            continue
        if all(ch.isalpha() or ch == " " for ch in key):
            default_only[key] = symbol_codes
        else:
            only = next(iter(symbol_codes)) if len(symbol_codes) == 1 else None
            symbols[key] = Marker(symbol_codes, only)
    alternatives = []
    for key in sorted(symbols, key=len, reverse=True):
        escaped = re.escape(key)
        if key[0].isalpha():
            escaped = r"(?<![^\W\d_])" + escaped
        if key[-1].isalpha():
            escaped += r"(?![^\W\d_])"
        alternatives.append(escaped)
    pattern = re.compile("|".join(alternatives), re.IGNORECASE)
    marks = frozenset(ch for key in symbols for ch in key if not ch.isalpha() and ch != " ")
    return _Tables(codes, words, symbols, default_only, pattern, marks)


def _babel_names(codes: frozenset[str]) -> dict[str, Marker]:
    meanings: dict[str, set[str]] = {}
    for locale in _NAME_LOCALES:
        singular = Locale.parse(locale).currencies
        for code in codes:
            names = (singular.get(code, ""), get_currency_name(code, count=2, locale=locale))
            for name in names:
                key = _name_key(name) if name and name != code else None
                if key:
                    meanings.setdefault(key, set()).add(code)
    return {
        key: Marker(frozenset(found), next(iter(found)))
        for key, found in meanings.items()
        if len(found) == 1
    }


def _babel_symbols(codes: frozenset[str]) -> dict[str, frozenset[str]]:
    meanings: dict[str, set[str]] = {}
    for locale in _SYMBOL_LOCALES:
        for code, symbol in Locale.parse(locale).currency_symbols.items():
            if code in codes and symbol != code:
                meanings.setdefault(symbol, set()).add(code)
    return {symbol: frozenset(found) for symbol, found in meanings.items()}


def whole_marker(key: str, default: str) -> Marker | None:
    """The currency a whole folded reply names on its own ("usd", "KSh", "pesos"), if any."""
    tables = _tables()
    key = _key(key)
    code = key.upper()
    if code == default:
        return Marker(frozenset({default}), default)
    found = tables.symbols.get(key) or tables.words.get(key)
    if found is not None:
        return found
    if default in tables.default_only.get(key, ()):
        return Marker(frozenset({default}), default)
    if code in tables.codes:
        return Marker(frozenset({code}), code)
    return None


_WORD = re.compile(r"[^\W\d_]+")
_LONGEST_NAME = 4


def find_markers(
    folded: str,
    default: str,
    excluded: Iterable[str],
    rare_code_ok: Callable[[str, int, int], bool],
) -> list[Found]:
    """Every currency marker in a folded reply, in order of appearance.

    Words in `excluded` (multiplier words such as "k") are never markers. ISO codes outside
    `COMMON_CODES` and other than `default` count only when `rare_code_ok(token, start, end)`.
    """
    tables = _tables()
    skip = frozenset(excluded)
    found: list[Found] = []
    masked = folded
    symbols = (
        () if tables.symbol_chars.isdisjoint(folded) else tables.symbol_pattern.finditer(folded)
    )
    for match in symbols:
        symbol = tables.symbols.get(_key(match.group()))
        if symbol is not None:
            found.append(Found(symbol, *match.span()))
            masked = masked[: match.start()] + " " * len(match.group()) + masked[match.end() :]
    tokens = [(match.group(), match.start(), match.end()) for match in _WORD.finditer(masked)]
    index = 0
    while index < len(tokens):
        size, marker = _marker_at(tokens, index, masked, default, skip, rare_code_ok, tables)
        if marker is not None:
            found.append(Found(marker, tokens[index][1], tokens[index + size - 1][2]))
        index += max(size, 1)
    found.sort(key=lambda item: item.start)
    return found


def _marker_at(
    tokens: Sequence[tuple[str, int, int]],
    index: int,
    text: str,
    default: str,
    skip: frozenset[str],
    rare_code_ok: Callable[[str, int, int], bool],
    tables: _Tables,
) -> tuple[int, Marker | None]:
    stop = min(len(tokens), index + _LONGEST_NAME)
    for end in range(stop, index + 1, -1):
        if any(text[tokens[k][2] : tokens[k + 1][1]].strip() for k in range(index, end - 1)):
            continue
        phrase = " ".join(token.casefold() for token, _, _ in tokens[index:end])
        if phrase in tables.words:
            return end - index, tables.words[phrase]
    token, start, stop_at = tokens[index]
    key = token.casefold()
    code = token.upper()
    if key in skip:
        return 1, None
    if code == default:
        return 1, Marker(frozenset({default}), default)
    if key in tables.words:
        return 1, tables.words[key]
    if default in tables.default_only.get(key, ()):
        return 1, Marker(frozenset({default}), default)
    if code in tables.codes and (code in COMMON_CODES or rare_code_ok(token, start, stop_at)):
        return 1, Marker(frozenset({code}), code)
    return 1, None


def resolve(markers: Sequence[Marker], default: str) -> str | None:
    """The one currency all `markers` can mean together: the default when it is one of them,
    else the markers' shared guess, else None (contradictory or ambiguous markers)."""
    if not markers:
        return None
    codes = frozenset.intersection(*(marker.codes for marker in markers))
    if not codes:
        return None
    if default in codes:
        return default
    guesses = {marker.fallback for marker in markers if marker.fallback in codes}
    if len(guesses) == 1:
        return guesses.pop()
    return next(iter(codes)) if len(codes) == 1 else None
