"""A runtime on each backend with the console's seed program, and an HTTP client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from bot.runtime import Runtime
from bot.settings import Settings
from bot.web.app import create_app
from tests.console.browser import CHROMIUM, require_chromium
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


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, for the browser tests (skipped with the reason where it is absent,
    failing instead when `CI` is set)."""
    require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()
