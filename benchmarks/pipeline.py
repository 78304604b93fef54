"""The whole pipeline, end to end: members answering the weekly check-in over the real webhook.

Simulated Telegram members POST updates to `/webhooks/telegram` of a real uvicorn server (an
aiohttp client, with the secret header); the bot's replies go out through aiogram to a fake
Telegram Bot API server running in this process (`tests.fakes.telegram_api.FakeTelegram`), which
records when each one arrives. Every member is onboarded and in a group of eight before the run,
so "checkin" starts the weekly check-in and the eight answers after it go through every question
a member of a group sees (the help questions included). Measured, per backend:

1. closed loop: a fixed number of answers from many members at once, each member sending its next
   answer when it got the reply to the previous one: answers per second end to end (first POST
   to the last reply at the fake), with latencies under saturation;
2. open loop: answers at a fixed offered rate (`--rate`) spread over many members: webhook
   latency (the POST's HTTP round trip) p50/p99;
3. in the same run: time from inbound to outbound (POST start to the arrival of the turn's last
   reply line at the fake) p50/p99;
4. the sender against a limit: the fake enforces `--send-limit` sends a second overall and the
   bot is configured with the same TELEGRAM_RATE_PER_SECOND; a burst of outbox rows to many chats
   is written at once: achieved rate / limit, and the fake's 429 count;
5. RSS (VmRSS, and the peak VmHWM) of every process involved, and CPU use per process per phase.

Backends:

* `embedded`: an SQLite file in a temp directory and in-process coordination, everything in ONE
  process like `mutuality run` (`Runtime.open`, `create_app` under uvicorn, worker and sender in
  the same event loop). That process is a child of this script (this script re-run with a hidden
  flag), so that the load generator and the fake Telegram do not share its event loop and core.
* `production`: a fresh PostgreSQL database (created and dropped here) and Redis under a unique
  REDIS_PREFIX (its keys deleted afterwards), one `mutuality web` and `--workers` `mutuality
  worker` processes, started with the environment variables an operator would set.

The rate limits are raised (TELEGRAM_RATE_PER_SECOND=100000, TELEGRAM_CHAT_RATE_PER_SECOND=1000,
the fake enforcing none) for phases 1-3, so the limiter does not cap them; phase 4 restarts the
bot's processes with the limit under test. Everything this script starts (processes, database,
Redis keys, temp files) is removed at the end, on Ctrl-C and on errors too.

    python benchmarks/pipeline.py                          # both backends, about 2-3 minutes
    python benchmarks/pipeline.py --backend production --workers 2 --answers 4000
    python benchmarks/pipeline.py --backend embedded --profile /tmp/profiles   # cProfile dumps
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import cProfile
import itertools
import json
import os
import platform
import pstats
import signal
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # for `tests.fakes`, which is not an installed package
    sys.path.insert(0, str(ROOT))

from storage import Database  # noqa: E402
from storage.urls import async_url  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

TOKEN = "123456:BENCH-token"
SECRET = "bench-webhook-secret"
MUTUALITY = Path(sys.executable).parent / "mutuality"
FIXTURE = ROOT / "tests" / "fixtures" / "telegram" / "message_text.json"
GROUP_SIZE = 8
FAST_RATE = 100_000.0  # the limiter's overall rate in phases 1-3: high enough never to wait
FAST_CHAT_RATE = 1_000.0
REPLY_TIMEOUT = 60.0

# The weekly check-in as a group member answers it (conversations/definitions/weekly_checkin.yaml)
# and the beginning of each line the bot answers with; "skip" ends it with two lines.
SCRIPT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("checkin", ("How much did you sell",)),
    ("2500", ("How much did you spend",)),
    ("300", ("How much did you save",)),
    ("100", ("Did you help another member",)),
    ("no", ("Did a member of your group help you",)),
    ("no", ("What was your biggest challenge",)),
    ("rain", ("What is one goal",)),
    ("more stock", ("Is there something you are proud of",)),
    ("skip", ("Skipped.", "Thank you,")),
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (NaN when there are none)."""
    if not sorted_values:
        return float("nan")
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] if ordered else float("nan")) * 1000,
    }


# --- /proc ---------------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB; (0, 0) if it is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0, 0
    for line in lines:
        key, _, rest = line.partition(":")
        if key in values:
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# --- the fake Telegram, with arrivals per chat --------------------------------------------------


class RecordingTelegram(FakeTelegram):
    """FakeTelegram that also files each accepted sendMessage under its chat, and wakes whoever
    waits for a chat's next lines."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arrivals: defaultdict[str, list[tuple[float, str]]] = defaultdict(list)
        self._waiters: dict[str, tuple[int, asyncio.Future[float]]] = {}
        self._changed = asyncio.Event()

    async def __aenter__(self) -> RecordingTelegram:
        await super().__aenter__()
        return self

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait, up to `timeout` seconds, until `condition()` holds after a line arrives."""
        deadline = time.monotonic() + timeout
        while not condition():
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))
        return True

    def expect(self, chat: str, more: int) -> asyncio.Future[float]:
        """A future for the arrival time of the `more`-th line from now to `chat`."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters[chat] = (len(self.arrivals[chat]) + more, future)
        return future

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        before = len(self.sent)
        response = await super()._send_message(params)
        if len(self.sent) > before:
            line = self.sent[-1]
            chat = str(line["chat_id"])
            arrived = self.arrivals[chat]
            arrived.append((float(line["at"]), str(line["text"])))
            self._changed.set()
            waiter = self._waiters.get(chat)
            if waiter is not None and len(arrived) >= waiter[0]:
                del self._waiters[chat]
                if not waiter[1].done():
                    waiter[1].set_result(arrived[waiter[0] - 1][0])
        return response


# --- the system under test ----------------------------------------------------------------------


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without any of the bot's settings, plus `extra`."""
    prefixes = ("TELEGRAM_", "TWILIO_", "DATABASE_", "REDIS_", "PUBLIC_", "PORT", "CHECKINS_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    env.update(extra)
    return env


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Child:
    label: str
    process: asyncio.subprocess.Process
    log: Path


class Stack:
    """The bot's processes for one phase: started, checked, stopped (always)."""

    def __init__(self, label: str, workdir: Path, profile_dir: Path | None) -> None:
        self.label = label
        self.workdir = workdir
        self.profile_dir = profile_dir
        self.children: list[Child] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def address_settings(self) -> dict[str, str]:
        return {"PORT": str(self.port), "PUBLIC_URL": self.url}

    async def spawn(self, label: str, argv: list[str], env: dict[str, str]) -> Child:
        path = self.workdir / f"{self.label}-{label}.log"
        with path.open("ab") as stderr:  # the child keeps its own copy of the descriptor
            process = await asyncio.create_subprocess_exec(
                *argv,
                env=env,
                cwd=self.workdir,  # no stray .env from the caller's folder
                stdin=asyncio.subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        child = Child(label, process, path)
        self.children.append(child)
        return child

    def profiled(self, label: str, argv: list[str]) -> list[str]:
        if self.profile_dir is None:
            return argv
        output = self.profile_dir / f"{self.label}-{label}.prof"
        return [sys.executable, "-m", "cProfile", "-o", str(output), *argv]

    def check_alive(self) -> None:
        for child in self.children:
            if child.process.returncode is not None:
                raise RuntimeError(
                    f"{child.label} exited with {child.process.returncode}:\n{tail(child.log)}"
                )

    async def wait_ready(self, worker_logs: Sequence[Child], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                self.check_alive()
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.url}/healthz did not answer in {timeout:g} s")
                await asyncio.sleep(0.1)
        for child in worker_logs:
            while "worker started" not in child.log.read_text(errors="replace"):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{child.label} did not start:\n{tail(child.log)}")
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """SIGTERM every process group we started, then SIGKILL what is left after 20 s."""
        for child in self.children:
            if child.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGTERM)
        for child in self.children:
            try:
                await asyncio.wait_for(child.process.wait(), timeout=20)
            except TimeoutError:
                log(f"{child.label} did not stop in 20 s: SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                await child.process.wait()
            if child.process.returncode not in (0, -signal.SIGTERM):
                log(f"{child.label} exited with {child.process.returncode}:\n{tail(child.log)}")

    def processes(self) -> list[tuple[str, int]]:
        return [(child.label, child.process.pid) for child in self.children]


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def bot_settings(fake_url: str, rate: float, chat_rate: float) -> dict[str, str]:
    """The settings every process of the bot gets (PORT and PUBLIC_URL come with the stack)."""
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_RATE_PER_SECOND": repr(rate),
        "TELEGRAM_CHAT_RATE_PER_SECOND": repr(chat_rate),
    }


async def start_embedded(
    label: str, workdir: Path, database_url: str, env: dict[str, str], profile: Path | None
) -> Stack:
    stack = Stack(label, workdir, profile)
    env = child_environment({**env, **stack.address_settings(), "DATABASE_URL": database_url})
    argv = [sys.executable, str(Path(__file__).resolve()), "--serve-embedded"]
    if profile is not None:
        argv += ["--profile", str(profile / f"{label}-embedded.prof")]
    await stack.spawn("mutuality (embedded)", argv, env)
    await stack.wait_ready([])
    return stack


async def start_production(
    label: str,
    workdir: Path,
    database_url: str,
    redis_url: str,
    prefix: str,
    env: dict[str, str],
    workers: int,
    profile: Path | None,
) -> Stack:
    stack = Stack(label, workdir, profile)
    env = child_environment(
        {
            **env,
            **stack.address_settings(),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": prefix,
        }
    )
    await stack.spawn("web", stack.profiled("web", [str(MUTUALITY), "web"]), env)
    started = [
        await stack.spawn(
            f"worker {n}", stack.profiled(f"worker{n}", [str(MUTUALITY), "worker"]), env
        )
        for n in range(1, workers + 1)
    ]
    await stack.wait_ready(started)
    return stack


# --- the embedded process (this script re-run with --serve-embedded) ----------------------------


async def serve_embedded() -> None:
    """`mutuality run`'s one process, built here: web server, worker and sender in one loop."""
    import logging

    import uvicorn

    from bot.runtime import Runtime
    from bot.settings import Settings
    from bot.web.app import create_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Runtime.open(settings) as runtime:
        config = uvicorn.Config(
            create_app(runtime),
            host="127.0.0.1",
            port=settings.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        server = Server(config)
        tasks = [
            asyncio.create_task(server.serve()),
            asyncio.create_task(runtime.worker.run(stop)),
            asyncio.create_task(runtime.sender.run(stop)),
        ]
        await stop.wait()
        server.should_exit = True
        await asyncio.gather(*tasks)


def run_embedded_child(profile: str | None) -> None:
    if profile is None:
        asyncio.run(serve_embedded())
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(serve_embedded())
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


# --- members and their messages -----------------------------------------------------------------


async def create_members(database: Database, counts: dict[str, int]) -> dict[str, list[str]]:
    """Onboarded members with consent, in groups of eight, with Telegram chat ids as addresses."""
    now = datetime.now(UTC)
    chats: dict[str, list[str]] = {}
    number = itertools.count(5_100_000_001)
    group_number = itertools.count(1)
    async with database.transaction() as uow:
        for name, count in counts.items():
            chats[name] = []
            group = None
            for index in range(count):
                if index % GROUP_SIZE == 0:
                    group = await uow.groups.create(
                        f"Bench {name} {next(group_number)}", "Africa/Nairobi", "en", "KES", at=now
                    )
                assert group is not None
                chat = str(next(number))
                member = await uow.members.create("telegram", chat, "en", "KES", at=now)
                await uow.members.update(
                    member.id,
                    at=now,
                    name=f"Member {chat[-4:]}",
                    consent=True,
                    business_type="shop",
                    onboarded_at=now,
                )
                await uow.members.join_group(member.id, group.id, now)
                chats[name].append(chat)
    return chats


class Webhook:
    """Telegram's side of the webhook: text updates POSTed with the secret, one id each."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = f"{url}/webhooks/telegram"
        self.template: dict[str, Any] = json.loads(FIXTURE.read_text())
        self.ids = itertools.count(900_000_001)
        self.errors = 0

    def update(self, chat: str, text: str) -> bytes:
        update_id = next(self.ids)
        body = copy.deepcopy(self.template)
        body["update_id"] = update_id
        message = body["message"]
        message["message_id"] = update_id
        message["text"] = text
        message["date"] = int(time.time())
        message["chat"]["id"] = int(chat)
        message["from"]["id"] = int(chat)
        return json.dumps(body).encode()

    async def post(self, body: bytes) -> tuple[float, float]:
        """POST until accepted (Telegram redelivers the same update); (start, end) of the
        accepted attempt, monotonic seconds."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        for attempt in range(10):
            started = time.monotonic()
            try:
                async with self.session.post(self.url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status == 200:
                        return started, time.monotonic()
                    reason = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as error:
                reason = repr(error)
            self.errors += 1
            if self.errors <= 5:
                log(f"webhook POST failed ({reason}); retrying")
            await asyncio.sleep(0.1 * (attempt + 1))
        raise RuntimeError("a webhook POST failed 10 times")


@dataclass
class Turns:
    """What was sent, for matching replies: per chat, (POST start, POST end, step) in order."""

    by_chat: defaultdict[str, list[tuple[float, float, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    unexpected: list[str] = field(default_factory=list)

    def match(self, fake: RecordingTelegram) -> tuple[list[float], list[float], int]:
        """(webhook latencies, inbound-to-outbound latencies, turns whose replies are missing).
        A chat's replies come in order, so the n-th turn's lines are the next ones in line."""
        webhook: list[float] = []
        through: list[float] = []
        missing = 0
        for chat, turns in self.by_chat.items():
            lines = fake.arrivals.get(chat, [])
            position = 0
            for started, ended, step in turns:
                webhook.append(ended - started)
                expected = SCRIPT[step][1]
                got = lines[position : position + len(expected)]
                position += len(expected)
                if len(got) < len(expected):
                    missing += 1
                    continue
                for (_, text), prefix in zip(got, expected, strict=True):
                    if not text.startswith(prefix) and len(self.unexpected) < 5:
                        self.unexpected.append(f"{chat}: expected {prefix!r}..., got {text!r}")
                through.append(got[-1][0] - started)
        return webhook, through, missing


# --- the phases ---------------------------------------------------------------------------------


@dataclass
class Meter:
    """CPU seconds of the bot's processes, the PostgreSQL backends of our database, Redis and
    this process over one phase."""

    pids: list[tuple[str, int]]
    admin_dsn: str | None = None
    database_name: str | None = None
    redis: Redis | None = None
    start_wall: float = 0.0
    start: dict[str, float] = field(default_factory=dict)

    async def sample(self) -> dict[str, float]:
        values = {label: cpu_seconds(pid) for label, pid in self.pids}
        values["benchmark (load + fake Telegram)"] = cpu_seconds(os.getpid())
        if self.admin_dsn and self.database_name:
            connection = await asyncpg.connect(self.admin_dsn)
            try:
                rows = await connection.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database_name
                )
            finally:
                await connection.close()
            values["postgres backends"] = sum(cpu_seconds(int(row["pid"])) for row in rows)
        if self.redis is not None:
            info = await self.redis.info("cpu")
            values["redis-server"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        return values

    async def begin(self) -> None:
        self.start = await self.sample()
        self.start_wall = time.monotonic()

    async def end(self) -> dict[str, float]:
        """CPU use per process over the phase, in percent of one core."""
        values = await self.sample()
        wall = max(1e-9, time.monotonic() - self.start_wall)
        return {
            label: round(100 * max(0.0, value - self.start.get(label, 0.0)) / wall, 1)
            for label, value in values.items()
        }


async def ticker(describe: Callable[[], str], every: float = 2.0) -> None:
    while True:
        await asyncio.sleep(every)
        log(describe())


@contextlib.asynccontextmanager
async def progress(describe: Callable[[], str]) -> AsyncIterator[None]:
    task = asyncio.create_task(ticker(describe))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def closed_loop(
    webhook: Webhook, fake: RecordingTelegram, chats: Sequence[str], answers: int
) -> dict[str, Any]:
    """Every member answers as soon as it has the previous reply, until `answers` were sent."""
    turns = Turns()
    remaining = answers
    done = 0

    async def member(chat: str) -> None:
        nonlocal remaining, done
        step = 0
        while remaining > 0:
            remaining -= 1
            text, expected = SCRIPT[step]
            arrived = fake.expect(chat, len(expected))
            started, ended = await webhook.post(webhook.update(chat, text))
            turns.by_chat[chat].append((started, ended, step))
            try:
                await asyncio.wait_for(arrived, REPLY_TIMEOUT)
            except TimeoutError:
                lines = fake.arrivals.get(chat, [])
                raise RuntimeError(
                    f"chat {chat} got no reply to {text!r} in {REPLY_TIMEOUT:g} s; "
                    f"its last line: {lines[-1][1] if lines else None!r}"
                ) from None
            done += 1
            step = (step + 1) % len(SCRIPT)

    began = time.monotonic()
    with_rate = lambda: (  # noqa: E731
        f"  closed loop: {done}/{answers} answers replied, "
        f"{done / max(1e-9, time.monotonic() - began):,.0f}/s"
    )
    async with progress(with_rate):
        await asyncio.gather(*(member(chat) for chat in chats))
    first = min(turn[0] for chat_turns in turns.by_chat.values() for turn in chat_turns)
    last = max(fake.arrivals[chat][-1][0] for chat in turns.by_chat)
    webhook_latencies, through, missing = turns.match(fake)
    return {
        "answers": answers,
        "members": len(chats),
        "seconds": round(last - first, 2),
        "answers_per_second": round(answers / (last - first), 1),
        "webhook": summary_ms(webhook_latencies),
        "inbound_to_outbound": summary_ms(through),
        "missing_replies": missing,
        "unexpected_replies": turns.unexpected,
    }


async def open_loop(
    webhook: Webhook, fake: RecordingTelegram, chats: Sequence[str], rate: float, seconds: float
) -> dict[str, Any]:
    """Answers at a fixed rate whatever the system does, round robin over the members (each
    member's next answer comes len(chats)/rate seconds after its previous one)."""
    turns = Turns()
    total = round(rate * seconds)
    steps = [0] * len(chats)
    tasks: set[asyncio.Task[None]] = set()
    posted = 0

    async def send(chat: str, step: int) -> None:
        nonlocal posted
        started, ended = await webhook.post(webhook.update(chat, SCRIPT[step][0]))
        turns.by_chat[chat].append((started, ended, step))
        posted += 1

    def expected_lines() -> int:
        return sum(len(SCRIPT[s][1]) for t in turns.by_chat.values() for *_, s in t)

    def received() -> int:
        return sum(len(fake.arrivals.get(chat, [])) for chat in chats)

    describe = lambda: (  # noqa: E731
        f"  open loop at {rate:g}/s: {posted}/{total} posted, "
        f"{received()}/{expected_lines()} reply lines in"
    )
    async with progress(describe):
        began = time.monotonic()
        for index in range(total):
            delay = began + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            slot = index % len(chats)
            task = asyncio.create_task(send(chats[slot], steps[slot]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            steps[slot] = (steps[slot] + 1) % len(SCRIPT)
        offered_seconds = time.monotonic() - began
        while tasks:
            await asyncio.gather(*list(tasks))
        expected = expected_lines()
        await fake.wait_until(lambda: received() >= expected, REPLY_TIMEOUT)
    # the offered rate and the turns need a chat's turns in order of their POST start
    for chat_turns in turns.by_chat.values():
        chat_turns.sort()
    webhook_latencies, through, missing = turns.match(fake)
    return {
        "answers": total,
        "members": len(chats),
        "offered_per_second": round(total / max(1e-9, offered_seconds), 1),
        "webhook": summary_ms(webhook_latencies),
        "inbound_to_outbound": summary_ms(through),
        "missing_replies": missing,
        "unexpected_replies": turns.unexpected,
    }


async def burst(
    database: Database, fake: RecordingTelegram, count: int, chats: int, limit: float
) -> dict[str, Any]:
    """`count` outbox rows to `chats` chats written in one transaction; how fast they go out."""
    now = datetime.now(UTC)
    addresses = [str(6_200_000_001 + n) for n in range(chats)]
    async with database.transaction() as uow:
        for index in range(count):
            await uow.messages.log_outbound(
                member_id=None,
                channel="telegram",
                address_value=addresses[index % chats],
                text=f"Benchmark broadcast line {index + 1}",
                payload=None,
                at=now,
            )
    committed = time.monotonic()
    describe = lambda: (  # noqa: E731
        f"  burst: {len(fake.sent)}/{count} sent, {fake.rate_limited} answered 429 by the fake"
    )
    deadline = committed + count / limit * 3 + 30
    async with progress(describe):
        await fake.wait_until(lambda: len(fake.sent) >= count, deadline - time.monotonic())
    times = sorted(float(line["at"]) for line in fake.sent)
    steady = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {
        "messages": count,
        "chats": chats,
        "limit_per_second": limit,
        "sent": len(times),
        "seconds_from_commit_to_last": round(times[-1] - committed, 2) if times else None,
        "achieved_per_second": round(steady, 1),
        "achieved_of_limit_percent": round(100 * steady / limit, 1),
        "overall_of_limit_percent": (
            round(100 * len(times) / (times[-1] - committed) / limit, 1) if times else None
        ),
        "peak_in_any_second": peak_per_second(times),
        "rate_limited_429": fake.rate_limited,
    }


def peak_per_second(times: Sequence[float]) -> int:
    """The most arrivals inside any window of one second (as the fake counts them)."""
    peak, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


async def warm_up(webhook: Webhook, fake: RecordingTelegram, chats: Sequence[str]) -> None:
    """One whole check-in for a few members: connections, caches and the code paths warm."""
    result = await closed_loop(webhook, fake, chats, len(chats) * len(SCRIPT))
    if result["unexpected_replies"]:
        raise RuntimeError(f"unexpected replies: {result['unexpected_replies']}")


def memory_of(pids: Sequence[tuple[str, int]]) -> dict[str, dict[str, float]]:
    table = {}
    for label, pid in [*pids, ("benchmark (load + fake Telegram)", os.getpid())]:
        rss, hwm = memory_kib(pid)
        table[label] = {"rss_mib": round(rss / 1024, 1), "peak_mib": round(hwm / 1024, 1)}
    return table


# --- one backend --------------------------------------------------------------------------------


@dataclass
class Resources:
    """What this script created and must remove."""

    admin_dsn: str | None = None
    database_name: str | None = None
    redis: Redis | None = None
    prefix: str | None = None
    stacks: list[Stack] = field(default_factory=list)

    async def cleanup(self) -> None:
        for stack in self.stacks:
            with contextlib.suppress(Exception):
                await stack.stop()
        if self.redis is not None and self.prefix:
            try:
                keys = [key async for key in self.redis.scan_iter(match=f"{self.prefix}*")]
                for start in range(0, len(keys), 500):
                    await self.redis.delete(*keys[start : start + 500])
                log(f"deleted {len(keys)} Redis keys under {self.prefix}")
            finally:
                await self.redis.aclose()
        if self.admin_dsn and self.database_name:
            connection = await asyncpg.connect(self.admin_dsn)
            try:
                await connection.execute(
                    f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)'
                )
                log(f"dropped database {self.database_name}")
            finally:
                await connection.close()


async def run_backend(backend: str, options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    resources = Resources()
    results: dict[str, Any] = {"backend": backend}
    profile = Path(options.profile) if options.profile else None
    try:
        if backend == "production":
            admin = async_url(options.database_url)
            resources.admin_dsn = admin.set(drivername="postgresql").render_as_string(
                hide_password=False
            )
            resources.database_name = f"mutuality_bench_{uuid.uuid4().hex[:12]}"
            connection = await asyncpg.connect(resources.admin_dsn)
            try:
                await connection.execute(f'CREATE DATABASE "{resources.database_name}"')
            finally:
                await connection.close()
            database_url = admin.set(database=resources.database_name).render_as_string(
                hide_password=False
            )
            resources.prefix = f"bench-{uuid.uuid4().hex[:12]}:"
            resources.redis = Redis.from_url(options.redis_url)
            await resources.redis.ping()
            log(f"created database {resources.database_name}; Redis prefix {resources.prefix}")
        else:
            database_url = f"sqlite:///{workdir / 'bench.db'}"
            log(f"SQLite database {workdir / 'bench.db'}")

        database = Database(database_url)
        try:
            await database.upgrade()
            began = time.monotonic()
            counts = {
                "warm": options.warm_members,
                "closed": options.members,
                "open": options.open_members,
            }
            chats = await create_members(database, counts)
            log(
                f"created {sum(counts.values())} members in groups of {GROUP_SIZE} "
                f"in {time.monotonic() - began:.1f} s"
            )

            async def start(label: str, env: dict[str, str]) -> Stack:
                if backend == "production":
                    assert resources.prefix is not None
                    stack = await start_production(
                        label,
                        workdir,
                        database_url,
                        options.redis_url,
                        resources.prefix,
                        env,
                        options.workers,
                        profile,
                    )
                else:
                    stack = await start_embedded(label, workdir, database_url, env, profile)
                resources.stacks.append(stack)
                return stack

            def meter(stack: Stack) -> Meter:
                return Meter(
                    stack.processes(),
                    resources.admin_dsn,
                    resources.database_name,
                    resources.redis,
                )

            # phases 1-3: limits out of the way
            async with RecordingTelegram(token=TOKEN) as fake:
                env = bot_settings(fake.url, FAST_RATE, FAST_CHAT_RATE)
                stack = await start("fast", env)
                log(f"{backend}: {', '.join(f'{n} (pid {p})' for n, p in stack.processes())}")
                connector = aiohttp.TCPConnector(limit=options.connections)
                async with aiohttp.ClientSession(connector=connector) as session:
                    webhook = Webhook(session, stack.url)
                    log(f"warm-up: {len(chats['warm'])} members, one check-in each")
                    await warm_up(webhook, fake, chats["warm"])
                    results["memory_idle"] = memory_of(stack.processes())

                    log(
                        f"phase 1, closed loop: {options.answers} answers from "
                        f"{options.members} members"
                    )
                    cpu = meter(stack)
                    await cpu.begin()
                    results["closed_loop"] = await closed_loop(
                        webhook, fake, chats["closed"], options.answers
                    )
                    results["closed_loop"]["cpu_percent"] = await cpu.end()
                    results["memory_after_closed_loop"] = memory_of(stack.processes())
                    log(f"  -> {json.dumps(results['closed_loop'])}")

                    log(
                        f"phases 2-3, open loop: {options.rate:g} answers/s for "
                        f"{options.seconds:g} s over {options.open_members} members"
                    )
                    await cpu.begin()
                    results["open_loop"] = await open_loop(
                        webhook, fake, chats["open"], options.rate, options.seconds
                    )
                    results["open_loop"]["cpu_percent"] = await cpu.end()
                    results["memory_after_open_loop"] = memory_of(stack.processes())
                    log(f"  -> {json.dumps(results['open_loop'])}")
                    results["webhook_errors"] = webhook.errors
                    if resources.redis is not None:
                        assert resources.prefix is not None
                        results["outbox_wakeups_left"] = await resources.redis.llen(
                            f"{resources.prefix}queue:outbox"
                        )
                results["fast_rate_limited_429"] = fake.rate_limited
                await stack.stop()
                resources.stacks.remove(stack)

            # phase 4: the sender against a provider's limit
            limit = options.send_limit
            async with RecordingTelegram(token=TOKEN, global_per_second=limit) as fake:
                env = bot_settings(fake.url, limit, FAST_CHAT_RATE)
                stack = await start("limited", env)
                log(
                    f"phase 4, sender: {options.burst} outbox rows to {options.burst_chats} "
                    f"chats; fake and TELEGRAM_RATE_PER_SECOND at {limit:g}/s"
                )
                commands_before = await redis_commands(resources.redis)
                cpu = meter(stack)
                await cpu.begin()
                results["sender"] = await burst(
                    database, fake, options.burst, options.burst_chats, limit
                )
                results["sender"]["cpu_percent"] = await cpu.end()
                commands_after = await redis_commands(resources.redis)
                if resources.redis is not None:
                    calls = {
                        name: commands_after.get(name, 0) - commands_before.get(name, 0)
                        for name in commands_after
                    }
                    top = sorted(calls.items(), key=lambda item: -item[1])[:4]
                    results["sender"]["redis_calls_per_send"] = {
                        name: round(count / max(1, results["sender"]["sent"]), 1)
                        for name, count in top
                    }
                results["memory_after_burst"] = memory_of(stack.processes())
                log(f"  -> {json.dumps(results['sender'])}")
                await stack.stop()
                resources.stacks.remove(stack)
        finally:
            await database.dispose()
    finally:
        await resources.cleanup()
    if profile is not None:
        summarize_profiles(profile)
    return results


async def redis_commands(redis: Redis | None) -> dict[str, int]:
    """Calls per command so far (INFO commandstats), for the whole server."""
    if redis is None:
        return {}
    stats = await redis.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): int(value["calls"])
        for name, value in stats.items()
        if isinstance(value, dict)
    }


def summarize_profiles(directory: Path) -> None:
    for path in sorted(directory.glob("*.prof")):
        text = path.with_suffix(".txt")
        with text.open("w") as out:
            stats = pstats.Stats(str(path), stream=out)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(60)
        log(f"profile: {path} (top functions in {text})")


# --- report -------------------------------------------------------------------------------------


def report(all_results: Sequence[dict[str, Any]], options: argparse.Namespace) -> str:
    lines = [
        "",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f", load average at the end {os.getloadavg()[0]:.2f}",
        "",
        "| measure | target | " + " | ".join(r["backend"] for r in all_results) + " |",
        "|---|---|" + "---|" * len(all_results),
    ]

    def row(name: str, target: str, cell: Callable[[dict[str, Any]], str]) -> None:
        lines.append(f"| {name} | {target} | " + " | ".join(cell(r) for r in all_results) + " |")

    def ms(value: float) -> str:
        return f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms"

    row(
        f"answers/s end to end, closed loop ({options.answers} answers, {options.members} members)",
        "≥ 500 (PostgreSQL + Redis)",
        lambda r: f"{r['closed_loop']['answers_per_second']:,.0f}",
    )
    row(
        "  reply time under that load p50 / p99",
        "",
        lambda r: (
            f"{ms(r['closed_loop']['inbound_to_outbound']['p50_ms'])} / "
            f"{ms(r['closed_loop']['inbound_to_outbound']['p99_ms'])}"
        ),
    )
    row(
        f"webhook latency p50 / p99 at {options.rate:g} answers/s (open loop)",
        "p99 < 50 ms",
        lambda r: (
            f"{ms(r['open_loop']['webhook']['p50_ms'])} / {ms(r['open_loop']['webhook']['p99_ms'])}"
        ),
    )
    row(
        f"inbound to outbound p50 / p99 at {options.rate:g} answers/s",
        "",
        lambda r: (
            f"{ms(r['open_loop']['inbound_to_outbound']['p50_ms'])} / "
            f"{ms(r['open_loop']['inbound_to_outbound']['p99_ms'])}"
        ),
    )
    row(
        f"sends at a {options.send_limit:g}/s limit ({options.burst} rows, "
        f"{options.burst_chats} chats): achieved / limit",
        "≥ 95%",
        lambda r: (
            f"{r['sender']['achieved_per_second']:,.1f}/s = "
            f"{r['sender']['achieved_of_limit_percent']}%"
        ),
    )
    row("  429s from the fake", "0", lambda r: str(r["sender"]["rate_limited_429"]))
    labels = sorted({label for r in all_results for label in r["memory_after_open_loop"]})

    def rss(label: str) -> Callable[[dict[str, Any]], str]:
        def cell(result: dict[str, Any]) -> str:
            if label not in result["memory_after_open_loop"]:
                return "-"
            idle = result["memory_idle"][label]["rss_mib"]
            after = result["memory_after_open_loop"][label]
            return f"{idle} / {after['rss_mib']} / {after['peak_mib']} MiB"

        return cell

    for label in labels:
        row(f"RSS {label}: idle / after load / peak", "", rss(label))
    lines.append("")
    for result in all_results:
        lines.append(f"CPU, % of one core, {result['backend']}:")
        for phase in ("closed_loop", "open_loop", "sender"):
            cpu = result[phase]["cpu_percent"]
            lines.append(f"  {phase}: " + ", ".join(f"{k} {v:g}" for k, v in cpu.items()))
        problems = [
            f"{phase}: {result[phase]['missing_replies']} turns without their reply"
            for phase in ("closed_loop", "open_loop")
            if result[phase]["missing_replies"]
        ] + [
            f"{phase}: {text}"
            for phase in ("closed_loop", "open_loop")
            for text in result[phase]["unexpected_replies"]
        ]
        if result.get("webhook_errors"):
            problems.append(f"{result['webhook_errors']} webhook POSTs failed and were retried")
        if result.get("fast_rate_limited_429"):
            problems.append(f"{result['fast_rate_limited_429']} 429s in phases 1-3")
        for problem in problems:
            lines.append(f"  PROBLEM: {problem}")
        if "redis_calls_per_send" in result["sender"]:
            lines.append(f"  Redis calls per send: {result['sender']['redis_calls_per_send']}")
        if "outbox_wakeups_left" in result:
            lines.append(
                f"  outbox wake-ups left in Redis after phases 1-3: {result['outbox_wakeups_left']}"
            )
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Phases: closed loop (answers/s), open loop (webhook and reply latency), "
        "sender burst against a limit; RSS and CPU per process throughout.",
    )
    parser.add_argument(
        "--backend",
        choices=["embedded", "production", "both"],
        default="both",
        help="embedded: SQLite + in-process coordination, one process; production: PostgreSQL "
        "+ Redis, `mutuality web` and `mutuality worker` processes (default: both)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="worker processes, production only (2)"
    )
    parser.add_argument(
        "--answers", type=int, default=3000, help="answers in the closed loop (3000)"
    )
    parser.add_argument(
        "--members", type=int, default=400, help="members answering in the closed loop (400)"
    )
    parser.add_argument(
        "--rate", type=float, default=200.0, help="offered answers/s in the open loop (200)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="open loop length (10)")
    parser.add_argument(
        "--open-members", type=int, default=400, help="members answering in the open loop (400)"
    )
    parser.add_argument(
        "--warm-members", type=int, default=16, help="members in the unmeasured warm-up (16)"
    )
    parser.add_argument(
        "--send-limit",
        type=float,
        default=100.0,
        help="sends/s the fake allows, and TELEGRAM_RATE_PER_SECOND in the sender phase (100)",
    )
    parser.add_argument("--burst", type=int, default=2000, help="outbox rows in the burst (2000)")
    parser.add_argument(
        "--burst-chats", type=int, default=500, help="chats the burst goes to (500)"
    )
    parser.add_argument(
        "--connections", type=int, default=100, help="HTTP connections to the webhook (100)"
    )
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server to create (and drop) the benchmark's database on, as a URL of "
        "a database to connect to for that (postgresql://postgres@127.0.0.1:5432/postgres)",
    )
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/0", help="Redis (redis://127.0.0.1:6379/0)"
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="run the bot's processes under cProfile and write .prof and .txt summaries to DIR "
        "(figures are then slower: use for where the time goes, not for throughput)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the processes' logs (printed path)"
    )
    parser.add_argument("--serve-embedded", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


async def run_all(options: argparse.Namespace) -> list[dict[str, Any]]:
    backends = ["embedded", "production"] if options.backend == "both" else [options.backend]
    if "production" in backends and not MUTUALITY.exists():
        raise SystemExit(f"{MUTUALITY} not found: run with the project's venv python")
    if options.profile:
        Path(options.profile).mkdir(parents=True, exist_ok=True)
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="mutuality-bench-"))
    try:
        for backend in backends:
            log(f"=== {backend} ===")
            results.append(await run_backend(backend, options, workdir))
    finally:
        if options.keep_logs:
            log(f"logs kept in {workdir}")
        else:
            for path in workdir.iterdir():
                path.unlink()
            workdir.rmdir()
    return results


def main() -> None:
    options = parse_arguments()
    if options.serve_embedded:
        run_embedded_child(options.profile)
        return
    for name in ("members", "open_members", "warm_members", "answers", "burst", "burst_chats"):
        if getattr(options, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be at least 1")
    log(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )

    async def guarded() -> list[dict[str, Any]]:
        # SIGTERM cancels the run like Ctrl-C does, so the cleanup runs either way
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await run_all(options)

    try:
        results = asyncio.run(guarded())
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted; everything started was stopped and removed")
        raise SystemExit(130) from None
    print(report(results, options))
    if options.json:
        Path(options.json).write_text(json.dumps({"options": vars(options), "results": results}))


if __name__ == "__main__":
    main()
