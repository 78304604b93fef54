"""A private `redis-server` for tests that stop and restart Redis.

Restart tests must never touch a shared Redis (CI's, a developer's): `RedisServer` runs its own on
a free port of 127.0.0.1, in a temporary directory, with persistence off, so a restart comes back
empty, as a crashed production Redis without persistence would.

    async with RedisServer() as server:
        client = Redis.from_url(server.url)
        ...
        await server.stop()   # SIGKILL: no goodbye to the clients
        await server.start()  # a fresh server on the same port
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from types import TracebackType

READY_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nobody listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """A `redis-server` of our own; `url` stays the same across `stop()` and `start()`."""

    def __init__(self, executable: str = "redis-server") -> None:
        found = shutil.which(executable)
        if found is None:
            raise RuntimeError(f"{executable} is not on PATH: restart tests need it")
        self._executable = found
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory: tempfile.TemporaryDirectory[str] | None = None
        self._process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._process is not None

    async def start(self) -> None:
        """Start the server (again) on the same port; return once it answers PING."""
        if self._process is not None:
            raise RuntimeError("the private Redis is running already")
        if self._directory is None:
            self._directory = tempfile.TemporaryDirectory(prefix="mutuality-redis-")
        directory = Path(self._directory.name)
        log = directory / "redis.log"
        self._process = await asyncio.create_subprocess_exec(
            self._executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--logfile",
            str(log),
            "--daemonize",
            "no",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while not await self._answers_ping():
            if self._process.returncode is not None or time.monotonic() > deadline:
                await self.stop()
                text = log.read_text(errors="replace") if log.exists() else "(no log)"
                raise RuntimeError(
                    f"private redis-server on port {self.port} did not start:\n{text}"
                )
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Kill the server with SIGKILL, as a crash would, and wait until it is gone."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
        await process.wait()

    async def _answers_ping(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return await asyncio.wait_for(reader.readline(), 1.0) == b"+PONG\r\n"
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def __aenter__(self) -> RedisServer:
        try:
            await self.start()
        except BaseException:
            self._remove_directory()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.stop()
        finally:
            self._remove_directory()

    def _remove_directory(self) -> None:
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None
