"""Processes stop when told: Ctrl-C ends `mutuality chat` and `mutuality run --as` at once,
also while the console waits for a line, and SIGTERM ends `mutuality worker` within 10 s with
a large queue and a provider that never answers, leaving the lines it did not send queued.

Each is the real command in its own process, on the test's database (SQLite, and PostgreSQL
when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bot.turns.console import read_in_background
from storage import Database
from storage.models import Message

MUTUALITY = str(Path(sys.executable).parent / "mutuality")
TOKEN = "123456:STOP-test"
LINES = 2_000


def env_for(database_url: str, **more: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "TWILIO_", "DATABASE_", "REDIS_", "PUBLIC_"))
    }
    env.update(DATABASE_URL=database_url, PORT=str(free_port()))
    env.update(more)
    return env


def free_port() -> int:
    """A port nothing listens on now: `run` serves the console on PORT, and 8000 may be taken."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start(arguments: list[str], env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            MUTUALITY,
            *arguments,
            env=env,
            stdin=asyncio.subprocess.PIPE,  # open, and never written: the console waits
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )


async def wait_for_output(process: asyncio.subprocess.Process, text: bytes) -> None:
    assert process.stdout is not None
    seen = b""
    async with asyncio.timeout(60):
        while text not in seen:
            chunk = await process.stdout.read(1024)
            assert chunk, f"the process ended before printing {text!r}: {seen!r}"
            seen += chunk


async def exits_within(process: asyncio.subprocess.Process, seconds: float) -> float:
    started = time.monotonic()
    try:
        async with asyncio.timeout(seconds):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"still running {seconds:g} s after the signal") from None
    return time.monotonic() - started


async def test_a_cancelled_console_read_ends_at_once() -> None:
    released = threading.Event()

    def blocking_input(prompt: str) -> str:
        released.wait()  # a member who never presses Enter
        return "too late"

    reading = asyncio.create_task(read_in_background(blocking_input, "you> "))
    await asyncio.sleep(0.05)
    reading.cancel()
    async with asyncio.timeout(1):
        with contextlib.suppress(asyncio.CancelledError):
            await reading
    assert reading.cancelled()
    released.set()


async def test_ctrl_c_ends_chat_while_it_waits_for_a_line(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    process = await start(
        ["chat", "--as", "+254700000001"], env_for(database_url), tmp_path / "log"
    )
    await wait_for_output(process, b"bot> ")
    process.send_signal(signal.SIGINT)
    await exits_within(process, 5)


async def test_ctrl_c_ends_run_with_its_console_while_it_waits_for_a_line(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    process = await start(["run", "--as", "+254700000002"], env_for(database_url), tmp_path / "log")
    await wait_for_output(process, b"bot> ")
    process.send_signal(signal.SIGINT)
    await exits_within(process, 5)


@contextlib.asynccontextmanager
async def provider_that_never_answers() -> AsyncIterator[str]:
    """A Bot API server that accepts connections and never answers a request."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()


async def queued(database: Database) -> int:
    async with database.read() as uow:
        statement = select(func.count()).select_from(Message).where(Message.status == "queued")
        return int(await uow.session.scalar(statement) or 0)


async def leased(database: Database) -> int:
    async with database.read() as uow:
        statement = (
            select(func.count())
            .select_from(Message)
            .where(Message.status == "queued", Message.lease_until.is_not(None))
        )
        return int(await uow.session.scalar(statement) or 0)


async def test_sigterm_stops_a_worker_within_10_s_with_a_large_queue_and_a_silent_provider(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    at = datetime.now(UTC)
    async with database.transaction() as uow:
        await uow.messages.log_many(
            [
                {
                    "member_id": None,
                    "channel": "telegram",
                    "address_value": str(7_500_000 + line % 500),
                    "direction": "out",
                    "text": f"line {line}",
                    "payload": {"nudge": "broadcast"},
                    "status": "queued",
                    "provider_message_id": None,
                    "error_code": None,
                    "created_at": at,
                    "updated_at": at,
                }
                for line in range(LINES)
            ]
        )
    async with provider_that_never_answers() as url:
        env = env_for(database_url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=url)
        process = await start(["worker"], env, tmp_path / "log")
        async with asyncio.timeout(60):
            while await leased(database) == 0:  # noqa: ASYNC110 (another process's rows)
                await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        took = await exits_within(process, 10)
    assert process.returncode == 0, (tmp_path / "log").read_text()[-2000:]
    assert took < 10
    assert await queued(database) == LINES  # nothing sent, nothing failed: all still queued
    # handed back at once, but for the sends that were in flight (one per chat at most)
    assert await leased(database) <= 500


STUCK_PROCESS = """
import asyncio
import bot.processes as processes

async def ignores_cancellation() -> None:
    print("started", flush=True)
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            continue  # what a task that swallows its cancellation does

async def main() -> None:
    stop = asyncio.Event()
    processes._stop_on_signals(stop)
    await processes._until_stopped(stop, [ignores_cancellation])

processes.run_process(main())
"""


async def test_a_process_held_by_a_task_that_ignores_cancellation_still_exits_in_time(
    tmp_path: Path,
) -> None:
    """The last resort: a job that swallows its cancellation would keep a process alive after
    SIGTERM for ever; the process exits with status 1 within `STOP_DEADLINE` and writes where
    each thread stood (here: waiting for the job)."""
    from bot.processes import STOP_DEADLINE

    log = tmp_path / "stderr"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            STUCK_PROCESS,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    assert process.stdout is not None
    async with asyncio.timeout(30):
        assert await process.stdout.readline() == b"started\n"
    process.send_signal(signal.SIGTERM)
    took = await exits_within(process, STOP_DEADLINE + 5)
    assert process.returncode == 1
    assert took >= STOP_DEADLINE - 0.5  # the jobs' grace and the deadline ran their course
    written = log.read_text()
    assert f"still running {STOP_DEADLINE:g} s after the signal to stop" in written
    assert "Current thread" in written or "Thread 0x" in written


LEFTOVER_PROCESS = """
import asyncio
import bot.processes as processes

async def closes_like_aiosqlite() -> None:
    # closing an aiosqlite connection whose thread has ended: cancelled, it awaits again
    try:
        await asyncio.Future()
    finally:
        await asyncio.Future()

async def main() -> None:
    asyncio.create_task(closes_like_aiosqlite())
    await asyncio.sleep(0.1)
    print("done", flush=True)

processes.run_process(main())
print("exited", flush=True)
"""


async def test_a_task_that_awaits_again_when_cancelled_does_not_keep_a_process_alive() -> None:
    """Once a process's work is done, the tasks it left are cancelled until they end: one
    cancellation (all `asyncio.run` gives) leaves a task that awaits again in its `finally`
    waiting for ever, and the process with it."""
    await ends_with_done_then_exited(LEFTOVER_PROCESS)


async def ends_with_done_then_exited(script: str, *arguments: str) -> None:
    """Run `script` in a fresh interpreter: it must print `done` then `exited` and end with
    status 0 within 60 s (it is killed otherwise)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(60):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert (process.returncode, out.decode().split()) == (0, ["done", "exited"]), err.decode()


LEFTOVER_COMMAND = """
import asyncio, sys
from bot.cli.app import App
from bot.settings import Settings

async def closes_like_aiosqlite() -> None:
    try:
        await asyncio.Future()
    finally:
        await asyncio.Future()

async def work(database) -> str:
    asyncio.create_task(closes_like_aiosqlite())
    await asyncio.sleep(0.1)
    return "done"

settings = Settings(_env_file=None, database_url=f"sqlite:///{sys.argv[1]}")
print(App(settings).run(work), flush=True)
print("exited", flush=True)
"""


async def test_a_command_ends_though_a_task_it_left_awaits_again_when_cancelled(
    tmp_path: Path,
) -> None:
    """The commands (`mutuality chat`, `broadcast --wait`, ...) end the tasks they leave as the
    processes do: with `asyncio.run` alone a task that awaits again in its `finally` keeps the
    command from ever ending, after its work or after Ctrl-C."""
    await ends_with_done_then_exited(LEFTOVER_COMMAND, str(tmp_path / "mutuality.db"))
