"""Numbers written in words ("two thousand", "veinte mil", "elfu mbili", "dalawang libo", "deux
mille"), turned into digits before amounts are read.

Private to the package: `numbers` and `money` call `spell_out` on the folded reply, so a number in
words is read exactly like the same number in digits, with the same currency markers around it.
Each shipped language has a small lexicon; English is understood whatever the member's language,
as elsewhere. A run of words made only of multipliers ("mil", "elfu", "k") is left alone: next to
digits those are the amount readers' multipliers ("2 mil", "elfu 2").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

_WORD: Final = re.compile(r"[^\W\d_]+")
_FILIPINO_AND: Final = re.compile(r"(?<=[^\W\d_])'t\b", re.IGNORECASE)
_FRENCH_EIGHTY: Final = re.compile(r"\bquatre[\s-]+vingts?\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Lexicon:
    """One language's number words. `values`: words worth a number below 1,000, added up
    ("twenty five", "dix sept", "quinientos"); `hundred`: the word that multiplies what comes
    before it by 100 (or means 100 alone); `scales`: thousand, hundred thousand, million;
    `joiners`: "and" inside a number; `scale_first`: the scale word comes before its count, as in
    Swahili ("elfu mbili" is 2,000); `linker`: a suffix joined to a count before its scale, as
    Filipino's "-ng" ("dalawang libo")."""

    values: dict[str, int]
    hundred: frozenset[str]
    scales: dict[str, int]
    joiners: frozenset[str] = frozenset()
    weak: frozenset[str] = frozenset()
    """Words that are 1 only before a hundred or a scale ("a thousand", "un millón")."""
    scale_first: bool = False
    linker: str = ""


_EN = _Lexicon(
    values={
        "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
        "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
        "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
        "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50,
        "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    },
    hundred=frozenset({"hundred", "hundreds"}),
    scales={"thousand": 1_000, "thousands": 1_000, "million": 1_000_000, "millions": 1_000_000},
    joiners=frozenset({"and"}),
    weak=frozenset({"a", "an"}),
)  # fmt: skip

_ES = _Lexicon(
    values={
        "cero": 0, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
        "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13,
        "catorce": 14, "quince": 15, "dieciseis": 16, "diecisiete": 17, "dieciocho": 18,
        "diecinueve": 19, "veinte": 20, "veintiuno": 21, "veintiun": 21, "veintiuna": 21,
        "veintidos": 22, "veintitres": 23, "veinticuatro": 24, "veinticinco": 25,
        "veintiseis": 26, "veintisiete": 27, "veintiocho": 28, "veintinueve": 29, "treinta": 30,
        "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80,
        "noventa": 90, "ciento": 100, "doscientos": 200, "doscientas": 200, "trescientos": 300,
        "trescientas": 300, "cuatrocientos": 400, "cuatrocientas": 400, "quinientos": 500,
        "quinientas": 500, "seiscientos": 600, "seiscientas": 600, "setecientos": 700,
        "setecientas": 700, "ochocientos": 800, "ochocientas": 800, "novecientos": 900,
        "novecientas": 900,
    },
    hundred=frozenset({"cien"}),
    scales={"mil": 1_000, "millon": 1_000_000, "millones": 1_000_000},
    joiners=frozenset({"y"}),
    weak=frozenset({"un"}),
)  # fmt: skip

_FR = _Lexicon(
    values={
        "zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6,
        "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "treize": 13,
        "quatorze": 14, "quinze": 15, "seize": 16, "vingt": 20, "vingts": 20, "trente": 30,
        "quarante": 40, "cinquante": 50, "soixante": 60, "quatrevingt": 80,
    },
    hundred=frozenset({"cent", "cents"}),
    scales={"mille": 1_000, "million": 1_000_000, "millions": 1_000_000},
    joiners=frozenset({"et"}),
)  # fmt: skip

_SW = _Lexicon(
    values={
        "sifuri": 0, "moja": 1, "mbili": 2, "tatu": 3, "nne": 4, "tano": 5, "sita": 6,
        "saba": 7, "nane": 8, "tisa": 9, "kenda": 9, "kumi": 10, "ishirini": 20,
        "thelathini": 30, "arobaini": 40, "hamsini": 50, "sitini": 60, "sabini": 70,
        "themanini": 80, "tisini": 90,
    },
    hundred=frozenset({"mia"}),
    scales={"elfu": 1_000, "laki": 100_000, "milioni": 1_000_000},
    joiners=frozenset({"na"}),
    scale_first=True,
)  # fmt: skip

_FIL = _Lexicon(
    values={
        "isa": 1, "dalawa": 2, "tatlo": 3, "apat": 4, "lima": 5, "anim": 6, "pito": 7,
        "walo": 8, "siyam": 9, "sampu": 10, "labing": 10, "labin": 10, "dalawampu": 20,
        "tatlumpu": 30, "apatnapu": 40, "limampu": 50, "animnapu": 60, "pitumpu": 70,
        "walumpu": 80, "siyamnapu": 90, "sandaan": 100, "isandaan": 100,
    },
    hundred=frozenset({"daan", "raan"}),
    scales={"libo": 1_000, "sanlibo": 1_000, "milyon": 1_000_000},
    joiners=frozenset({"at", "na"}),
    linker="ng",
)  # fmt: skip

_LEXICONS: Final = {"en": _EN, "es": _ES, "fr": _FR, "sw": _SW, "fil": _FIL}


@dataclass(frozen=True, slots=True)
class _Word:
    kind: str  # "value", "hundred", "scale", "joiner", "weak"
    value: int
    start: int
    end: int


def spell_out(folded: str, locale: str) -> str:
    """`folded` with every number written in words replaced by its digits."""
    language = locale.replace("-", "_").split("_", 1)[0].lower()
    lexicons = _lexicons(language)
    if not any(lexicon for lexicon in lexicons):
        return folded
    text = _FILIPINO_AND.sub(" at", folded) if language == "fil" else folded
    if language == "fr":
        text = _FRENCH_EIGHTY.sub("quatrevingt", text)
    for lexicon in lexicons:
        text = _replace_runs(text, lexicon)
    return text


@lru_cache(maxsize=16)
def _lexicons(language: str) -> tuple[_Lexicon, ...]:
    own = _LEXICONS.get(language)
    return (own, _EN) if own is not None and own is not _EN else (_EN,)


def _classify(word: str, lexicon: _Lexicon) -> tuple[str, int] | None:
    key = word.casefold()
    for candidate in (key, key.removesuffix(lexicon.linker) if lexicon.linker else key):
        if candidate in lexicon.values:
            return "value", lexicon.values[candidate]
        if candidate in lexicon.hundred:
            return "hundred", 100
        if candidate in lexicon.scales:
            return "scale", lexicon.scales[candidate]
    if key in lexicon.joiners:
        return "joiner", 0
    if key in lexicon.weak:
        return "weak", 1
    return None


def _replace_runs(text: str, lexicon: _Lexicon) -> str:
    words = [
        (match, _classify(match.group(), lexicon)) for match in _WORD.finditer(text)
    ]  # fmt: skip
    pieces: list[str] = []
    position = 0
    index = 0
    while index < len(words):
        run = _run_at(text, words, index)
        if not run:
            index += 1
            continue
        value = _value(run, lexicon)
        if value is not None:
            pieces.append(text[position : run[0].start])
            pieces.append(str(value))
            position = run[-1].end
        index += max(1, len(run))
    pieces.append(text[position:])
    return "".join(pieces)


def _run_at(
    text: str, words: list[tuple[re.Match[str], tuple[str, int] | None]], index: int
) -> list[_Word]:
    """The number words starting at `index`, separated only by spaces or hyphens, without
    joiners at either end and with weak words only before a hundred or a scale."""
    run: list[_Word] = []
    for offset, (match, meaning) in enumerate(words[index:]):
        if meaning is None:
            break
        if run and text[run[-1].end : match.start()].strip(" -") != "":
            break
        kind, value = meaning
        if kind == "weak":
            following = words[index + offset + 1][1] if index + offset + 1 < len(words) else None
            if following is None or following[0] not in ("hundred", "scale"):
                break
        run.append(_Word(kind, value, match.start(), match.end()))
    while run and run[-1].kind == "joiner":
        run.pop()
    if run and run[0].kind == "joiner":
        return []
    if not any(word.kind in ("value", "weak") for word in run):
        return []  # multipliers alone are the amount readers' ("2 mil", "elfu 2")
    return run


def _value(run: list[_Word], lexicon: _Lexicon) -> int | None:
    words = [word for word in run if word.kind != "joiner"]
    if lexicon.scale_first:
        return _scale_first(words)
    total = current = 0
    for word in words:
        if word.kind in ("value", "weak"):
            current += word.value
        elif word.kind == "hundred":
            current = (current or 1) * 100
        else:
            total += (current or 1) * word.value
            current = 0
    return total + current


def _scale_first(words: list[_Word]) -> int:
    """Swahili's order: a scale word, then how many ("elfu mbili" 2,000, "mia tano" 500,
    "elfu mia mbili" 200,000, "elfu mbili mia tano" 2,500)."""
    total = 0
    index = 0
    while index < len(words):
        word = words[index]
        if word.kind in ("value", "weak"):
            total += word.value
            index += 1
            continue
        scale = 100 if word.kind == "hundred" else word.value
        index += 1
        count, index = _count_after(words, index, scale)
        total += scale * (count or 1)
    return total


def _count_after(words: list[_Word], index: int, scale: int) -> tuple[int, int]:
    """How many of `scale`: a smaller scale with its count ("elfu mia mbili"), or the values
    that follow, up to the next scale word."""
    if index < len(words) and words[index].kind in ("hundred", "scale"):
        smaller = 100 if words[index].kind == "hundred" else words[index].value
        if smaller < scale:
            inner, after = _count_after(words, index + 1, smaller)
            return smaller * (inner or 1), after
        return 0, index
    count = 0
    while index < len(words) and words[index].kind in ("value", "weak"):
        count += words[index].value
        index += 1
    return count, index
