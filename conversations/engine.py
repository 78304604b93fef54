"""The engine: `(library, session, input, context) -> Turn`, pure and deterministic.

`handle` decides what an input means for the member (a global command, a keyword that starts a
check-in, an answer to the current question, a first message that begins onboarding) and the
step machinery walks the check-in: it validates the answer, records it, follows branches, says
the next thing. It never raises on member input: anything it cannot understand becomes a kind
error message and, after a step's retry limit, a recorded skip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from conversations import messages
from conversations.answers import AnswerType, AnswerValue, GroupRef, MemberRef, Money
from conversations.context import Context
from conversations.definition import END, Checkin, Choice, Condition, MemberField, Operator, Step
from conversations.events import (
    AnswerRecorded,
    Event,
    HelpRecorded,
    MemberFieldSet,
    Say,
    SessionEnded,
    SessionStarted,
    StoryProposed,
    Turn,
)
from conversations.i18n import Catalogs
from conversations.inputs import CommandInput, Expire, Input, Open, Remind, Reply, Start
from conversations.parsing import (
    ambiguous_number,
    find_join_code,
    match_choice,
    match_choices,
    match_member,
    parse_currency,
    parse_date,
    parse_integer,
    parse_money,
    parse_number,
    parse_yes_no,
    pick_candidate,
)
from conversations.session import SessionState, SessionStatus
from conversations.words import Command

ONBOARDING = "onboarding"
LANGUAGE = "language"
DEFAULT_MAX_TEXT = 1000
MAX_STEPS_PER_TURN = 200
YES_NO_CHOICES = (Choice("yes", messages.YES), Choice("no", messages.NO))


@dataclass(frozen=True)
class CheckinLibrary:
    """The loaded check-ins by id; `onboarding` and `language` must be among them."""

    checkins: Mapping[str, Checkin]

    def __post_init__(self) -> None:
        missing = {ONBOARDING, LANGUAGE} - set(self.checkins)
        if missing:
            raise ValueError(f"the check-in library needs: {', '.join(sorted(missing))}")

    def get(self, checkin_id: str) -> Checkin | None:
        return self.checkins.get(checkin_id)

    def keywords(self) -> dict[str, tuple[str, ...]]:
        return {cid: checkin.keywords for cid, checkin in self.checkins.items() if checkin.keywords}


class _Run:
    """The working state of one turn: events so far, the locale messages go out in."""

    def __init__(self, library: CheckinLibrary, context: Context) -> None:
        self.library = library
        self.context = context
        self.events: list[Event] = []
        self.locale = context.member.locale
        self.member_fields: dict[str, Any] = {}

    # --- saying things -----------------------------------------------------------------------

    def params(self, session: SessionState | None, **extra: Any) -> dict[str, Any]:
        member = self.context.member
        name = self.member_fields.get(MemberField.NAME.value, member.name) or ""
        currency = self.member_fields.get(MemberField.CURRENCY.value) or member.money_currency
        group = self.member_fields.get(MemberField.GROUP.value) or member.group
        checkin = self.library.get(session.checkin_id) if session else None
        params: dict[str, Any] = {
            "member": {"name": name, "currency": currency},
            "group": {"name": group.name if isinstance(group, GroupRef) else ""},
            "answers": dict(session.answers) if session else {},
            "title": self.context.catalogs.gettext(self.locale, checkin.title) if checkin else "",
            "example_amount": Money(Decimal(1500), currency),
            "example_date": self.context.now.date() - timedelta(days=1),
            "default_currency": member.default_currency,
        }
        params.update(extra)
        return params

    def say(
        self,
        key: str,
        session: SessionState | None,
        choices: tuple[Choice, ...] = (),
        step_id: str | None = None,
        one_tap: bool = False,
        **extra: Any,
    ) -> None:
        params = self.params(session, **extra)
        self.events.append(Say(key, self.locale, params, choices, step_id, one_tap))

    def set_field(self, name: str, value: Any) -> None:
        self.member_fields[name] = value
        self.events.append(MemberFieldSet(name, value))
        if name == MemberField.LANGUAGE.value:
            self.locale = str(value)

    def turn(self, session: SessionState | None) -> Turn:
        return Turn(session if session is None or session.active else None, tuple(self.events))

    @property
    def has_group(self) -> bool:
        return bool(self.member_fields.get(MemberField.GROUP.value) or self.context.member.group)

    @property
    def in_group(self) -> bool:
        """In a peer group that has someone else in it: someone to help, or be helped by."""
        return self.has_group and any(
            ref.member_id != self.context.member.id for ref in self.context.group_members
        )

    @property
    def onboarded(self) -> bool:
        return bool(self.member_fields.get("onboarded", self.context.member.onboarded))

    @property
    def consented(self) -> bool:
        return bool(self.member_fields.get(MemberField.CONSENT.value, self.context.member.consent))


def handle(
    library: CheckinLibrary, session: SessionState | None, item: Input, context: Context
) -> Turn:
    """Apply one input to a member's conversation."""
    run = _Run(library, context)
    if session is not None and (not session.active or library.get(session.checkin_id) is None):
        session = None
    match item:
        case Reply():
            session = _reply(run, session, item)
        case CommandInput():
            session = _command(run, session, item.command, item.argument)
        case Open():
            session = _open(run, session)
        case Start():
            if _may_start(run, session, item):
                session = _start(run, item.checkin_id, item.step)
        case Remind():
            if session is not None:
                session = replace(session, reminders_sent=session.reminders_sent + 1)
                if not item.silent and _may_nudge(context):
                    run.say(messages.REMINDER, session)
                    session = _ask_again(run, session)
        case Expire():
            if session is not None:
                session = _end(run, session, SessionStatus.EXPIRED)
                if not item.silent and _may_nudge(context):
                    run.say(messages.EXPIRED, session)
    return run.turn(session)


def _may_nudge(context: Context) -> bool:
    """A proactive line (reminder, expiry, invitation) needs recorded consent and no STOP."""
    return context.member.consent is True and not context.member.opted_out


def _may_start(run: _Run, session: SessionState | None, item: Start) -> bool:
    """Whether a scheduled start may begin: nothing running, a known check-in, and consent,
    except for onboarding of a member never asked (that is how consent is asked)."""
    member = run.context.member
    if member.opted_out or session is not None or run.library.get(item.checkin_id) is None:
        return False
    if item.checkin_id == ONBOARDING:
        return member.consent is None and not run.onboarded
    return _may_nudge(run.context)


def _reply(run: _Run, session: SessionState | None, reply: Reply) -> SessionState | None:
    lexicon = run.context.lexicon
    text = reply.text or ""
    command = lexicon.command(text) if text and reply.choice is None else None
    if command is not None:
        return _command(run, session, command, "")
    if run.context.member.opted_out:
        run.say(messages.STILL_STOPPED, session)
        return session
    keyword = lexicon.keyword(text) if text and reply.choice is None else None
    if keyword is not None and run.library.get(keyword) is not None:
        if session is not None and session.checkin_id in (ONBOARDING, LANGUAGE):
            if session.checkin_id == ONBOARDING:
                run.say(messages.FINISH_SETUP_FIRST, session)
            return _ask_again(run, session)
        if not run.onboarded:
            run.say(messages.FINISH_SETUP_FIRST, None)
            return _start(run, ONBOARDING)
        if session is not None and session.checkin_id == keyword:
            run.say(messages.ALREADY_IN, session)
            return _ask_again(run, session)
        if session is not None:
            _end(run, session, SessionStatus.REPLACED)
        return _start(run, keyword)
    if session is not None:
        return _answer(run, session, reply)
    if not run.onboarded:
        return _start(run, ONBOARDING)
    run.say(messages.IDLE, None)
    return None


def _open(run: _Run, session: SessionState | None) -> SessionState | None:
    if run.context.member.opted_out:
        run.say(messages.STILL_STOPPED, session)
        return session
    if session is not None:
        return _ask_again(run, session)
    if not run.onboarded:
        return _start(run, ONBOARDING)
    run.say(messages.IDLE, None)
    return None


def _command(
    run: _Run, session: SessionState | None, command: Command, argument: str
) -> SessionState | None:
    member = run.context.member
    if member.opted_out and command is not Command.START:
        run.say(messages.STILL_STOPPED, session)
        return session
    match command:
        case Command.STOP:
            run.set_field("opted_out", True)
            if session is not None:
                session = _end(run, session, SessionStatus.STOPPED)
            run.say(messages.STOPPED, None)
            return None
        case Command.START:
            if member.opted_out:
                run.set_field("opted_out", False)
                if run.onboarded:
                    run.say(messages.WELCOME_BACK, session)
            if session is not None:
                return _ask_again(run, session)
            if not run.onboarded:
                return _start(run, ONBOARDING)
            run.say(messages.IDLE, None)
            return None
        case Command.HELP:
            run.say(messages.HELP, session)
            return _ask_again(run, session) if session is not None else None
        case Command.LANGUAGE:
            if session is None:
                return _start(run, LANGUAGE)
            if session.checkin_id in (LANGUAGE, ONBOARDING):
                return _ask_again(run, session)
            session = replace(session, interjection=LANGUAGE, attempts=0)
            return _ask_again(run, session)
        case Command.RESTART:
            if session is None:
                run.say(messages.NOTHING_TO_RESTART, None)
                if run.onboarded:
                    run.say(messages.IDLE, None)
                    return None
                return _start(run, ONBOARDING)
            _end(run, session, SessionStatus.RESTARTED)
            return _start(run, session.checkin_id)
        case Command.SKIP:
            if session is None:
                run.say(messages.NOTHING_TO_SKIP, None)
                if not run.onboarded:
                    return _start(run, ONBOARDING)
                run.say(messages.IDLE, None)
                return None
            return _skip(run, session)
        case Command.MYDATA | Command.DELETE:
            # they read and erase what is stored: answered before the engine runs
            # (bot.turns.data_rights), they leave the conversation where it is
            return session
    return session


# --- the step machinery ------------------------------------------------------------------------


def _definition(run: _Run, session: SessionState) -> Checkin:
    checkin = run.library.get(session.checkin_id)
    assert checkin is not None  # handle() drops sessions whose check-in is unknown
    return checkin


def _start(run: _Run, checkin_id: str, step: str | None = None) -> SessionState | None:
    checkin = run.library.get(checkin_id)
    if checkin is None:
        return None
    first = step if step is not None and checkin.has_step(step) else checkin.steps[0].id
    session = SessionState(
        checkin_id=checkin.id,
        version=checkin.version,
        step_id=first,
        started_at=run.context.now,
    )
    run.events.append(SessionStarted(checkin.id, checkin.version))
    return _enter(run, session, first)


def _end(run: _Run, session: SessionState, status: SessionStatus) -> SessionState:
    ended = replace(session, status=status, step_id=END, interjection=None)
    run.events.append(SessionEnded(session.checkin_id, status))
    return ended


def _enter(run: _Run, session: SessionState, step_id: str) -> SessionState | None:
    """Walk from `step_id` through statements and skipped steps to the next question or the end."""
    checkin = _definition(run, session)
    for _ in range(MAX_STEPS_PER_TURN):
        if step_id == END:
            return _complete(run, session, checkin)
        step = checkin.step(step_id)
        if step.only_if and not _holds(run, session, step.only_if):
            step_id = checkin.following(step.id)
            continue
        if step.say is not None:
            run.say(step.say, session)
            step_id = _next_step(run, checkin, session, step)
            continue
        if step.type is AnswerType.MEMBER and not _candidates(run):
            run.say(messages.NO_GROUP_FOR_MEMBER, session)
            session = _record(run, session, step, None, "", skipped=True)
            step_id = _next_step(run, checkin, session, step)
            continue
        session = replace(session, step_id=step.id, attempts=0, pending=())
        _ask(run, session, step)
        return session
    raise RuntimeError(f"{checkin.source}: more than {MAX_STEPS_PER_TURN} steps in one turn")


def _complete(run: _Run, session: SessionState, checkin: Checkin) -> SessionState | None:
    if checkin.id == ONBOARDING and run.consented and not run.onboarded:
        run.set_field("onboarded", True)
    if checkin.done:
        run.say(checkin.done, session)
    return _end(run, session, SessionStatus.COMPLETED)


def _ask(run: _Run, session: SessionState, step: Step) -> None:
    assert step.ask is not None
    tap = answered_by_one_tap(step)
    run.say(step.ask, session, _choices_for(run, step), step_id=step.id, one_tap=tap)


def _question_id(run: _Run, session: SessionState) -> str:
    """The id of the question the member is answering now (an interjection's, if one runs)."""
    if session.interjection is not None:
        return _interjection_step(run, session.interjection).id
    return session.step_id


def _ask_again(run: _Run, session: SessionState) -> SessionState:
    if session.interjection is not None:
        _ask(run, session, _interjection_step(run, session.interjection))
        return session
    step = _definition(run, session).step(session.step_id)
    if session.pending:
        run.say(messages.MEMBER_PICK, session, _pending_choices(session), step_id=session.step_id)
    else:
        _ask(run, session, step)
    return session


def _choices_for(run: _Run, step: Step) -> tuple[Choice, ...]:
    return step_choices(step, run.context.catalogs)


def step_choices(step: Step, catalogs: Catalogs) -> tuple[Choice, ...]:
    """The choices a step offers, the same for every member (labels are catalog ids)."""
    match step.type:
        case AnswerType.CHOICE | AnswerType.MULTI_CHOICE:
            return step.choices
        case AnswerType.YES_NO:
            return YES_NO_CHOICES
        case AnswerType.LANGUAGE:
            return tuple(Choice(lang.code, lang.native_name) for lang in catalogs.languages)
    return ()


def answered_by_one_tap(step: Step) -> bool:
    """Whether one tap answers the step: one choice from a list the definition fixes, the
    same for every member (a channel may then show it as buttons made once, not per member)."""
    return step.type in (AnswerType.CHOICE, AnswerType.YES_NO, AnswerType.LANGUAGE)


def _pending_choices(session: SessionState) -> tuple[Choice, ...]:
    return tuple(Choice(str(ref.member_id), ref.name) for ref in session.pending)


def _candidates(run: _Run) -> tuple[MemberRef, ...]:
    own = run.context.member.id
    return tuple(ref for ref in run.context.group_members if ref.member_id != own)


def _next_step(run: _Run, checkin: Checkin, session: SessionState, step: Step) -> str:
    for branch in step.next:
        if _holds(run, session, branch.when):
            return branch.goto
    return checkin.following(step.id)


def _holds(run: _Run, session: SessionState, conditions: tuple[Condition, ...]) -> bool:
    return all(_condition(run, session, condition) for condition in conditions)


def _condition(run: _Run, session: SessionState, condition: Condition) -> bool:
    if condition.step == "in_group":
        return run.in_group is condition.value
    if condition.step == "has_group":
        return run.has_group is condition.value
    answered = condition.step in session.answers
    value = session.answers.get(condition.step)
    match condition.op:
        case Operator.ANSWERED:
            return (answered and value is not None) is condition.value
        case Operator.SKIPPED:
            return (answered and value is None) is condition.value
    if value is None:
        return False
    comparable: Any = value.amount if isinstance(value, Money) else value
    target = condition.value
    try:
        match condition.op:
            case Operator.EQ:
                return bool(comparable == target)
            case Operator.NE:
                return bool(comparable != target)
            case Operator.LT:
                return bool(comparable < target)
            case Operator.LTE:
                return bool(comparable <= target)
            case Operator.GT:
                return bool(comparable > target)
            case Operator.GTE:
                return bool(comparable >= target)
            case Operator.IN:
                return comparable in target if isinstance(target, tuple) else False
            case Operator.CONTAINS:
                return isinstance(comparable, tuple) and target in comparable
    except TypeError:
        return False
    return False


def _skip(run: _Run, session: SessionState) -> SessionState | None:
    step = _definition(run, session).step(session.step_id)
    if not step.optional:
        run.say(messages.CANT_SKIP, session)
        return _ask_again(run, session)
    run.say(messages.SKIPPED, session)
    return _accept(run, session, step, None, "", skipped=True)


def _record(
    run: _Run, session: SessionState, step: Step, value: AnswerValue | None, raw: str, skipped: bool
) -> SessionState:
    assert step.type is not None
    currency = value.currency if isinstance(value, Money) else None
    run.events.append(
        AnswerRecorded(
            session.checkin_id, step.id, step.type, value, raw, skipped=skipped, currency=currency
        )
    )
    return session.with_answer(step.id, value)


def _accept(
    run: _Run,
    session: SessionState,
    step: Step,
    value: AnswerValue | None,
    raw: str,
    skipped: bool = False,
) -> SessionState | None:
    session = _record(run, session, step, value, raw, skipped)
    if value is not None:
        _side_effects(run, session, step, value)
    checkin = _definition(run, session)
    return _enter(run, session, _next_step(run, checkin, session, step))


def _side_effects(run: _Run, session: SessionState, step: Step, value: AnswerValue) -> None:
    if step.sets is not None:
        stored: Any = value
        if step.sets is MemberField.GROUP and isinstance(value, GroupRef):
            run.set_field(step.sets.value, value)
            run.say(messages.JOINED_GROUP, session)
            return
        run.set_field(step.sets.value, stored)
    if step.records is not None:
        other = session.answers.get(step.records.member_step)
        if isinstance(other, MemberRef):
            kind = value if isinstance(value, str) else "other"
            if step.type is AnswerType.TEXT:
                kind = "other"
            run.events.append(HelpRecorded(step.records.direction, other, kind, step.id))
    if step.proposes_story is not None and value is True:
        story = session.answers.get(step.proposes_story)
        if isinstance(story, str) and story.strip():
            run.events.append(StoryProposed(story, step.id))


# --- answers -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Invalid:
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()


def _interjection_step(run: _Run, checkin_id: str) -> Step:
    checkin = run.library.get(checkin_id)
    assert checkin is not None
    return next(step for step in checkin.steps if step.is_question)


def _answer_interjection(run: _Run, session: SessionState, reply: Reply) -> SessionState:
    """A one-question check-in asked in the middle of another (changing language mid-way)."""
    assert session.interjection is not None
    checkin = run.library.get(session.interjection)
    assert checkin is not None
    step = _interjection_step(run, session.interjection)
    result = _parse(run, session, step, reply)
    if isinstance(result, _Invalid) and result.key == _GREETED:
        _ask(run, session, step)
        return session
    if isinstance(result, _Invalid):
        attempts = session.attempts + 1
        if attempts < step.retries:
            run.say(
                step.error or result.key,
                session,
                _choices_for(run, step),
                step_id=step.id,
                one_tap=answered_by_one_tap(step),
                **result.params,
            )
            return replace(session, attempts=attempts)
        run.say(messages.GIVING_UP, session)
    else:
        _side_effects(run, session, step, result)
        if checkin.done:
            run.say(checkin.done, session)
    return _ask_again(run, replace(session, interjection=None, attempts=0))


def _answer(run: _Run, session: SessionState, reply: Reply) -> SessionState | None:
    if reply.choice_step is not None and reply.choice_step != _question_id(run, session):
        run.say(messages.STALE_BUTTON, session)
        return _ask_again(run, session)
    if session.interjection is not None:
        return _answer_interjection(run, session, reply)
    step = _definition(run, session).step(session.step_id)
    if session.pending:
        return _answer_pending(run, session, step, reply)
    result = _parse(run, session, step, reply)
    if isinstance(result, _Invalid):
        return _reject(run, session, step, result)
    if isinstance(result, tuple) and step.type is AnswerType.MEMBER:
        # several members match: ask which one, keeping the attempt count
        pending = tuple(ref for ref in result if isinstance(ref, MemberRef))
        session = replace(session, pending=pending)
        run.say(
            messages.MEMBER_AMBIGUOUS,
            session,
            _pending_choices(session),
            step_id=step.id,
            text=reply.text.strip()[:60],
        )
        return session
    return _accept(run, session, step, result, reply.text)


def _answer_pending(
    run: _Run, session: SessionState, step: Step, reply: Reply
) -> SessionState | None:
    picked = None
    if reply.choice is not None:
        picked = next((ref for ref in session.pending if str(ref.member_id) == reply.choice), None)
    if picked is None:
        picked = pick_candidate(reply.text, session.pending)
    if picked is not None:
        return _accept(run, session, step, picked, reply.text)
    # maybe they typed another name altogether
    fresh = _parse(run, replace(session, pending=()), step, reply)
    if isinstance(fresh, MemberRef):
        return _accept(run, replace(session, pending=()), step, fresh, reply.text)
    return _reject(
        run, session, step, _Invalid(messages.MEMBER_PICK, choices=_pending_choices(session))
    )


_NOT_AN_ATTEMPT = frozenset({messages.EMPTY, messages.MEDIA_NOT_EXPECTED})
_GREETED = "greeted"


def _reject(run: _Run, session: SessionState, step: Step, invalid: _Invalid) -> SessionState | None:
    """Explain what went wrong; after the step's retry limit, record it as skipped and go on.
    An empty message or a sticker is not an attempt at answering, so it never uses one up; a
    greeting in answer to the language menu gets the menu again, as if it were the first."""
    if invalid.key == _GREETED:
        _ask(run, session, step)
        return session
    attempts = session.attempts + (0 if invalid.key in _NOT_AN_ATTEMPT else 1)
    if attempts >= step.retries:
        run.say(messages.GIVING_UP, session)
        return _accept(run, replace(session, pending=()), step, None, "", skipped=True)
    session = replace(session, attempts=attempts)
    key = step.error if step.error and invalid.key in _TYPE_ERRORS else invalid.key
    choices = invalid.choices or _choices_for(run, step)
    tap = not invalid.choices and answered_by_one_tap(step)
    step_id = step.id if choices else None
    run.say(key, session, choices, step_id=step_id, one_tap=tap, **invalid.params)
    return session


_TYPE_ERRORS = frozenset(messages.DEFAULT_ERRORS.values())


def _type_error(step: Step) -> _Invalid:
    assert step.type is not None
    return _Invalid(messages.DEFAULT_ERRORS[step.type])


def _parse(run: _Run, session: SessionState, step: Step, reply: Reply) -> Any:
    """The typed value of a reply, a tuple of members when ambiguous, or _Invalid."""
    answer_type = step.type
    assert answer_type is not None
    text = reply.text or ""
    if answer_type is AnswerType.PHOTO:
        return reply.photo if reply.photo is not None else _type_error(step)
    if answer_type is AnswerType.LOCATION:
        return reply.location if reply.location is not None else _type_error(step)
    if answer_type is AnswerType.LANGUAGE and reply.choice is None:
        if run.context.lexicon.is_greeting(text):
            return _Invalid(_GREETED)
    if reply.choice is not None and answer_type in (
        AnswerType.CHOICE,
        AnswerType.YES_NO,
        AnswerType.LANGUAGE,
    ):
        text = reply.choice
    elif not text.strip():
        if reply.photo is not None or reply.location is not None or reply.media_kind is not None:
            return _Invalid(messages.MEDIA_NOT_EXPECTED)
        return _Invalid(messages.EMPTY)
    if len(text) > (step.max_length or DEFAULT_MAX_TEXT):
        return _Invalid(messages.TOO_LONG, {"limit": step.max_length or DEFAULT_MAX_TEXT})
    words = run.context.lexicon.answer_words(run.locale)
    match answer_type:
        case AnswerType.TEXT:
            return _text(step, text)
        case AnswerType.INTEGER | AnswerType.NUMBER | AnswerType.MONEY if (
            both := ambiguous_number(text, words)
        ) is not None:
            return _ambiguous(run, session, step, text, both)
        case AnswerType.INTEGER:
            return _bounded(step, parse_integer(text, words))
        case AnswerType.NUMBER:
            return _bounded(step, parse_number(text, words))
        case AnswerType.MONEY:
            own = run.params(session)["member"]["currency"]
            money = parse_money(text, words, own)
            if money is None:
                return _type_error(step)
            if money.currency != own and not _names_code(text, money.currency):
                # "2000 pesos" from a KES member: a guess from a word is asked back, not stored
                example = f"{money.currency} {_plain(money.amount)}"
                params = {"amount": money, "currency": own, "other": money.currency}
                return _Invalid(messages.OTHER_CURRENCY, {**params, "example": example})
            bounded = _bounded(step, money.amount)
            return bounded if isinstance(bounded, _Invalid) else money
        case AnswerType.YES_NO:
            if reply.choice in ("yes", "no"):
                return reply.choice == "yes"
            answer = parse_yes_no(text, words)
            return _type_error(step) if answer is None else answer
        case AnswerType.CHOICE | AnswerType.LANGUAGE:
            options = _options(run, step)
            picked = match_choice(text, options)
            return _type_error(step) if picked is None else picked
        case AnswerType.MULTI_CHOICE:
            picked_many = match_choices(text, _options(run, step))
            return _type_error(step) if picked_many is None else picked_many
        case AnswerType.DATE:
            when = parse_date(text, words, run.context.now.date())
            return _type_error(step) if when is None else when
        case AnswerType.MEMBER:
            found = match_member(text, _candidates(run))
            if found.found is not None:
                return found.found
            if found.ambiguous:
                return found.ambiguous
            return _Invalid(messages.MEMBER_NOT_FOUND, {"text": text.strip()[:60]})
        case AnswerType.CURRENCY:
            currency = parse_currency(text, words, run.context.member.default_currency)
            return _type_error(step) if currency is None else currency
        case AnswerType.JOIN_CODE:
            code = find_join_code(text)
            group = run.context.groups_by_code.get(code) if code else None
            if group is None:
                return _Invalid(messages.JOIN_CODE_UNKNOWN, {"text": text.strip()[:40]})
            return group
    return _type_error(step)


def _ambiguous(
    run: _Run, session: SessionState, step: Step, text: str, both: tuple[Decimal, Decimal]
) -> _Invalid:
    """Ask which of two readings the member meant ("2 or 2,000?") instead of storing one."""
    small, large = both
    shown: tuple[Any, Any] = (small, large)
    if step.type is AnswerType.MONEY:
        words = run.context.lexicon.answer_words(run.locale)
        money = parse_money(text, words, run.params(session)["member"]["currency"])
        currency = money.currency if money is not None else run.context.member.money_currency
        shown = (Money(small, currency), Money(large, currency))
    params = {"small": shown[0], "large": shown[1], "example": _plain(large)}
    return _Invalid(messages.AMOUNT_AMBIGUOUS, params)


def _names_code(text: str, code: str) -> bool:
    """Whether the reply writes the currency's ISO code itself ("MXN 2000"), not a word or a
    symbol we guessed it from."""
    return (
        re.search(rf"(?<![A-Za-z]){re.escape(code)}(?![A-Za-z])", text, re.IGNORECASE) is not None
    )


def _plain(number: Decimal) -> str:
    """A number as digits only, as a member can type it back: 2000, 12.5."""
    return format(number, "f")


def _options(run: _Run, step: Step) -> list[tuple[str, str]]:
    catalogs = run.context.catalogs
    if step.type is AnswerType.LANGUAGE:
        return [(lang.code, lang.native_name) for lang in catalogs.languages]
    return [(choice.id, catalogs.gettext(run.locale, choice.label)) for choice in step.choices]


def _text(step: Step, text: str) -> str | _Invalid:
    cleaned = text.strip()
    if not any(ch.isalnum() for ch in cleaned):
        return _Invalid(messages.NEEDS_WORDS)
    if step.sets == MemberField.NAME and not any(ch.isalpha() for ch in cleaned):
        return _Invalid(messages.NAME_NEEDS_LETTERS)  # "12345" or "!!!" is nobody's name
    if step.min_length is not None and len(cleaned) < step.min_length:
        return _Invalid(messages.TOO_SHORT, {"limit": step.min_length})
    return cleaned


def _bounded(step: Step, number: Decimal | int | None) -> Decimal | int | _Invalid:
    if number is None:
        return _type_error(step)
    if step.min is not None and number < step.min:
        return _Invalid(messages.TOO_SMALL, {"limit": step.min})
    if step.max is not None and number > step.max:
        return _Invalid(messages.TOO_BIG, {"limit": step.max})
    return number
