"""The stored row of each completed check-in (`checkin_results`), on every backend: what
`record` writes, what the migration back-fills for check-ins completed before the table, and
what erasure leaves in it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from storage import Database, UnitOfWork
from storage.models import CheckinResult
from storage.repositories.answers import NewAnswer
from storage.schema_migrations import upgrade_to, upgrade_to_head
from storage.weeks import week_of

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


async def _rows(uow: UnitOfWork) -> dict[int, dict[str, Any]]:
    rows = (await uow.session.scalars(select(CheckinResult))).all()
    return {
        row.session_id: {
            "member_id": row.member_id,
            "group_id": row.group_id,
            "checkin_id": row.checkin_id,
            "ended_at": row.ended_at,
            "amounts": {
                step: (Decimal(value), currency) for step, (value, currency) in row.amounts.items()
            },
        }
        for row in rows
    }


def _answer(session_id: int, member_id: int, group_id: int | None, step: str, **kw: Any) -> Any:
    return NewAnswer(
        session_id=session_id,
        member_id=member_id,
        group_id=group_id,
        checkin_id="weekly_checkin",
        step_id=step,
        answer_type=kw.pop("answer_type", "money"),
        at=kw.pop("at", T0),
        **kw,
    )


async def _member_in_two_groups(uow: UnitOfWork) -> tuple[int, int, int]:
    first = await uow.groups.create("Kibera", "Africa/Nairobi", "en", "KES", at=T0)
    second = await uow.groups.create("Manila", "Asia/Manila", "en", "PHP", at=T0)
    member = await uow.members.create("whatsapp", "+254700000001", at=T0)
    return member.id, first.id, second.id


async def test_record_keeps_the_last_amount_of_each_step_and_the_group_of_the_last_answer(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        member, kibera, manila = await _member_in_two_groups(uow)
        done = await uow.sessions.start(member, "weekly_checkin", 1, None, {}, T0)
        running = await uow.sessions.start(member, "monthly_journal", 1, None, {}, T0)
        ended = T0 + timedelta(minutes=5)
        await uow.answers.add_many(
            [
                _answer(
                    done.id, member, kibera, "sales", value_number=Decimal(700), currency="KES"
                ),
                _answer(
                    done.id, member, kibera, "sales", value_number=Decimal("1500.5"), currency="KES"
                ),
                _answer(done.id, member, kibera, "costs", value_number=Decimal(90), currency="KES"),
                _answer(done.id, member, kibera, "costs", skipped=True),
                _answer(done.id, member, kibera, "saved", skipped=True),
                _answer(done.id, member, kibera, "saved", value_number=Decimal(5), currency="USD"),
                _answer(
                    done.id, member, kibera, "items", answer_type="number", value_number=Decimal(3)
                ),
                _answer(done.id, member, manila, "goal", answer_type="text", value_text="more"),
                _answer(
                    running.id, member, manila, "sales", value_number=Decimal(1), currency="PHP"
                ),
            ]
        )
        await uow.sessions.save(done.id, None, "completed", {}, ended, "completed")
        await uow.checkin_results.record([done.id, running.id, done.id])
        await uow.checkin_results.record([])
    async with database.read() as uow:
        rows = await _rows(uow)
    assert rows == {
        done.id: {
            "member_id": member,
            "group_id": manila,
            "checkin_id": "weekly_checkin",
            "ended_at": ended,
            "amounts": {
                "sales": (Decimal("1500.5"), "KES"),
                "costs": (Decimal(90), "KES"),
                "saved": (Decimal(5), "USD"),
            },
        }
    }


async def test_the_migration_back_fills_check_ins_completed_before_it(
    empty_database_url: str,
) -> None:
    db = Database(empty_database_url)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(upgrade_to, "0007")
            for statement in (
                "INSERT INTO groups (id, name, name_key, join_code, timezone, language, currency,"
                " created_at) VALUES (1, 'Kibera', 'kibera', 'ABC123', 'Africa/Nairobi', 'en',"
                " 'KES', '2026-11-01')",
                "INSERT INTO members (id, locale, consent, opted_out, created_at, updated_at)"
                " VALUES (1, 'en', true, false, '2026-11-01', '2026-11-01')",
                "INSERT INTO sessions (id, member_id, checkin_id, checkin_version, status, state,"
                " started_at, updated_at, ended_at) VALUES"
                " (1, 1, 'weekly_checkin', 1, 'completed', '{}', '2026-11-01 22:00:00',"
                "  '2026-11-01 22:05:00', '2026-11-01 22:05:00'),"
                " (2, 1, 'weekly_checkin', 1, 'expired', '{}', '2026-11-09 08:00:00',"
                "  '2026-11-16 08:00:00', '2026-11-16 08:00:00'),"
                " (3, 1, 'monthly_journal', 1, 'completed', '{}', '2026-11-20 08:00:00',"
                "  '2026-11-20 08:05:00', '2026-11-20 08:05:00')",
                "INSERT INTO answers (session_id, member_id, group_id, checkin_id, step_id,"
                " answer_type, value_number, currency, skipped, created_at) VALUES"
                " (1, 1, 1, 'weekly_checkin', 'sales', 'money', 700, 'KES', false,"
                "  '2026-11-01 22:01:00'),"
                " (1, 1, 1, 'weekly_checkin', 'sales', 'money', 1500, 'KES', false,"
                "  '2026-11-01 22:02:00'),"
                " (1, 1, 1, 'weekly_checkin', 'costs', 'money', NULL, NULL, true,"
                "  '2026-11-01 22:03:00'),"
                " (2, 1, 1, 'weekly_checkin', 'sales', 'money', 9, 'KES', false,"
                "  '2026-11-09 08:01:00')",
            ):
                await connection.execute(text(statement))
            await connection.run_sync(upgrade_to_head)
        async with db.read() as uow:
            rows = await _rows(uow)
            found = await uow.session.execute(select(CheckinResult.session_id, CheckinResult.week))
            weeks = {session_id: week for session_id, week in found}
    finally:
        await db.dispose()
    assert rows == {
        1: {
            "member_id": 1,
            "group_id": 1,
            "checkin_id": "weekly_checkin",
            "ended_at": datetime(2026, 11, 1, 22, 5, tzinfo=UTC),
            "amounts": {"sales": (Decimal(1500), "KES")},
        },
        3: {
            "member_id": 1,
            "group_id": None,
            "checkin_id": "monthly_journal",
            "ended_at": datetime(2026, 11, 20, 8, 5, tzinfo=UTC),
            "amounts": {},
        },
    }
    # weeks on each group's calendar: Sunday 22:05 in UTC is Monday 01:05 in Nairobi; the
    # journal has no group, so its week is the UTC one
    assert weeks == {1: week_of(date(2026, 11, 2)), 3: week_of(date(2026, 11, 16))}


async def test_erasure_leaves_only_the_numbers_the_answers_keep(database: Database) -> None:
    """Erasure keeps a member's numeric answers (program statistics) and removes their words;
    the stored row holds numbers only, so it still equals what the answers give."""
    async with database.transaction() as uow:
        member, kibera, _ = await _member_in_two_groups(uow)
        await uow.members.update(member, at=T0, name="Amina Wanjiku")
        session = await uow.sessions.start(member, "weekly_checkin", 1, None, {}, T0)
        await uow.answers.add_many(
            [
                _answer(
                    session.id,
                    member,
                    kibera,
                    "sales",
                    value_number=Decimal(800),
                    currency="KES",
                    raw_text="800 bob, Amina Wanjiku",
                ),
                _answer(
                    session.id,
                    member,
                    kibera,
                    "goal",
                    answer_type="text",
                    value_text="Amina Wanjiku's stall",
                ),
            ]
        )
        await uow.sessions.save(session.id, None, "completed", {}, T0, "completed")
        await uow.checkin_results.record([session.id])
    async with database.transaction() as uow:
        await uow.member_data.erase(member, T0 + timedelta(days=1))
    async with database.read() as uow:
        rows = await _rows(uow)
        stored = (
            await uow.session.execute(select(CheckinResult.amounts, CheckinResult.checkin_id))
        ).all()
    assert rows[session.id]["amounts"] == {"sales": (Decimal(800), "KES")}
    assert "Amina" not in repr(stored)


async def test_the_migration_gives_counted_nudges_their_groups_week(
    empty_database_url: str,
) -> None:
    """0018 back-fills `messages.week` for check-in invitations and reminders only: on the
    calendar of the group the member belonged to when the line was written (Manila: Monday
    already at 23:30 UTC on Sunday), in UTC for a member in no group, NULL for other lines."""
    db = Database(empty_database_url)
    sunday_night = "2026-11-01 23:30:00"
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(upgrade_to, "0017")
            for statement in (
                "INSERT INTO groups (id, name, name_key, join_code, timezone, language, currency,"
                " created_at) VALUES (1, 'Manila', 'manila', 'ABC123', 'Asia/Manila', 'fil',"
                " 'PHP', '2026-10-01')",
                "INSERT INTO members (id, locale, consent, opted_out, created_at, updated_at)"
                " VALUES (1, 'fil', true, false, '2026-10-01', '2026-10-01'),"
                " (2, 'en', true, false, '2026-10-01', '2026-10-01')",
                "INSERT INTO memberships (member_id, group_id, joined_at)"
                " VALUES (1, 1, '2026-10-01')",
                "INSERT INTO messages (id, member_id, channel, address_value, direction, text,"
                " payload, status, created_at, updated_at) VALUES"
                f" (1, 1, 'telegram', '1', 'out', 'Time', '{{\"nudge\": \"checkin_invitation\"}}',"
                f"  'sent', '{sunday_night}', '{sunday_night}'),"
                f" (2, 2, 'telegram', '2', 'out', 'Time', '{{\"nudge\": \"reminder\"}}',"
                f"  'sent', '{sunday_night}', '{sunday_night}'),"
                f" (3, 1, 'telegram', '1', 'out', 'News', '{{\"nudge\": \"broadcast\"}}',"
                f"  'sent', '{sunday_night}', '{sunday_night}')",
            ):
                await connection.execute(text(statement))
            await connection.run_sync(upgrade_to_head)
            found = await connection.execute(text("SELECT id, week FROM messages ORDER BY id"))
            weeks = {message_id: week for message_id, week in found}
    finally:
        await db.dispose()
    assert weeks == {1: week_of(date(2026, 11, 2)), 2: week_of(date(2026, 10, 26)), 3: None}
