"""Answer words of the five shipped languages, as the catalogs will ship them.

Each language's words are stored normalised (`split_words`) and joined with the English source
words, as `conversations.words.answer_words` does with real catalogs.
"""

from __future__ import annotations

from conversations.words import (
    LAST_WORDS,
    MILLION_WORDS,
    NO_WORDS,
    NOTHING_WORDS,
    THOUSAND_WORDS,
    TODAY_WORDS,
    YES_WORDS,
    YESTERDAY_WORDS,
    AnswerWords,
    split_words,
)

_ENGLISH = {
    "yes": YES_WORDS[1],
    "no": NO_WORDS[1],
    "today": TODAY_WORDS[1],
    "yesterday": YESTERDAY_WORDS[1],
    "last": LAST_WORDS[1],
    "nothing": NOTHING_WORDS[1],
    "thousand": THOUSAND_WORDS[1],
    "million": MILLION_WORDS[1],
}

_TRANSLATED: dict[str, dict[str, str]] = {
    "es": {
        "yes": "sí|si|claro|dale|vale|ok|de acuerdo|correcto",
        "no": "no|nop|para nada",
        "today": "hoy|ahora",
        "yesterday": "ayer",
        "last": "pasado|pasada|anterior|último|ultimo",
        "nothing": "nada|cero|ninguno",
        "thousand": "mil|k|lucas",
        "million": "millón|millones|palo|palos",
    },
    "fil": {
        "yes": "oo|opo|oho|sige|tama|yes",
        "no": "hindi|hindi po|ayoko",
        "today": "ngayon|ngayong araw",
        "yesterday": "kahapon",
        "last": "nakaraang|noong nakaraang|huling|noong",
        "nothing": "wala|zero|wala po",
        "thousand": "libo|k",
        "million": "milyon",
    },
    "sw": {
        "yes": "ndiyo|ndio|naam|sawa",
        "no": "hapana|la",
        "today": "leo|sasa",
        "yesterday": "jana",
        "last": "iliyopita|uliopita|lililopita",
        "nothing": "hakuna|sifuri|hamna",
        "thousand": "elfu|k",
        "million": "milioni",
    },
    "fr": {
        "yes": "oui|ouais|d'accord|bien sûr|ok",
        "no": "non|pas du tout",
        "today": "aujourd'hui|maintenant",
        "yesterday": "hier",
        "last": "dernier|derniere|passé",
        "nothing": "rien|zéro|aucun",
        "thousand": "mille|k",
        "million": "million|millions",
    },
}


def _answer_words(locale: str) -> AnswerWords:
    translated = _TRANSLATED.get(locale, {})

    def both(kind: str) -> frozenset[str]:
        return split_words(_ENGLISH[kind]) | split_words(translated.get(kind, ""))

    return AnswerWords(
        yes=both("yes"),
        no=both("no"),
        today=both("today"),
        yesterday=both("yesterday"),
        last=both("last"),
        nothing=both("nothing"),
        thousand=both("thousand"),
        million=both("million"),
        locale=locale,
    )


LOCALES = ("en", "es", "fil", "sw", "fr")
WORDS: dict[str, AnswerWords] = {locale: _answer_words(locale) for locale in LOCALES}
