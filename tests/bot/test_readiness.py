"""`GET /readyz` with Redis configured: 200 when Redis answers, 503 saying so when it does not.

A load balancer takes a process out of rotation on a 503 and probes again; a probe that hangs
is worse than a clear no, because the balancer cannot tell "down" from "slow". So an
unreachable Redis must give a 503 whose body names what is missing, promptly for a refused
connection and within the check's own timeout for a Redis that accepts the connection and
then never answers. Anyone may ask, so the body holds states only; why (the server's address,
the database's host, port, name and user, never a password) is in the log.

The reachable case needs a real Redis and is collected only when `TEST_REDIS_URL` is set (CI
sets it); the unreachable ones need none and run on every backend always.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from bot.runtime import Runtime
from bot.settings import Settings
from bot.web.app import create_app
from tests.pipeline.redis_server import free_port

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "").strip()
REFUSED_WITHIN = 3.0
"""Seconds a refused connection may take to be reported: well under the readiness check's
5-second timeout, so a pass means the refusal was recognised, not waited out."""
HANG_GUARD = 20.0
"""A probe that has not answered after this long is hanging: the test fails instead of waiting."""


def settings_for(database_url: str, redis_url: str | None) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=f"mutuality-test:{uuid.uuid4().hex[:12]}:",
    )


@asynccontextmanager
async def probe(runtime: Runtime, redis_url: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the web app of `runtime`, configured with `redis_url` as its Redis.

    `Runtime.open` refuses to start without a reachable Redis, so a Redis that goes away after
    start-up is modelled by serving the same runtime under settings that point elsewhere."""
    settings = runtime.settings.model_copy(update={"redis_url": redis_url})
    app = create_app(dataclasses.replace(runtime, settings=settings))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
        yield client


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    """A runtime on the test's database with no Redis (its coordination is in-process)."""
    async with Runtime.open(settings_for(database_url, None)) as opened:
        yield opened


@asynccontextmanager
async def silent_listener() -> AsyncIterator[int]:
    """A port of 127.0.0.1 that accepts connections and never says a word: a Redis that hangs
    (stopped with SIGSTOP, a wedged proxy in between)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.close()
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()


async def readiness(client: httpx.AsyncClient, within: float) -> httpx.Response:
    """`GET /readyz`, failing the test if no answer came within `within` seconds."""
    async with asyncio.timeout(within):
        return await client.get("/readyz")


async def test_a_redis_that_refuses_connections_makes_readyz_answer_503_at_once(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nobody listens there: the connection is refused
    async with probe(runtime, f"redis://:s3cret-password@127.0.0.1:{port}/0") as client:
        response = await readiness(client, REFUSED_WITHIN)
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "unavailable"}
    logged = caplog.text
    assert f"Redis at redis://:***@127.0.0.1:{port}/0 " in logged
    assert "does not answer PING" in logged
    assert "s3cret-password" not in logged + response.text


async def test_a_redis_that_never_answers_makes_readyz_answer_503_not_hang(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    async with silent_listener() as port, probe(runtime, f"redis://127.0.0.1:{port}/0") as client:
        response = await readiness(client, HANG_GUARD)
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "unavailable"}
    assert f"Redis at redis://127.0.0.1:{port}/0" in caplog.text


async def test_an_unreachable_database_is_named_in_the_log_not_in_the_answer(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    from storage import Database

    away = Database("postgresql://mutuality_reader@127.0.0.1:9/program_db")
    try:
        app = create_app(dataclasses.replace(runtime, database=away))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
            response = await readiness(client, HANG_GUARD)
    finally:
        await away.dispose()
    assert response.status_code == 503
    assert response.json() == {"database": "unavailable"}
    for detail in ("127.0.0.1", "9", "program_db", "mutuality_reader"):
        assert detail not in response.text
    assert "program_db" in caplog.text


async def test_without_redis_configured_readyz_checks_the_database_only(
    runtime: Runtime,
) -> None:
    async with probe(runtime, None) as client:
        response = await readiness(client, HANG_GUARD)
    assert response.status_code == 200
    assert response.json() == {"database": "ok"}


class TestWithRedis:
    __test__ = bool(TEST_REDIS_URL)

    async def test_a_reachable_redis_makes_readyz_answer_200(self, database_url: str) -> None:
        async with Runtime.open(settings_for(database_url, TEST_REDIS_URL)) as runtime:
            app = create_app(runtime)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
                response = await readiness(client, HANG_GUARD)
        assert response.status_code == 200
        assert response.json() == {"database": "ok", "redis": "ok"}
