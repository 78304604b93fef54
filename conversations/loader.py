"""Load and validate check-in definitions, reporting `file:line: what is wrong`.

Everything an author can get wrong is caught here, before any member sees it: unknown keys,
missing texts, a `goto` to nowhere or backwards (which could loop), conditions on later or
unknown steps, choice values that do not exist, templates that do not parse or name unknown
variables. All problems of a file are reported together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from conversations.answers import AnswerType
from conversations.definition import (
    END,
    Branch,
    Checkin,
    Choice,
    Condition,
    ConditionValue,
    HelpDirection,
    HelpRecord,
    MemberField,
    Operator,
    Step,
)
from conversations.parsing.durations import parse_duration
from conversations.rendering import template_problems

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
IN_GROUP = "in_group"
"""A condition key that is not a step: whether the member is in a peer group with others."""
HAS_GROUP = "has_group"
"""A condition key that is not a step: whether the member belongs to a peer group at all."""
MEMBER_CONDITIONS = (IN_GROUP, HAS_GROUP)

TOP_KEYS = {"id", "version", "title", "triggers", "reminders", "expires_after", "steps", "done"}
TRIGGER_KEYS = {"keywords", "schedule"}
STEP_KEYS = {
    "id",
    "say",
    "ask",
    "type",
    "choices",
    "min",
    "max",
    "min_length",
    "max_length",
    "error",
    "optional",
    "retries",
    "next",
    "sets",
    "records",
    "proposes_story",
    "only_if",
}
NUMERIC_TYPES = {AnswerType.INTEGER, AnswerType.NUMBER, AnswerType.MONEY}
SETS_TYPES = {
    MemberField.NAME: {AnswerType.TEXT},
    MemberField.LANGUAGE: {AnswerType.LANGUAGE},
    MemberField.CURRENCY: {AnswerType.CURRENCY},
    MemberField.BUSINESS_TYPE: {AnswerType.CHOICE, AnswerType.TEXT},
    MemberField.CONSENT: {AnswerType.YES_NO},
    MemberField.GROUP: {AnswerType.JOIN_CODE},
}
TEMPLATE_NAMES = frozenset(
    {"member", "answers", "group", "title", "example_amount", "example_date", "default_currency"}
)


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class DefinitionError(Exception):
    """One or more problems in check-in definitions; `str()` lists them one per line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class _Reader:
    """Walks the YAML node tree so every value keeps the line it came from."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self._constructor = SafeConstructor()

    def problem(self, node: Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(Problem(self.path, line, message))

    def value(self, node: Node) -> Any:
        return self._constructor.construct_object(node, deep=True)

    def mapping(self, node: Node, what: str) -> dict[str, tuple[Node, Node]] | None:
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping")
            return None
        result: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = str(self.value(key_node))
            if key in result:
                self.problem(key_node, f"{what}: duplicate key '{key}'")
            result[key] = (key_node, value_node)
        return result

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list")
            return []
        return list(node.value)

    def text(self, node: Node, what: str) -> str | None:
        value = self.value(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, str) or not value.strip():
            self.problem(node, f"{what} must be a non-empty text")
            return None
        return value

    def unknown_keys(
        self, fields: dict[str, tuple[Node, Node]], known: set[str], what: str
    ) -> None:
        for key, (key_node, _) in fields.items():
            if key not in known:
                self.problem(
                    key_node, f"{what}: unknown key '{key}' (known: {', '.join(sorted(known))})"
                )


def parse_checkin(source: str, path: str = "<string>") -> Checkin:
    reader = _Reader(path)
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(error, "problem", None) or str(error)
        raise DefinitionError([Problem(path, line, f"not valid YAML: {problem}")]) from error
    if root is None:
        raise DefinitionError([Problem(path, 1, "the file is empty")])
    checkin = _checkin(reader, root)
    if reader.problems or checkin is None:
        raise DefinitionError(reader.problems)
    return checkin


def parse_checkins(sources: Iterable[tuple[str, str]]) -> dict[str, Checkin]:
    """Parse (path, text) pairs; ids must be unique across files. Every problem is reported."""
    problems: list[Problem] = []
    checkins: dict[str, Checkin] = {}
    for path, source in sources:
        try:
            checkin = parse_checkin(source, path)
        except DefinitionError as error:
            problems.extend(error.problems)
            continue
        if checkin.id in checkins:
            problems.append(
                Problem(path, 1, f"id '{checkin.id}' is also used by {checkins[checkin.id].source}")
            )
        checkins[checkin.id] = checkin
    if problems:
        raise DefinitionError(problems)
    return checkins


def _checkin(reader: _Reader, root: Node) -> Checkin | None:
    fields = reader.mapping(root, "a check-in")
    if fields is None:
        return None
    reader.unknown_keys(fields, TOP_KEYS, "check-in")
    for required in ("id", "version", "title", "steps"):
        if required not in fields:
            reader.problem(root, f"check-in: missing '{required}'")
    checkin_id = _identifier(reader, fields, "id", "check-in id")
    version = reader.value(fields["version"][1]) if "version" in fields else 1
    if "version" in fields and (
        not isinstance(version, int) or isinstance(version, bool) or version < 1
    ):
        reader.problem(fields["version"][1], "version must be a whole number of at least 1")
        version = 1
    title = reader.text(fields["title"][1], "title") if "title" in fields else None
    keywords, schedule = _triggers(reader, fields)
    reminders = _reminders(reader, fields)
    expires_after = (
        _duration(reader, fields["expires_after"][1], "expires_after")
        if "expires_after" in fields
        else None
    )
    if expires_after and reminders and max(reminders) >= expires_after:
        reader.problem(fields["reminders"][1], "every reminder must come before expires_after")
    done = reader.text(fields["done"][1], "done") if "done" in fields else None
    if done:
        _check_template(reader, fields["done"][1], done)
    steps = _steps(reader, fields["steps"][1]) if "steps" in fields else ()
    if checkin_id is None or title is None:
        return None
    return Checkin(
        id=checkin_id,
        version=version,
        title=title,
        source=reader.path,
        steps=steps,
        keywords=keywords,
        schedule=schedule,
        reminders=reminders,
        expires_after=expires_after,
        done=done,
    )


def _identifier(
    reader: _Reader, fields: dict[str, tuple[Node, Node]], key: str, what: str
) -> str | None:
    if key not in fields:
        return None
    node = fields[key][1]
    value = reader.value(node)
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        reader.problem(
            node, f"{what} must be lowercase letters, digits and _, starting with a letter"
        )
        return None
    return value


def _triggers(
    reader: _Reader, fields: dict[str, tuple[Node, Node]]
) -> tuple[tuple[str, ...], str | None]:
    if "triggers" not in fields:
        return (), None
    triggers = reader.mapping(fields["triggers"][1], "triggers")
    if triggers is None:
        return (), None
    reader.unknown_keys(triggers, TRIGGER_KEYS, "triggers")
    keywords: list[str] = []
    if "keywords" in triggers:
        for node in reader.sequence(triggers["keywords"][1], "triggers.keywords"):
            word = reader.text(node, "a keyword")
            if word and (" " in word.strip() or "|" in word):
                reader.problem(node, "a keyword must be one word")
            elif word:
                keywords.append(word.strip().lower())
    schedule = None
    if "schedule" in triggers:
        node = triggers["schedule"][1]
        schedule = reader.text(node, "triggers.schedule")
        if schedule and schedule != "group":
            reader.problem(
                node,
                "schedule must be 'group': invitations follow each group's own schedule "
                "(mutuality groups schedule GROUP --checkin CRON)",
            )
    return tuple(keywords), schedule


def _duration(reader: _Reader, node: Node, what: str) -> timedelta | None:
    value = reader.value(node)
    duration = parse_duration(value) if isinstance(value, str) else None
    if duration is None:
        reader.problem(node, f"{what} must be a duration like 30m, 24h or 7d")
    return duration


def _reminders(reader: _Reader, fields: dict[str, tuple[Node, Node]]) -> tuple[timedelta, ...]:
    if "reminders" not in fields:
        return ()
    found = [
        _duration(reader, node, "a reminder")
        for node in reader.sequence(fields["reminders"][1], "reminders")
    ]
    reminders = tuple(d for d in found if d is not None)
    if list(reminders) != sorted(reminders):
        reader.problem(fields["reminders"][1], "reminders must be in increasing order")
    return reminders


def _check_template(reader: _Reader, node: Node, text: str) -> None:
    for message in template_problems(text, TEMPLATE_NAMES):
        reader.problem(node, message)


@dataclass
class _RawStep:
    """A step as read, with the nodes needed to report problems found once all steps are known."""

    step: Step
    node: Node
    fields: dict[str, tuple[Node, Node]]
    next_raw: list[tuple[Node, str, list[tuple[Node, str, Operator, Any]]]]
    only_if_raw: list[tuple[Node, str, Operator, Any]]


def _steps(reader: _Reader, node: Node) -> tuple[Step, ...]:
    raws: list[_RawStep] = []
    seen: dict[str, Node] = {}
    nodes = reader.sequence(node, "steps")
    if not nodes and isinstance(node, SequenceNode):
        reader.problem(node, "steps must not be empty")
    for step_node in nodes:
        raw = _step(reader, step_node)
        if raw is None:
            continue
        if raw.step.id in seen:
            reader.problem(step_node, f"step id '{raw.step.id}' is used twice")
            continue
        if raw.step.id in (END, *MEMBER_CONDITIONS):
            reader.problem(step_node, f"'{raw.step.id}' is reserved and cannot be a step id")
            continue
        seen[raw.step.id] = step_node
        raws.append(raw)
    order = {raw.step.id: i for i, raw in enumerate(raws)}
    by_id = {raw.step.id: raw.step for raw in raws}
    steps: list[Step] = []
    for i, raw in enumerate(raws):
        branches = []
        for goto_node, goto, conditions in raw.next_raw:
            if goto != END and goto not in order:
                reader.problem(goto_node, f"goto '{goto}': no such step")
            elif goto != END and order[goto] <= i:
                reader.problem(
                    goto_node, f"goto '{goto}' goes backwards; steps may only jump forward"
                )
            # a branch may test the step's own answer; only_if is decided before it is asked
            branches.append(
                Branch(goto=goto, when=_conditions(reader, conditions, i + 1, order, by_id))
            )
        only_if = _conditions(reader, raw.only_if_raw, i, order, by_id)
        _check_references(reader, raw, i, order, by_id)
        steps.append(_replace_step(raw.step, tuple(branches), only_if))
    return tuple(steps)


def _replace_step(step: Step, branches: tuple[Branch, ...], only_if: tuple[Condition, ...]) -> Step:
    return replace(step, next=branches, only_if=only_if)


def _check_references(
    reader: _Reader, raw: _RawStep, index: int, order: dict[str, int], by_id: dict[str, Step]
) -> None:
    step = raw.step
    if step.records is not None:
        node = raw.fields["records"][1]
        target = by_id.get(step.records.member_step)
        if target is None or order[step.records.member_step] >= index:
            reader.problem(
                node, f"records.member '{step.records.member_step}' must name an earlier step"
            )
        elif target.type is not AnswerType.MEMBER:
            reader.problem(
                node, f"records.member '{step.records.member_step}' must be a member question"
            )
    if step.proposes_story is not None:
        node = raw.fields["proposes_story"][1]
        target = by_id.get(step.proposes_story)
        if target is None or order[step.proposes_story] >= index:
            reader.problem(
                node, f"proposes_story '{step.proposes_story}' must name an earlier step"
            )
        elif target.type is not AnswerType.TEXT:
            reader.problem(node, "proposes_story must name a text question")
        if step.type is not AnswerType.YES_NO:
            reader.problem(
                node, "proposes_story belongs on a yes/no question (the member's consent)"
            )


def _conditions(
    reader: _Reader,
    raw: list[tuple[Node, str, Operator, Any]],
    before: int,
    order: dict[str, int],
    by_id: dict[str, Step],
) -> tuple[Condition, ...]:
    """Conditions may only read steps at positions below `before`."""
    conditions = []
    for node, step_id, op, value in raw:
        if step_id in MEMBER_CONDITIONS:
            if op is not Operator.EQ or not isinstance(value, bool):
                reader.problem(node, f"{step_id} takes true or false")
                continue
            conditions.append(Condition(step_id, op, value))
            continue
        target = by_id.get(step_id)
        if target is None:
            reader.problem(node, f"condition on '{step_id}': no such step")
            continue
        if order[step_id] >= before:
            reader.problem(node, f"condition on '{step_id}': it must be an earlier step")
            continue
        if not target.is_question:
            reader.problem(node, f"condition on '{step_id}': that step asks nothing")
            continue
        checked = _condition_value(reader, node, target, op, value)
        if checked is not None:
            conditions.append(Condition(step_id, op, checked))
    return tuple(conditions)


def _condition_value(
    reader: _Reader, node: Node, target: Step, op: Operator, value: Any
) -> ConditionValue | None:
    if op in (Operator.ANSWERED, Operator.SKIPPED):
        if not isinstance(value, bool):
            reader.problem(node, f"{op.value} takes true or false")
            return None
        return value
    values = value if op is Operator.IN else [value]
    if op is Operator.IN and not isinstance(value, list):
        reader.problem(node, "'in' takes a list")
        return None
    checked: list[str | bool | int | Decimal] = []
    for item in values:
        if target.type is AnswerType.YES_NO:
            if not isinstance(item, bool) or op not in (Operator.EQ, Operator.NE):
                reader.problem(node, f"'{target.id}' is yes/no: compare it to true or false")
                return None
            checked.append(item)
        elif target.type in (AnswerType.CHOICE, AnswerType.MULTI_CHOICE):
            ids = {choice.id for choice in target.choices}
            if str(item) not in ids:
                reader.problem(
                    node, f"'{item}' is not a choice of '{target.id}' ({', '.join(sorted(ids))})"
                )
                return None
            checked.append(str(item))
        elif target.type in NUMERIC_TYPES:
            number = _decimal(item)
            if number is None:
                reader.problem(node, f"'{target.id}' is a number: compare it to a number")
                return None
            checked.append(number)
        else:
            reader.problem(
                node, f"conditions on {target.type} answers can only use answered or skipped"
            )
            return None
    if op is Operator.CONTAINS and target.type is not AnswerType.MULTI_CHOICE:
        reader.problem(node, "contains works on multiple-choice answers")
        return None
    return tuple(checked) if op is Operator.IN else checked[0]


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    return None


def _raw_conditions(
    reader: _Reader, node: Node, what: str
) -> list[tuple[Node, str, Operator, Any]]:
    fields = reader.mapping(node, what)
    if fields is None:
        return []
    found = []
    for key, (key_node, value_node) in fields.items():
        if isinstance(value_node, MappingNode):
            ops = reader.mapping(value_node, f"{what} '{key}'") or {}
            for op_name, (op_node, op_value) in ops.items():
                try:
                    op = Operator(op_name)
                except ValueError:
                    reader.problem(
                        op_node,
                        f"unknown operator '{op_name}' (known: {', '.join(Operator)})",
                    )
                    continue
                found.append((op_node, key, op, reader.value(op_value)))
        else:
            found.append((key_node, key, Operator.EQ, reader.value(value_node)))
    return found


def _step(reader: _Reader, node: Node) -> _RawStep | None:
    fields = reader.mapping(node, "a step")
    if fields is None:
        return None
    reader.unknown_keys(fields, STEP_KEYS, "step")
    step_id = _identifier(reader, fields, "id", "step id")
    if "id" not in fields:
        reader.problem(node, "step: missing 'id'")
    if step_id is None:
        return None
    texts: dict[str, str | None] = {}
    for key in ("say", "ask", "error"):
        if key in fields:
            texts[key] = reader.text(fields[key][1], f"{step_id}.{key}")
            if texts[key]:
                _check_template(reader, fields[key][1], texts[key] or "")
    say, ask = texts.get("say"), texts.get("ask")
    if "say" in fields and "ask" in fields:
        reader.problem(node, f"step '{step_id}': use either say or ask, not both")
    if "say" not in fields and "ask" not in fields:
        reader.problem(node, f"step '{step_id}': needs 'say' (a message) or 'ask' (a question)")
    answer_type = _answer_type(reader, fields, step_id, asks="ask" in fields)
    choices = _choices(reader, fields, step_id, answer_type)
    bounds = {key: _bound(reader, fields, key, step_id) for key in ("min", "max")}
    lengths = {key: _length(reader, fields, key) for key in ("min_length", "max_length")}
    _check_bounds(reader, fields, step_id, answer_type, bounds, lengths)
    optional = _flag(reader, fields, "optional")
    retries = reader.value(fields["retries"][1]) if "retries" in fields else 3
    if not isinstance(retries, int) or isinstance(retries, bool) or not 1 <= retries <= 10:
        reader.problem(fields["retries"][1], "retries must be a whole number from 1 to 10")
        retries = 3
    sets = _sets(reader, fields, answer_type)
    records = _records(reader, fields, answer_type)
    proposes_story = None
    if "proposes_story" in fields:
        value = reader.value(fields["proposes_story"][1])
        proposes_story = value if isinstance(value, str) else None
        if proposes_story is None:
            reader.problem(fields["proposes_story"][1], "proposes_story names a step")
    if "ask" not in fields:
        for key in ("type", "choices", "optional", "error", "sets", "records", "proposes_story"):
            if key in fields:
                reader.problem(fields[key][0], f"'{key}' only makes sense on a question ('ask')")
    step = Step(
        id=step_id,
        line=node.start_mark.line + 1,
        say=say,
        ask=ask,
        type=answer_type if ask else None,
        choices=choices,
        min=bounds["min"],
        max=bounds["max"],
        min_length=lengths["min_length"],
        max_length=lengths["max_length"],
        error=texts.get("error"),
        optional=optional,
        retries=retries,
        sets=sets,
        records=records,
        proposes_story=proposes_story,
    )
    return _RawStep(
        step=step,
        node=node,
        fields=fields,
        next_raw=_next(reader, fields),
        only_if_raw=_raw_conditions(reader, fields["only_if"][1], "only_if")
        if "only_if" in fields
        else [],
    )


def _answer_type(
    reader: _Reader, fields: dict[str, tuple[Node, Node]], step_id: str, asks: bool
) -> AnswerType | None:
    if "type" not in fields:
        if asks:
            reader.problem(fields["ask"][1], f"question '{step_id}' needs a 'type'")
        return None
    node = fields["type"][1]
    try:
        return AnswerType(reader.value(node))
    except ValueError:
        reader.problem(
            node,
            f"unknown type '{reader.value(node)}' (known: {', '.join(AnswerType)})",
        )
        return None


def _choices(
    reader: _Reader,
    fields: dict[str, tuple[Node, Node]],
    step_id: str,
    answer_type: AnswerType | None,
) -> tuple[Choice, ...]:
    needs = answer_type in (AnswerType.CHOICE, AnswerType.MULTI_CHOICE)
    if "choices" not in fields:
        if needs:
            reader.problem(
                fields["type"][1], f"question '{step_id}' of type {answer_type} needs 'choices'"
            )
        return ()
    node = fields["choices"][1]
    if not needs:
        reader.problem(node, "choices only make sense on choice and multi_choice questions")
        return ()
    choices: list[Choice] = []
    for item in reader.sequence(node, "choices"):
        entry = reader.mapping(item, "a choice")
        if entry is None:
            continue
        reader.unknown_keys(entry, {"id", "label"}, "choice")
        choice_id = _identifier(reader, entry, "id", "choice id")
        label = reader.text(entry["label"][1], "choice label") if "label" in entry else None
        if "id" not in entry or "label" not in entry:
            reader.problem(item, "a choice needs an id and a label")
        if choice_id and label:
            if any(choice.id == choice_id for choice in choices):
                reader.problem(item, f"choice id '{choice_id}' is used twice")
            choices.append(Choice(choice_id, label))
    if len(choices) < 2 and isinstance(node, SequenceNode):
        reader.problem(node, "a choice question needs at least two choices")
    return tuple(choices)


def _bound(
    reader: _Reader, fields: dict[str, tuple[Node, Node]], key: str, step_id: str
) -> Decimal | None:
    if key not in fields:
        return None
    value = _decimal(reader.value(fields[key][1]))
    if value is None:
        reader.problem(fields[key][1], f"{step_id}.{key} must be a number")
    return value


def _length(reader: _Reader, fields: dict[str, tuple[Node, Node]], key: str) -> int | None:
    if key not in fields:
        return None
    value = reader.value(fields[key][1])
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        reader.problem(fields[key][1], f"{key} must be a whole number of 0 or more")
        return None
    return value


def _check_bounds(
    reader: _Reader,
    fields: dict[str, tuple[Node, Node]],
    step_id: str,
    answer_type: AnswerType | None,
    bounds: dict[str, Decimal | None],
    lengths: dict[str, int | None],
) -> None:
    for key in ("min", "max"):
        if key in fields and answer_type not in NUMERIC_TYPES:
            reader.problem(
                fields[key][0], f"'{key}' only applies to integer, number and money questions"
            )
    for key in ("min_length", "max_length"):
        if key in fields and answer_type is not AnswerType.TEXT:
            reader.problem(fields[key][0], f"'{key}' only applies to text questions")
    low, high = bounds["min"], bounds["max"]
    if low is not None and high is not None and low > high:
        reader.problem(fields["min"][1], f"{step_id}: min is larger than max")
    short, long = lengths["min_length"], lengths["max_length"]
    if short is not None and long is not None and short > long:
        reader.problem(fields["min_length"][1], f"{step_id}: min_length is larger than max_length")


def _flag(reader: _Reader, fields: dict[str, tuple[Node, Node]], key: str) -> bool:
    if key not in fields:
        return False
    value = reader.value(fields[key][1])
    if not isinstance(value, bool):
        reader.problem(fields[key][1], f"{key} must be true or false")
        return False
    return value


def _sets(
    reader: _Reader, fields: dict[str, tuple[Node, Node]], answer_type: AnswerType | None
) -> MemberField | None:
    if "sets" not in fields:
        return None
    node = fields["sets"][1]
    try:
        member_field = MemberField(reader.value(node))
    except ValueError:
        reader.problem(
            node, f"sets: unknown member field (known: {', '.join(f.value for f in MemberField)})"
        )
        return None
    if answer_type is not None and answer_type not in SETS_TYPES[member_field]:
        allowed = ", ".join(sorted(t.value for t in SETS_TYPES[member_field]))
        reader.problem(node, f"sets {member_field.value} needs a question of type {allowed}")
    return member_field


def _records(
    reader: _Reader, fields: dict[str, tuple[Node, Node]], answer_type: AnswerType | None
) -> HelpRecord | None:
    if "records" not in fields:
        return None
    node = fields["records"][1]
    entry = reader.mapping(node, "records")
    if entry is None:
        return None
    reader.unknown_keys(entry, {"help", "member"}, "records")
    if "help" not in entry or "member" not in entry:
        reader.problem(
            node, "records needs 'help' (given or received) and 'member' (the step naming who)"
        )
        return None
    try:
        direction = HelpDirection(reader.value(entry["help"][1]))
    except ValueError:
        reader.problem(entry["help"][1], "records.help must be 'given' or 'received'")
        return None
    if answer_type not in (AnswerType.CHOICE, AnswerType.TEXT):
        reader.problem(node, "records belongs on a choice or text question describing the help")
    return HelpRecord(direction, str(reader.value(entry["member"][1])))


def _next(
    reader: _Reader, fields: dict[str, tuple[Node, Node]]
) -> list[tuple[Node, str, list[tuple[Node, str, Operator, Any]]]]:
    if "next" not in fields:
        return []
    node = fields["next"][1]
    if isinstance(node, ScalarNode):
        return [(node, str(reader.value(node)), [])]
    found = []
    for item in reader.sequence(node, "next"):
        entry = reader.mapping(item, "a branch")
        if entry is None:
            continue
        reader.unknown_keys(entry, {"when", "goto"}, "branch")
        if "goto" not in entry:
            reader.problem(item, "a branch needs 'goto'")
            continue
        goto_node = entry["goto"][1]
        conditions = _raw_conditions(reader, entry["when"][1], "when") if "when" in entry else []
        found.append((goto_node, str(reader.value(goto_node)), conditions))
    return found
