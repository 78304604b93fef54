"""Definitions are validated up front, and every problem names its file and line."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from conversations.answers import AnswerType
from conversations.definition import Operator
from conversations.loader import DefinitionError, parse_checkin, parse_checkins
from tests.conversations.harness import LIBRARY

GOOD = """\
id: tiny
version: 2
title: tiny check-in
triggers: {keywords: [tiny], schedule: group}
reminders: [24h, 72h]
expires_after: 7d
steps:
  - id: sold
    ask: "How much, {{ member.name }}?"
    type: money
    min: 0
  - id: happy
    ask: "Happy?"
    type: yes_no
    next: [{when: {happy: false}, goto: end}]
  - id: why
    ask: "Why?"
    type: text
    optional: true
    only_if: {sold: {gte: 100}}
done: "Thanks!"
"""


def problems(source: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse_checkin(textwrap.dedent(source), "defs/broken.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_a_good_definition_loads_with_its_details() -> None:
    checkin = parse_checkin(GOOD, "defs/tiny.yaml")
    assert checkin.id == "tiny" and checkin.version == 2
    assert checkin.keywords == ("tiny",)
    assert checkin.reminders == (timedelta(hours=24), timedelta(hours=72))
    assert checkin.expires_after == timedelta(days=7)
    assert checkin.step("sold").type is AnswerType.MONEY
    assert checkin.step("happy").next[0].goto == "end"
    assert checkin.step("why").only_if[0].op is Operator.GTE


def test_the_shipped_checkins_load() -> None:
    assert {"onboarding", "language", "weekly_checkin", "monthly_journal"} <= set(LIBRARY.checkins)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("id: x\nversion: 1\ntitle: t\nsteps: [\n", "defs/broken.yaml:5: not valid YAML"),
        ("", "defs/broken.yaml:1: the file is empty"),
        ("- just a list", "defs/broken.yaml:1: a check-in must be a mapping"),
        ("id: x\nversion: 1\ntitle: t\n", "defs/broken.yaml:1: check-in: missing 'steps'"),
        (
            "id: Bad Id\nversion: 1\ntitle: t\nsteps: [{id: a, say: hi}]\n",
            "defs/broken.yaml:1: check-in id must be",
        ),
        (
            "id: x\nversion: 0\ntitle: t\nsteps: [{id: a, say: hi}]\n",
            "defs/broken.yaml:2: version must be",
        ),
        (
            "id: x\nversion: 1\ntitle: t\ncolour: red\nsteps: [{id: a, say: hi}]\n",
            "defs/broken.yaml:4: check-in: unknown key 'colour'",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nsteps:\n  - id: a\n    ask: hi\n",
            "defs/broken.yaml:6: question 'a' needs a 'type'",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nsteps:\n  - id: a\n    ask: hi\n    type: colour\n",
            "defs/broken.yaml:7: unknown type 'colour'",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nsteps:\n  - id: a\n    ask: hi\n    type: choice\n",
            "defs/broken.yaml:7: question 'a' of type choice needs 'choices'",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nsteps:\n  - id: a\n    ask: hi\n    type: text\n    next: nowhere\n",
            "defs/broken.yaml:8: goto 'nowhere': no such step",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nsteps:\n  - id: a\n    say: hi\n  - id: b\n    say: ho\n    next: a\n",
            "defs/broken.yaml:9: goto 'a' goes backwards",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nsteps:\n  - id: a\n    ask: hi\n    type: yes_no\n    only_if: {b: true}\n  - id: b\n    ask: ho\n    type: yes_no\n",
            "defs/broken.yaml:8: condition on 'b': it must be an earlier step",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nsteps:\n  - id: a\n    ask: hi\n    type: yes_no\n  - id: b\n    say: ho\n    only_if: {a: maybe}\n",
            "defs/broken.yaml:10: 'a' is yes/no: compare it to true or false",
        ),
        (
            'id: x\nversion: 1\ntitle: t\nsteps:\n  - id: a\n    ask: "{{ secret }}"\n    type: text\n',
            "defs/broken.yaml:6: template uses unknown name 'secret'",
        ),
        (
            'id: x\nversion: 1\ntitle: t\nsteps:\n  - id: a\n    ask: "{{ member.name "\n    type: text\n',
            "defs/broken.yaml:6: template error",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nsteps:\n  - id: a\n    ask: hi\n    type: text\n    min: 3\n",
            "defs/broken.yaml:8: 'min' only applies to integer, number and money questions",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nreminders: [soon]\nsteps: [{id: a, say: hi}]\n",
            "defs/broken.yaml:4: a reminder must be a duration",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nreminders: [8d]\nexpires_after: 7d\nsteps: [{id: a, say: hi}]\n",
            "defs/broken.yaml:4: every reminder must come before expires_after",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nsteps:\n  - {id: a, say: hi}\n  - {id: a, say: ho}\n",
            "defs/broken.yaml:6: step id 'a' is used twice",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nsteps:\n  - id: a\n    ask: hi\n    type: text\n    sets: age\n",
            "defs/broken.yaml:8: sets: unknown member field",
        ),
        (
            "id: x\nversion: 1\ntitle: t\nsteps:\n  - id: who\n    ask: hi\n    type: text\n  - id: how\n    ask: how\n    type: text\n    records: {help: given, member: who}\n",
            "defs/broken.yaml:11: records.member 'who' must be a member question",
        ),
        (
            "id: x\nversion: 1\ntitle: t\ntriggers: {schedule: every monday}\nsteps: [{id: a, say: hi}]\n",
            "defs/broken.yaml:4: schedule must be 'group'",
        ),
    ],
)
def test_broken_definitions_are_reported_with_file_and_line(source: str, expected: str) -> None:
    found = problems(source)
    assert any(problem.startswith(expected) for problem in found), found


def test_all_problems_of_a_file_are_reported_together() -> None:
    found = problems(
        "id: x\nversion: 1\ntitle: t\nsteps:\n"
        "  - id: a\n    ask: hi\n    type: colour\n"
        "  - id: b\n    ask: ho\n    type: text\n    next: nowhere\n"
    )
    assert len(found) == 2


def test_ids_must_be_unique_across_files() -> None:
    source = "id: same\nversion: 1\ntitle: t\nsteps: [{id: a, say: hi}]\n"
    with pytest.raises(DefinitionError) as caught:
        parse_checkins([("one.yaml", source), ("two.yaml", source)])
    assert str(caught.value) == "two.yaml:1: id 'same' is also used by one.yaml"
