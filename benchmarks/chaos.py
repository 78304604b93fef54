"""Chaos you can rerun: the production topology broken on purpose, and what it lost.

Starts one `mutuality web` and two `mutuality worker` processes on a fresh PostgreSQL database
and a private `redis-server`, with the bot's Telegram and Twilio clients talking to fake
providers in this process. PostgreSQL is reached through a TCP proxy of this script, so it can
"go down" (every connection cut, new ones refused) without touching the shared server. Then:

1. load: `--members` Telegram members each send the onboarding script over the real webhook,
   each line retried until it is acknowledged (Telegram redelivers what is not answered 2xx);
2. during the load: workers killed with SIGKILL (`--kills`, one every few seconds, restarted),
   Redis stopped for 3 s and 15 s, PostgreSQL cut off for 11 s;
3. poison batches: 10 rounds of 20 valid signed Twilio messages and one bad one (a MessageSid
   of 130 characters, or with a NUL) posted together; Twilio does not redeliver, so a valid
   message answered anything but 2xx is lost;
4. STOP against a queued broadcast: a broadcast line queued for every member at the provider's
   real rate (30 a second), then `--stoppers` members send STOP: a broadcast line reaching one
   of them after their opt-out was recorded is an opt-out ignored.

Reported: inbound messages lost (acknowledged but never handled, or valid and refused),
duplicate answers (a turn's lines delivered twice), opted-out members who got a queued line,
and every duplicate send at the fake with its cause where the log tells it. Everything it
starts is removed at the end.

    python benchmarks/chaos.py                      # about 3 minutes
    python benchmarks/chaos.py --members 300 --kills 18
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from sqlalchemy import func, make_url, select

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # for `tests.fakes`, which is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks.scratch import scratch_database  # noqa: E402
from storage import Database  # noqa: E402
from storage.models import InboxEntry, Member, Message  # noqa: E402
from storage.urls import async_url  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402
from tests.fakes.twilio_api import FakeTwilio, signed_request_headers  # noqa: E402
from tests.pipeline.redis_server import RedisServer  # noqa: E402

MUTUALITY = Path(sys.executable).parent / "mutuality"
TOKEN = "123456:CHAOS-token"
SECRET = "chaos-webhook-secret"
SID = "AC" + "c" * 32
AUTH = "chaos-auth-token"
PUBLIC = "https://chaos.example.org"
FIXTURES = ROOT / "tests" / "fixtures"
SCRIPT = ["hi", "1", "yes", "Member", "1", "yes", "skip", "checkin", "100", "50", "20", "no"]
PAUSE = (2.0, 5.0)
"""Seconds a member takes between lines: the load lasts as long as the faults."""
BROADCAST = "Market day moves to Friday this week."
FIRST_CHAT = 6_100_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Proxy:
    """A TCP proxy to PostgreSQL that can go down: `down()` cuts every connection and refuses
    new ones until `up()`."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._links -= {writer, up_writer}


class Bot:
    """`mutuality web` and two `mutuality worker` processes, restartable one by one."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.killing: set[str] = set()
        self.restarts = 0

    async def start(self, name: str) -> None:
        command = "web" if name == "web" else "worker"
        with (self.workdir / f"{name}.log").open("ab") as stderr:
            self.processes[name] = await asyncio.create_subprocess_exec(
                str(MUTUALITY),
                command,
                env=self.env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )

    async def supervise(self) -> None:
        """Start again any process that ended by itself (one that started while Redis was
        down exits at once), as a process manager does; until cancelled."""
        while True:
            await asyncio.sleep(0.5)
            for name, process in list(self.processes.items()):
                if process.returncode is not None and name not in self.killing:
                    self.restarts += 1
                    await self.start(name)

    async def kill(self, name: str) -> None:
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        await process.wait()

    async def stop_all(self) -> None:
        self.killing |= set(self.processes)
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                async with asyncio.timeout(15):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()

    def log_lines(self, text: str) -> int:
        return sum(
            path.read_text(errors="replace").count(text) for path in self.workdir.glob("*.log")
        )


def telegram_update(update_id: int, chat: int, text: str) -> dict[str, Any]:
    update: dict[str, Any] = copy.deepcopy(
        json.loads((FIXTURES / "telegram" / "message_text.json").read_text())
    )
    update["update_id"] = update_id
    update["message"]["message_id"] = update_id
    update["message"]["text"] = text
    update["message"]["chat"]["id"] = chat
    update["message"]["from"]["id"] = chat
    return update


class Members:
    """Telegram members sending their lines over the webhook, each retried until it is
    acknowledged; counts the attempts refused along the way."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.next_update = 1
        self.refused: Counter[int] = Counter()
        self.acknowledged = 0

    async def say(self, chat: int, text: str) -> None:
        update = telegram_update(self.next_update, chat, text)
        self.next_update += 1
        body = json.dumps(update)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        while True:
            try:
                async with self.session.post(
                    self.url + "/webhooks/telegram", data=body, headers=headers
                ) as answer:
                    if answer.status == 200:
                        self.acknowledged += 1
                        return
                    self.refused[answer.status] += 1
            except (aiohttp.ClientError, TimeoutError):
                self.refused[0] += 1
            await asyncio.sleep(0.5)  # Telegram backs off before redelivering

    async def converse(self, chat: int, lines: list[str]) -> None:
        await asyncio.sleep(random.uniform(0, PAUSE[1]))
        for line in lines:
            await self.say(chat, line)
            await asyncio.sleep(random.uniform(*PAUSE))


class Faults:
    """The faults, one after another, while the load runs; when each happened (the clock of
    the fake providers' records), to tell the cause of a duplicate send."""

    def __init__(self) -> None:
        self.kills: list[float] = []
        self.outages: list[tuple[str, float, float]] = []
        self.done: list[str] = []

    async def run(self, bot: Bot, redis: RedisServer, proxy: Proxy, kills: int) -> None:
        await asyncio.sleep(3)
        for number in range(kills):
            await asyncio.sleep(random.uniform(1.0, 2.5))
            victim = f"worker{number % 2 + 1}"
            self.kills.append(time.monotonic())
            bot.killing.add(victim)
            await bot.kill(victim)
            await asyncio.sleep(0.3)
            await bot.start(victim)
            bot.killing.discard(victim)
        self.done.append(f"{kills} workers killed with SIGKILL and restarted")
        for seconds in (3, 15):
            started = time.monotonic()
            await redis.stop()
            await asyncio.sleep(seconds)
            await redis.start()
            self.outages.append(("Redis", started, time.monotonic()))
            self.done.append(f"Redis stopped for {seconds} s")
            await asyncio.sleep(2)
        started = time.monotonic()
        await proxy.down()
        await asyncio.sleep(11)
        await proxy.up()
        self.outages.append(("PostgreSQL", started, time.monotonic()))
        self.done.append("PostgreSQL cut off for 11 s")

    def cause(self, first_sent: float) -> str:
        """Why a line sent at `first_sent` went out again."""
        if any(0 <= kill - first_sent <= 2.0 for kill in self.kills):
            return "worker killed between the send and its receipt"
        for name, start, end in self.outages:
            if start - 2.0 <= first_sent <= end:
                return f"{name} outage"
        return "unexplained"


async def settle(database: Database, within: float = 300) -> None:
    """Wait until every inbox entry is handled and nothing is queued."""
    async with asyncio.timeout(within):
        while True:
            async with database.read() as uow:
                pending = await uow.session.scalar(
                    select(func.count())
                    .select_from(InboxEntry)
                    .where(InboxEntry.processed_at.is_(None))
                )
                queued = await uow.session.scalar(
                    select(func.count()).select_from(Message).where(Message.status == "queued")
                )
            if not pending and not queued:
                return
            await asyncio.sleep(1)


async def poison_rounds(session: aiohttp.ClientSession, url: str, rounds: int) -> dict[str, int]:
    """Valid signed Twilio messages posted together with one bad one."""
    base = dict(
        line.split("=", 1)
        for line in (FIXTURES / "twilio" / "whatsapp_inbound_text.form")
        .read_text()
        .strip()
        .split("&")
    )
    from urllib.parse import unquote_plus

    base = {key: unquote_plus(value) for key, value in base.items()}
    valid_refused = bad_refused = valid = 0

    async def post(form: dict[str, str]) -> int:
        headers = signed_request_headers(AUTH, PUBLIC + "/webhooks/twilio", form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with session.post(
            url + "/webhooks/twilio", data=urlencode(form), headers=headers
        ) as answer:
            return answer.status

    for number in range(rounds):
        forms = []
        for member in range(20):
            sid = f"SM{number:04d}{member:028d}"
            phone = f"+2547{number:02d}{member:06d}"
            forms.append(dict(base, MessageSid=sid, SmsMessageSid=sid, From=f"whatsapp:{phone}"))
        bad_sid = "SM" + "9" * 128 if number % 2 else "SM\x00" + "9" * 30
        bad = dict(base, MessageSid=bad_sid, SmsMessageSid=bad_sid)
        statuses = await asyncio.gather(*(post(form) for form in [*forms[:10], bad, *forms[10:]]))
        valid += 20
        valid_refused += sum(status != 200 for status in [*statuses[:10], *statuses[11:]])
        bad_refused += statuses[10] != 200
    return {"valid": valid, "valid_refused": valid_refused, "bad_refused": bad_refused}


async def stop_against_broadcast(
    database: Database, members: Members, telegram: FakeTelegram, stoppers: int, chats: list[int]
) -> dict[str, Any]:
    """Queue a broadcast line to every member, then some of them send STOP."""
    wall_minus_monotonic = time.time() - time.monotonic()
    async with database.transaction() as uow:
        ids = await uow.members.by_addresses("telegram", [str(chat) for chat in chats])
        at = datetime.now(UTC)
        await uow.messages.log_many(
            [
                {
                    "member_id": ids[str(chat)].id if str(chat) in ids else None,
                    "channel": "telegram",
                    "address_value": str(chat),
                    "direction": "out",
                    "text": BROADCAST,
                    "payload": {"nudge": "broadcast"},
                    "status": "queued",
                    "provider_message_id": None,
                    "error_code": None,
                    "created_at": at,
                    "updated_at": at,
                }
                for chat in chats
            ]
        )
    stopping = chats[-stoppers:]  # the last in the queue: their line is still waiting
    await asyncio.gather(*(members.say(chat, "STOP") for chat in stopping))
    await settle(database)
    async with database.read() as uow:
        rows = await uow.session.execute(
            select(Member.opted_out_at, Message.address_value)
            .join(Message, Message.member_id == Member.id)
            .where(Message.address_value.in_([str(chat) for chat in stopping]))
            .distinct()
        )
        opted_out_at = {address: when for when, address in rows}
    violations = []
    for line in telegram.sent:
        address = str(line["chat_id"])
        when = opted_out_at.get(address)
        if line["text"] == BROADCAST and when is not None:
            delivered = datetime.fromtimestamp(line["at"] + wall_minus_monotonic, UTC)
            if delivered > when:
                violations.append((address, (delivered - when).total_seconds()))
    return {
        "stoppers": len(stopping),
        "opted_out": sum(1 for when in opted_out_at.values() if when is not None),
        "got_the_line_after_opting_out": len(violations),
        "latest_after_seconds": max((late for _, late in violations), default=0.0),
    }


async def outcome(
    database: Database, telegram: FakeTelegram, chats: list[int], faults: Faults
) -> dict[str, Any]:
    """Inbound lost and sends doubled, from the database and the fake's record."""
    async with database.read() as uow:
        pending = await uow.session.scalar(
            select(func.count()).select_from(InboxEntry).where(InboxEntry.processed_at.is_(None))
        )
        inbound = await uow.session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == "in", Message.channel == "telegram")
        )
        whatsapp = await uow.session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == "in", Message.channel == "whatsapp")
        )
        outbound = Counter(
            dict(
                (
                    await uow.session.execute(
                        select(Message.address_value, func.count())
                        .where(
                            Message.direction == "out",
                            Message.status.in_(["sent", "delivered", "read"]),
                            Message.text != BROADCAST,
                        )
                        .group_by(Message.address_value)
                    )
                ).all()
            )
        )
    delivered = Counter(str(line["chat_id"]) for line in telegram.sent if line["text"] != BROADCAST)
    telegram_chats = set(map(str, chats))
    recorded = sum(count for chat, count in outbound.items() if chat in telegram_chats)
    lines: dict[tuple[str, str], list[float]] = {}
    for line in telegram.sent:
        if line["text"] != BROADCAST:
            lines.setdefault((str(line["chat_id"]), line["text"]), []).append(line["at"])
    causes: Counter[str] = Counter()
    for times in lines.values():
        for _ in times[1:]:
            causes[faults.cause(times[0])] += 1
    return {
        "inbox_pending": int(pending or 0),
        "inbound_logged": int(inbound or 0),
        "whatsapp_inbound_logged": int(whatsapp or 0),
        "answers_delivered": sum(delivered.values()),
        "answers_recorded": recorded,
        "duplicate_sends": sum(delivered.values()) - recorded,
        "same_line_twice_by_cause": dict(causes),
    }


async def run(options: argparse.Namespace) -> dict[str, Any]:
    base = async_url(options.database_url)
    host, port = base.host or "127.0.0.1", base.port or 5432
    chats = [FIRST_CHAT + number for number in range(options.members)]
    workdir = Path(tempfile.mkdtemp(prefix="mutuality-chaos-"))
    async with (
        scratch_database("postgresql", options.database_url, "chaos") as scratch,
        RedisServer() as redis,
        FakeTelegram(token=TOKEN, global_per_second=30, per_chat_per_second=None) as telegram,
        FakeTwilio(SID, AUTH) as twilio,
    ):
        name = make_url(scratch).database
        database = Database(scratch)
        await database.upgrade()
        proxy = Proxy(host, port)
        await proxy.up()
        through_proxy = base.set(host="127.0.0.1", port=proxy.port, database=name)
        web_port = free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TELEGRAM_", "TWILIO_", "DATABASE_", "REDIS_", "PUBLIC_"))
        }
        env.update(
            DATABASE_URL=through_proxy.render_as_string(hide_password=False),
            REDIS_URL=redis.url,
            REDIS_PREFIX="chaos:",
            PORT=str(web_port),
            PUBLIC_URL=PUBLIC,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=telegram.url,
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            TELEGRAM_RATE_PER_SECOND="29",
            TWILIO_ACCOUNT_SID=SID,
            TWILIO_AUTH_TOKEN=AUTH,
            TWILIO_API_URL=twilio.url,
            TWILIO_WHATSAPP_FROM="whatsapp:+14155238886",
            TWILIO_SMS_FROM="+14155238886",
        )
        bot = Bot(env, workdir)
        url = f"http://127.0.0.1:{web_port}"
        supervisor: asyncio.Task[None] = asyncio.create_task(asyncio.sleep(0))
        try:
            for name_ in ("web", "worker1", "worker2"):
                await bot.start(name_)
            supervisor = asyncio.create_task(bot.supervise())
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
                async with asyncio.timeout(60):
                    while True:
                        with contextlib.suppress(aiohttp.ClientError):
                            async with session.get(url + "/readyz") as ready:
                                if ready.status == 200:
                                    break
                        await asyncio.sleep(0.2)
                members = Members(session, url)
                log(f"load: {options.members} members x {len(SCRIPT)} lines, with faults")
                started = time.monotonic()
                faults = Faults()
                await asyncio.gather(
                    *(members.converse(chat, SCRIPT) for chat in chats),
                    faults.run(bot, redis, proxy, options.kills),
                )
                log(f"load acknowledged in {time.monotonic() - started:.0f} s; waiting to settle")
                await settle(database)
                log("STOP against a queued broadcast")
                stop = await stop_against_broadcast(
                    database, members, telegram, options.stoppers, chats
                )
                log("poison batches")
                poison = await poison_rounds(session, url, 10)
                await settle(database)
                results = {
                    "members": options.members,
                    "lines_sent": members.acknowledged,
                    "refused_then_redelivered": dict(members.refused),
                    "faults": faults.done,
                    **await outcome(database, telegram, chats, faults),
                    "poison": poison,
                    "stop": stop,
                    "processes_restarted_after_exiting": bot.restarts,
                    "receipts_recorded_not_resent": bot.log_lines("not resent"),
                    "sends_abandoned_at_a_kill_or_stop": bot.log_lines("abandoned"),
                }
        finally:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
            await bot.stop_all()
            await proxy.down()
            await database.dispose()
            shutil.rmtree(workdir, ignore_errors=True)
    # every acknowledged Telegram line, and every valid Twilio message, must be in the log
    results["inbound_lost"] = results["lines_sent"] - results["inbound_logged"]
    poisoned = results["poison"]
    results["poison_valid_lost"] = poisoned["valid"] - results["whatsapp_inbound_logged"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--stoppers", type=int, default=6)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL server where this script may create and drop a database",
    )
    results = asyncio.run(run(parser.parse_args()))
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
