"""Delivering a highlight: who gets a row in the outbox, once per group and week."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.highlights.weekly import compose, deliver
from bot.i18n.catalogs import load_catalogs
from storage import Database, UnitOfWork
from storage.models import Message, Story
from storage.records import GroupRecord

from .builders import JOINED, add_member, seed_group_weeks

CATALOGS = load_catalogs()
NOW = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # Sunday 18:00 in Nairobi
LATER = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)


async def outbox(uow: UnitOfWork) -> list[tuple[int | None, str, str]]:
    rows = await uow.session.scalars(
        select(Message).where(Message.direction == "out").order_by(Message.id)
    )
    return [(row.member_id, row.channel, row.address_value) for row in rows]


async def add_audience(uow: UnitOfWork, group: GroupRecord) -> dict[str, int]:
    """Members of every kind, on top of the seeded ones (all on WhatsApp, never heard from)."""
    ids: dict[str, int] = {}
    # On Telegram and WhatsApp: reads the highlight in the bound group chat.
    tg = await add_member(uow, group.id, "Tatu", "1001", "telegram")
    await uow.members.add_address(tg.id, "whatsapp", "+254711000001", at=JOINED)
    ids["Tatu"] = tg.id
    # WhatsApp and SMS: the SMS number wrote last.
    both = await add_member(uow, group.id, "Baraka", "+254711000002")
    await uow.members.add_address(both.id, "sms", "+254711000022", at=JOINED)
    await uow.members.touch_inbound("whatsapp", "+254711000002", datetime(2026, 11, 20, tzinfo=UTC))
    await uow.members.touch_inbound("sms", "+254711000022", datetime(2026, 11, 25, tzinfo=UTC))
    ids["Baraka"] = both.id
    ids["Dalia"] = (await add_member(uow, group.id, "Dalia", "+254711000004", "sms")).id
    opted_out = await add_member(uow, group.id, "Ema", "+254711000005")
    await uow.members.update(opted_out.id, at=JOINED, opted_out=True)
    ids["Ema"] = opted_out.id
    blocked = await add_member(uow, group.id, "Faraji", "+254711000006")
    await uow.members.set_blocked("whatsapp", "+254711000006", True, at=JOINED)
    ids["Faraji"] = blocked.id
    # Blocked the bot on Telegram, still reachable on WhatsApp.
    gift = await add_member(uow, group.id, "Gift", "1007", "telegram")
    await uow.members.add_address(gift.id, "whatsapp", "+254711000007", at=JOINED)
    await uow.members.set_blocked("telegram", "1007", True, at=JOINED)
    ids["Gift"] = gift.id
    ids["Hana"] = (await add_member(uow, group.id, "Hana", "console-hana", "console")).id
    return ids


async def test_the_group_chat_and_members_outside_it_get_one_row_each(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        seeded = await seed_group_weeks(uow)
        group = seeded.group
        ids = await add_audience(uow, group)
        await uow.group_chats.link("telegram", "-100123", "Kibera chat", group.id, at=JOINED)
        await uow.group_chats.record("telegram", "-100999", "Unbound chat", at=JOINED)
    async with database.transaction() as uow:
        expected_text = await compose(uow, group, 2026, 48, CATALOGS)
    async with database.transaction() as uow:
        plan = await deliver(uow, group, 2026, 48, CATALOGS, NOW)

    assert plan.delivered and not plan.already_sent
    assert plan.week == "2026-W48"
    assert plan.text == expected_text
    assert plan.group_chats == {"telegram": 1}
    assert plan.members == {"whatsapp": 5, "sms": 2}
    assert plan.by_channel == {"sms": 2, "telegram": 1, "whatsapp": 5}
    assert plan.skipped == {"in_group_chat": 1, "opted_out": 1, "unreachable": 2}
    m = seeded.members
    async with database.transaction() as uow:
        rows = await outbox(uow)
        messages = list(await uow.session.scalars(select(Message).order_by(Message.id)))
        stories = {row.id: row for row in await uow.session.scalars(select(Story))}
        recorded = await uow.highlights.get(group.id, "2026-W48")
    assert rows == [
        (None, "telegram", "-100123"),
        # The seeded members, in the order they joined; Otieno has left the group.
        (m["Amina"].id, "whatsapp", "+254700000001"),
        (m["Grace"].id, "whatsapp", "+254700000002"),
        (m["Juma"].id, "whatsapp", "+254700000003"),
        (m["Wanjiru"].id, "whatsapp", "+254700000004"),
        (ids["Baraka"], "sms", "+254711000022"),
        (ids["Dalia"], "sms", "+254711000004"),
        (ids["Gift"], "whatsapp", "+254711000007"),
    ]
    assert len(plan.message_ids) == len(rows)
    for message in messages:
        assert message.text == expected_text
        assert message.status == "queued"
        assert message.payload["nudge"] == "highlight"
        assert message.payload["template"] == {"1": "Kibera Market Peers"}
    assert recorded is not None and recorded.text == expected_text
    assert recorded.created_at == NOW
    quoted = (seeded.stories["staff"], seeded.stories["amina"])
    assert plan.published_story_ids == quoted
    for story_id in quoted:
        assert stories[story_id].status == "published"
        assert stories[story_id].published_at == NOW
    assert stories[seeded.stories["grace"]].status == "approved"  # next week's


async def test_delivering_the_same_week_again_writes_nothing(database: Database) -> None:
    async with database.transaction() as uow:
        seeded = await seed_group_weeks(uow)
        await uow.group_chats.link("telegram", "-100123", "Kibera chat", seeded.group.id, at=JOINED)
    async with database.transaction() as uow:
        first = await deliver(uow, seeded.group, 2026, 48, CATALOGS, NOW)
    async with database.transaction() as uow:
        before = await outbox(uow)
        second = await deliver(uow, seeded.group, 2026, 48, CATALOGS, LATER)
    async with database.transaction() as uow:
        after = await outbox(uow)
        grace = await uow.session.get(Story, seeded.stories["grace"])
        recorded = await uow.highlights.get(seeded.group.id, "2026-W48")
    assert first.delivered and len(before) == 5
    assert second.already_sent and not second.delivered
    assert second.text == first.text  # what was sent, though the stories have moved on
    assert (second.group_chats, second.members, second.message_ids) == ({}, {}, ())
    assert second.published_story_ids == ()
    assert after == before
    assert grace is not None and grace.status == "approved"
    assert recorded is not None and recorded.created_at == NOW


async def test_without_a_bound_chat_telegram_members_get_it_privately(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        group = await uow.groups.create(
            "Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=JOINED
        )
        tatu = await add_member(uow, group.id, "Tatu", "1001", "telegram")
        await uow.members.add_address(tatu.id, "whatsapp", "+254711000001", at=JOINED)
        await uow.members.touch_inbound("telegram", "1001", datetime(2026, 11, 28, tzinfo=UTC))
    async with database.transaction() as uow:
        plan = await deliver(uow, group, 2026, 48, CATALOGS, NOW)
        rows = await outbox(uow)
    assert plan.group_chats == {} and plan.members == {"telegram": 1}
    assert rows == [(tatu.id, "telegram", "1001")]


async def test_a_recorded_week_is_kept_once(database: Database) -> None:
    async with database.transaction() as uow:
        group = await uow.groups.create(
            "Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=JOINED
        )
        assert await uow.highlights.record(group.id, "2026-W48", "first", NOW)
        assert not await uow.highlights.record(group.id, "2026-W48", "second", LATER)
        assert await uow.highlights.record(group.id, "2026-W49", "next", LATER)
    async with database.transaction() as uow:
        kept = await uow.highlights.get(group.id, "2026-W48")
        assert await uow.highlights.get(group.id, "2026-W50") is None
    assert kept is not None and (kept.text, kept.created_at) == ("first", NOW)


async def test_members_without_recorded_consent_get_no_highlight(database: Database) -> None:
    async with database.transaction() as uow:
        seeded = await seed_group_weeks(uow)
        imported = await add_member(
            uow, seeded.group.id, "Imani", "+254711000031", "sms", consent=None
        )
        declined = await add_member(uow, seeded.group.id, "Jabari", "+254711000032", consent=False)
    async with database.transaction() as uow:
        plan = await deliver(uow, seeded.group, 2026, 48, CATALOGS, NOW)
        rows = await outbox(uow)
    assert plan.skipped.get("no_consent") == 2
    assert not {imported.id, declined.id} & {member_id for member_id, _, _ in rows}
    assert len(rows) == 4  # the seeded members, who agreed
