"""Segments: who among the members a broadcast is for, written the way staff think of them.

    business_type=food, sales>=1000, gave_help=yes

A segment is comma-separated conditions, all of which must hold. A condition is a field, an
operator (`=`, `!=`, `>`, `>=`, `<`, `<=`) and a value:

- member fields: `business_type` (a choice id of onboarding's business question: food, retail,
  ...) and `language` (the member's language code), compared with = or !=;
- a step of the weekly check-in, compared with the member's LATEST answer to it (skipped
  answers do not count; a member who never answered matches no condition on that step): money
  and number steps with any operator and a plain number (`sales>=1000`, `saved>0`; an amount in
  any currency), yes/no steps with `=yes`, `=no` or their `!=`, choice steps with = or != and a
  choice id.

`parse` checks everything against a `SegmentSchema` (the shipped check-in definitions by
default) and raises `ValueError` saying what is wrong and what is allowed. The result holds the
conditions as `storage.repositories.broadcasts` types, which that repository turns into SQL:
no SQL is ever built from the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import cast

from bot.turns.checkins import DEFAULT_CHECKINS_PATH, read_sources
from conversations.answers import AnswerType
from conversations.definition import Checkin, MemberField
from conversations.loader import parse_checkins
from storage.repositories.broadcasts import (
    AnswerCondition,
    Comparison,
    MemberCondition,
    SegmentCondition,
)

WEEKLY_CHECKIN = "weekly_checkin"
MEMBER_FIELDS = ("business_type", "language")
OPERATORS: tuple[Comparison, ...] = ("=", "!=", ">", ">=", "<", "<=")
EQUALITY: tuple[Comparison, ...] = ("=", "!=")
NUMERIC_TYPES = frozenset({AnswerType.MONEY, AnswerType.NUMBER, AnswerType.INTEGER})
CHOICE_TYPES = frozenset({AnswerType.CHOICE, AnswerType.YES_NO})
YES_NO = ("yes", "no")

_CONDITION = re.compile(
    r"^\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>==|!=|>=|<=|=|>|<)\s*(?P<value>.*?)\s*$"
)
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True, slots=True)
class StepKind:
    """What a segment may compare a check-in step with."""

    type: AnswerType
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class SegmentSchema:
    """The steps (of one check-in) and the business types a segment may name."""

    checkin_id: str
    steps: Mapping[str, StepKind]
    business_types: tuple[str, ...] = ()
    languages: tuple[str, ...] = field(default=())

    @classmethod
    def from_checkins(
        cls,
        checkins: Mapping[str, Checkin],
        checkin_id: str = WEEKLY_CHECKIN,
        languages: tuple[str, ...] = (),
    ) -> SegmentSchema:
        """The comparable steps of `checkin_id` and the business types onboarding offers."""
        checkin = checkins.get(checkin_id)
        if checkin is None:
            raise ValueError(f"no check-in named {checkin_id!r} to build segments on")
        steps = {
            step.id: StepKind(step.type, tuple(choice.id for choice in step.choices))
            for step in checkin.steps
            if step.type in NUMERIC_TYPES or step.type in CHOICE_TYPES
        }
        business_types: tuple[str, ...] = ()
        for other in checkins.values():
            for step in other.steps:
                if step.sets is MemberField.BUSINESS_TYPE and step.choices:
                    business_types = tuple(choice.id for choice in step.choices)
        return cls(checkin_id, steps, business_types, languages)

    @property
    def fields(self) -> tuple[str, ...]:
        return (*MEMBER_FIELDS, *self.steps)


@lru_cache(maxsize=4)
def load_schema(path: Path | None = None, languages: tuple[str, ...] = ()) -> SegmentSchema:
    """What a segment may name in the check-in definitions at `path` (default: the shipped
    ones); with `languages`, `language=` conditions must name one of them."""
    checkins = parse_checkins(read_sources(path or DEFAULT_CHECKINS_PATH))
    return SegmentSchema.from_checkins(checkins, languages=languages)


@dataclass(frozen=True, slots=True)
class Segment:
    """A parsed segment: its canonical text (stored with the broadcast) and its conditions."""

    text: str
    conditions: tuple[SegmentCondition, ...]

    def __bool__(self) -> bool:
        return bool(self.conditions)


def parse(text: str | None, schema: SegmentSchema | None = None) -> Segment:
    """Parse a segment expression; an empty one is everyone. `ValueError` says what is wrong."""
    schema = schema or load_schema()
    if text is None or not text.strip():
        return Segment("", ())
    conditions: list[SegmentCondition] = []
    canonical: list[str] = []
    pieces = text.split(",")
    for number, piece in enumerate(pieces, start=1):
        where = f"condition {number} ({piece.strip()!r})" if len(pieces) > 1 else repr(text.strip())
        if not piece.strip():
            raise ValueError(
                f"condition {number} is empty: separate conditions with single commas, like "
                "business_type=food, sales>=1000"
            )
        match = _CONDITION.match(piece)
        if match is None and _NUMBER.match(piece.strip()):
            raise ValueError(
                f"{where} is a number, not a condition: write amounts without thousands "
                "separators, like sales>=1000"
            )
        if match is None:
            raise ValueError(
                f"{where} is not a condition: write a field, an operator "
                f"({' '.join(OPERATORS)}) and a value, like sales>=1000"
            )
        name = match["field"].lower()
        op = cast(Comparison, "=" if match["op"] == "==" else match["op"])
        value = match["value"]
        if not value:
            raise ValueError(f"{where} has no value after {op}")
        if any(symbol in value for symbol in "<>=!"):
            raise ValueError(f"{where} has more than one operator; separate conditions with commas")
        condition = _condition(where, name, op, value, schema)
        conditions.append(condition)
        canonical.append(f"{name}{op}{_value_text(condition)}")
    return Segment(", ".join(canonical), tuple(conditions))


def _condition(
    where: str, name: str, op: Comparison, value: str, schema: SegmentSchema
) -> SegmentCondition:
    if name in MEMBER_FIELDS:
        if op not in EQUALITY:
            raise ValueError(f"{where}: {name} is compared with = or !=, not {op}")
        if name == "business_type":
            choice = value.lower()
            if schema.business_types and choice not in schema.business_types:
                raise ValueError(
                    f"{where}: unknown business type {value!r}; use one of "
                    f"{', '.join(schema.business_types)}"
                )
            return MemberCondition("business_type", op, choice)
        if not _LANGUAGE.match(value) or (schema.languages and value not in schema.languages):
            known = f"one of {', '.join(schema.languages)}" if schema.languages else "like sw"
            raise ValueError(f"{where}: {value!r} is not a language code; use {known}")
        return MemberCondition("language", op, value)
    kind = schema.steps.get(name)
    if kind is None:
        raise ValueError(
            f"{where}: unknown field {name!r}; use a member field ({', '.join(MEMBER_FIELDS)}) "
            f"or a step of the {schema.checkin_id} check-in ({', '.join(schema.steps)})"
        )
    if kind.type in NUMERIC_TYPES:
        amount = value.replace("_", "")
        if not _NUMBER.match(amount):
            raise ValueError(
                f"{where}: {name} is a {kind.type.value} answer; compare it with a plain number, "
                f"like {name}>=1000"
            )
        try:
            number = Decimal(amount)
        except InvalidOperation as error:  # pragma: no cover - the pattern admits only numbers
            raise ValueError(f"{where}: {value!r} is not a number") from error
        return AnswerCondition(schema.checkin_id, name, op, number=number)
    allowed = YES_NO if kind.type is AnswerType.YES_NO else kind.choices
    if op not in EQUALITY:
        raise ValueError(
            f"{where}: {name} is a {kind.type.value.replace('_', '/')} answer, compared with "
            f"= or !=, not {op}"
        )
    choice = value.lower()
    if choice not in allowed:
        raise ValueError(f"{where}: {name} is answered with {', '.join(allowed)}, not {value!r}")
    return AnswerCondition(schema.checkin_id, name, op, choice=choice)


def _value_text(condition: SegmentCondition) -> str:
    if isinstance(condition, MemberCondition):
        return condition.value
    if condition.number is not None:
        return format(condition.number.normalize(), "f")
    return condition.choice or ""
