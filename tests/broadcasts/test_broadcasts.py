"""Broadcasts on every backend: audience, planning, queuing in batches, resuming, quiet hours."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.broadcasts.running import DELIVERY, parse_texts, run_broadcast, start_due
from bot.broadcasts.segments import load_schema, parse
from storage import Database
from storage.models import BroadcastRecipient, Message
from storage.repositories.broadcasts import Audience, InvalidBroadcast
from tests.broadcasts import seed
from tests.broadcasts.seed import MORNING, NIGHT, NOON

SCHEMA = load_schema()


def at(moment: Any) -> Any:
    return lambda: moment


async def make_broadcast(
    database: Database,
    group_id: int | None,
    segment: str = "",
    texts: dict[str, str] | None = None,
    language: str | None = None,
    scheduled_at: Any = NOON,
) -> int:
    async with database.transaction() as uow:
        record = await uow.broadcasts.create(
            created_by_id=None,
            group_id=group_id,
            language=language,
            segment=parse(segment, SCHEMA).text,
            texts=texts or {"en": "Market day moves to Thursday."},
            scheduled_at=scheduled_at,
            at=NOON,
        )
    return record.id


async def outbox(database: Database) -> list[Message]:
    async with database.transaction() as uow:
        rows = await uow.session.scalars(
            select(Message).where(Message.direction == "out").order_by(Message.id)
        )
        return list(rows)


async def recipients(database: Database, broadcast_id: int) -> list[BroadcastRecipient]:
    async with database.transaction() as uow:
        rows = await uow.session.scalars(
            select(BroadcastRecipient)
            .where(BroadcastRecipient.broadcast_id == broadcast_id)
            .order_by(BroadcastRecipient.member_id)
        )
        return list(rows)


async def a_mixed_group(database: Database) -> dict[str, int]:
    """A group whose members are reachable in every way, and in none; and people outside it."""
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        other = await seed.group(uow, "Mathare Makers")
        ids = {"group": kibera.id, "other_group": other.id}
        ids["telegram"] = await seed.member(uow, ("telegram", "1001"), kibera.id)
        ids["whatsapp"] = await seed.member(
            uow, ("whatsapp", "+254700000002"), kibera.id, locale="sw"
        )
        ids["sms"] = await seed.member(uow, ("sms", "+254700000003"), kibera.id, locale="sw")
        # two addresses: the one they wrote from last is the one used
        ids["both"] = await seed.member(
            uow,
            ("sms", "+254700000004"),
            kibera.id,
            last_inbound_at=NOON - timedelta(days=3),
            more=(("telegram", "1004", NOON - timedelta(days=1)),),
        )
        ids["web_only"] = await seed.member(uow, ("console", "browser-5"), kibera.id)
        ids["blocked"] = await seed.member(uow, ("telegram", "1006"), kibera.id, blocked=True)
        ids["opted_out"] = await seed.member(
            uow, ("whatsapp", "+254700000007"), kibera.id, opted_out=True
        )
        # blocked on Telegram, reachable by SMS: SMS it is
        ids["fallback"] = await seed.member(
            uow,
            ("telegram", "1008"),
            kibera.id,
            blocked=True,
            last_inbound_at=NOON - timedelta(hours=1),
            more=(("sms", "+254700000008", None),),
        )
        ids["elsewhere"] = await seed.member(uow, ("telegram", "1009"), other.id)
        ids["no_group"] = await seed.member(uow, ("telegram", "1010"), None)
    return ids


async def test_audience_counts_by_channel_and_skip_reason(database: Database) -> None:
    ids = await a_mixed_group(database)
    async with database.transaction() as uow:
        counts = await uow.broadcasts.audience_counts(Audience(ids["group"]))
    assert counts.total == 8
    assert counts.channels == {"telegram": 2, "whatsapp": 1, "sms": 2}
    assert counts.skipped == {"opted_out": 1, "unreachable": 2}
    assert counts.receiving == 5
    assert counts.locales == {"en": 3, "sw": 2}

    async with database.transaction() as uow:
        everyone = await uow.broadcasts.audience_counts(Audience())
        swahili = await uow.broadcasts.audience_counts(Audience(ids["group"], "sw"))
    assert everyone.total == 9  # every member of a group; not the one who never joined one
    assert swahili.channels == {"whatsapp": 1, "sms": 1} and swahili.total == 2


async def test_a_segment_matching_nobody_counts_zero_and_writes_nothing(
    database: Database,
) -> None:
    ids = await a_mixed_group(database)
    segment = parse("business_type=farming, sales>=1000", SCHEMA)
    async with database.transaction() as uow:
        counts = await uow.broadcasts.audience_counts(
            Audience(ids["group"], None, segment.conditions)
        )
    assert (counts.total, counts.channels, counts.skipped) == (0, {}, {})
    assert await seed.count(database, "SELECT count(*) FROM broadcasts") == 0
    assert await seed.count(database, "SELECT count(*) FROM broadcast_recipients") == 0

    broadcast_id = await make_broadcast(database, ids["group"], "business_type=farming")
    totals = await run_broadcast(database, broadcast_id, at(NOON), schema=SCHEMA)
    assert (totals.recipients, totals.queued, totals.status) == (0, 0, "done")
    assert await outbox(database) == []


async def test_planning_skips_opted_out_and_unreachable_members_with_a_reason(
    database: Database,
) -> None:
    ids = await a_mixed_group(database)
    broadcast_id = await make_broadcast(database, ids["group"])
    seen: list[tuple[int, int]] = []
    totals = await run_broadcast(
        database, broadcast_id, at(NOON), batch=2, progress=lambda d, t: seen.append((d, t))
    )
    assert totals.status == "done"
    assert (totals.recipients, totals.queued) == (8, 5)
    assert totals.skipped == {"opted_out": 1, "unreachable": 2}
    assert seen[0] == (3, 8) and seen[-1] == (8, 8)  # the skipped ones are done at once

    by_member = {row.member_id: row for row in await recipients(database, broadcast_id)}
    assert by_member[ids["opted_out"]].status == "skipped"
    assert by_member[ids["opted_out"]].reason == "opted_out"
    assert by_member[ids["opted_out"]].message_id is None
    for name in ("web_only", "blocked"):
        assert (by_member[ids[name]].status, by_member[ids[name]].reason) == (
            "skipped",
            "unreachable",
        )
        assert by_member[ids[name]].channel is None
    assert (by_member[ids["both"]].channel, by_member[ids["both"]].address) == ("telegram", "1004")
    assert (by_member[ids["fallback"]].channel, by_member[ids["fallback"]].address) == (
        "sms",
        "+254700000008",
    )

    messages = {row.id: row for row in await outbox(database)}
    assert len(messages) == 5
    for name in ("telegram", "whatsapp", "sms", "both", "fallback"):
        row = by_member[ids[name]]
        assert row.status == "queued" and row.message_id in messages
        message = messages[row.message_id]
        assert (message.member_id, message.channel, message.address_value) == (
            ids[name],
            row.channel,
            row.address,
        )
        assert message.status == "queued" and message.next_attempt_at is None
        assert message.payload == {
            "nudge": "broadcast",
            "broadcast": broadcast_id,
            "locale": "en",
            "template": {"1": "Market day moves to Thursday."},
        }

    async with database.transaction() as uow:
        progress = await uow.broadcasts.progress(broadcast_id)
        record = await uow.broadcasts.get(broadcast_id)
    assert progress.recipients == {"queued": 5, "skipped": 3}
    assert progress.messages == {"queued": 5}
    assert progress.unsettled == 5
    assert record is not None and record.planned_at == NOON and record.finished_at == NOON


async def test_quiet_hours_defer_messages_to_their_end_in_the_groups_zone(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        nairobi = await seed.member(uow, ("telegram", "2001"), kibera.id)
        # a member with a zone of their own: 22:30 in Nairobi is 13:30 in Chicago, not quiet
        chicago = await seed.member(
            uow, ("telegram", "2002"), kibera.id, timezone="America/Chicago"
        )
    broadcast_id = await make_broadcast(database, kibera.id, scheduled_at=NIGHT)
    totals = await run_broadcast(database, broadcast_id, at(NIGHT))
    assert totals.queued == 2  # deferred, not dropped
    rows = {row.member_id: row for row in await outbox(database)}
    assert rows[nairobi].status == "queued"
    assert rows[nairobi].next_attempt_at == MORNING  # 07:00 Saturday in Nairobi
    assert rows[chicago].next_attempt_at is None
    async with database.transaction() as uow:
        progress = await uow.broadcasts.progress(broadcast_id, NIGHT)
    assert (progress.deferred, progress.deferred_until) == (1, MORNING)

    async with database.transaction() as uow:
        due_at_night = await uow.messages.claim_due(NIGHT, timedelta(seconds=15))
        due_in_the_morning = await uow.messages.claim_due(MORNING, timedelta(seconds=15))
    assert [row.member_id for row in due_at_night] == [chicago]
    assert nairobi in [row.member_id for row in due_in_the_morning]


async def test_an_interrupted_broadcast_resumes_and_queues_everyone_exactly_once(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        members = [
            await seed.member(uow, ("telegram", str(3000 + n)), kibera.id) for n in range(11)
        ]
    broadcast_id = await make_broadcast(database, kibera.id)
    # a first run plans and queues two batches of three, then its process dies
    async with database.transaction() as uow:
        assert await uow.broadcasts.plan(broadcast_id, NOON) == 11
    for _ in range(2):
        async with database.transaction() as uow:
            assert await uow.broadcasts.enqueue_batch(broadcast_id, 3, NOON, DELIVERY) == 3
    # ... in the middle of a third batch: its transaction never commits
    with pytest.raises(RuntimeError):
        async with database.transaction() as uow:
            await uow.broadcasts.enqueue_batch(broadcast_id, 3, NOON, DELIVERY)
            raise RuntimeError("killed")
    async with database.transaction() as uow:
        half_way = await uow.broadcasts.progress(broadcast_id)
    assert half_way.recipients == {"queued": 6, "planned": 5}
    assert half_way.broadcast.status == "sending"

    totals = await run_broadcast(database, broadcast_id, at(NOON), batch=4)
    assert (totals.queued, totals.handled_now, totals.planned_now) == (11, 5, 0)
    again = await run_broadcast(database, broadcast_id, at(NOON), batch=4)
    assert (again.queued, again.handled_now, again.status) == (11, 0, "done")

    rows = await outbox(database)
    assert sorted(row.member_id for row in rows) == sorted(members)  # each exactly once
    linked = {row.message_id for row in await recipients(database, broadcast_id)}
    assert linked == {row.id for row in rows}


async def test_cancelling_half_way_fails_its_queued_lines_and_queues_nobody_more(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        for n in range(7):
            await seed.member(uow, ("telegram", str(4000 + n)), kibera.id)
    other = await make_broadcast(database, kibera.id)
    broadcast_id = await make_broadcast(database, kibera.id)
    await run_broadcast(database, other, at(NOON))  # another broadcast's lines stay queued
    async with database.transaction() as uow:
        assert await uow.broadcasts.plan(broadcast_id, NOON) == 7
        assert await uow.broadcasts.enqueue_batch(broadcast_id, 3, NOON, DELIVERY) == 3
    async with database.transaction() as uow:
        done = await uow.broadcasts.cancel(broadcast_id, NOON)
        assert (done.lines, done.recipients) == (3, 4)
        assert await uow.broadcasts.enqueue_batch(broadcast_id, 3, NOON, DELIVERY) == 0
        progress = await uow.broadcasts.progress(broadcast_id)
        with pytest.raises(InvalidBroadcast, match="cancelled already"):
            await uow.broadcasts.cancel(broadcast_id, NOON)
    assert progress.broadcast.status == "cancelled"
    assert progress.skipped == {"cancelled": 4}
    assert progress.messages == {"failed": 3}
    rows = await outbox(database)
    assert sum(row.status == "queued" for row in rows) == 7  # the other broadcast's, untouched
    totals = await run_broadcast(database, broadcast_id, at(NOON))
    assert totals.status == "cancelled"


async def test_two_runs_at_once_queue_everyone_exactly_once(database: Database) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        members = [
            await seed.member(uow, ("whatsapp", f"+2547100{n:05d}"), kibera.id) for n in range(40)
        ]
    broadcast_id = await make_broadcast(database, kibera.id)
    await asyncio.gather(
        run_broadcast(database, broadcast_id, at(NOON), batch=3),
        run_broadcast(database, broadcast_id, at(NOON), batch=5),
    )
    rows = await outbox(database)
    assert sorted(row.member_id for row in rows) == sorted(members)


async def test_opting_out_or_blocking_after_planning_skips_the_member(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        stays = await seed.member(uow, ("telegram", "4001"), kibera.id)
        leaves = await seed.member(uow, ("telegram", "4002"), kibera.id)
        blocks = await seed.member(uow, ("whatsapp", "+254700004003"), kibera.id)
    broadcast_id = await make_broadcast(database, kibera.id)
    async with database.transaction() as uow:
        await uow.broadcasts.plan(broadcast_id, NOON)
    async with database.transaction() as uow:
        await uow.members.update(leaves, at=NOON, opted_out=True)  # sends STOP
        await uow.members.set_blocked("whatsapp", "+254700004003", True, at=NOON)
    totals = await run_broadcast(database, broadcast_id, at(NOON))
    assert totals.queued == 1
    assert totals.skipped == {"opted_out": 1, "unreachable": 1}
    assert [row.member_id for row in await outbox(database)] == [stays]
    by_member = {row.member_id: row for row in await recipients(database, broadcast_id)}
    assert by_member[leaves].reason == "opted_out" and by_member[leaves].message_id is None
    assert by_member[blocks].reason == "unreachable"


async def test_each_member_gets_their_language_or_the_first_text(database: Database) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        english = await seed.member(uow, ("telegram", "5001"), kibera.id, locale="en")
        swahili = await seed.member(uow, ("telegram", "5002"), kibera.id, locale="sw")
        french = await seed.member(uow, ("telegram", "5003"), kibera.id, locale="fr")
    texts = parse_texts("[sw]\nSiku ya soko ni Alhamisi.\n\n[en]\nMarket day is Thursday.\n", "en")
    assert list(texts) == ["sw", "en"]
    broadcast_id = await make_broadcast(database, kibera.id, texts=texts)
    await run_broadcast(database, broadcast_id, at(NOON))
    said = {row.member_id: row.text for row in await outbox(database)}
    assert said == {
        english: "Market day is Thursday.",
        swahili: "Siku ya soko ni Alhamisi.",
        french: "Siku ya soko ni Alhamisi.",  # no French text: the first one
    }
    # a WhatsApp template outside the 24-hour window goes in the language of the text
    languages = {row.member_id: row.payload["locale"] for row in await outbox(database)}
    assert languages == {english: "en", swahili: "sw", french: "sw"}

    swahili_only = await make_broadcast(database, kibera.id, texts=texts, language="sw")
    totals = await run_broadcast(database, swahili_only, at(NOON))
    assert totals.queued == 1


async def test_segments_compare_the_latest_answer_on_every_backend(database: Database) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        grew = await seed.member(uow, ("telegram", "6001"), kibera.id, business_type="food")
        shrank = await seed.member(uow, ("telegram", "6002"), kibera.id, business_type="food")
        almost = await seed.member(uow, ("telegram", "6003"), kibera.id, business_type="food")
        retail = await seed.member(uow, ("telegram", "6004"), kibera.id, business_type="retail")
        silent = await seed.member(uow, ("telegram", "6005"), kibera.id)
        week1, week2 = NOON - timedelta(days=14), NOON - timedelta(days=7)
        for member_id, first, second in (
            (grew, "500", "2000"),
            (shrank, "2000", "500"),
            (almost, "999.5", "999.5"),  # "999.500000" sorts after "1000" as text: not as numbers
            (retail, "5000", "5000"),
        ):
            await seed.answer(uow, member_id, kibera.id, "sales", week1, number=first)
            await seed.answer(uow, member_id, kibera.id, "sales", week2, number=second)
        await seed.answer(uow, grew, kibera.id, "gave_help", week2, choice="yes")
        await seed.answer(uow, shrank, kibera.id, "gave_help", week1, choice="yes")
        await seed.answer(uow, shrank, kibera.id, "gave_help", week2, choice="no")
        await seed.answer(uow, retail, kibera.id, "saved", week1, number="100")
        await seed.answer(uow, retail, kibera.id, "saved", week2, skipped=True)  # skip: not news

    async def matching(segment: str) -> set[int]:
        broadcast_id = await make_broadcast(database, kibera.id, segment)
        await run_broadcast(database, broadcast_id, at(NOON))
        return {row.member_id for row in await recipients(database, broadcast_id)}

    assert await matching("sales>=1000") == {grew, retail}
    assert await matching("sales<1000") == {shrank, almost}
    assert await matching("sales=999.5") == {almost}
    assert await matching("business_type=food, sales>=1000") == {grew}
    assert await matching("business_type!=food") == {retail, silent}
    assert await matching("gave_help=yes") == {grew}
    assert await matching("gave_help!=yes") == {shrank}  # never answered: matches neither
    assert await matching("saved>0") == {retail}
    assert await matching("language=sw") == set()
    assert await matching("") == {grew, shrank, almost, retail, silent}


async def test_a_long_text_is_cut_for_sms_and_the_recipient_keeps_the_first_part(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        member_id = await seed.member(uow, ("sms", "+254700007001"), kibera.id)
    # Swahili with a character outside GSM-7: UCS-2, 670 characters in 10 segments
    text = " ".join(["Habari ya soko — tutakutana Alhamisi."] * 30)
    assert 670 < len(text) <= 1600
    broadcast_id = await make_broadcast(database, kibera.id, texts={"sw": text})
    await run_broadcast(database, broadcast_id, at(NOON))
    rows = await outbox(database)
    assert len(rows) == 2 and {row.member_id for row in rows} == {member_id}
    assert " ".join(row.text for row in rows) == text
    [recipient] = await recipients(database, broadcast_id)
    assert recipient.message_id == rows[0].id


async def test_creation_refuses_long_texts_and_unknown_staff(database: Database) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        staff_id = await seed.staff(uow)
    base: dict[str, Any] = {
        "group_id": kibera.id,
        "language": None,
        "segment": None,
        "scheduled_at": NOON,
        "at": NOON,
    }
    async with database.transaction() as uow:
        with pytest.raises(InvalidBroadcast, match="1,601 characters; a broadcast may have"):
            await uow.broadcasts.create(created_by_id=None, texts={"en": "x" * 1601}, **base)
        with pytest.raises(InvalidBroadcast, match="no staff member #999"):
            await uow.broadcasts.create(created_by_id=999, texts={"en": "Hi"}, **base)
        with pytest.raises(InvalidBroadcast, match=r"the \[sw\] text is empty"):
            await uow.broadcasts.create(created_by_id=None, texts={"sw": "  "}, **base)
        record = await uow.broadcasts.create(
            created_by_id=staff_id, texts={"en": "x" * 1600}, **base
        )
    assert record.status == "scheduled" and record.created_by_id == staff_id


async def test_the_clock_starts_broadcasts_when_they_are_due(database: Database) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        await seed.member(uow, ("telegram", "8001"), kibera.id)
    later = await make_broadcast(database, kibera.id, scheduled_at=NOON + timedelta(hours=2))
    async with database.transaction() as uow:
        assert await uow.broadcasts.due(NOON) == []
    assert await start_due(database, NOON) == 0
    assert await start_due(database, NOON + timedelta(hours=2)) == 1
    async with database.transaction() as uow:
        record = await uow.broadcasts.get(later)
        assert await uow.broadcasts.due(NOON + timedelta(hours=3)) == []
    assert record is not None and record.status == "done"
    assert len(await outbox(database)) == 1


async def test_the_clock_resumes_a_broadcast_left_half_way(database: Database) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        for n in range(5):
            await seed.member(uow, ("telegram", str(8100 + n)), kibera.id)
    broadcast_id = await make_broadcast(database, kibera.id)
    async with database.transaction() as uow:
        await uow.broadcasts.plan(broadcast_id, NOON)
        await uow.broadcasts.enqueue_batch(broadcast_id, 2, NOON, DELIVERY)
    assert await start_due(database, NOON + timedelta(minutes=1)) == 0  # may still be running
    assert await start_due(database, NOON + timedelta(minutes=11)) == 1
    assert len(await outbox(database)) == 5


async def test_progress_follows_delivery_and_cancelling_stops_queuing(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        await seed.member(uow, ("telegram", "9001"), kibera.id)
        await seed.member(uow, ("whatsapp", "+254700009002"), kibera.id)
        await seed.member(uow, ("whatsapp", "+254700009003"), kibera.id)
    broadcast_id = await make_broadcast(database, kibera.id)
    await run_broadcast(database, broadcast_id, at(NOON))
    telegram, first, second = await outbox(database)
    async with database.transaction() as uow:
        await uow.messages.mark_sent(telegram.id, "tg-1", at=NOON)
        await uow.messages.mark_sent(first.id, "SM1", at=NOON)
        await uow.messages.set_status(first.id, "delivered", at=NOON)
        await uow.messages.mark_sent(second.id, "SM2", at=NOON)
        progress = await uow.broadcasts.progress(broadcast_id)
    assert progress.messages == {"sent": 2, "delivered": 1}
    assert progress.unsettled == 1  # WhatsApp's sent one may still be delivered; Telegram's won't

    cancelled = await make_broadcast(database, kibera.id)
    async with database.transaction() as uow:
        assert await uow.broadcasts.set_status(
            cancelled, "cancelled", at=NOON, expected=("scheduled", "planning", "sending")
        )
    totals = await run_broadcast(database, cancelled, at(NOON))
    assert (totals.status, totals.recipients) == ("cancelled", 0)
    assert len(await outbox(database)) == 3


def test_text_files_hold_one_text_or_one_per_language() -> None:
    assert parse_texts("  Hello all!\n", "sw") == {"sw": "Hello all!"}
    assert parse_texts("\n[en]\nHello\n\nall\n[fil]\nKumusta\n", "en") == {
        "en": "Hello\n\nall",
        "fil": "Kumusta",
    }
    with pytest.raises(ValueError, match="line 1: text before the first"):
        parse_texts("Hello\n[en]\nHi\n", "en")
    with pytest.raises(ValueError, match=r"line 3: \[en\] appears twice"):
        parse_texts("[en]\nHi\n[en]\nHello\n", "en")
    with pytest.raises(ValueError, match=r"the \[sw\] block is empty"):
        parse_texts("[sw]\n\n[en]\nHi\n", "en")
    with pytest.raises(ValueError, match="empty"):
        parse_texts("  \n", "en")


async def test_members_without_recorded_consent_are_left_out_and_counted(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        agreed = await seed.member(uow, ("whatsapp", "+254700000021"), kibera.id)
        imported = await seed.member(uow, ("sms", "+254700000022"), kibera.id, consent=None)
        declined = await seed.member(uow, ("telegram", "1023"), kibera.id, consent=False)
        counts = await uow.broadcasts.audience_counts(Audience(kibera.id))
    assert counts.channels == {"whatsapp": 1}
    assert counts.skipped == {"no_consent": 2}

    broadcast_id = await make_broadcast(database, kibera.id)
    totals = await run_broadcast(database, broadcast_id, at(NOON))
    assert (totals.recipients, totals.queued) == (3, 1)
    assert totals.skipped == {"no_consent": 2}
    by_member = {row.member_id: row for row in await recipients(database, broadcast_id)}
    for member_id in (imported, declined):
        assert (by_member[member_id].status, by_member[member_id].reason) == (
            "skipped",
            "no_consent",
        )
    assert [row.member_id for row in await outbox(database)] == [agreed]
