"""`mutuality staff remove` and `staff edit`, end to end on an SQLite file: an admin's --by,
removal as a state every command respects, the last admin kept, and both audited."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from storage import Database
from storage.repositories.audit import AuditLine
from tests.staff.test_cli import Cli


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.chdir(tmp_path)
    return Cli(tmp_path)


def audit(cli: Cli) -> list[AuditLine]:
    async def work() -> list[AuditLine]:
        database = Database(cli.url)
        try:
            async with database.transaction() as uow:
                return await uow.audit.page(0, 50)
        finally:
            await database.dispose()

    return asyncio.run(work())


def _staff(cli: Cli) -> None:
    cli("groups", "create", "Kibera Market Peers", "--timezone", "Africa/Nairobi",
        "--currency", "KES")  # fmt: skip
    cli("staff", "add", "Ada", "--role", "admin", "--email", "ada@example.org")
    cli("staff", "add", "Grace", "--role", "coordinator", "--phone", "+254700000001",
        "--telegram", "6000000001", "--groups", "Kibera Market Peers")  # fmt: skip
    cli("staff", "add", "Sam", "--role", "staff", "--telegram", "6000000003")


def test_an_admin_removes_a_staff_user_whom_no_command_then_takes(cli: Cli) -> None:
    _staff(cli)
    cli("stories", "add", "--group", "Kibera Market Peers", "--by", "Grace", "--text", "Welcome!")
    removed = cli("staff", "remove", "grace", "--by", "ada@example.org")
    assert removed.output == "Removed staff #2 Grace; their console sessions have ended.\n"

    # what she wrote still names her
    [story] = cli("stories", "list").output.splitlines()[1:]
    assert "staff: Grace " in story, story
    listed = cli("staff", "list").output
    assert "Grace" not in listed and "Ada" in listed and "Sam" in listed
    everyone = cli("staff", "list", "--all").output.splitlines()
    assert everyone[2].split()[:5] == ["2", "coordinator", "-", "-", "Grace"]
    assert "(removed 20" in everyone[2]

    # --by, and every command naming staff, no longer take her, and say why
    Path("news.txt").write_text("Market day moved to Friday\n", encoding="utf-8")
    for args in (
        ("stories", "add", "--group", "Kibera Market Peers", "--by", "Grace", "--text", "Hi"),
        ("stories", "add", "--group", "Kibera Market Peers", "--by", "2", "--text", "Hi"),
        ("staff", "groups", "Grace", "Kibera Market Peers"),
        ("staff", "edit", "Grace", "--role", "admin", "--by", "Ada"),
        ("staff", "remove", "Grace", "--by", "Ada"),
        ("broadcast", "--group", "Kibera Market Peers", "--text-file", "news.txt", "--by", "Grace"),
    ):
        refused = cli(*args, ok=False)
        assert "staff #2 Grace was removed on 20" in refused.stderr, (args, refused.stderr)
    password = cli.runner.invoke(
        main,
        ["staff", "password", "grace", "--password-stdin"],
        input="a long enough password\n",
        env={"DATABASE_URL": cli.url},
    )
    assert password.exit_code == 1 and "staff #2 Grace was removed on 20" in password.stderr
    # her phone and Telegram id lead to nobody now
    by_phone = cli("stories", "add", "--group", "Kibera Market Peers", "--by", "+254700000001",
                   "--text", "Hi", ok=False)  # fmt: skip
    assert "no staff user has the phone +254700000001" in by_phone.stderr

    [line] = [line for line in audit(cli) if line.action == "staff_removed"]
    assert (line.staff_name, line.detail) == (
        "Ada", "Grace (coordinator; +254700000001, telegram 6000000001)",
    )  # fmt: skip


def test_only_an_admin_removes_or_edits_and_the_last_admin_stays(cli: Cli) -> None:
    _staff(cli)
    for args in (("staff", "remove", "Sam"), ("staff", "edit", "Sam", "--name", "Samuel")):
        refused = cli(*args, "--by", "Grace", ok=False)
        assert "Grace is coordinator, not admin: changing staff takes an admin's --by" in (
            refused.stderr
        )
    assert "--by" in cli("staff", "remove", "Sam", ok=False).stderr  # required

    last = cli("staff", "remove", "Ada", "--by", "Ada", ok=False)
    assert "Ada is the last admin: make someone else an admin first" in last.stderr
    demoted = cli("staff", "edit", "Ada", "--role", "staff", "--by", "Ada", ok=False)
    assert "Ada is the last admin" in demoted.stderr
    cli("staff", "edit", "Grace", "--role", "admin", "--by", "Ada")
    assert "Removed staff #1 Ada" in cli("staff", "remove", "Ada", "--by", "Grace").output
    assert [line.action for line in audit(cli)][:2] == ["staff_removed", "staff_edited"]


def test_an_admin_edits_what_is_given(cli: Cli) -> None:
    _staff(cli)
    edited = cli(
        "staff", "edit", "Sam", "--name", "Samuel Otieno", "--phone", "+254 700 000 003",
        "--telegram", "", "--email", "SAM@example.org", "--language", "sw", "--by", "1",
    )  # fmt: skip
    assert edited.output == (
        "Edited staff #3: Sam (staff; telegram 6000000003) -> "
        "Samuel Otieno (staff; sam@example.org, +254700000003, sw).\n"
    )
    listed = cli("staff", "list").output.splitlines()
    assert listed[3].split() == ["3", "staff", "+254700000003", "-", "Samuel", "Otieno"]

    for args, message in (
        (("--phone", "0700"), "must start with + and the country code"),
        (("--telegram", "abc"), "digits only"),
        (("--language", "xx"), "'xx' is not a shipped language"),
        (("--role", "owner"), "'owner' is not one of"),
        (("--name", "grace"), 'the name "grace" already belongs to staff #2 Grace'),
        (("--phone", "", "--email", ""), "needs a phone number, a Telegram id or an email"),
        ((), "give what to change"),
    ):
        refused = cli("staff", "edit", "Samuel Otieno", *args, "--by", "Ada", ok=False)
        assert message in refused.stderr, (args, refused.stderr)
    assert cli("staff", "list").output.splitlines()[3].split()[2] == "+254700000003"
    [line] = [line for line in audit(cli) if line.action == "staff_edited"]
    assert line.staff_name == "Ada" and line.detail is not None
    assert line.detail.startswith("Sam (staff; telegram 6000000003) -> Samuel Otieno")
