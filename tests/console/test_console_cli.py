"""`mutuality staff add --email --groups`, `staff password` and `staff groups`: what an
operator runs before anyone signs in to the console."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.web.console.passwords import verify_password
from storage import Database


class Cli:
    def __init__(self, folder: Path) -> None:
        self.url = f"sqlite:///{folder / 'mutuality.db'}"
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True, input: str | None = None) -> Result:
        result = self.runner.invoke(main, list(args), env={"DATABASE_URL": self.url}, input=input)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        else:
            assert result.exit_code != 0, result.output
        return result

    def state(self, email: str) -> tuple[str | None, int, list[str], list[str]]:
        """The password hash, session version, group names and audit actions of a staff user."""

        async def work() -> tuple[str | None, int, list[str], list[str]]:
            database = Database(self.url)
            try:
                async with database.read() as uow:
                    staff = await uow.staff.by_email(email)
                    assert staff is not None
                    credentials = await uow.sign_in.get(staff.id)
                    assert credentials is not None
                    audit = [line.action for line in await uow.audit.page(0, 100)]
                    return (
                        credentials.password_hash,
                        credentials.session_version,
                        await uow.staff.group_names(staff.id),
                        audit,
                    )
            finally:
                await database.dispose()

        return asyncio.run(work())


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.chdir(tmp_path)
    return Cli(tmp_path)


def test_an_operator_creates_console_accounts(cli: Cli) -> None:
    cli(
        "groups",
        "create",
        "Kibera Market Peers",
        "--timezone",
        "Africa/Nairobi",
        "--language",
        "en",
        "--currency",
        "KES",
    )
    cli(
        "groups",
        "create",
        "Mathare Tailors",
        "--timezone",
        "Africa/Nairobi",
        "--language",
        "en",
        "--currency",
        "KES",
    )
    cli("staff", "add", "Grace", "--role", "admin", "--email", "Grace@Example.org")
    added = cli(
        "staff", "add", "Juan", "--role", "coordinator", "--email", "juan@example.org",
        "--groups", "Kibera Market Peers",
    )  # fmt: skip
    assert "Added staff #2 Juan (coordinator)" in added.output
    assert cli.state("juan@example.org")[2] == ["Kibera Market Peers"]

    prompted = cli("staff", "password", "Grace", input="a long secret\na long secret\n")
    assert "they sign in at /console as grace@example.org" in prompted.output
    password_hash, version, _, audit = cli.state("grace@example.org")
    assert password_hash is not None and password_hash.startswith("$argon2id$")
    assert "a long secret" not in password_hash
    assert asyncio.run(verify_password(password_hash, "a long secret"))
    assert version == 1 and audit == ["set_password"]

    cli("staff", "password", "juan@example.org", "--password-stdin", input="another secret!\n")
    assert asyncio.run(verify_password(cli.state("juan@example.org")[0], "another secret!"))

    moved = cli("staff", "groups", "Juan", "Mathare Tailors, Kibera Market Peers")
    assert "Juan works with: Kibera Market Peers, Mathare Tailors." in moved.output
    assert cli.state("juan@example.org")[2] == ["Kibera Market Peers", "Mathare Tailors"]


def test_console_account_commands_refuse_bad_input(cli: Cli) -> None:
    cli("staff", "add", "Grace", "--role", "admin", "--email", "grace@example.org")
    assert (
        "not an email address"
        in cli(
            "staff", "add", "Ann", "--role", "staff", "--email", "ann-at-example", ok=False
        ).stderr
    )
    assert (
        "the email grace@example.org already belongs to staff #1 Grace"
        in cli(
            "staff", "add", "Ann", "--role", "staff", "--email", "GRACE@example.org", ok=False
        ).stderr
    )
    assert "no group is named" in cli(
        "staff", "add", "Ann", "--role", "staff", "--email", "a@example.org", "--groups", "Nope",
        ok=False,
    ).stderr  # fmt: skip
    short = cli("staff", "password", "Grace", "--password-stdin", input="short\n", ok=False)
    assert "at least 10 characters" in short.stderr
    mismatch = cli("staff", "password", "Grace", input="a long secret\nanother one!\n", ok=False)
    assert mismatch.exit_code != 0
    assert cli.state("grace@example.org")[0] is None
    assert (
        "no staff user has the email"
        in cli(
            "staff",
            "password",
            "nobody@example.org",
            "--password-stdin",
            input="a long secret\n",
            ok=False,
        ).stderr
    )
