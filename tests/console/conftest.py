"""A runtime on each backend with the console's seed program, and an HTTP client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from bot.runtime import Runtime
from bot.settings import Settings
from bot.web.app import create_app
from tests.console.seed import Clock, Program, seed


@dataclass
class Console:
    runtime: Runtime
    clock: Clock
    program: Program
    client: httpx.AsyncClient


@pytest.fixture
async def console(database_url: str) -> AsyncIterator[Console]:
    settings = Settings(
        DATABASE_URL=database_url,
        CONSOLE_SECRET="a test secret for signing cookies",
        _env_file=None,  # type: ignore[call-arg]
    )
    clock = Clock()
    async with Runtime.open(settings, clock=clock) as runtime:
        program = await seed(runtime.database, runtime.service)
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
            yield Console(runtime, clock, program, client)
