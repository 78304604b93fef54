"""`mutuality broadcast` through click's test runner, on an SQLite file named by DATABASE_URL."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from storage import Database
from tests.broadcasts import seed


@pytest.fixture
def database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An SQLite file holding a group of five: three reachable, one opted out, one unreachable."""
    path = tmp_path / "mutuality.db"
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")

    async def fill() -> None:
        database = Database(f"sqlite:///{path}")
        try:
            await database.upgrade()
            async with database.transaction() as uow:
                kibera = await seed.group(uow)
                await seed.member(uow, ("telegram", "1001"), kibera.id, business_type="food")
                await seed.member(
                    uow, ("whatsapp", "+254700000002"), kibera.id, locale="sw", business_type="food"
                )
                await seed.member(uow, ("sms", "+254700000003"), kibera.id, business_type="retail")
                await seed.member(uow, ("telegram", "1004"), kibera.id, opted_out=True)
                await seed.member(uow, ("console", "browser-5"), kibera.id, business_type="food")
                await seed.staff(uow)
        finally:
            await database.dispose()

    asyncio.run(fill())
    return path


def rows(path: Path, table: str) -> int:
    async def counted() -> int:
        database = Database(f"sqlite:///{path}")
        try:
            return await seed.count(database, f"SELECT count(*) FROM {table}")
        finally:
            await database.dispose()

    return asyncio.run(counted())


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["broadcast", *args], catch_exceptions=False)


def text_file(
    tmp_path: Path, body: str = "[en]\nMarket day is Thursday.\n[sw]\nSiku ya soko ni Alhamisi.\n"
) -> str:
    path = tmp_path / "news.txt"
    path.write_text(body, encoding="utf-8")
    return str(path)


def nothing_written(path: Path) -> bool:
    return all(
        rows(path, table) == 0 for table in ("broadcasts", "broadcast_recipients", "messages")
    )


def test_a_dry_run_counts_by_channel_and_writes_nothing(
    database_file: Path, tmp_path: Path
) -> None:
    result = run("--group", "kibera market peers", "--text-file", text_file(tmp_path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was written.\nSent now, it would reach 3 of 5 matching members:" in (
        result.output
    )
    for line in (
        "telegram  1",
        "whatsapp  1",
        "sms       1",
        "none      1  (no reachable address)",
    ):
        assert f"    {line}\n" in result.output
    assert "skipped: 2 (1 opted out, 1 with no reachable address)" in result.output
    assert "texts: [en] 2, [sw] 1" in result.output
    assert nothing_written(database_file)


def test_a_dry_run_reports_who_is_left_out_for_lack_of_consent(
    database_file: Path, tmp_path: Path
) -> None:
    async def add_imported() -> None:
        database = Database(f"sqlite:///{database_file}")
        try:
            async with database.transaction() as uow:
                [kibera] = await uow.groups.list()
                await seed.member(uow, ("sms", "+254700000031"), kibera.id, consent=None)
                await seed.member(uow, ("sms", "+254700000032"), kibera.id, consent=None)
        finally:
            await database.dispose()

    asyncio.run(add_imported())
    result = run("--group", "kibera market peers", "--text-file", text_file(tmp_path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "it would reach 3 of 7 matching members:" in result.output
    assert (
        "skipped: 4 (1 opted out, 2 without recorded consent, 1 with no reachable address)"
        in result.output
    )


def test_a_dry_run_of_a_segment_matching_nobody_says_zero(
    database_file: Path, tmp_path: Path
) -> None:
    result = run(
        "--group", "Kibera Market Peers", "--segment", "business_type=farming",
        "--text-file", text_file(tmp_path, "Hello all"), "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "it would reach 0 of 0 matching members" in result.output
    assert nothing_written(database_file)


def test_a_dry_run_with_a_segment_and_a_time(database_file: Path, tmp_path: Path) -> None:
    result = run(
        "--group", "Kibera Market Peers", "--segment", "business_type=food", "--language", "en",
        "--text-file", text_file(tmp_path, "Hello all"), "--at", "2099-01-05 09:00", "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Sent 2099-01-05 09:00 Africa/Nairobi (2099-01-05 06:00 UTC)" in result.output
    assert "reach 1 of 2 matching members" in result.output  # the food sellers who speak English
    assert nothing_written(database_file)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--segment", "revenue>5"), "unknown field 'revenue'"),
        (("--segment", "sales>=1,000"), "without thousands separators"),
        (("--at", "2020-01-01 09:00"), "is in the past"),
        (("--at", "next monday"), "is not a date and time like YYYY-MM-DD HH:MM"),
        (("--language", "xx"), "'xx' is not a shipped language"),
    ],
)
def test_mistakes_are_explained(
    database_file: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run("--text-file", text_file(tmp_path), *args, "--dry-run")
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert nothing_written(database_file)


def test_a_time_inside_the_groups_quiet_hours_is_refused_with_the_next_allowed(
    database_file: Path, tmp_path: Path
) -> None:
    result = run(
        "--group", "Kibera Market Peers", "--text-file", text_file(tmp_path),
        "--at", "2099-01-05 22:30", "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert (
        "2099-01-05 22:30 Africa/Nairobi" in said and "inside Kibera Market Peers's quiet" in said
    )
    assert "the first time allowed is 2099-01-06 07:00 Africa/Nairobi" in said
    assert nothing_written(database_file)


def test_an_unknown_group_is_the_same_error_as_everywhere(
    database_file: Path, tmp_path: Path
) -> None:
    result = run("--text-file", text_file(tmp_path), "--group", "Nowhere", "--dry-run")
    assert result.exit_code == 1
    assert 'no group is named or has the join code "Nowhere"' in result.output
    assert nothing_written(database_file)


def test_text_files_are_checked(database_file: Path, tmp_path: Path) -> None:
    unknown = run("--text-file", text_file(tmp_path, "[xx]\nHi\n"), "--dry-run")
    assert unknown.exit_code == 2 and "[xx] is not a shipped language" in unknown.output
    long = run("--text-file", text_file(tmp_path, "x" * 1601), "--dry-run")
    assert long.exit_code == 2 and "1,601 characters" in long.output
    assert run("--dry-run").exit_code == 2
    assert nothing_written(database_file)


def test_sending_now_queues_and_status_and_list_show_it(
    database_file: Path, tmp_path: Path
) -> None:
    result = run(
        "--group", "Kibera Market Peers", "--text-file", text_file(tmp_path), "--by", "1",
        "--batch", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Broadcast #1: 3 messages queued, 2 members skipped" in result.output
    assert "mutuality broadcast status 1" in result.output
    assert rows(database_file, "messages") == 3

    status = run("status", "1")
    assert status.exit_code == 0, status.output
    # every recipient is queued, but nothing is sent yet: it is sending, with an estimate
    assert "Broadcast #1: sending by staff #1 (3 messages to go, about " in status.output
    # --by names the sender as everywhere else: id, phone or name, checked against the staff
    unknown = run("--group", "Kibera Market Peers", "--text-file", text_file(tmp_path),
                  "--by", "Nobody Here", "--dry-run")  # fmt: skip
    assert unknown.exit_code == 1 and "no staff user" in unknown.output
    assert 'to:        group "Kibera Market Peers"' in status.output
    assert "recipients: 5 (queued 3, skipped 2 (1 opted out, 1 with no reachable address))" in (
        status.output
    )
    assert "messages: queued 3, sent 0" in status.output

    listed = run("list")
    assert listed.exit_code == 0
    assert "    1  done" in listed.output
    assert run("status", "7").exit_code == 1


def test_cancelling_a_broadcast_stops_its_queued_messages(
    database_file: Path, tmp_path: Path
) -> None:
    assert run("--group", "Kibera Market Peers", "--text-file", text_file(tmp_path)).exit_code == 0
    cancelled = run("cancel", "1")
    assert cancelled.exit_code == 0, cancelled.output
    assert "Broadcast #1 cancelled: 3 queued messages will not be sent" in cancelled.output
    assert rows(database_file, "messages WHERE status = 'queued'") == 0
    assert rows(database_file, "messages WHERE error_code = 'cancelled'") == 3
    status = run("status", "1")
    assert "Broadcast #1: cancelled" in status.output
    again = run("cancel", "1")
    assert again.exit_code == 1 and "is cancelled already" in again.output
    assert run("cancel", "9").exit_code == 1


def test_waiting_stops_at_the_deadline(database_file: Path, tmp_path: Path) -> None:
    result = run(
        "--group", "Kibera Market Peers", "--text-file", text_file(tmp_path), "--wait", "1"
    )
    assert result.exit_code == 0, result.output
    # not a terminal: plain lines, with what is left and an ETA from the channels' rates
    assert "Broadcast #1: 0/3 (0%) sent 0 · failed 0 · left 3 · ETA 1s" in result.stderr
    assert "Stopped watching after 1 s: 0 sent, 0 failed, 3 left." in result.stdout
    assert "check with: mutuality broadcast status 1" in result.stdout
    assert rows(database_file, "messages WHERE status = 'queued'") == 3


def test_waiting_shows_the_broadcast_going_out_until_it_is_sent(
    database_file: Path, tmp_path: Path
) -> None:
    """`--wait` alone watches until nothing is left to send, whatever sends it: here a stand-in
    for the sender marks the queued messages sent and failed while the command watches."""

    def sender() -> None:
        connection = sqlite3.connect(database_file, timeout=30)
        try:
            while not connection.execute(
                "SELECT count(*) FROM messages WHERE status = 'queued'"
            ).fetchone()[0]:
                time.sleep(0.05)
            time.sleep(1.5)  # the watcher sees them queued first
            ids = [row[0] for row in connection.execute("SELECT id FROM messages ORDER BY id")]
            with connection:
                connection.execute(
                    "UPDATE messages SET status = 'sent' WHERE id IN (?, ?)", ids[:2]
                )
                connection.execute("UPDATE messages SET status = 'failed' WHERE id = ?", ids[2:])
        finally:
            connection.close()

    thread = threading.Thread(target=sender)
    thread.start()
    try:
        result = run("--group", "Kibera Market Peers", "--text-file", text_file(tmp_path), "--wait")
    finally:
        thread.join()
    assert result.exit_code == 0, result.output
    assert "Broadcast #1: 0/3 (0%) sent 0 · failed 0 · left 3" in result.stderr
    assert result.stderr.rstrip().endswith("Broadcast #1: 3/3 (100%) sent 2 · failed 1 · left 0")
    assert "Broadcast #1 sent: 2 sent, 1 failed, 0 left." in result.stdout
    assert "messages: queued 0, sent 2, delivered 0, read 0, failed 1" in result.stdout


def test_a_broadcast_for_later_is_only_scheduled(database_file: Path, tmp_path: Path) -> None:
    result = run(
        "--group", "Kibera Market Peers", "--segment", "business_type = food",
        "--text-file", text_file(tmp_path), "--at", "2099-01-05 09:00",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "Scheduled broadcast #1 for 2099-01-05 09:00 Africa/Nairobi (2099-01-05 06:00 UTC)"
        in result.output
    )
    assert rows(database_file, "broadcasts") == 1
    assert rows(database_file, "broadcast_recipients") == 0
    status = run("status", "1")
    assert "Broadcast #1: scheduled (waiting for its time)" in status.output
    assert "segment business_type=food" in status.output
    assert "not planned yet" in status.output


def test_ctrl_c_stops_watching_and_the_broadcast_goes_on(
    database_file: Path, tmp_path: Path
) -> None:
    command = [str(Path(sys.executable).parent / "mutuality"), "broadcast", "--group",
               "Kibera Market Peers", "--text-file", text_file(tmp_path), "--wait"]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # plain lines: the output is no terminal
            if line.startswith("Broadcast #1: 0/3"):
                break
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stdout
    assert (
        "Stopped watching; broadcast #1 goes on. Watch it again with: "
        "mutuality broadcast status 1" in stdout
    )
    assert rows(database_file, "messages WHERE status = 'queued'") == 3
    status = run("status", "1")
    assert "Broadcast #1: sending" in status.output and "3 messages to go" in status.output
