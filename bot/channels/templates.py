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

      console:                       # what a coordinator may send when the window is closed
        follow_up: {en: HX..., sw: HX...}
        call_back: {en: HX...}

`consent_request` is an imported member's first contact: it asks whether the program may
keep their journal (the onboarding's consent question), and their answer is the reply.
Template variables are numbered as in Twilio: consent requests, reminders and invitations get
{{1}} = the member's name and {{2}} = the check-in's title; highlights {{1}} = the group's
name; broadcasts {{1}} = the start of the text.

`console` names the templates a coordinator who took a member over is offered when WhatsApp
refuses a free-form reply (the member last wrote more than 24 hours ago): each is offered to
the members whose language it has, with {{1}} = the member's name and {{2}} = the
coordinator's name. The bot's nudges fit no such conversation (a member taken over gets no
check-in), so only these are offered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CONSOLE = "console"
"""The `whatsapp` entry naming the templates coordinators may send (not a nudge kind)."""
CONSOLE_VARIABLES = ("member", "coordinator")
"""What {{1}} and {{2}} of a console template are filled with."""
_SID = re.compile(r"HX[0-9A-Za-z]+")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")

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
    console: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Console templates: name -> language -> ContentSid."""

    def lookup(self, kind: str, locale: str) -> str | None:
        return self.whatsapp.get(kind, {}).get(locale)

    def for_console(self, locale: str) -> dict[str, str]:
        """The console templates in the language `locale`: name -> ContentSid, by name."""
        return {name: sids[locale] for name, sids in sorted(self.console.items()) if locale in sids}


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
    console: dict[str, dict[str, str]] = {}
    for kind, by_language in (data.get("whatsapp") or {}).items():
        if kind == CONSOLE:
            console = _console_templates(path, by_language)
            continue
        if kind not in NUDGE_KINDS:
            raise TemplatesError(
                f"{path}: unknown nudge kind '{kind}' (known: {', '.join(NUDGE_KINDS)}, {CONSOLE})"
            )
        if not isinstance(by_language, dict) or not all(
            isinstance(sid, str) and sid.startswith("HX") for sid in by_language.values()
        ):
            raise TemplatesError(f"{path}: {kind}: give a ContentSid (HX...) per language code")
        whatsapp[str(kind)] = {str(code): sid for code, sid in by_language.items()}
    return Templates(whatsapp, console)


def _console_templates(path: Path, entries: object) -> dict[str, dict[str, str]]:
    if not isinstance(entries, dict):
        raise TemplatesError(f"{path}: {CONSOLE}: expected template names, each with its sids")
    console: dict[str, dict[str, str]] = {}
    for name, by_language in entries.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise TemplatesError(f"{path}: {CONSOLE}: '{name}' is not a name like follow_up")
        if not isinstance(by_language, dict) or not all(
            isinstance(sid, str) and _SID.fullmatch(sid) for sid in by_language.values()
        ):
            raise TemplatesError(
                f"{path}: {CONSOLE}: {name}: give a ContentSid (HX...) per language code"
            )
        console[name] = {str(code): sid for code, sid in by_language.items()}
    return console
