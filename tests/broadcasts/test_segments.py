"""The segment parser: a table of expressions staff may write, and of mistakes it explains."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.broadcasts.segments import load_schema, parse
from storage.repositories.broadcasts import AnswerCondition, Comparison, MemberCondition

SCHEMA = load_schema(None, ("en", "es", "fil", "fr", "sw"))


def sales(op: Comparison, amount: str) -> AnswerCondition:
    return AnswerCondition("weekly_checkin", "sales", op, number=Decimal(amount))


@pytest.mark.parametrize(
    ("text", "canonical", "conditions"),
    [
        ("", "", ()),
        ("   ", "", ()),
        (
            "business_type=food",
            "business_type=food",
            (MemberCondition("business_type", "=", "food"),),
        ),
        (
            "business_type = FOOD",
            "business_type=food",
            (MemberCondition("business_type", "=", "food"),),
        ),
        (
            "business_type!=food",
            "business_type!=food",
            (MemberCondition("business_type", "!=", "food"),),
        ),
        ("language=sw", "language=sw", (MemberCondition("language", "=", "sw"),)),
        ("sales>=1000", "sales>=1000", (sales(">=", "1000"),)),
        ("sales >= 1000.50", "sales>=1000.5", (sales(">=", "1000.50"),)),
        ("sales>1_000", "sales>1000", (sales(">", "1000"),)),
        ("sales<5", "sales<5", (sales("<", "5"),)),
        ("sales<=5", "sales<=5", (sales("<=", "5"),)),
        ("sales==5", "sales=5", (sales("=", "5"),)),
        ("sales!=0", "sales!=0", (sales("!=", "0"),)),
        (
            "saved>0",
            "saved>0",
            (AnswerCondition("weekly_checkin", "saved", ">", number=Decimal(0)),),
        ),
        (
            "gave_help=yes",
            "gave_help=yes",
            (AnswerCondition("weekly_checkin", "gave_help", "=", choice="yes"),),
        ),
        (
            "got_help != No",
            "got_help!=no",
            (AnswerCondition("weekly_checkin", "got_help", "!=", choice="no"),),
        ),
        (
            "gave_help_how=money",
            "gave_help_how=money",
            (AnswerCondition("weekly_checkin", "gave_help_how", "=", choice="money"),),
        ),
        (
            "business_type=food, sales>=1000, gave_help=yes",
            "business_type=food, sales>=1000, gave_help=yes",
            (
                MemberCondition("business_type", "=", "food"),
                sales(">=", "1000"),
                AnswerCondition("weekly_checkin", "gave_help", "=", choice="yes"),
            ),
        ),
    ],
)
def test_valid_segments(text: str, canonical: str, conditions: tuple[object, ...]) -> None:
    segment = parse(text, SCHEMA)
    assert segment.text == canonical
    assert segment.conditions == conditions
    assert parse(segment.text, SCHEMA) == segment  # the stored text parses the same again


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "revenue>5",
            "unknown field 'revenue'; use a member field (business_type, language) or a step of the weekly_checkin check-in (sales, costs, saved, gave_help",
        ),
        ("challenge=rain", "unknown field 'challenge'"),  # a text step cannot be compared
        (
            "business_type=cars",
            "unknown business type 'cars'; use one of food, retail, services, farming, making, other",
        ),
        ("business_type>food", "business_type is compared with = or !=, not >"),
        ("language=xx", "'xx' is not a language code; use one of en, es, fil, fr, sw"),
        ("language=Swahili", "is not a language code"),
        (
            "sales>=lots",
            "sales is a money answer; compare it with a plain number, like sales>=1000",
        ),
        (
            "sales>=1,000",
            "is a number, not a condition: write amounts without thousands separators",
        ),
        ("sales>=1k", "compare it with a plain number"),
        ("gave_help>yes", "gave_help is a yes/no answer, compared with = or !=, not >"),
        ("gave_help=maybe", "gave_help is answered with yes, no, not 'maybe'"),
        (
            "gave_help_how=cash",
            "gave_help_how is answered with advice, money, goods, customers, work, other",
        ),
        ("sales", "is not a condition: write a field, an operator (= != > >= < <=) and a value"),
        ("sales>=", "has no value after >="),
        ("sales=>5", "has more than one operator"),
        ("sales>=5,", "condition 2 is empty"),
        ("sales>=5,,saved>1", "condition 2 is empty"),
        (
            "business_type=food; sales>5",
            "has more than one operator; separate conditions with commas",
        ),
        ("2 sales>5", "is not a condition"),
    ],
)
def test_invalid_segments_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse(text, SCHEMA)
    assert message in str(raised.value)


def test_errors_name_the_condition_among_several() -> None:
    with pytest.raises(ValueError, match=r"condition 2 \('saved>>1'\)"):
        parse("sales>1, saved>>1", SCHEMA)


def test_without_languages_any_code_shaped_language_is_accepted() -> None:
    assert parse("language=sw-KE", load_schema()).conditions == (
        MemberCondition("language", "=", "sw-KE"),
    )
