"""A check-in as data: the validated, immutable form of one `definitions/*.yaml` file.

The loader (`conversations.loader`) builds these and guarantees their invariants: step ids are
unique, every `goto` names a step, conditions refer to earlier steps, question types carry what
they need (choices for choice questions...). The engine trusts them and does no re-validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from conversations.answers import AnswerType


class MemberField(StrEnum):
    """Profile fields a step may set from its answer."""

    NAME = "name"
    LANGUAGE = "language"
    CURRENCY = "currency"
    BUSINESS_TYPE = "business_type"
    CONSENT = "consent"
    GROUP = "group"


class HelpDirection(StrEnum):
    GIVEN = "given"
    RECEIVED = "received"


class Operator(StrEnum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    IN = "in"
    CONTAINS = "contains"
    ANSWERED = "answered"
    SKIPPED = "skipped"


ConditionValue = str | bool | int | Decimal | tuple[str | bool | int | Decimal, ...]


@dataclass(frozen=True, slots=True)
class Condition:
    """`step` `op` `value`, on the answer a member gave at an earlier step."""

    step: str
    op: Operator
    value: ConditionValue


@dataclass(frozen=True, slots=True)
class Branch:
    """Go to `goto` when every condition holds (no conditions: always)."""

    goto: str
    when: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class Choice:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class HelpRecord:
    """This step's answer describes how help went; `member_step` names who was involved."""

    direction: HelpDirection
    member_step: str


END = "end"


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    line: int
    say: str | None = None
    ask: str | None = None
    type: AnswerType | None = None
    choices: tuple[Choice, ...] = ()
    min: Decimal | None = None
    max: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    error: str | None = None
    optional: bool = False
    retries: int = 3
    next: tuple[Branch, ...] = ()
    sets: MemberField | None = None
    records: HelpRecord | None = None
    proposes_story: str | None = None
    only_if: tuple[Condition, ...] = ()

    @property
    def is_question(self) -> bool:
        return self.ask is not None


@dataclass(frozen=True)
class Checkin:
    id: str
    version: int
    title: str
    source: str
    steps: tuple[Step, ...]
    keywords: tuple[str, ...] = ()
    schedule: str | None = None
    reminders: tuple[timedelta, ...] = ()
    expires_after: timedelta | None = None
    done: str | None = None
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({step.id: i for i, step in enumerate(self.steps)})

    def step(self, step_id: str) -> Step:
        return self.steps[self._index[step_id]]

    def has_step(self, step_id: str) -> bool:
        return step_id in self._index

    def position(self, step_id: str) -> int:
        return self._index[step_id]

    def following(self, step_id: str) -> str:
        """The step after `step_id` in file order, or END."""
        i = self._index[step_id] + 1
        return self.steps[i].id if i < len(self.steps) else END

    def texts(self) -> list[tuple[int, str]]:
        """Every member-facing source string with its line: what translators must translate."""
        found: list[tuple[int, str]] = []
        for step in self.steps:
            for text in (step.say, step.ask, step.error):
                if text:
                    found.append((step.line, text))
            found.extend((step.line, choice.label) for choice in step.choices)
        if self.done:
            found.append((self.steps[-1].line if self.steps else 1, self.done))
        return found
