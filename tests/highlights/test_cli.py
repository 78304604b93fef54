"""`mutuality highlights preview|send` against a SQLite file named by DATABASE_URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from storage import Database
from storage.records import GroupRecord

from .builders import JOINED, seed_group_weeks
from .test_compose import ENGLISH


async def _seed(url: str) -> GroupRecord:
    database = Database(url)
    try:
        await database.upgrade()
        async with database.transaction() as uow:
            seeded = await seed_group_weeks(uow)
            await uow.group_chats.link("telegram", "-100123", "Kibera", seeded.group.id, at=JOINED)
        return seeded.group
    finally:
        await database.dispose()


def _runner_and_group(tmp_path: Path) -> tuple[CliRunner, GroupRecord]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    group = asyncio.run(_seed(url))
    return CliRunner(env={"DATABASE_URL": url}), group


def test_preview_prints_exactly_what_the_group_will_receive(tmp_path: Path) -> None:
    runner, group = _runner_and_group(tmp_path)
    by_name = runner.invoke(
        main, ["highlights", "preview", "kibera market peers", "--week", "2026-W48"]
    )
    assert by_name.exit_code == 0, by_name.output
    assert by_name.stdout == ENGLISH + "\n"
    assert "Kibera Market Peers, 2026-W48 (en, not sent yet)" in by_name.stderr
    by_code = runner.invoke(
        main, ["highlights", "preview", group.join_code.lower(), "--week", "2026-w48"]
    )
    assert by_code.exit_code == 0, by_code.output
    assert by_code.stdout == by_name.stdout


def test_preview_of_the_current_week_by_default(tmp_path: Path) -> None:
    runner, group = _runner_and_group(tmp_path)
    result = runner.invoke(main, ["highlights", "preview", group.join_code])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("This week in Kibera Market Peers:\n")


def test_send_queues_it_once_and_preview_then_shows_what_was_sent(tmp_path: Path) -> None:
    runner, group = _runner_and_group(tmp_path)
    sent = runner.invoke(main, ["highlights", "send", group.name, "--week", "2026-W48"])
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.splitlines() == [
        "Queued the 2026-W48 highlight of Kibera Market Peers: telegram 1, whatsapp 4.",
        "  group chats 1, members 4 (skipped: 0 read the group chat, 0 opted out,"
        " 0 without recorded consent, 0 unreachable); stories published 2",
    ]
    again = runner.invoke(main, ["highlights", "send", group.name, "--week", "2026-W48"])
    assert again.exit_code == 0, again.output
    assert again.stdout == (
        "The 2026-W48 highlight of Kibera Market Peers was already sent: nothing queued.\n"
    )
    preview = runner.invoke(main, ["highlights", "preview", group.name, "--week", "2026-W48"])
    assert preview.stdout == ENGLISH + "\n"  # the stories it quoted are published by now
    assert "(en, already sent)" in preview.stderr


def test_an_unknown_group_or_a_bad_week_is_a_clear_error(tmp_path: Path) -> None:
    runner, group = _runner_and_group(tmp_path)
    unknown = runner.invoke(main, ["highlights", "preview", "Nowhere Peers"])
    assert unknown.exit_code == 1
    assert 'no group is named or has the join code "Nowhere Peers"' in unknown.stderr
    bad = runner.invoke(main, ["highlights", "preview", group.name, "--week", "2026-48"])
    assert bad.exit_code == 2
    assert "'2026-48' is not an ISO week: write it like 2026-W48" in bad.stderr
    missing = runner.invoke(main, ["highlights", "send", group.name, "--week", "2027-W53"])
    assert missing.exit_code == 2
    assert "2027 has no week 53" in missing.stderr


def test_a_staff_user_of_the_group_links_a_chat_from_the_console(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    async def seed() -> tuple[GroupRecord, GroupRecord]:
        database = Database(url)
        try:
            await database.upgrade()
            async with database.transaction() as uow:
                kibera = await uow.groups.create("Kibera", "Africa/Nairobi", "en", "KES", at=JOINED)
                other = await uow.groups.create("Mathare", "Africa/Nairobi", "en", "KES", at=JOINED)
                await uow.group_chats.record("telegram", "-100777", "Market chat", at=JOINED)
                grace = await uow.staff.add("Grace", "coordinator", telegram_id="61", at=JOINED)
                await uow.staff.set_groups(grace.id, [kibera.id])
            return kibera, other
        finally:
            await database.dispose()

    async def bound() -> int | None:
        database = Database(url)
        try:
            async with database.transaction() as uow:
                chat = await uow.group_chats.get("telegram", "-100777")
            return None if chat is None else chat.group_id
        finally:
            await database.dispose()

    kibera, _ = asyncio.run(seed())
    runner = CliRunner(env={"DATABASE_URL": url})
    refused = runner.invoke(
        main, ["groups", "link-chat", "Mathare", "--chat", "-100777", "--by", "Grace"]
    )
    assert refused.exit_code != 0 and "does not work with that group" in refused.output
    assert asyncio.run(bound()) is None
    linked = runner.invoke(
        main, ["groups", "link-chat", "Kibera", "--chat", "-100777", "--by", "Grace"]
    )
    assert linked.exit_code == 0, linked.output
    assert linked.output == 'Linked "Market chat" to Kibera.\n'
    assert asyncio.run(bound()) == kibera.id
