"""Answer words of the five shipped languages, as the catalogs will ship them.

Each language's words are stored normalised (`split_words`) and joined with the English source
words, as `conversations.words.answer_words` does with real catalogs.
"""

from __future__ import annotations

from conversations.words import (
    AGO_WORDS,
    DAY_BEFORE_YESTERDAY_WORDS,
    DAYS_WORDS,
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
    "day_before_yesterday": DAY_BEFORE_YESTERDAY_WORDS[1],
    "days": DAYS_WORDS[1],
    "ago": AGO_WORDS[1],
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
        "day_before_yesterday": "anteayer|antier|antes de ayer|antes de antier",
        "days": "día|días|dia|dias",
        "ago": "hace|atrás|antes",
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
        "day_before_yesterday": "kamakalawa",
        "days": "araw",
        "ago": "nakalipas|nakaraan|ang nakalipas",
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
        "day_before_yesterday": "juzi",
        "days": "siku",
        "ago": "zilizopita|iliyopita|zilizopo|nyuma",
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
        "day_before_yesterday": "avant-hier|avant hier",
        "days": "jour|jours",
        "ago": "il y a|y a",
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
        day_before_yesterday=both("day_before_yesterday"),
        days=both("days"),
        ago=both("ago"),
    )


LOCALES = ("en", "es", "fil", "sw", "fr")
WORDS: dict[str, AnswerWords] = {locale: _answer_words(locale) for locale in LOCALES}
