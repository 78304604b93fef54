"""The words around the evidence report's numbers, in the language it is read in.

`build_report` returns data with no locale; whoever shows it chooses a `Wording`:

- `PLAIN`: the report as the command line has always written it, in English, with figures,
  measures and help kinds by their stored names (`members enrolled`, `sales`, `advice`).
  JSON is always written this way: its keys and texts are a stable interface for programs.
- `Wording(translator, help_kinds)`: the report read in a language (English too): the column
  headers, the methods, the figures and measures by the names the console shows, and each kind
  of help by the label of the check-in's choice it was recorded with, all translated.

Help kinds are the stored ids of the choices of the steps that record help (`records:` in a
check-in definition); the labels come from the definitions, so a kind renamed in a definition
reads with its new label, and a kind no definition knows any more (data from an older one) is
shown as stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from bot.reports.evidence import Count
from bot.reports.method import Method
from conversations.engine import CheckinLibrary
from conversations.i18n import N_, Catalogs, Translator

COUNT_LABELS: Final = {
    "enrolled": N_("Members enrolled"),
    "current": N_("Still members"),
    "left": N_("Members who left"),
    "active": N_("Active members"),
    "completed": N_("Weekly check-ins completed"),
    "invited": N_("Weekly invitations"),
    "reminders": N_("Reminders sent"),
    "gave": N_("Members who gave help"),
    "received": N_("Members who received help"),
    "both": N_("Members who gave and received"),
    "involved": N_("Members in any help record"),
}
"""The figures by their key, as the console names them (`Count.label` is the plain name)."""
MEASURE_LABELS: Final = {
    "sales": N_("Sales"),
    "costs": N_("Costs"),
    "profit": N_("Profit (sales minus costs)"),
    "savings": N_("Savings"),
    "household_income": N_("Household income"),
    "savings_balance": N_("Savings balance"),
}


def help_kind_labels(library: CheckinLibrary) -> dict[str, str]:
    """Each help kind's label (an English message id): the choices of every step that records
    help, in the check-ins taken by id and their steps in order. Where two definitions label
    the same kind differently, the first one's label is kept, so the name never depends on
    the order the files were loaded in."""
    labels: dict[str, str] = {}
    for checkin_id in sorted(library.checkins):
        for step in library.checkins[checkin_id].steps:
            if step.records is None:
                continue
            for choice in step.choices:
                labels.setdefault(choice.id, choice.label)
    return labels


class UnknownLanguage(ValueError):
    """A language the catalogs do not ship; the message lists the ones they do."""

    def __init__(self, code: str, available: Iterable[str]) -> None:
        self.code = code
        self.available = tuple(available)
        super().__init__(
            f'no language "{code}" in the catalogs; available: {", ".join(self.available)}'
        )


@dataclass(frozen=True, slots=True)
class Wording:
    """How a report's words are written: `translator` None is the plain English report (see
    the module's docstring); `help_kinds` maps a stored kind to its label's message id."""

    translator: Translator | None = None
    help_kinds: Mapping[str, str] = field(default_factory=dict)

    def text(self, message: str, **params: object) -> str:
        """A message id in the language, with its `%(name)s` placeholders filled in (the
        English text where a translation's placeholders do not fit, as `Method.render`)."""
        translated = self.translator.gettext(message) if self.translator else message
        if not params:
            return translated
        try:
            return translated % params
        except (KeyError, ValueError, TypeError):
            return message % params

    def method(self, method: Method) -> str:
        return method.render(self.translator.gettext) if self.translator else method.render()

    def count(self, count: Count) -> str:
        if self.translator is None:
            return count.label
        label = COUNT_LABELS.get(count.key)
        return self.text(label) if label else count.label

    def measure(self, measure: str) -> str:
        if self.translator is None:
            return measure
        label = MEASURE_LABELS.get(measure)
        return self.text(label) if label else measure

    def kind(self, kind: str) -> str:
        label = self.help_kinds.get(kind) if self.translator is not None else None
        return self.text(label) if label else kind

    def kinds(self, kinds: Iterable[str]) -> str:
        return ", ".join(self.kind(kind) for kind in kinds)


PLAIN: Final = Wording()


def wording_for(catalogs: Catalogs, library: CheckinLibrary, language: str) -> Wording:
    """The report read in `language` (a code the catalogs ship, English included)."""
    if language not in catalogs.codes:
        raise UnknownLanguage(language, catalogs.codes)
    return Wording(catalogs.translator(language), help_kind_labels(library))
