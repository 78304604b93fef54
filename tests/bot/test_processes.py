"""What the long-running processes are built on: uvloop's event loop, a tuned garbage
collector, a web server that writes no access log line per request unless asked to, and a
bounded database pool."""

from __future__ import annotations

import asyncio
import gc

import pytest
import uvloop
from pydantic import ValidationError

from bot.processes import COLLECTION_THRESHOLDS, event_loop_factory, run_process, web_config
from bot.runtime import telegram_connections
from bot.settings import Settings


def test_processes_run_on_uvloop() -> None:
    assert event_loop_factory() is uvloop.new_event_loop
    seen: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        seen.append(asyncio.get_running_loop())

    run_process(main())
    [loop] = seen
    assert isinstance(loop, uvloop.Loop)
    assert loop.is_closed()


async def app(scope: object, receive: object, send: object) -> None:
    """An ASGI app that is never called: only the server's configuration is looked at."""


def test_the_web_server_logs_requests_only_when_asked() -> None:
    default = Settings(_env_file=None)  # type: ignore[call-arg]
    asked = Settings(_env_file=None, ACCESS_LOG="true")  # type: ignore[call-arg]
    assert default.access_log is False
    assert web_config(app, default, quiet=False).access_log is False
    assert web_config(app, asked, quiet=False).access_log is True
    assert web_config(app, asked, quiet=True).access_log is False


def test_the_pool_size_is_a_setting_of_at_least_one() -> None:
    assert Settings(_env_file=None).database_pool_size == 20  # type: ignore[call-arg]
    assert Settings(_env_file=None, DATABASE_POOL_SIZE="8").database_pool_size == 8  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(_env_file=None, DATABASE_POOL_SIZE="0")  # type: ignore[call-arg]


def test_processes_collect_garbage_less_often_and_restore_the_collector_afterwards() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    seen: list[tuple[tuple[int, int, int], int]] = []

    async def main() -> None:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))

    run_process(main())
    [(threshold, frozen)] = seen
    assert threshold == COLLECTION_THRESHOLDS
    assert threshold[0] > before[0]
    assert frozen > frozen_before  # what was alive at the start is out of the collector's sight
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before


def test_the_bot_api_pool_holds_a_second_of_sends_and_the_long_poll() -> None:
    """Sized for the sender: as many sends in flight as the channel's rate allows in a second,
    plus the long poll and callback answers beside them."""
    assert telegram_connections(Settings(_env_file=None)) == 34  # type: ignore[call-arg]
    fast = Settings(_env_file=None, TELEGRAM_RATE_PER_SECOND="99.5")  # type: ignore[call-arg]
    assert telegram_connections(fast) == 104


def test_the_telegram_library_is_imported_only_when_telegram_is_configured() -> None:
    """`mutuality run` without Telegram does not pay for importing its client (seconds on a
    busy machine): the processes, the web app and the runtime's channels leave it out."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "import bot.cli.serve, bot.processes, bot.web.app\n"
        "from bot.runtime import build_channels\n"
        "from bot.settings import Settings\n"
        "assert build_channels(Settings(_env_file=None)) == {}\n"
        "print(sorted(name for name in ('aiogram', 'telegram') if name in sys.modules))\n"
    )
    environment = {
        key: value
        for key, value in __import__("os").environ.items()
        if not key.startswith(("TELEGRAM_", "TWILIO_"))
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=True
    )
    assert result.stdout.strip() == "[]", result.stderr
