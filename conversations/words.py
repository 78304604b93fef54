"""Words members type instead of answers: yes and no, today, stop, help...

Every list is a catalog entry: an English source string of `|`-separated words with a message
context, so a translator adds a language's words in the catalog alone. English words are always
understood as well, whatever the member's language, because many members mix languages.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from conversations.i18n import NP_, Catalogs

# --- answer words ----------------------------------------------------------------------------

YES_WORDS = NP_("words: yes", "yes|y|yeah|yep|yup|ok|okay|sure|of course|👍")
NO_WORDS = NP_("words: no", "no|n|nope|not really|👎")
TODAY_WORDS = NP_("words: today", "today|now|this day")
YESTERDAY_WORDS = NP_("words: yesterday", "yesterday")
DAY_BEFORE_YESTERDAY_WORDS = NP_(
    "words: the day before yesterday", "day before yesterday|the day before yesterday"
)
DAYS_WORDS = NP_("words: days (as in 3 days ago)", "day|days")
AGO_WORDS = NP_("words: ago (as in 3 days ago)", "ago|back")
LAST_WORDS = NP_("words: last (as in last friday)", "last|past|previous")
NOTHING_WORDS = NP_("words: nothing (zero amount)", "nothing|none|zero|nil")
THOUSAND_WORDS = NP_("words: thousand (multiplier)", "k|thousand|thousands")
MILLION_WORDS = NP_("words: million (multiplier)", "m|million|millions")

# --- commands ----------------------------------------------------------------------------------


class Command(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"
    LANGUAGE = "language"
    SKIP = "skip"
    RESTART = "restart"
    MYDATA = "mydata"
    DELETE = "delete"


COMMAND_WORDS: Mapping[Command, tuple[str, str]] = {
    Command.STOP: NP_("command words: stop", "stop|stopall|unsubscribe|cancel|end|quit"),
    Command.START: NP_("command words: start", "start|unstop|resume"),
    Command.HELP: NP_("command words: help", "help|menu|info"),
    Command.LANGUAGE: NP_("command words: language", "language|lang"),
    Command.SKIP: NP_("command words: skip", "skip|pass|next"),
    Command.RESTART: NP_("command words: restart", "restart|start over|again"),
    Command.MYDATA: NP_("command words: my data", "mydata|my data|my info"),
    Command.DELETE: NP_("command words: delete my data", "delete|delete me|erase|forget me"),
}

GREETING_WORDS = NP_(
    "words: greetings", "hi|hello|hey|hallo|hiya|good morning|good afternoon|good evening"
)
"""A greeting before the first question is answered by that question, not by a correction."""


AGENT_WORDS = NP_("command words: ask for a person", "agent|human|person")
"""Words a member sends to be answered by a coordinator instead of the bot (see the console's
take-over); matched in every shipped language at once, like the commands."""


def agent_words(catalogs: Catalogs) -> frozenset[str]:
    """`AGENT_WORDS` in English and every language of `catalogs`, normalised."""
    context, source = AGENT_WORDS
    found = set(split_words(source))
    for locale in catalogs.codes:
        found |= split_words(catalogs.pgettext(locale, context, source))
    return frozenset(found)


KEYWORD_CONTEXT = "check-in keywords"


def normalize(text: str) -> str:
    """Fold a short reply for word matching: case, accents, spacing and edge punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.strip(" \t\n.!?¡¿,;:'\"()[]")
    if stripped.startswith("/"):
        stripped = stripped[1:].split("@", 1)[0]
    return " ".join(stripped.split())


def split_words(entry: str) -> frozenset[str]:
    return frozenset(normalize(word) for word in entry.split("|") if normalize(word))


@dataclass(frozen=True, slots=True)
class AnswerWords:
    """The words one member may use for answers, in their language and in English."""

    yes: frozenset[str]
    no: frozenset[str]
    today: frozenset[str]
    yesterday: frozenset[str]
    last: frozenset[str]
    nothing: frozenset[str]
    thousand: frozenset[str]
    million: frozenset[str]
    locale: str = "en"
    day_before_yesterday: frozenset[str] = frozenset()
    days: frozenset[str] = frozenset()
    ago: frozenset[str] = frozenset()


def _both(catalogs: Catalogs, locale: str, entry: tuple[str, str]) -> frozenset[str]:
    context, source = entry
    return split_words(source) | split_words(catalogs.pgettext(locale, context, source))


def answer_words(catalogs: Catalogs, locale: str) -> AnswerWords:
    return AnswerWords(
        yes=_both(catalogs, locale, YES_WORDS),
        no=_both(catalogs, locale, NO_WORDS),
        today=_both(catalogs, locale, TODAY_WORDS),
        yesterday=_both(catalogs, locale, YESTERDAY_WORDS),
        last=_both(catalogs, locale, LAST_WORDS),
        nothing=_both(catalogs, locale, NOTHING_WORDS),
        thousand=_both(catalogs, locale, THOUSAND_WORDS),
        million=_both(catalogs, locale, MILLION_WORDS),
        locale=locale,
        day_before_yesterday=_both(catalogs, locale, DAY_BEFORE_YESTERDAY_WORDS),
        days=_both(catalogs, locale, DAYS_WORDS),
        ago=_both(catalogs, locale, AGO_WORDS),
    )


@dataclass(frozen=True)
class Lexicon:
    """The words members type instead of answers: commands and check-in keywords in every
    shipped language, plus each language's answer words.

    Commands work in every language at once: a member who writes "parar" while their profile says
    English still stops. Built once at start-up; lookups are dictionary hits.
    """

    commands: Mapping[str, Command]
    keywords: Mapping[str, str]
    words: Mapping[str, AnswerWords]
    greetings: frozenset[str] = frozenset()

    def command(self, text: str) -> Command | None:
        return self.commands.get(normalize(text))

    def keyword(self, text: str) -> str | None:
        return self.keywords.get(normalize(text))

    def is_greeting(self, text: str) -> bool:
        """Whether the reply only greets ("hi", "hola", "jambo"), in any shipped language."""
        return normalize(text) in self.greetings

    def answer_words(self, locale: str) -> AnswerWords:
        return self.words.get(locale) or self.words["en"]


def build_lexicon(catalogs: Catalogs, keywords: Mapping[str, Iterable[str]]) -> Lexicon:
    """`keywords` maps a check-in id to its English keywords (from the definitions)."""
    locales = ("en", *[code for code in catalogs.codes if code != "en"])
    commands: dict[str, Command] = {}
    for command, (context, source) in COMMAND_WORDS.items():
        for locale in locales:
            for word in split_words(catalogs.pgettext(locale, context, source)) | split_words(
                source
            ):
                commands.setdefault(word, command)
    keyword_map: dict[str, str] = {}
    for checkin_id, words in keywords.items():
        for source in words:
            for locale in locales:
                translated = catalogs.pgettext(locale, KEYWORD_CONTEXT, source)
                for word in split_words(translated) | split_words(source):
                    keyword_map.setdefault(word, checkin_id)
    context, source = GREETING_WORDS
    greetings = frozenset().union(
        *(split_words(catalogs.pgettext(locale, context, source)) for locale in locales),
        split_words(source),
    )
    return Lexicon(
        commands=commands,
        keywords=keyword_map,
        words={locale: answer_words(catalogs, locale) for locale in locales},
        greetings=greetings,
    )
