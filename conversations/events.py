"""What the engine decides: events the caller applies in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conversations.answers import AnswerType, AnswerValue, MemberRef
from conversations.definition import Choice, HelpDirection
from conversations.session import SessionState, SessionStatus


@dataclass(frozen=True, slots=True)
class Say:
    """A message to the member: a source string (catalog id), its parameters and any choices,
    in `locale` (which may differ from the profile's when the member just changed language).
    `step_id` names the question the choices answer, for button payloads; `one_tap` says that
    one tap on a choice answers it and that the choices are the same for every member asked."""

    key: str
    locale: str
    params: Mapping[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    step_id: str | None = None
    one_tap: bool = False


@dataclass(frozen=True, slots=True)
class AnswerRecorded:
    checkin_id: str
    step_id: str
    type: AnswerType
    value: AnswerValue | None
    raw: str
    skipped: bool = False
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class HelpRecorded:
    direction: HelpDirection
    other: MemberRef
    kind: str
    step_id: str


@dataclass(frozen=True, slots=True)
class StoryProposed:
    text: str
    step_id: str


@dataclass(frozen=True, slots=True)
class MemberFieldSet:
    """A profile field changes: name, language, currency, business_type, consent, group,
    opted_out."""

    field: str
    value: Any


@dataclass(frozen=True, slots=True)
class SessionStarted:
    checkin_id: str
    version: int


@dataclass(frozen=True, slots=True)
class SessionEnded:
    checkin_id: str
    status: SessionStatus


Event = (
    Say
    | AnswerRecorded
    | HelpRecorded
    | StoryProposed
    | MemberFieldSet
    | SessionStarted
    | SessionEnded
)


@dataclass(frozen=True, slots=True)
class Turn:
    """The result of one input: the member's session afterwards (None when none is running)
    and what happened, in order."""

    session: SessionState | None
    events: tuple[Event, ...]

    def says(self) -> list[Say]:
        return [event for event in self.events if isinstance(event, Say)]
