"""The engine's behaviour, conversation by conversation, in the style of a dialog test."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from conversations import messages
from conversations.answers import GroupRef, Location, MemberRef, Money, Photo
from conversations.definition import HelpDirection
from conversations.engine import handle
from conversations.events import (
    AnswerRecorded,
    HelpRecorded,
    MemberFieldSet,
    SessionEnded,
    SessionStarted,
    StoryProposed,
)
from conversations.inputs import CommandInput, Expire, Open, Remind, Reply, Start
from conversations.session import SessionStatus
from conversations.words import Command
from tests.conversations.harness import GROUP, LIBRARY, Member, onboarded_member


def answers(member: Member) -> dict[str, object]:
    return {
        event.step_id: event.value
        for event in member.all_events()
        if isinstance(event, AnswerRecorded)
    }


def fields(member: Member) -> dict[str, object]:
    return {
        event.field: event.value
        for event in member.all_events()
        if isinstance(event, MemberFieldSet)
    }


def test_a_new_members_first_message_starts_onboarding_with_the_language_menu() -> None:
    member = Member()
    said = member.send("hello")
    assert said == [
        "Welcome! I am the business journal of your peer group. Which language do you prefer?"
        "\n1) English\n2) Igpay"
    ]
    assert isinstance(member.events()[0], SessionStarted)
    assert member.session is not None and member.session.checkin_id == "onboarding"


def test_a_greeting_to_the_language_menu_gets_the_menu_again_not_a_correction() -> None:
    member = Member()
    first = member.send("hello")
    assert member.send("Hi!") == first
    assert member.send("good morning") == first
    assert member.session is not None and member.session.attempts == 0
    assert member.send("klingon") == [
        "Please send the number of your language.\n1) English\n2) Igpay"
    ]
    assert member.session is not None and member.session.attempts == 1


def test_a_name_of_digits_or_punctuation_is_asked_again() -> None:
    member = Member()
    member.send("hi")
    member.send("1")
    member.send("yes")
    for not_a_name in ("12345", "+254 712"):  # a third miss would skip the question
        said = member.send(not_a_name)
        assert said[0] in (
            "Please send your name in letters, like Amina.",
            "Please answer with words or numbers.",
        ), said
        assert "name" not in fields(member)
    assert member.send("Amina 2")[0].startswith("What kind of business do you run, Amina 2?")


def test_a_member_whose_name_question_was_skipped_is_not_addressed_by_an_empty_name() -> None:
    member = Member(groups_by_code={"KMP123": GROUP})
    member.send("hi")
    member.send("1")
    member.send("yes")
    member.send("12345")
    member.send("+254 712")
    said = member.send("!!!")  # the third miss skips the name question
    assert said[-1].startswith("What kind of business do you run?\n1) Food or drinks")
    assert "name" not in fields(member)
    member.send("1")
    member.send("yes")
    assert member.send("kmp-123")[-1] == (
        "You are all set! Send CHECKIN each week to tell me how business went."
    )


def test_onboarding_end_to_end_sets_the_profile_and_joins_the_group() -> None:
    member = Member(groups_by_code={"KMP123": GROUP})
    member.send("hi")
    member.send("1")
    member.send("yes")
    assert member.send("Amina") == [
        "What kind of business do you run, Amina?\n1) Food or drinks\n2) Shop or market stall\n"
        "3) Services (hair, repairs, transport)\n4) Farming or animals\n"
        "5) Making things (blocks, clothes, crafts)\n6) Something else"
    ]
    assert member.send("1") == [
        "Which currency do you use? Send YES for KES, or send another, like USD."
    ]
    said = member.send("yes")
    assert said == ["If your group gave you a join code, send it now. If not, send SKIP."]
    said = member.send("kmp-123")
    assert said == [
        "You are now in the group Kibera Market Peers.",
        "You are all set, Amina! Send CHECKIN each week to tell me how business went.",
    ]
    assert member.session is None
    assert fields(member) == {
        "language": "en",
        "consent": True,
        "name": "Amina",
        "business_type": "food",
        "currency": "KES",
        "group": GROUP,
        "onboarded": True,
    }
    assert isinstance(member.events()[-1], SessionEnded)


def test_declining_consent_ends_politely_and_does_not_onboard() -> None:
    member = Member()
    member.send("hi")
    member.send("English")
    said = member.send("no")
    assert said == [
        "No problem, I will not ask you anything else. If you change your mind, send START."
    ]
    assert fields(member) == {"language": "en", "consent": False}
    assert member.session is None
    assert member.send("hello again")[0].startswith("Welcome!")


def test_changing_language_during_onboarding_speaks_the_new_language_at_once() -> None:
    member = Member()
    member.send("hi")
    member.send("2")
    assert member.profile.locale == "pig"
    assert member.says()[0].locale == "pig"


def test_an_amount_that_reads_two_ways_is_asked_back_not_stored() -> None:
    member = onboarded_member()
    member.send("checkin")
    assert member.send("2.000") == [
        "Did you mean KES 2 or KES 2,000? Please send it again without the dot or comma, like 2000."
    ]
    assert not [e for e in member.events() if isinstance(e, AnswerRecorded)]
    assert member.send("2000") == ["How much did you spend on stock or other costs?"]
    [sales] = [e for e in member.events() if isinstance(e, AnswerRecorded)]
    assert sales.value == Money(Decimal("2000"), "KES")
    member.send("1.25")  # a real fraction is no question
    [costs] = [e for e in member.events() if isinstance(e, AnswerRecorded)]
    assert costs.value == Money(Decimal("1.25"), "KES")


def test_a_currency_guessed_from_a_word_is_asked_back_and_a_code_keeps_it() -> None:
    member = onboarded_member()
    member.send("checkin")
    assert member.send("2000 pesos") == [
        "You wrote MX$2,000. Your journal counts in KES: please send the amount in KES. "
        "To keep it in MXN, send it with the code, like MXN 2000."
    ]
    assert not [e for e in member.events() if isinstance(e, AnswerRecorded)]
    member.send("MXN 2000")
    [sales] = [e for e in member.events() if isinstance(e, AnswerRecorded)]
    assert sales.value == Money(Decimal("2000"), "MXN")


def test_weekly_checkin_records_typed_answers_help_and_a_consented_story() -> None:
    member = onboarded_member()
    assert member.send("checkin") == ["How much did you sell this week, Amina?"]
    member.send("ksh 2,500")
    member.send("1.2k")
    member.send("nothing")
    member.send("yes")
    member.send("Joseph")
    assert member.says()[0].choices[0].id == "advice"
    member.send("2")
    member.send("no")
    member.send("Rain kept customers away")
    member.send("Open a second stall")
    member.send("I sold out of tomatoes on Friday!")
    said = member.send("yes")
    assert said == [
        "Thank you, Amina! Your check-in is saved. This week you sold KES 2,500 and saved KES 0."
    ]
    got = answers(member)
    assert got["sales"] == Money(Decimal("2500"), "KES")
    assert got["costs"] == Money(Decimal("1200"), "KES")
    assert got["saved"] == Money(Decimal("0"), "KES")
    assert got["gave_help_to"] == MemberRef(4, "Joseph Otieno")
    assert got["gave_help_how"] == "money"
    assert "got_help_from" not in got
    helps = [event for event in member.all_events() if isinstance(event, HelpRecorded)]
    assert helps == [
        HelpRecorded(HelpDirection.GIVEN, MemberRef(4, "Joseph Otieno"), "money", "gave_help_how")
    ]
    stories = [event for event in member.all_events() if isinstance(event, StoryProposed)]
    assert stories == [StoryProposed("I sold out of tomatoes on Friday!", "share_win")]
    assert member.session is None


def test_no_story_is_proposed_without_consent() -> None:
    member = onboarded_member()
    for text in [
        "checkin",
        "100",
        "50",
        "10",
        "no",
        "no",
        "none really",
        "more sales",
        "a big order",
    ]:
        member.send(text)
    member.send("no")
    assert not [event for event in member.all_events() if isinstance(event, StoryProposed)]
    assert answers(member)["share_win"] is False


def test_a_member_without_a_group_is_not_asked_about_other_members() -> None:
    member = onboarded_member(group=None)
    member.peers = ()
    for text in ["checkin", "100", "50", "10"]:
        said = member.send(text)
    assert said == ["What was your biggest challenge this week? (or send SKIP)"]
    assert "gave_help" not in answers(member)


def test_an_ambiguous_name_asks_which_member_and_accepts_a_number() -> None:
    member = onboarded_member()
    for text in ["checkin", "100", "50", "10", "yes"]:
        member.send(text)
    said = member.send("grace")
    assert said == [
        'More than one member matches "grace". Which one do you mean?\n1) Grace Wanjiku\n2) Grace Achieng'
    ]
    member.send("2")
    assert answers(member)["gave_help_to"] == MemberRef(3, "Grace Achieng")
    assert member.session is not None and member.session.step_id == "gave_help_how"


def test_an_unknown_member_name_gets_a_kind_error_and_retries() -> None:
    member = onboarded_member()
    for text in ["checkin", "100", "50", "10", "yes"]:
        member.send(text)
    said = member.send("Zacchaeus")
    assert said == [
        'I couldn\'t find "Zacchaeus" in your group. Please send their name as the group knows it.'
    ]
    assert member.session is not None and member.session.step_id == "gave_help_to"


def test_after_the_retry_limit_the_step_is_skipped_and_recorded_as_skipped() -> None:
    member = onboarded_member()
    member.send("checkin")
    assert member.send("lots") == ["Please send the amount you sold, like KES 1,500."]
    member.send("many")
    said = member.send("plenty")
    assert said == [
        "Let's leave this one for now and go on.",
        "How much did you spend on stock or other costs?",
    ]
    recorded = [
        e for e in member.all_events() if isinstance(e, AnswerRecorded) and e.step_id == "sales"
    ]
    assert recorded == [
        AnswerRecorded("weekly_checkin", "sales", recorded[0].type, None, "", skipped=True)
    ]


def test_amounts_out_of_range_are_refused() -> None:
    member = onboarded_member()
    member.send("checkin")
    assert member.send("999999999999") == [
        "That seems too large. Please send a number no bigger than 100,000,000,000."
    ]
    assert member.send("-5") == ["That seems too small. Please send a number of at least 0."]


def test_skip_works_on_optional_questions_only() -> None:
    member = onboarded_member()
    member.send("checkin")
    assert member.send("skip") == [
        "This question can't be skipped, sorry.",
        "How much did you sell this week, Amina?",
    ]
    for text in ["100", "50", "10", "no", "no"]:
        member.send(text)
    said = member.send("skip")
    assert said == ["Skipped.", "What is one goal for next week?"]
    assert answers(member)["challenge"] is None


def test_bad_input_gets_kind_replies_and_nothing_is_recorded() -> None:
    member = onboarded_member()
    member.send("checkin")
    cases = {
        "": messages.EMPTY,
        "   ": messages.EMPTY,
    }
    for text, key in cases.items():
        member.send(text)
        assert member.says()[0].key == key
    member.send(Reply(photo=Photo("abc")))
    assert member.says()[0].key == messages.MEDIA_NOT_EXPECTED
    member.send(Reply(location=Location(Decimal("0.3"), Decimal("32.5"))))
    assert member.says()[0].key == messages.MEDIA_NOT_EXPECTED
    member.send(Reply(media_kind="sticker"))
    assert member.says()[0].key == messages.MEDIA_NOT_EXPECTED
    # none of these used up an attempt: the question is still open
    assert member.session is not None
    assert (member.session.step_id, member.session.attempts) == ("sales", 0)
    assert not [e for e in member.all_events() if isinstance(e, AnswerRecorded)]


def test_long_and_emoji_only_text_answers_are_refused_kindly() -> None:
    member = onboarded_member()
    for text in ["checkin", "100", "50", "10", "no", "no"]:
        member.send(text)
    member.send("x" * 5000)
    assert member.says()[0].key == messages.TOO_LONG
    member.send("🙂🙂🙂")
    assert member.says()[0].key == messages.NEEDS_WORDS
    assert "challenge" not in answers(member)


def test_stop_ends_the_session_and_silences_until_start() -> None:
    member = onboarded_member()
    member.send("checkin")
    assert member.send("STOP") == [
        "You will not get any more messages from us. What you shared stays safe. Send START if you want to come back."
    ]
    assert member.profile.opted_out is True
    assert member.session is None
    ended = [e for e in member.all_events() if isinstance(e, SessionEnded)]
    assert ended[-1].status is SessionStatus.STOPPED
    assert member.send("checkin") == [
        "You have stopped messages from us. Send START if you want to come back."
    ]
    assert member.session is None
    turn = handle(LIBRARY, None, Start("weekly_checkin"), member.context())
    assert turn.events == () and turn.session is None
    assert member.send("start") == [
        "Welcome back, Amina!",
        "Hi Amina! Send CHECKIN for your weekly check-in, JOURNAL for the monthly journal, "
        "LANGUAGE to change language, or HELP.",
    ]
    assert member.profile.opted_out is False


def test_stop_works_in_another_language_than_the_members() -> None:
    member = onboarded_member()
    member.send("opstay")
    assert member.profile.opted_out is True


def test_commands_and_keywords_work_in_the_members_language() -> None:
    member = onboarded_member(locale="pig")
    assert member.send("eckinchay") == ["Owhay uchmay idday ouyay ellsay, Amina?"]


def test_language_change_in_the_middle_of_a_checkin_comes_back_to_the_question() -> None:
    member = onboarded_member()
    member.send("checkin")
    member.send("100")
    said = member.send("language")
    assert said == ["Which language do you prefer?\n1) English\n2) Igpay"]
    said = member.send("2")
    assert said == ["Oneday! Igpay Atinlay.", "How much did you spend on stock or other costs?"]
    assert member.profile.locale == "pig"
    assert member.session is not None and member.session.step_id == "costs"
    member.send("50")
    assert answers(member)["costs"] == Money(Decimal("50"), "KES")


def test_restart_begins_the_same_checkin_again() -> None:
    member = onboarded_member()
    member.send("checkin")
    member.send("100")
    said = member.send("restart")
    assert said == ["How much did you sell this week, Amina?"]
    statuses = [e.status for e in member.events() if isinstance(e, SessionEnded)]
    assert statuses == [SessionStatus.RESTARTED]
    assert member.session is not None and member.session.answers == {}


def test_keywords_while_in_a_checkin() -> None:
    member = onboarded_member()
    member.send("checkin")
    assert member.send("checkin") == [
        "We are already doing this one. Here is the question again:",
        "How much did you sell this week, Amina?",
    ]
    said = member.send("journal")
    assert said == ["How much did your household earn this month, from all sources together?"]
    assert [e.status for e in member.events() if isinstance(e, SessionEnded)] == [
        SessionStatus.REPLACED
    ]


def test_a_reply_with_nothing_running_says_what_one_can_do() -> None:
    member = onboarded_member()
    assert member.send("hello?") == [
        "Hi Amina! Send CHECKIN for your weekly check-in, JOURNAL for the monthly journal, "
        "LANGUAGE to change language, or HELP."
    ]
    assert member.send("help")[0].startswith("I keep your business journal")


def test_help_keeps_the_question_open() -> None:
    member = onboarded_member()
    member.send("checkin")
    said = member.send("help")
    assert said[1] == "How much did you sell this week, Amina?"
    assert member.session is not None and member.session.step_id == "sales"


def test_reminder_and_expiry() -> None:
    member = onboarded_member()
    member.send("checkin")
    said = member.send(Remind())
    assert said == [
        "A friendly reminder: your weekly check-in is waiting for you.",
        "How much did you sell this week, Amina?",
    ]
    assert member.session is not None and member.session.reminders_sent == 1
    said = member.send(Expire())
    assert said == ["Your weekly check-in has closed. Thank you for what you shared!"]
    assert member.session is None


def test_no_proactive_line_without_recorded_consent() -> None:
    for consent in (None, False):
        member = onboarded_member(consent=consent)
        turn = handle(LIBRARY, None, Start("weekly_checkin"), member.context())
        assert turn.events == () and turn.session is None
        member.profile = replace(member.profile, consent=True)
        member.send("checkin")
        member.profile = replace(member.profile, consent=consent)
        assert member.send(Remind()) == []
        assert member.session is not None and member.session.reminders_sent == 1
        assert member.send(Expire()) == []
        assert member.session is None


def test_a_scheduled_onboarding_asks_an_unasked_member_for_consent_first() -> None:
    member = Member()
    said = member.send(Start("onboarding", step="consent"))
    assert said[0].startswith("I keep what you tell me about your business")
    assert member.session is not None and member.session.step_id == "consent"
    asked_before = Member(profile=replace(Member().profile, consent=False))
    assert asked_before.send(Start("onboarding", step="consent")) == []


def test_open_greets_or_asks_again() -> None:
    assert Member().send(Open())[0].startswith("Welcome!")
    member = onboarded_member()
    assert member.send(Open())[0].startswith("Hi Amina!")
    member.send("checkin")
    assert member.send(Open()) == ["How much did you sell this week, Amina?"]


def test_telegram_start_command_is_a_start() -> None:
    member = Member()
    said = member.send(CommandInput(Command.START))
    assert said[0].startswith("Welcome!")


def test_journal_branches_on_investment() -> None:
    member = onboarded_member()
    for text in ["journal", "20000", "5000", "0"]:
        member.send(text)
    said = member.send("no")
    assert said == ["Thank you, Amina! Your monthly journal is saved."]
    assert "investment_what" not in answers(member)


def test_button_presses_answer_choice_questions() -> None:
    member = onboarded_member()
    for text in ["checkin", "100", "50", "10"]:
        member.send(text)
    member.send(Reply(text="Yes", choice="yes"))
    assert answers(member)["gave_help"] is True


def test_dates_are_read_in_the_members_time() -> None:
    member = onboarded_member()
    member.now = member.now + timedelta(days=1)
    assert member.context().now.date().isoformat() == "2026-11-28"


def test_the_same_input_gives_the_same_output() -> None:
    first, second = onboarded_member(), onboarded_member()
    for text in ["checkin", "1,500", "fifty", "50", "10", "yes", "grace", "1"]:
        assert first.send(text) == second.send(text)
        assert first.events() == second.events()
    assert first.session == second.session


def test_joining_with_an_unknown_code_is_explained() -> None:
    member = Member(groups_by_code={"KMP123": GROUP})
    for text in ["hi", "1", "yes", "Amina", "1", "yes"]:
        member.send(text)
    assert member.send("ZZZ999") == [
        'I don\'t know the code "ZZZ999". Please check it with your group, or send SKIP.'
    ]
    assert member.send("skip") == [
        "Skipped.",
        "You are all set, Amina! Send CHECKIN each week to tell me how business went.",
    ]
    assert "group" not in fields(member)


def test_a_group_ref_is_only_accepted_from_the_lookup() -> None:
    other = GroupRef(9, "Other", "OTH999")
    member = Member(groups_by_code={"KMP123": GROUP})
    for text in ["hi", "1", "yes", "Amina", "1", "yes"]:
        member.send(text)
    member.send("OTH999")
    assert "group" not in fields(member)
    member.groups_by_code = {"OTH999": other}
    member.send("OTH999")
    assert fields(member)["group"] == other


def test_sessions_survive_a_profile_change_between_turns() -> None:
    member = onboarded_member()
    member.send("checkin")
    member.profile = replace(member.profile, name="Amina W.")
    member.send("100")
    assert answers(member)["sales"] == Money(Decimal("100"), "KES")


def test_arabic_indic_digits_and_locale_separators_are_amounts() -> None:
    member = onboarded_member()
    member.send("checkin")
    member.send("٢٠٠٠")
    member.send("1,500.50")
    assert answers(member)["sales"] == Money(Decimal("2000"), "KES")
    assert answers(member)["costs"] == Money(Decimal("1500.50"), "KES")


def test_a_member_alone_in_their_group_is_not_asked_about_help() -> None:
    member = onboarded_member()
    member.peers = ()
    for text in ["checkin", "100", "50"]:
        member.send(text)
    assert member.send("10") == ["What was your biggest challenge this week? (or send SKIP)"]


def test_a_press_on_an_old_questions_button_is_recognised_as_stale() -> None:
    member = onboarded_member()
    for text in ["checkin", "100", "50", "10"]:
        member.send(text)
    said = member.send(Reply(text="Yes", choice="yes", choice_step="some_old_step"))
    assert said[0] == "That button was for an earlier question. Here is the current one:"
    assert "gave_help" not in answers(member)
    member.send(Reply(text="Yes", choice="yes", choice_step="gave_help"))
    assert answers(member)["gave_help"] is True
    assert member.says()[0].step_id == "gave_help_to"
