"""What the console's browser tests share: Debian's Chromium driven by Playwright, and the
whole stack (web server on a real port, worker, sender, a fake Telegram, a fake Twilio with an
approved WhatsApp template for coordinators) around the seed.

No browser can be downloaded here, so the tests launch `/usr/bin/chromium`. Where it is absent
they skip with the reason, except in CI (`CI` set), where they fail: CI must run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from bot.runtime import Runtime
from bot.settings import Settings
from bot.web.app import create_app
from tests.console.seed import Program, seed
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "123456:TEST-token"
SECRET = "webhook-secret"
TWILIO_SID = "AC" + "0" * 32
TWILIO_AUTH = "twilio-auth-token"
FOLLOW_UP = "Hello {{1}}, this is {{2}} from your peer group. Reply to this message to talk."
"""The body of the approved `follow_up` template a coordinator is offered on WhatsApp."""


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is absent (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the test owns the process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Stack:
    runtime: Runtime
    program: Program
    telegram: FakeTelegram
    twilio: FakeTwilio
    url: str
    client: httpx.AsyncClient

    async def member_says(self, update_id: int, chat: int, text: str) -> None:
        """A Telegram member's message, through the real webhook."""
        update = {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 1765098000,
                "chat": {"id": chat, "type": "private", "first_name": "Member"},
                "from": {"id": chat, "is_bot": False, "first_name": "Member"},
                "text": text,
            },
        }
        response = await self.client.post(
            "/webhooks/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert response.status_code == 200

    def sent_to(self, chat: int) -> list[str]:
        return [m["text"] for m in self.telegram.sent if str(m["chat_id"]) == str(chat)]


@contextlib.asynccontextmanager
async def running_stack(folder: Path) -> AsyncIterator[Stack]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    async with FakeTelegram(token=TOKEN) as telegram, FakeTwilio(TWILIO_SID, TWILIO_AUTH) as twilio:
        templates = folder / "templates.yaml"
        templates.write_text(
            "whatsapp:\n  console:\n"
            f"    follow_up: {{en: {twilio.approve_text('follow_up', FOLLOW_UP)}}}\n"
            f"    call_back: {{sw: {twilio.approve_text('call_back', 'Habari {{{{1}}}}', 'sw')}}}\n",
            encoding="utf-8",
        )
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            DATABASE_URL=f"sqlite:///{folder / 'console.db'}",
            PUBLIC_URL=url,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=telegram.url,
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            TELEGRAM_CHAT_RATE_PER_SECOND=50,
            CONSOLE_SECRET="a test secret for signing cookies",
            TWILIO_ACCOUNT_SID=TWILIO_SID,
            TWILIO_AUTH_TOKEN=TWILIO_AUTH,
            TWILIO_API_URL=twilio.url,
            TWILIO_CONTENT_API_URL=twilio.url,
            TWILIO_WHATSAPP_FROM="whatsapp:+14155238886",
            TEMPLATES_PATH=str(templates),
        )
        async with Runtime.open(settings) as runtime:
            program = await seed(runtime.database, runtime.service)
            runtime.worker.sweep_interval = 0.2
            stop = asyncio.Event()
            server = _Server(
                uvicorn.Config(
                    create_app(runtime), log_level="warning", access_log=False, lifespan="off"
                )
            )
            loops = [
                asyncio.create_task(runtime.worker.run(stop)),
                asyncio.create_task(runtime.sender.run(stop)),
                asyncio.create_task(server.serve(sockets=[listener])),
            ]
            while not server.started:  # noqa: ASYNC110 (uvicorn tells it by a flag only)
                await asyncio.sleep(0.02)
            try:
                async with httpx.AsyncClient(base_url=url) as client:
                    yield Stack(runtime, program, telegram, twilio, url, client)
            finally:
                server.should_exit = True
                stop.set()
                await asyncio.gather(*loops)
                listener.close()
