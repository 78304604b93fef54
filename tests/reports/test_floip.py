"""`mutuality export floip`: one Flow Results Package per check-in, each answer a response row
typed as the specification says, the descriptor naming the seven columns and every question."""

from __future__ import annotations

import asyncio
import csv
import json
import uuid
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from storage import Database

from .extras import SECRET_TEXT, add_extras
from .plan import program, seed


def _seeded(tmp_path: Path) -> tuple[CliRunner, int]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    plan = program()

    async def work() -> None:
        database = Database(url)
        try:
            await database.upgrade()
            async with database.transaction() as uow:
                groups, members = await seed(uow, plan)
                await add_extras(uow, groups, members)
        finally:
            await database.dispose()

    asyncio.run(work())
    weekly_answers = sum(
        len(a) if isinstance(a, list) else int(a is not None)
        for c in plan.checkins
        if c.checkin_id == "weekly_checkin"
        for a in c.steps.values()
    )
    return CliRunner(env={"DATABASE_URL": url}), weekly_answers + 8


def _read(folder: Path, checkin: str) -> tuple[dict, list[dict[str, str]]]:
    package = json.loads((folder / checkin / "datapackage.json").read_text())
    with (folder / checkin / f"{checkin}-responses.csv").open(newline="") as file:
        return package, list(csv.DictReader(file))


def test_a_package_per_checkin_with_every_answer(tmp_path: Path) -> None:
    runner, weekly_answers = _seeded(tmp_path)
    out = tmp_path / "floip"
    result = runner.invoke(main, ["export", "floip", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["monthly_journal", "weekly_checkin"]
    package, rows = _read(out, "weekly_checkin")
    assert f"weekly_checkin: {weekly_answers} responses" in result.output
    assert len(rows) == weekly_answers

    assert package["profile"] == "flow-results-package"
    assert package["flow_results_specification_version"] == "1.0.0"
    assert uuid.UUID(package["id"]).version == 4
    (resource,) = package["resources"]
    assert resource["path"] == "weekly_checkin-responses.csv"
    assert [f["name"] for f in resource["schema"]["fields"]] == [
        "timestamp", "row_id", "contact_id", "session_id", "question_id", "response",
        "response_metadata",
    ]  # fmt: skip
    assert list(rows[0]) == [f["name"] for f in resource["schema"]["fields"]]
    questions = resource["schema"]["questions"]
    assert questions["sales"]["type"] == "numeric"
    assert questions["sales"]["label"] == "How much did you sell this week, {{ member.name }}?"
    assert questions["gave_help"] == {
        "type": "select_one",
        "label": "Did you help another member of your group this week?",
        "type_options": {"choices": ["yes", "no"]},
    }
    assert questions["gave_help_how"]["type_options"]["choices"][0] == "advice"
    assert questions["where"]["type"] == "geo_point"  # a step no longer in the definition
    assert {row["question_id"] for row in rows} == set(questions)

    by_question = {row["question_id"]: row for row in rows}
    sales = next(r for r in rows if r["question_id"] == "sales" and r["response"] == "1000")
    assert json.loads(sales["response_metadata"]) == {"currency": "KES", "type": "money"}
    assert sales["timestamp"].endswith("+00:00")
    assert by_question["where"]["response"] == "[-1.2921,36.8219]"
    assert by_question["opened"]["response"] == "2025-03-14"
    assert by_question["goal"]["response"] == SECRET_TEXT
    assert (
        by_question["challenge"]["response"],
        by_question["challenge"]["response_metadata"],
    ) == (
        "",
        '{"skipped":true}',
    )
    assert len({row["row_id"] for row in rows}) == len(rows)

    again = tmp_path / "again"
    assert runner.invoke(main, ["export", "floip", "--output", str(again)]).exit_code == 0
    assert _read(again, "weekly_checkin")[0]["id"] == package["id"]  # the same package
    journal, journal_rows = _read(out, "monthly_journal")
    assert journal["id"] != package["id"]
    assert {r["question_id"] for r in journal_rows} == {
        "household_income", "savings_balance", "debts",
    }  # fmt: skip


def test_one_group_only(tmp_path: Path) -> None:
    runner, _ = _seeded(tmp_path)
    out = tmp_path / "floip"
    result = runner.invoke(main, ["export", "floip", "--output", str(out), "--group", "Mombasa"])
    assert result.exit_code == 0, result.output
    _, rows = _read(out, "weekly_checkin")
    contacts = {row["contact_id"] for row in rows}
    assert len(contacts) == 4  # esther (after she moved), fatuma, grace, hassan
