"""Each process's memory, idle and after load, and `mutuality run`'s time to its first answer.

A small program's production deployment (`web`, `worker`, `clock` on PostgreSQL and Redis, with
Telegram and Twilio configured) is started from a checkout's own `mutuality` command, exactly as
an operator starts it. Telegram is `tests.fakes.telegram_api.FakeTelegram`, in this process;
Twilio's API URL points nowhere (nothing is sent to WhatsApp here, the adapter is only built).
Measured:

1. idle: VmRSS of each process once all three are up (web answers /readyz and has set its
   webhook, the worker and the clock have logged that they started) and a few seconds passed;
2. after load: `--chats` new members each send `/start` to the webhook (`--concurrency` POSTs at
   a time), and every one gets the first onboarding question back at the fake: the time that
   takes (answers per second, end to end) and then VmRSS and the peak VmHWM of each process;
3. `mutuality run` (one process, SQLite, long polling, nothing else configured): from the moment
   the process is spawned to the arrival of the answer to a `/start` waiting in the fake's
   getUpdates queue, `--runs` times: the first on a new database (migrations run at start), the
   others on that database again; and the process's VmRSS when it answered.

Run it for each checkout to compare, in the same hour (the machine's other work moves every
figure):

    python benchmarks/process_footprint.py                                  # this checkout
    python benchmarks/process_footprint.py --checkout /work/main \\
        --mutuality /work/main/.venv/bin/mutuality

Everything it starts (processes, the database, Redis keys, temp files) is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # for `tests.fakes`, which is not an installed package
    sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

TOKEN = "123456:FOOTPRINT-token"
SECRET = "footprint-webhook-secret"
SETTLE_SECONDS = 5.0
FIRST_CHAT = 7_100_000_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB; (0, 0) when it is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0])
    return round(values["VmRSS"] / 1024, 1), round(values["VmHWM"] / 1024, 1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without any of the bot's settings, plus `extra`."""
    prefixes = ("TELEGRAM_", "TWILIO_", "DATABASE_", "REDIS_", "PUBLIC_", "PORT", "PTB_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    env.update(extra)
    return env


def start_update(update_id: int, chat: int) -> dict[str, Any]:
    """A new member's `/start` in a private chat, as Telegram sends it."""
    user = {"id": chat, "is_bot": False, "first_name": "Amina", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "from": user,
            "chat": {"id": chat, "first_name": "Amina", "type": "private"},
            "date": int(time.time()),
            "text": "/start",
            "entities": [{"offset": 0, "length": 6, "type": "bot_command"}],
        },
    }


@dataclass
class Child:
    label: str
    process: asyncio.subprocess.Process
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.text().splitlines()[-lines:])


class Processes:
    """`mutuality <kind>` processes of one checkout: started, watched, always stopped."""

    def __init__(self, mutuality: Path, checkout: Path, workdir: Path) -> None:
        self.mutuality = mutuality
        self.checkout = checkout
        self.workdir = workdir
        self.children: list[Child] = []

    async def spawn(self, command: str, env: dict[str, str], label: str | None = None) -> Child:
        """`mutuality <command>` (its words split on spaces), its output in a log file."""
        label = label or command
        path = self.workdir / f"{label}.log"
        with path.open("ab") as output:
            process = await asyncio.create_subprocess_exec(
                str(self.mutuality),
                *command.split(),
                env=env,
                cwd=self.checkout,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        child = Child(label, process, path)
        self.children.append(child)
        return child

    def check_alive(self) -> None:
        for child in self.children:
            if child.process.returncode is not None:
                raise RuntimeError(f"{child.label} exited:\n{child.tail()}")

    async def until(self, condition: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not happen in {timeout:g} s")
            await asyncio.sleep(0.02)

    async def stop(self, child: Child | None = None) -> None:
        for one in [child] if child is not None else list(self.children):
            if one.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(one.process.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(one.process.wait(), timeout=20)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(one.process.pid, signal.SIGKILL)
                    await one.process.wait()
            if one in self.children:
                self.children.remove(one)


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """A new PostgreSQL database for one run (dropped afterwards): its URL."""
    name = f"footprint_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = admin_url.rsplit("/", 1)[0]
        try:
            yield f"{base}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def drop_keys(redis_url: str, prefix: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def production(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Phases 1 and 2: web, worker and clock, idle and after load."""
    port = free_port()
    prefix = f"footprint:{uuid.uuid4().hex[:8]}:"
    async with FakeTelegram(token=TOKEN) as fake, fresh_database(args.postgres) as database:
        env = environment(
            {
                "DATABASE_URL": database,
                "REDIS_URL": args.redis,
                "REDIS_PREFIX": prefix,
                "PORT": str(port),
                "PUBLIC_URL": f"http://127.0.0.1:{port}",
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": fake.url,
                "TELEGRAM_WEBHOOK_SECRET": SECRET,
                "TELEGRAM_RATE_PER_SECOND": str(args.rate),
                "TELEGRAM_CHAT_RATE_PER_SECOND": "1000",
                "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
                "TWILIO_AUTH_TOKEN": "footprint",
                "TWILIO_WHATSAPP_FROM": "+14155550100",
                "TWILIO_API_URL": "http://127.0.0.1:9",
            }
        )
        processes = Processes(args.mutuality, args.checkout, workdir)
        try:
            release = await processes.spawn("db upgrade", env, label="release")
            processes.children.remove(release)  # it ends by itself
            if await release.process.wait() != 0:
                raise RuntimeError(f"db upgrade failed:\n{release.tail()}")
            await processes.spawn("web", env)
            worker = await processes.spawn("worker", env)
            clock = await processes.spawn("clock", env)
            await processes.until(lambda: fake.webhook is not None, "web's setWebhook", 90)
            await processes.until(lambda: "worker started" in worker.text(), "worker start", 90)
            await processes.until(lambda: "clock started" in clock.text(), "clock start", 90)
            await asyncio.sleep(SETTLE_SECONDS)
            idle = {child.label: memory_mib(child.process.pid)[0] for child in processes.children}
            log(f"idle: {idle}")

            seconds = await load(fake, port, args.chats, args.concurrency, processes)
            await asyncio.sleep(SETTLE_SECONDS)
            loaded = {
                child.label: dict(zip(("rss", "peak"), memory_mib(child.process.pid), strict=True))
                for child in processes.children
            }
            log(f"after load: {loaded}")
            return {
                "idle_rss_mib": idle,
                "after_load_mib": loaded,
                "load": {
                    "chats": args.chats,
                    "seconds": round(seconds, 2),
                    "answers_per_second": round(args.chats / seconds, 1),
                },
            }
        finally:
            await processes.stop()
            await drop_keys(args.redis, prefix)


async def load(
    fake: FakeTelegram, port: int, chats: int, concurrency: int, processes: Processes
) -> float:
    """`chats` new members send /start through the webhook; seconds until each got an answer."""
    url = f"http://127.0.0.1:{port}/webhooks/telegram"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    bodies = [json.dumps(start_update(900_000 + n, FIRST_CHAT + n)).encode() for n in range(chats)]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    fake.reset()

    async def poster(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            async with session.post(url, data=body, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"webhook answered {response.status}")

    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(poster(session) for _ in range(concurrency)))

    def answered() -> bool:
        return len({sent["chat_id"] for sent in fake.sent}) >= chats

    await processes.until(answered, f"answers to {chats} members", 600)
    return max(sent["at"] for sent in fake.sent) - started


async def first_answers(args: argparse.Namespace, workdir: Path) -> list[dict[str, float]]:
    """Phase 3: `mutuality run`, spawned, until its first answer arrives at the fake."""
    results = []
    database = f"sqlite+aiosqlite:///{workdir / 'run.db'}"
    async with FakeTelegram(token=TOKEN) as fake:
        env = environment(
            {"DATABASE_URL": database, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake.url}
        )
        processes = Processes(args.mutuality, args.checkout, workdir)
        for run in range(args.runs):
            fake.reset()
            fake.push_update(start_update(500 + run, FIRST_CHAT - 1 - run))
            started = time.monotonic()
            child = await processes.spawn("run", env, label=f"run-{run}")
            try:
                await processes.until(lambda: bool(fake.sent), "the first answer", 120)
                seconds = fake.sent[0]["at"] - started
                rss = memory_mib(child.process.pid)[0]
            finally:
                await processes.stop(child)
            results.append(
                {"database": "new" if run == 0 else "existing", "seconds": round(seconds, 2)}
                | {"rss_mib": rss}
            )
            log(f"run {run}: {results[-1]}")
    return results


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="footprint-") as folder:
        workdir = Path(folder)
        report: dict[str, Any] = {
            "checkout": str(args.checkout),
            "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": machine(),
        }
        report["run_first_answer"] = await first_answers(args, workdir)
        report["production"] = await production(args, workdir)
    print(json.dumps(report, indent=2))


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the processes' folder")
    parser.add_argument(
        "--mutuality",
        type=Path,
        default=Path(sys.executable).parent / "mutuality",
        help="the checkout's `mutuality` command (in its own virtualenv)",
    )
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="a PostgreSQL database to create the run's own database from",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--chats", type=int, default=1500, help="members sending /start")
    parser.add_argument("--concurrency", type=int, default=32, help="webhook POSTs at a time")
    parser.add_argument("--rate", type=float, default=1000.0, help="TELEGRAM_RATE_PER_SECOND")
    parser.add_argument("--runs", type=int, default=3, help="`mutuality run` starts")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(arguments()))
