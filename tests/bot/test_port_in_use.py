"""`mutuality run` and `mutuality web` with PORT taken by another program: one line that says
so, exit code 1, no traceback anywhere in what the process wrote (uvicorn's own answer is a
traceback from inside its task and exit code 3). Real processes, on SQLite."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.test_stopping import MUTUALITY, env_for


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as other:
        other.bind(("0.0.0.0", 0))
        other.listen()
        yield int(other.getsockname()[1])


@pytest.mark.parametrize("command", [["run", "--as", "+254700000003"], ["web"]])
async def test_a_busy_port_is_one_clear_line_and_exit_1(
    command: list[str], busy_port: int, tmp_path: Path
) -> None:
    env = env_for(f"sqlite:///{tmp_path / 'mutuality.db'}", PORT=str(busy_port))
    process = await asyncio.create_subprocess_exec(
        MUTUALITY,
        *command,
        env=env,
        cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE,  # open, and never written: the console waits
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    said = (out + err).decode()
    assert process.returncode == 1, said
    assert "Traceback" not in said, said
    errors = [line for line in said.splitlines() if line.startswith("Error: ")]
    assert errors == [
        f"Error: port {busy_port} is in use by another program (another `mutuality run` or "
        "`mutuality web`?); stop it, or set PORT to a free port"
    ], said
