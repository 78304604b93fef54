"""The whole pipeline, end to end: members answering the weekly check-in over the real webhook.

Simulated Telegram members POST updates to `/webhooks/telegram` of a real uvicorn server (an
aiohttp client, with the secret header); the bot's replies go out through python-telegram-bot to
a fake Telegram Bot API server running in this process (`tests.fakes.telegram_api.FakeTelegram`),
which records when each line arrives. Every member is onboarded and in a group of eight before the
run, so "checkin" starts the weekly check-in and the eight answers after it go through every
question a member of a group sees (the help questions included). Measured, per backend:

1. closed loop: a fixed number of answers from many members at once, each member sending its next
   answer when it got the reply to the previous one: answers per second end to end (first POST
   to the last reply at the fake), the latencies under that saturation, and how long the bot's
   processes stay busy after the last reply (the next phase starts when they are idle);
2. open loop: answers at a fixed offered rate (`--rate`), round robin over many members (a
   member's POST waits for its previous POST's answer, as Telegram keeps a chat's updates in
   order): webhook latency, the POST's HTTP round trip, p50/p99;
3. in the same run: inbound to outbound, POST start to the arrival of the turn's last reply line
   at the fake, p50/p99;
4. the sender against a limit: the fake enforces `--send-limit` sends a second overall and the
   bot runs with the same TELEGRAM_RATE_PER_SECOND; a backlog of outbox rows to many chats
   (interleaved, as a busy hour leaves it) is written in one transaction: achieved rate /
   limit, the fake's 429 count, and whether each chat got its lines in order;
5. RSS (VmRSS, and the peak VmHWM) of every process; CPU per process and per answer, the whole
   machine's CPU (other work on it distorts every figure), PostgreSQL transactions and new
   connections per answer, and whether each chat got its lines in the order they were written.

Backends:

* `embedded`: an SQLite file in a temp directory and in-process coordination, everything in ONE
  process like `mutuality run` (`Runtime.open`, `create_app` under uvicorn, worker and sender in
  the same event loop). That process is a child of this script (this script re-run with a hidden
  flag), so that the load generator and the fake Telegram do not share its event loop and core.
* `production`: a fresh PostgreSQL database (created and dropped here) and Redis under a unique
  REDIS_PREFIX (its keys deleted afterwards), one `mutuality web` and `--workers` `mutuality
  worker` processes, started with the environment variables an operator would set.

Phases 1-3 run with the limits out of the way (TELEGRAM_RATE_PER_SECOND=100000,
TELEGRAM_CHAT_RATE_PER_SECOND=1000, a fake that enforces none); phase 4 restarts the bot's
processes with the limit under test. Everything this script starts (processes, database, Redis
keys, temp files) is removed at the end, on Ctrl-C and on errors too.

    python benchmarks/pipeline.py                          # both backends, about 3 minutes
    python benchmarks/pipeline.py --backend production --workers 2 --answers 3000
    python benchmarks/pipeline.py --backend embedded --profile /tmp/profiles

With `--profile`, the bot's processes run under cProfile (CPU time of the main thread) during
the closed loop only; a summary by package and the top functions are written beside each dump.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import copy
import cProfile
import itertools
import json
import os
import platform
import pstats
import re
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # for `tests.fakes`, which is not an installed package
    sys.path.insert(0, str(ROOT))

from storage import Database  # noqa: E402
from storage.models import Message  # noqa: E402
from storage.repositories.messages import message_values  # noqa: E402
from storage.urls import async_url  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

SCRIPT_PATH = Path(__file__).resolve()
TOKEN = "123456:BENCH-token"
SECRET = "bench-webhook-secret"
MUTUALITY = Path(sys.executable).parent / "mutuality"
FIXTURE = ROOT / "tests" / "fixtures" / "telegram" / "message_text.json"
GROUP_SIZE = 8
FAST_RATE = 100_000.0  # the limiter's overall rate in phases 1-3: high enough never to wait
FAST_CHAT_RATE = 1_000.0
REPLY_TIMEOUT = 60.0
PROFILE_ENV = "MUTUALITY_BENCH_PROFILE"
BENCHMARK = "benchmark (load + fake Telegram)"
POSTGRES = "postgres (our database)"
REDIS = "redis-server (whole server)"
MACHINE = "machine, all processes"
OTHERS = "other work on the machine"

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
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
        "max_ms": round((ordered[-1] if ordered else float("nan")) * 1000, 1),
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


def _stat(pid: int | str) -> tuple[str, list[str]] | None:
    """(command name, the fields after it) of /proc/<pid>/stat; None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    return name, text[text.rindex(")") + 1 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far; 0 if it is gone."""
    stat = _stat(pid)
    if stat is None:
        return 0.0
    fields = stat[1]
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_cpu_seconds() -> float:
    """CPU seconds of every PostgreSQL process, those that already exited included (the
    postmaster collects its children's time when it reaps them)."""
    total = 0.0
    names: dict[str, str] = {}
    stats: dict[str, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(entry)
            if stat is not None:
                names[entry], stats[entry] = stat
    for pid, fields in stats.items():
        if names[pid] != "postgres":
            continue
        total += int(fields[11]) + int(fields[12])
        if names.get(fields[1]) != "postgres":  # the postmaster: add its reaped children
            total += int(fields[13]) + int(fields[14])
    return total / CLOCK_TICKS


def machine_jiffies() -> tuple[int, int, int]:
    """(busy, steal, total) clock ticks of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, values[7], total


def machine_busy(seconds: float) -> float:
    """How busy all CPUs are over `seconds`, in percent of one core."""
    busy, _, total = machine_jiffies()
    time.sleep(seconds)
    busy_after, _, total_after = machine_jiffies()
    return 100 * (os.cpu_count() or 1) * (busy_after - busy) / max(1, total_after - total)


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

    def expect(self, chat: str, more: int) -> asyncio.Future[float]:
        """A future for the arrival time of the `more`-th line from now to `chat`."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters[chat] = (len(self.arrivals[chat]) + more, future)
        return future

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
    env.pop(PROFILE_ENV, None)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def log_problems(path: Path) -> collections.Counter[str]:
    """WARNING and ERROR lines of a child's log, counted by message (timestamps and numbers
    masked)."""
    found: collections.Counter[str] = collections.Counter()
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return found
    for line in text.splitlines():
        match = re.match(r"\S+ \S+ (WARNING|ERROR|CRITICAL) (.*)", line)
        if match:
            found[re.sub(r"\d+", "N", f"{match.group(1)} {match.group(2)}")[:160]] += 1
    return found


@dataclass
class Child:
    label: str
    process: asyncio.subprocess.Process
    log: Path
    profile: Path | None


class Stack:
    """The bot's processes for one configuration: started, checked, stopped (always)."""

    def __init__(self, label: str, workdir: Path, profile_dir: Path | None) -> None:
        self.label = label
        self.workdir = workdir
        self.profile_dir = profile_dir
        self.children: list[Child] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def address_settings(self) -> dict[str, str]:
        return {"PORT": str(self.port), "PUBLIC_URL": self.url}

    async def spawn(self, label: str, kind: str, env: dict[str, str]) -> Child:
        """Start `mutuality <kind>` (or the embedded process); under cProfile with --profile."""
        name = re.sub(r"\W+", "-", f"{self.label}-{label}").strip("-")
        path = self.workdir / f"{name}.log"
        profile = None
        env = dict(env)
        if kind == "embedded" or self.profile_dir is not None:
            argv = [sys.executable, str(SCRIPT_PATH), "--child", kind]
            if self.profile_dir is not None:
                profile = self.profile_dir / f"{name}.prof"
                env[PROFILE_ENV] = str(profile)
        else:
            argv = [str(MUTUALITY), kind]
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
        child = Child(label, process, path, profile)
        self.children.append(child)
        return child

    def check_alive(self) -> None:
        for child in self.children:
            if child.process.returncode is not None:
                raise RuntimeError(
                    f"{child.label} exited with {child.process.returncode}:\n{tail(child.log)}"
                )

    async def wait_ready(self, workers: Sequence[Child], timeout: float = 90.0) -> None:
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
        for child in workers:
            while "worker started" not in child.log.read_text(errors="replace"):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{child.label} did not start:\n{tail(child.log)}")
                await asyncio.sleep(0.1)

    def signal_profilers(self, number: int) -> None:
        """SIGUSR1 starts the children's profilers, SIGUSR2 stops them (only with --profile:
        otherwise these signals would end the children)."""
        if self.profile_dir is None:
            return
        for child in self.children:
            if child.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.process.pid, number)

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

    def problems(self) -> dict[str, int]:
        counted: collections.Counter[str] = collections.Counter()
        for child in self.children:
            for message, count in log_problems(child.log).items():
                counted[f"{child.label}: {message}"] += count
        return dict(counted.most_common(6))


def bot_settings(fake_url: str, rate: float, chat_rate: float) -> dict[str, str]:
    """The settings every process of the bot gets (PORT and PUBLIC_URL come with the stack)."""
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_RATE_PER_SECOND": repr(rate),
        "TELEGRAM_CHAT_RATE_PER_SECOND": repr(chat_rate),
    }


# --- the child processes (this script re-run with --child) --------------------------------------


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

    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
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
        print("worker started (embedded)", file=sys.stderr, flush=True)
        await stop.wait()
        server.should_exit = True
        await asyncio.gather(*tasks)


def run_child(kind: str) -> None:
    """The embedded process, or `mutuality web|worker` itself; with MUTUALITY_BENCH_PROFILE set,
    SIGUSR1 starts cProfile (main thread CPU time) and SIGUSR2 stops it and writes the file."""
    output = os.environ.get(PROFILE_ENV)
    if output:
        profiler = cProfile.Profile(time.thread_time)

        def start(signum: int, frame: FrameType | None) -> None:
            profiler.enable()

        def stop(signum: int, frame: FrameType | None) -> None:
            profiler.disable()
            profiler.dump_stats(output)

        signal.signal(signal.SIGUSR1, start)
        signal.signal(signal.SIGUSR2, stop)
    if kind == "embedded":
        from bot.processes import run_process  # the event loop `mutuality run` has

        run_process(serve_embedded())
        return
    from bot.cli import main as mutuality

    mutuality([kind], prog_name="mutuality")


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


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Meter:
    """CPU per process (bot, this script, PostgreSQL, Redis, the whole machine) and PostgreSQL's
    own counters for our database, over one phase."""

    pids: list[tuple[str, int]]
    admin_dsn: str | None = None
    database_name: str | None = None
    redis: Redis | None = None
    start_wall: float = 0.0
    start: dict[str, float] = field(default_factory=dict)
    start_jiffies: tuple[int, int, int] = (0, 0, 0)
    start_counters: dict[str, int] = field(default_factory=dict)

    async def cpu(self) -> dict[str, float]:
        values = {label: cpu_seconds(pid) for label, pid in self.pids}
        values[BENCHMARK] = cpu_seconds(os.getpid())
        if self.admin_dsn:
            # every PostgreSQL process but the backends serving other databases (other work
            # on a shared server); background processes and exited backends count as ours
            connection = await asyncpg.connect(self.admin_dsn)
            try:
                rows = await connection.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname IS NOT NULL AND datname <> $1",
                    self.database_name,
                )
            finally:
                await connection.close()
            others = sum(cpu_seconds(int(row["pid"])) for row in rows)
            values[POSTGRES] = postgres_cpu_seconds() - others
        if self.redis is not None:
            info = await self.redis.info("cpu")
            values[REDIS] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        return values

    async def counters(self) -> dict[str, int]:
        """Commits and sessions (connections) of our database, from pg_stat_database."""
        if not (self.admin_dsn and self.database_name):
            return {}
        connection = await asyncpg.connect(self.admin_dsn)
        try:
            row = await connection.fetchrow(
                "SELECT xact_commit, xact_rollback, sessions FROM pg_stat_database "
                "WHERE datname = $1",
                self.database_name,
            )
        finally:
            await connection.close()
        return {} if row is None else {key: int(row[key] or 0) for key in row.keys()}

    async def begin(self) -> None:
        self.start = await self.cpu()
        self.start_counters = await self.counters()
        self.start_jiffies = machine_jiffies()
        self.start_wall = time.monotonic()

    async def end(self, answers: int) -> dict[str, Any]:
        """CPU per process in percent of one core; CPU milliseconds per answer; counters."""
        wall = max(1e-9, time.monotonic() - self.start_wall)
        busy, steal, total = machine_jiffies()
        values = await self.cpu()
        counters = await self.counters()
        used = {
            label: max(0.0, value - self.start.get(label, 0.0)) for label, value in values.items()
        }
        cores = os.cpu_count() or 1
        jiffies = max(1, total - self.start_jiffies[2])
        percent = {label: round(100 * value / wall, 1) for label, value in used.items()}
        ours = sum(percent.values())
        machine = 100 * cores * (busy - self.start_jiffies[0]) / jiffies
        percent[OTHERS] = round(max(0.0, machine - ours), 1)
        percent[MACHINE] = round(machine, 1)
        percent["of which steal"] = round(
            100 * cores * (steal - self.start_jiffies[1]) / jiffies, 1
        )
        bot = sum(used[label] for label, _ in self.pids)
        per_answer = {
            "bot processes": round(1000 * bot / max(1, answers), 2),
            **{
                label: round(1000 * used[label] / max(1, answers), 2)
                for label in (POSTGRES,)
                if label in used
            },
        }
        result: dict[str, Any] = {
            "cpu_percent_of_one_core": percent,
            "cpu_ms_per_answer": per_answer,
        }
        if counters and self.start_counters:
            delta = {key: counters[key] - self.start_counters.get(key, 0) for key in counters}
            result["postgres_per_answer"] = {
                "transactions": round(delta["xact_commit"] / max(1, answers), 2),
                "rollbacks": round(delta["xact_rollback"] / max(1, answers), 3),
                "new_connections": round(delta["sessions"] / max(1, answers), 3),
            }
        return result


async def delivery_order(database: Database, chats: Sequence[str]) -> dict[str, int]:
    """Did each chat get its lines in the order they were written? The fake numbers the
    messages it accepts in arrival order, and the bot stores that number as the provider id."""
    wanted = set(chats)
    async with database.transaction() as uow:
        rows = (
            await uow.session.execute(
                select(Message.address_value, Message.id, Message.provider_message_id).where(
                    Message.direction == "out",
                    Message.channel == "telegram",
                    Message.provider_message_id.is_not(None),
                )
            )
        ).all()
    by_chat: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
    for address, message_id, provider_id in rows:
        if address in wanted:
            by_chat[address].append((message_id, int(str(provider_id).rsplit(":", 1)[1])))
    chats_out_of_order = 0
    inversions = 0
    for lines in by_chat.values():
        lines.sort()
        found = sum(1 for a, b in itertools.pairwise(lines) if b[1] < a[1])
        inversions += found
        chats_out_of_order += bool(found)
    return {
        "chats": len(by_chat),
        "chats_out_of_order": chats_out_of_order,
        "lines_out_of_order": inversions,
    }


def memory_of(pids: Sequence[tuple[str, int]]) -> dict[str, dict[str, float]]:
    table = {}
    for label, pid in [*pids, (BENCHMARK, os.getpid())]:
        rss, hwm = memory_kib(pid)
        table[label] = {"rss_mib": round(rss / 1024, 1), "peak_mib": round(hwm / 1024, 1)}
    return table


async def settle(pids: Sequence[tuple[str, int]], timeout: float = 60.0) -> float:
    """Wait until the bot's processes are idle (together under 10% of a core over half a
    second) so that one phase's leftovers do not run into the next; the seconds it took."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        before = sum(cpu_seconds(pid) for _, pid in pids)
        await asyncio.sleep(0.5)
        if sum(cpu_seconds(pid) for _, pid in pids) - before < 0.05:
            break
    return round(time.monotonic() - began, 1)


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


# --- the phases ---------------------------------------------------------------------------------


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

    def describe() -> str:
        rate = done / max(1e-9, time.monotonic() - began)
        return f"  closed loop: {done}/{answers} answers replied to, {rate:,.0f}/s"

    async with progress(describe):
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
    """Answers at a fixed rate whatever the system does, round robin over the members; each
    member's POST waits for its previous POST's answer (a chat's updates stay in order)."""
    turns = Turns()
    total = round(rate * seconds)
    steps = [0] * len(chats)
    previous: dict[str, asyncio.Task[None]] = {}
    tasks: set[asyncio.Task[None]] = set()
    posted = 0
    late = 0.0

    async def send(chat: str, step: int, before: asyncio.Task[None] | None, due: float) -> None:
        nonlocal posted, late
        if before is not None:
            await asyncio.wait({before})
        late = max(late, time.monotonic() - due)
        started, ended = await webhook.post(webhook.update(chat, SCRIPT[step][0]))
        turns.by_chat[chat].append((started, ended, step))
        posted += 1

    def expected_lines() -> int:
        return sum(len(SCRIPT[step][1]) for t in turns.by_chat.values() for *_, step in t)

    def received() -> int:
        return sum(len(fake.arrivals.get(chat, [])) for chat in chats)

    def describe() -> str:
        return (
            f"  open loop at {rate:g}/s: {posted}/{total} posted, "
            f"{received()}/{expected_lines()} reply lines in"
        )

    async with progress(describe):
        began = time.monotonic()
        for index in range(total):
            due = began + index / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            slot = index % len(chats)
            chat = chats[slot]
            task = asyncio.create_task(send(chat, steps[slot], previous.get(chat), due))
            previous[chat] = task
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            steps[slot] = (steps[slot] + 1) % len(SCRIPT)
        offered_seconds = time.monotonic() - began
        while tasks:
            await asyncio.gather(*list(tasks))
        expected = expected_lines()
        await fake.wait_until(lambda: received() >= expected, REPLY_TIMEOUT)
    webhook_latencies, through, missing = turns.match(fake)
    return {
        "answers": total,
        "members": len(chats),
        "offered_per_second": round(total / max(1e-9, offered_seconds), 1),
        "latest_post_behind_schedule_ms": round(late * 1000, 1),
        "webhook": summary_ms(webhook_latencies),
        "inbound_to_outbound": summary_ms(through),
        "missing_replies": missing,
        "unexpected_replies": turns.unexpected,
    }


async def burst(
    database: Database, fake: RecordingTelegram, count: int, addresses: Sequence[str], limit: float
) -> dict[str, Any]:
    """`count` outbox rows written in one transaction; how fast they go out."""
    now = datetime.now(UTC)
    async with database.transaction() as uow:
        lines = [
            message_values(
                None,
                "telegram",
                addresses[index % len(addresses)],
                "out",
                f"Benchmark broadcast line {index + 1}",
                None,
                "queued",
                None,
                now,
            )
            for index in range(count)
        ]
        await uow.messages.log_many(lines)
    committed = time.monotonic()

    def describe() -> str:
        return f"  burst: {len(fake.sent)}/{count} sent, {fake.rate_limited} answered 429"

    async with progress(describe):
        await fake.wait_until(lambda: len(fake.sent) >= count, count / limit * 3 + 30)
    times = sorted(float(line["at"]) for line in fake.sent)
    steady = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {
        "messages": count,
        "chats": len(addresses),
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
        **gaps(times, 5 / limit),
    }


def gaps(times: Sequence[float], longer_than: float) -> dict[str, float]:
    """Pauses between consecutive sends longer than `longer_than` seconds (five send slots):
    how much of the run the sender spent not sending at all."""
    pauses = [b - a for a, b in itertools.pairwise(times) if b - a > longer_than]
    return {
        "pauses": len(pauses),
        "seconds_in_pauses": round(sum(pauses), 2),
        "longest_pause_ms": round(1000 * max(pauses, default=0.0), 1),
    }


def peak_per_second(times: Sequence[float]) -> int:
    """The most arrivals inside any window of one second (as the fake counts them)."""
    peak, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


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


class Backend:
    """One backend's run: database, stacks of processes, the four phases."""

    def __init__(self, name: str, options: argparse.Namespace, workdir: Path) -> None:
        self.name = name
        self.options = options
        self.workdir = workdir
        self.profile_dir = Path(options.profile) if options.profile else None
        self.resources = Resources()
        self.database_url = ""
        self.results: dict[str, Any] = {"backend": name}

    async def create_storage(self) -> None:
        resources = self.resources
        if self.name == "embedded":
            self.database_url = f"sqlite:///{self.workdir / 'bench.db'}"
            log(f"SQLite database {self.workdir / 'bench.db'}")
            return
        admin = async_url(self.options.database_url)
        resources.admin_dsn = admin.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        name = f"mutuality_bench_{uuid.uuid4().hex[:12]}"
        connection = await asyncpg.connect(resources.admin_dsn)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        resources.database_name = name
        self.database_url = admin.set(database=name).render_as_string(hide_password=False)
        resources.prefix = f"bench-{uuid.uuid4().hex[:12]}:"
        resources.redis = Redis.from_url(self.options.redis_url)
        await resources.redis.ping()
        log(f"created database {name}; Redis prefix {resources.prefix}")

    async def start(self, label: str, settings: dict[str, str]) -> Stack:
        stack = Stack(label, self.workdir, self.profile_dir)
        self.resources.stacks.append(stack)
        env = {**settings, **stack.address_settings(), "DATABASE_URL": self.database_url}
        if self.name == "embedded":
            await stack.spawn("mutuality (embedded)", "embedded", child_environment(env))
            await stack.wait_ready([])
        else:
            assert self.resources.prefix is not None
            env["REDIS_URL"] = self.options.redis_url
            env["REDIS_PREFIX"] = self.resources.prefix
            await stack.spawn("web", "web", child_environment(env))
            workers = [
                await stack.spawn(f"worker {n}", "worker", child_environment(env))
                for n in range(1, self.options.workers + 1)
            ]
            await stack.wait_ready(workers)
        log(", ".join(f"{label} (pid {pid})" for label, pid in stack.processes()))
        return stack

    async def finish(self, stack: Stack) -> None:
        self.results.setdefault("log_problems", {}).update(stack.problems())
        await stack.stop()
        self.resources.stacks.remove(stack)

    def meter(self, stack: Stack) -> Meter:
        resources = self.resources
        return Meter(
            stack.processes(), resources.admin_dsn, resources.database_name, resources.redis
        )

    async def run(self) -> dict[str, Any]:
        try:
            await self.create_storage()
            database = Database(self.database_url)
            try:
                await database.upgrade()
                await self.phases(database)
            finally:
                await database.dispose()
        finally:
            await self.resources.cleanup()
        return self.results

    async def phases(self, database: Database) -> None:
        options, results = self.options, self.results
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

        # phases 1-3: the sending limits out of the way
        async with RecordingTelegram(token=TOKEN) as fake:
            stack = await self.start("fast", bot_settings(fake.url, FAST_RATE, FAST_CHAT_RATE))
            connector = aiohttp.TCPConnector(limit=options.connections)
            async with aiohttp.ClientSession(connector=connector) as session:
                webhook = Webhook(session, stack.url)
                log(f"warm-up: {len(chats['warm'])} members, one whole check-in each")
                warm = await closed_loop(
                    webhook, fake, chats["warm"], len(chats["warm"]) * len(SCRIPT)
                )
                if warm["unexpected_replies"] or warm["missing_replies"]:
                    raise RuntimeError(f"the warm-up went wrong: {warm}")
                await settle(stack.processes())
                results["memory_idle"] = memory_of(stack.processes())

                log(
                    f"phase 1, closed loop: {options.answers} answers from {options.members} "
                    "members"
                )
                meter = self.meter(stack)
                stack.signal_profilers(signal.SIGUSR1)
                await meter.begin()
                results["closed_loop"] = await closed_loop(
                    webhook, fake, chats["closed"], options.answers
                )
                results["closed_loop"].update(await meter.end(options.answers))
                stack.signal_profilers(signal.SIGUSR2)
                results["memory_after_closed_loop"] = memory_of(stack.processes())
                log(f"  -> {json.dumps(results['closed_loop'])}")
                busy = await settle(stack.processes())
                results["closed_loop"]["busy_after_seconds"] = busy
                log(f"  the bot's processes stayed busy {busy} s after the last reply")

                log(
                    f"phases 2-3, open loop: {options.rate:g} answers/s for {options.seconds:g} s"
                    f" over {options.open_members} members"
                )
                await meter.begin()
                results["open_loop"] = await open_loop(
                    webhook, fake, chats["open"], options.rate, options.seconds
                )
                results["open_loop"].update(await meter.end(results["open_loop"]["answers"]))
                results["memory_after_open_loop"] = memory_of(stack.processes())
                log(f"  -> {json.dumps(results['open_loop'])}")
                results["webhook_errors"] = webhook.errors
            results["order_phases_1_3"] = await delivery_order(
                database, chats["closed"] + chats["open"]
            )
            if self.resources.redis is not None:
                results["outbox_wakeups_left"] = await self.resources.redis.llen(
                    f"{self.resources.prefix}queue:outbox"
                )
            results["fast_rate_limited_429"] = fake.rate_limited
            await self.finish(stack)

        # phase 4: the sender against a provider's limit
        limit = options.send_limit
        addresses = [str(6_200_000_001 + n) for n in range(options.burst_chats)]
        async with RecordingTelegram(token=TOKEN, global_per_second=limit) as fake:
            stack = await self.start("limited", bot_settings(fake.url, limit, FAST_CHAT_RATE))
            log(
                f"phase 4, sender: {options.burst} outbox rows to {options.burst_chats} chats; "
                f"the fake and TELEGRAM_RATE_PER_SECOND at {limit:g}/s"
            )
            before = await redis_commands(self.resources.redis)
            meter = self.meter(stack)
            await meter.begin()
            results["sender"] = await burst(database, fake, options.burst, addresses, limit)
            results["sender"].update(await meter.end(options.burst))
            after = await redis_commands(self.resources.redis)
            if after:
                calls = {name: after[name] - before.get(name, 0) for name in after}
                top = sorted(calls.items(), key=lambda item: -item[1])[:4]
                results["sender"]["redis_calls_per_send"] = {
                    name: round(count / max(1, results["sender"]["sent"]), 1) for name, count in top
                }
            results["sender"]["order"] = await delivery_order(database, addresses)
            results["memory_after_burst"] = memory_of(stack.processes())
            log(f"  -> {json.dumps(results['sender'])}")
            await self.finish(stack)
        if self.profile_dir is not None:
            summarize_profiles(self.profile_dir)


# --- profiles -----------------------------------------------------------------------------------


def package_of(filename: str, function: str) -> str:
    match = re.search(r"site-packages/([^/]+)", filename)
    if match:
        return match.group(1).removesuffix(".py")
    match = re.search(r"/lib/python3\.\d+/([^/]+)", filename)
    if match:
        return f"stdlib {match.group(1).removesuffix('.py')}"
    match = re.search(r"/(bot|storage|conversations|tests|benchmarks)/", filename)
    if match:
        return match.group(1)
    if filename == "~":
        return f"C: {function[:50]}"
    return filename


def summarize_profiles(directory: Path) -> None:
    """For each dump: CPU time by package, then the top functions, in a .txt beside it."""
    for path in sorted(directory.glob("*.prof")):
        stats = pstats.Stats(str(path))
        by_package: collections.Counter[str] = collections.Counter()
        raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
        for (filename, _, function), (_, _, own, _, _) in raw.items():
            by_package[package_of(filename, function)] += own
        total = sum(by_package.values()) or 1.0
        with path.with_suffix(".txt").open("w") as out:
            out.write(f"{path.name}: {total:.1f} s of main-thread CPU, by package\n")
            for package, seconds in by_package.most_common(25):
                out.write(f"  {package:55s} {seconds:7.2f} s {100 * seconds / total:5.1f}%\n")
            out.write("\n")
            stats.stream = out  # type: ignore[attr-defined]
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(60)
        log(f"profile: {path} (summary in {path.with_suffix('.txt')})")


# --- report -------------------------------------------------------------------------------------


def report(all_results: Sequence[dict[str, Any]], options: argparse.Namespace) -> str:
    lines = [
        "",
        "| measure | target | " + " | ".join(r["backend"] for r in all_results) + " |",
        "|---|---|" + "---|" * len(all_results),
    ]

    def row(name: str, target: str, cell: Callable[[dict[str, Any]], str]) -> None:
        cells = []
        for result in all_results:
            try:
                cells.append(cell(result))
            except (KeyError, TypeError):
                cells.append("-")
        lines.append(f"| {name} | {target} | " + " | ".join(cells) + " |")

    def ms(value: float) -> str:
        return f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms"

    def pair(result: dict[str, Any], phase: str, measure: str) -> str:
        figures = result[phase][measure]
        return f"{ms(figures['p50_ms'])} / {ms(figures['p99_ms'])}"

    row(
        f"answers/s end to end, closed loop ({options.answers} answers, {options.members} members)",
        "≥ 500 (PostgreSQL + Redis)",
        lambda r: f"{r['closed_loop']['answers_per_second']:,.0f}",
    )
    row(
        "  webhook p50 / p99 under that load",
        "",
        lambda r: pair(r, "closed_loop", "webhook"),
    )
    row(
        "  inbound to outbound p50 / p99 under that load",
        "",
        lambda r: pair(r, "closed_loop", "inbound_to_outbound"),
    )
    row(
        "  CPU per answer: bot processes / PostgreSQL",
        "",
        lambda r: (
            f"{r['closed_loop']['cpu_ms_per_answer']['bot processes']} ms / "
            + (
                f"{r['closed_loop']['cpu_ms_per_answer'][POSTGRES]} ms"
                if POSTGRES in r["closed_loop"]["cpu_ms_per_answer"]
                else "-"
            )
        ),
    )
    row(
        f"  machine CPU busy (of {os.cpu_count()} cores = {100 * (os.cpu_count() or 1)}%)",
        "",
        lambda r: (
            f"{r['closed_loop']['cpu_percent_of_one_core'][MACHINE]:g}%, of which "
            f"other work {r['closed_loop']['cpu_percent_of_one_core'][OTHERS]:g}%"
        ),
    )
    row(
        "  PostgreSQL commits / new connections per answer",
        "",
        lambda r: (
            f"{r['closed_loop']['postgres_per_answer']['transactions']} / "
            f"{r['closed_loop']['postgres_per_answer']['new_connections']}"
        ),
    )
    row(
        f"webhook p50 / p99 at {options.rate:g} answers/s offered (open loop)",
        "p99 < 50 ms",
        lambda r: pair(r, "open_loop", "webhook"),
    )
    row(
        f"inbound to outbound p50 / p99 at {options.rate:g} answers/s",
        "",
        lambda r: pair(r, "open_loop", "inbound_to_outbound"),
    )
    row(
        f"sends at a {options.send_limit:g}/s limit ({options.burst} rows to "
        f"{options.burst_chats} chats): achieved / limit",
        "≥ 95%",
        lambda r: (
            f"{r['sender']['achieved_per_second']:,.1f}/s = "
            f"{r['sender']['achieved_of_limit_percent']}%"
        ),
    )
    row("  429s from the fake", "0", lambda r: str(r["sender"]["rate_limited_429"]))
    row(
        "bot still busy after the closed loop's last reply",
        "",
        lambda r: f"{r['closed_loop']['busy_after_seconds']} s",
    )
    row(
        "chats whose lines arrived out of order (phases 1-3 / burst)",
        "0",
        lambda r: (
            f"{r['order_phases_1_3']['chats_out_of_order']} / "
            f"{r['sender']['order']['chats_out_of_order']}"
        ),
    )
    labels = list(dict.fromkeys(label for r in all_results for label in r["memory_idle"]))

    def rss(label: str) -> Callable[[dict[str, Any]], str]:
        def cell(result: dict[str, Any]) -> str:
            idle = result["memory_idle"][label]["rss_mib"]
            after = result["memory_after_open_loop"][label]
            return f"{idle} / {after['rss_mib']} / {after['peak_mib']} MiB"

        return cell

    for label in labels:
        row(f"RSS {label}: idle / after load / peak", "", rss(label))
    lines.append("")
    for result in all_results:
        lines.append(f"{result['backend']}:")
        for phase in ("closed_loop", "open_loop", "sender"):
            cpu = result[phase]["cpu_percent_of_one_core"]
            lines.append(
                f"  CPU in {phase}, % of one core: "
                + ", ".join(f"{k} {v:g}" for k, v in cpu.items())
            )
        if "postgres_per_answer" in result["open_loop"]:
            lines.append(
                f"  PostgreSQL per answer, open loop: {result['open_loop']['postgres_per_answer']}"
            )
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
        for message, count in result.get("log_problems", {}).items():
            lines.append(f"  logged {count}x: {message}")
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
        """Defaults shown, and the module's docstring kept as written."""

    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=Formatter,
    )
    parser.add_argument(
        "--backend",
        choices=["embedded", "production", "both"],
        default="both",
        help="embedded: SQLite + in-process coordination in one process; production: "
        "PostgreSQL + Redis, `mutuality web` and `mutuality worker` processes",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (production)")
    parser.add_argument("--answers", type=int, default=1200, help="answers in the closed loop")
    parser.add_argument(
        "--members", type=int, default=200, help="members answering in the closed loop"
    )
    parser.add_argument(
        "--rate", type=float, default=200.0, help="answers/s offered in the open loop"
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="open loop length")
    parser.add_argument(
        "--open-members", type=int, default=400, help="members answering in the open loop"
    )
    parser.add_argument(
        "--warm-members", type=int, default=16, help="members in the unmeasured warm-up"
    )
    parser.add_argument(
        "--send-limit",
        type=float,
        default=100.0,
        help="sends/s the fake allows, and TELEGRAM_RATE_PER_SECOND, in the sender phase",
    )
    parser.add_argument("--burst", type=int, default=2000, help="outbox rows in the burst")
    parser.add_argument(
        "--burst-chats",
        type=int,
        default=100,
        help="chats the burst goes to, round robin (a backlog as a busy hour leaves it: with "
        "fewer chats than the sender's batch of 200, a batch holds several lines of a chat)",
    )
    parser.add_argument(
        "--connections", type=int, default=100, help="client connections to the webhook at most"
    )
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL database to connect to for creating (and dropping) the benchmark's "
        "own database",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="Redis")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="profile the bot's processes during the closed loop (cProfile, main-thread CPU "
        "time) into DIR; figures are slower then: use for where the CPU goes, not for rates",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument("--child", choices=["embedded", "web", "worker"], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


async def run_all(options: argparse.Namespace) -> list[dict[str, Any]]:
    backends = ["embedded", "production"] if options.backend == "both" else [options.backend]
    if not MUTUALITY.exists():
        raise SystemExit(f"{MUTUALITY} not found: run this with the project's venv python")
    if options.profile:
        Path(options.profile).mkdir(parents=True, exist_ok=True)
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="mutuality-bench-"))
    try:
        for name in backends:
            log(f"=== {name} ===")
            results.append(await Backend(name, options, workdir).run())
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
    if options.child:
        run_child(options.child)
        return
    for name in ("members", "open_members", "warm_members", "answers", "burst", "burst_chats"):
        if getattr(options, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be at least 1")
    busy = machine_busy(2.0)
    log(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"before starting, the machine is {busy:.0f}% busy (of {100 * (os.cpu_count() or 1)}%)"
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
        document = {"options": vars(options), "machine_busy_before": busy, "results": results}
        Path(options.json).write_text(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
