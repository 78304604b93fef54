"""The command line never shows an operator a traceback: one line that says why, exit code 1."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.exc import OperationalError

from bot.cli import main
from bot.cli.errors import operator_message
from storage.repositories.groups import closest_timezone


@pytest.fixture(autouse=True)
def sqlite_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    path = tmp_path / "mutuality.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), prog_name="mutuality")


def one_clear_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_an_unsupported_database_url_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://user@localhost/db")
    assert "unsupported database 'mysql'" in one_clear_line(run("groups", "list"))


def test_an_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    assert "cannot reach the PostgreSQL database" in one_clear_line(run("groups", "list"))


def test_an_unwritable_output_is_one_line(tmp_path: Path) -> None:
    line = one_clear_line(run("export", "answers", "--output", str(tmp_path / "no" / "a.csv")))
    assert "no such file or folder" in line
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    refused = run("export", "answers", "--output", str(folder))  # click checks it first
    assert refused.exit_code == 2 and "is a directory" in refused.output
    assert "Traceback" not in refused.output


def test_a_time_zone_by_city_suggests_its_iana_name() -> None:
    line = one_clear_line(
        run("groups", "create", "Kibera", "--timezone", "nairobi", "--language", "sw",
            "--currency", "KES")
    )  # fmt: skip
    assert 'unknown timezone "nairobi": did you mean Africa/Nairobi?' in line
    assert closest_timezone("Africa/Nairbi") == "Africa/Nairobi"
    assert closest_timezone("america/bogota") == "America/Bogota"
    assert closest_timezone("manila") == "Asia/Manila"
    assert closest_timezone("qwertyuiop") is None


def test_a_locked_sqlite_file_says_so() -> None:
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert "locked by another process" in operator_message(locked)


def test_unexpected_errors_are_one_line_unless_a_traceback_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr("bot.cli.app.App.run", broken)
    line = one_clear_line(run("groups", "list"))
    assert "unexpected KeyError" in line and "--traceback" in line
    shown = run("--traceback", "groups", "list")
    assert isinstance(shown.exception, KeyError)


def test_version_and_short_help() -> None:
    version = run("--version")
    assert version.exit_code == 0 and version.output.startswith("mutuality, version ")
    short = run("-h")
    assert short.exit_code == 0 and "Usage: mutuality" in short.output
    assert run("groups", "-h").exit_code == 0
