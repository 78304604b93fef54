"""`mutuality members export-one` and `members erase`: a member's copy and erasure, for staff
entitled to them, audited."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from storage import Database
from tests.broadcasts import seed

PHONE = "+254711222333"


@pytest.fixture
def database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A member with an answer, in a group; an admin, the group's coordinator and a staff user."""
    path = tmp_path / "mutuality.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")

    async def fill() -> None:
        database = Database(f"sqlite:///{path}")
        try:
            await database.upgrade()
            async with database.transaction() as uow:
                kibera = await seed.group(uow)
                member = await seed.member(uow, ("whatsapp", PHONE), kibera.id)
                await seed.answer(uow, member, kibera.id, "sales", seed.NOON, number="1250")
                await uow.staff.add("Ada", "admin", phone="+254700000010", at=seed.NOON)
                grace = await uow.staff.add(
                    "Grace", "coordinator", phone="+254700000011", at=seed.NOON
                )
                await uow.staff.set_groups(grace.id, [kibera.id])
                await uow.staff.add("Sam", "staff", phone="+254700000012", at=seed.NOON)
        finally:
            await database.dispose()

    asyncio.run(fill())
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["members", *args], catch_exceptions=False)


def audit(path: Path) -> list[tuple[str, int]]:
    async def read() -> list[tuple[str, int]]:
        database = Database(f"sqlite:///{path}")
        try:
            async with database.transaction() as uow:
                return [(line.action, line.staff_id or 0) for line in await uow.audit.for_member(1)]
        finally:
            await database.dispose()

    return asyncio.run(read())


def test_a_coordinator_of_the_group_exports_a_members_copy(database_file: Path) -> None:
    refused = run("export-one", "1", "--by", "Sam")
    assert refused.exit_code != 0
    assert "Sam (staff) may not export member #1" in refused.output
    result = run("export-one", "1", "--by", "Grace")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    tables = {row[0] for row in rows[1:]}
    assert {"# profile", "profile", "# addresses", "addresses", "# answers", "answers"} <= tables
    assert ["addresses", "whatsapp", PHONE] == next(row for row in rows if row[0] == "addresses")[
        :3
    ]
    assert any(row[0] == "answers" and "1250 KES" in row for row in rows)
    assert any(f"member {PHONE}" in row for row in rows if row[0] == "profile")
    assert audit(database_file) == [("exported", 2)]


def test_only_an_admin_erases_and_the_erasure_is_audited(database_file: Path) -> None:
    refused = run("erase", "1", "--by", "Grace", "--yes")
    assert refused.exit_code != 0 and "erasing a member takes an admin" in refused.output
    result = run("erase", "1", "--by", "Ada", "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Erased member #1: addresses 1,")
    assert audit(database_file) == [("erased", 1)]
    copy = run("export-one", "1", "--by", "Ada")
    assert copy.exit_code == 0 and PHONE not in copy.stdout  # the name held it too
    assert "1250 KES" in copy.stdout  # the number stays
    roster = CliRunner().invoke(main, ["members", "export"], catch_exceptions=False)
    assert PHONE not in roster.stdout
    assert PHONE.encode()[1:] not in database_file.read_bytes()
