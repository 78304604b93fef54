"""Property tests: whatever a member sends at whatever step, the engine answers and never raises."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.engine import handle
from conversations.events import Say
from conversations.inputs import Reply
from conversations.rendering import render
from conversations.session import SessionState, from_json, to_json
from tests.conversations.harness import CATALOGS, LIBRARY, NOW, onboarded_member

QUESTION_STEPS = [
    (checkin.id, step.id)
    for checkin in LIBRARY.checkins.values()
    for step in checkin.steps
    if step.is_question
]

replies = st.builds(
    Reply,
    text=st.text(max_size=300)
    | st.sampled_from(["", " ", "1", "yes", "skip", "stop", "٣", "1.500,50"]),
    choice=st.none() | st.sampled_from(["yes", "no", "1", "food", "x"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.sampled_from(QUESTION_STEPS), reply=replies, attempts=st.integers(0, 2))
def test_any_reply_at_any_step_gets_an_answer_and_never_raises(
    position: tuple[str, str], reply: Reply, attempts: int
) -> None:
    checkin_id, step_id = position
    member = onboarded_member()
    checkin = LIBRARY.checkins[checkin_id]
    session = SessionState(checkin.id, checkin.version, step_id, NOW, attempts=attempts)
    turn = handle(LIBRARY, session, reply, member.context())
    says = [event for event in turn.events if isinstance(event, Say)]
    assert says, "the bot never stays silent"
    for say in says:
        assert render(say, CATALOGS).text.strip()
    if turn.session is not None:
        assert from_json(to_json(turn.session)) == turn.session


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(st.text(max_size=40), min_size=1, max_size=25))
def test_a_whole_conversation_of_arbitrary_text_never_raises(texts: list[str]) -> None:
    member = onboarded_member()
    member.send("checkin")
    for text in texts:
        said = member.send(text)
        assert said, "the bot never stays silent"
    member_new = onboarded_member(onboarded=False, consent=None)
    for text in texts:
        said = member_new.send(text)
        assert said, "the bot never stays silent, not even before onboarding"
