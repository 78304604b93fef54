"""`mutuality web` as a real process, killed with SIGKILL between webhooks and started again:
every update it acknowledged is stored, before and after, and the new process answers at once
(it registers the webhook again with Telegram's secret). On the test's database (SQLite, and
PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from storage import Database
from storage.models import InboxEntry
from tests.bot.test_stopping import MUTUALITY, env_for
from tests.fakes.telegram_api import FakeTelegram
from tests.pipeline.redis_server import free_port
from tests.pipeline.test_pipeline import text_update

TOKEN = "123456:WEB-restart"
SECRET = "web-restart-secret"


@contextlib.asynccontextmanager
async def web_process(env: dict[str, str], log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            MUTUALITY, "web", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=stderr
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def ready(session: aiohttp.ClientSession, url: str) -> None:
    async with asyncio.timeout(60):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url + "/readyz") as answer:
                    if answer.status == 200:
                        return
            await asyncio.sleep(0.1)


async def post(session: aiohttp.ClientSession, url: str, update_id: int) -> int:
    async with session.post(
        url + "/webhooks/telegram",
        data=json.dumps(text_update(update_id, "hi", chat=7_600_000 + update_id)),
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"},
    ) as answer:
        return answer.status


async def stored(database: Database) -> int:
    async with database.read() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(InboxEntry)) or 0)


async def test_a_killed_web_process_loses_no_acknowledged_update_and_starts_again(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with FakeTelegram(token=TOKEN) as telegram, aiohttp.ClientSession() as session:
        env = env_for(
            database_url,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=telegram.url,
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            PUBLIC_URL="https://bot.example.org",
            PORT=str(port),
        )
        async with web_process(env, tmp_path / "web.log") as first:
            await ready(session, url)
            before = await asyncio.gather(*(post(session, url, n) for n in range(1, 21)))
            first.send_signal(signal.SIGKILL)
            await first.wait()
        assert before == [200] * 20
        assert await stored(database) == 20
        async with web_process(env, tmp_path / "web.log") as second:
            await ready(session, url)
            after = await asyncio.gather(*(post(session, url, n) for n in range(1, 41)))
            second.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):
                await second.wait()
        assert after == [200] * 40  # redeliveries of the first 20 are acknowledged again
        assert await stored(database) == 40  # and stored once
        assert second.returncode == 0, (tmp_path / "web.log").read_text()[-2000:]
        assert telegram.webhook is not None
        assert telegram.webhook["secret_token"] == SECRET
