"""Drive the pure engine directly: a member, a group, a clock and the shipped check-ins."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from conversations.answers import GroupRef, MemberRef
from conversations.context import Context, MemberProfile
from conversations.engine import CheckinLibrary, handle
from conversations.events import Event, MemberFieldSet, Say, Turn
from conversations.i18n import Catalogs, Language, Translator
from conversations.inputs import Input, Reply
from conversations.loader import parse_checkins
from conversations.rendering import render
from conversations.session import SessionState
from conversations.words import build_lexicon

DEFINITIONS = Path(__file__).resolve().parents[2] / "conversations" / "definitions"
LIBRARY = CheckinLibrary(
    parse_checkins(
        (str(path), path.read_text(encoding="utf-8")) for path in sorted(DEFINITIONS.glob("*.yaml"))
    )
)
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
GROUP = GroupRef(7, "Kibera Market Peers", "KMP123")


class DictTranslator:
    """A translator from a plain dict; unknown ids fall back to the source, like gettext."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    def gettext(self, message: str) -> str:
        return self.table.get(message, message)

    def pgettext(self, context: str, message: str) -> str:
        return self.table.get(f"{context}\x04{message}", message)


PIGLATIN: dict[str, str] = {
    "Which language do you prefer?": "Ichway anguagelay?",
    "How much did you sell this week, {{ member.name }}?": "Owhay uchmay idday ouyay ellsay, {{ member.name }}?",
    "Done! I will write to you in English.": "Oneday! Igpay Atinlay.",
    "command words: stop\x04stop|stopall|unsubscribe|cancel|end|quit": "opstay",
    "words: yes\x04yes|y|yeah|yep|yup|ok|okay|sure|of course|👍": "esyay",
    "check-in keywords\x04checkin": "eckinchay",
}
CATALOGS = Catalogs(
    translators={"en": DictTranslator({}), "pig": DictTranslator(PIGLATIN)},
    languages=(Language("en", "English"), Language("pig", "Igpay")),
)
LEXICON = build_lexicon(CATALOGS, LIBRARY.keywords())


@dataclass
class Member:
    """A member talking to the engine; keeps their session and profile between turns."""

    profile: MemberProfile = field(
        default_factory=lambda: MemberProfile(id=1, locale="en", default_currency="KES")
    )
    peers: tuple[MemberRef, ...] = ()
    groups_by_code: dict[str, GroupRef] = field(default_factory=dict)
    session: SessionState | None = None
    now: datetime = NOW
    history: list[Turn] = field(default_factory=list)

    def context(self) -> Context:
        return Context(
            now=self.now,
            member=self.profile,
            catalogs=CATALOGS,
            lexicon=LEXICON,
            group_members=self.peers,
            groups_by_code=self.groups_by_code,
        )

    def send(self, item: Input | str) -> list[str]:
        """Apply an input (text becomes a Reply); return what the bot said, rendered."""
        turn = handle(
            LIBRARY,
            self.session,
            Reply(text=item) if isinstance(item, str) else item,
            self.context(),
        )
        self.history.append(turn)
        self.session = turn.session
        for event in turn.events:
            if isinstance(event, MemberFieldSet):
                self._apply(event)
        return [render(say, CATALOGS).with_numbered_choices() for say in turn.says()]

    def events(self) -> tuple[Event, ...]:
        return self.history[-1].events

    def all_events(self) -> list[Event]:
        return [event for turn in self.history for event in turn.events]

    def says(self) -> list[Say]:
        return self.history[-1].says()

    def _apply(self, event: MemberFieldSet) -> None:
        fields = {
            "name": "name",
            "language": "locale",
            "currency": "currency",
            "business_type": "business_type",
            "consent": "consent",
            "opted_out": "opted_out",
            "onboarded": "onboarded",
            "group": "group",
        }
        self.profile = replace(self.profile, **{fields[event.field]: event.value})


def onboarded_member(**profile: object) -> Member:
    base = MemberProfile(
        id=1,
        locale="en",
        default_currency="KES",
        name="Amina",
        currency="KES",
        consent=True,
        onboarded=True,
        group=GROUP,
    )
    peers = (
        MemberRef(2, "Grace Wanjiku"),
        MemberRef(3, "Grace Achieng"),
        MemberRef(4, "Joseph Otieno"),
    )
    return Member(profile=replace(base, **profile), peers=peers)  # type: ignore[arg-type]


def translator(locale: str) -> Translator:
    return CATALOGS.translator(locale)
