"""WhatsApp message templates: what may be sent outside WhatsApp's 24-hour window.

WhatsApp only delivers free text to someone who wrote to us in the last 24 hours; anything else
must be a template approved in advance (Twilio's Content API gives each a `ContentSid`). The
operator lists them in a YAML file (`TEMPLATES_PATH`), per nudge kind and language:

    whatsapp:
      consent_request: {en: HXfedc...}
      checkin_invitation: {en: HX0123..., sw: HX4567...}
      reminder: {en: HX89ab...}
      expiry: {en: ...}
      highlight: {en: ...}
      broadcast: {en: ...}

`consent_request` is an imported member's first contact: it asks whether the program may
keep their journal (the onboarding's consent question), and their answer is the reply.
Template variables are numbered as in Twilio: consent requests, reminders and invitations get
{{1}} = the member's name and {{2}} = the check-in's title; highlights {{1}} = the group's
name; broadcasts {{1}} = the start of the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

NUDGE_KINDS = (
    "consent_request",
    "checkin_invitation",
    "reminder",
    "expiry",
    "highlight",
    "broadcast",
)


class TemplatesError(ValueError):
    """The templates file is unreadable or malformed; says where and what."""


@dataclass(frozen=True)
class Templates:
    whatsapp: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def lookup(self, kind: str, locale: str) -> str | None:
        return self.whatsapp.get(kind, {}).get(locale)


def load_templates(path: Path | None) -> Templates:
    if path is None:
        return Templates()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise TemplatesError(f"{path}: cannot read the templates file: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("whatsapp", {}), dict):
        raise TemplatesError(f"{path}: expected a mapping with a 'whatsapp' section")
    whatsapp: dict[str, dict[str, str]] = {}
    for kind, by_language in (data.get("whatsapp") or {}).items():
        if kind not in NUDGE_KINDS:
            raise TemplatesError(
                f"{path}: unknown nudge kind '{kind}' (known: {', '.join(NUDGE_KINDS)})"
            )
        if not isinstance(by_language, dict) or not all(
            isinstance(sid, str) and sid.startswith("HX") for sid in by_language.values()
        ):
            raise TemplatesError(f"{path}: {kind}: give a ContentSid (HX...) per language code")
        whatsapp[str(kind)] = {str(code): sid for code, sid in by_language.items()}
    return Templates(whatsapp)
