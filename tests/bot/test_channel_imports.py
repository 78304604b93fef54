"""A process loads a channel's client library only when it uses that channel.

Each case starts a real process (`bot.processes.web`, `worker` or `clock`) in a fresh
interpreter with its configuration, lets it open everything it needs, stops it with SIGTERM as
an operator would, and reports which client libraries it had imported by then. python-telegram-
bot is most of a process's memory, so the clock, a WhatsApp-only deployment and a web process
without Telegram must never import it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Runs in the child: the process until it has opened its runtime and started serving, then a
# SIGTERM, then the list of client libraries it imported.
CHILD = """
import asyncio, json, os, signal, sys
from contextlib import asynccontextmanager

from bot import processes
from bot.runtime import Runtime
from bot.settings import Settings

opened = Runtime.open

@asynccontextmanager
async def open_then_stop(*args, **kwargs):
    async with opened(*args, **kwargs) as runtime:
        # the process installs its signal handlers as soon as this yields; the timer fires after
        asyncio.get_running_loop().call_later(1.0, os.kill, os.getpid(), signal.SIGTERM)
        yield runtime

Runtime.open = open_then_stop
processes.run_process(getattr(processes, sys.argv[1])(Settings(_env_file=None)))
print(json.dumps(sorted({"telegram", "aiogram", "twilio"} & sys.modules.keys())))
"""

TELEGRAM = {"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_API_URL": "http://127.0.0.1:9"}
TWILIO = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "secret",
    "TWILIO_WHATSAPP_FROM": "+14155550100",
    "TWILIO_API_URL": "http://127.0.0.1:9",
    "PUBLIC_URL": "https://bot.example.org",
}


def _libraries(process: str, configuration: dict[str, str], tmp_path: Path) -> list[str]:
    environment = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "PORT": "0",
        **configuration,
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, process],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    libraries: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return libraries


@pytest.mark.parametrize(
    ("process", "configuration", "telegram_loaded"),
    [
        pytest.param("clock", {**TELEGRAM, **TWILIO}, False, id="clock-with-every-channel"),
        pytest.param("worker", TWILIO, False, id="whatsapp-only-worker"),
        pytest.param("web", TWILIO, False, id="web-without-telegram"),
        pytest.param("worker", {**TELEGRAM, **TWILIO}, True, id="worker-with-telegram"),
    ],
)
def test_a_process_imports_telegram_only_when_it_uses_it(
    process: str, configuration: dict[str, str], telegram_loaded: bool, tmp_path: Path
) -> None:
    libraries = _libraries(process, configuration, tmp_path)
    assert "aiogram" not in libraries
    assert ("telegram" in libraries) is telegram_loaded
