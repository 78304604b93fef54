"""`mutuality export research`: keyed-hash ids, no names, phones or free text unless asked,
dates as ISO weeks, small groups and business types merged or left out, and the file says so.
Without a deployment key it refuses."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import zipfile
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.reports.research import keyed_id
from storage import Database

from .extras import SECRET_TEXT, add_extras
from .plan import program, seed

KEY = "a-deployment-secret-of-some-length"


def _seeded(tmp_path: Path) -> tuple[str, dict[str, int], dict[str, int]]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    async def work() -> tuple[dict[str, int], dict[str, int]]:
        database = Database(url)
        try:
            await database.upgrade()
            async with database.transaction() as uow:
                groups, members = await seed(uow, program())
                await add_extras(uow, groups, members)
                return groups, members
        finally:
            await database.dispose()

    groups, members = asyncio.run(work())
    return url, groups, members


def _export(url: str, tmp_path: Path, *args: str, key: str | None = KEY) -> tuple[object, dict]:
    env = {"DATABASE_URL": url, "RESEARCH_EXPORT_KEY": key or ""}
    tmp_path.mkdir(exist_ok=True)
    out = tmp_path / "research.zip"
    result = CliRunner(env=env).invoke(main, ["export", "research", "--output", str(out), *args])
    if result.exit_code != 0:
        return result, {}
    with zipfile.ZipFile(out) as archive:
        files = {name: archive.read(name).decode() for name in archive.namelist()}
    return result, files


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_it_refuses_without_a_usable_key(tmp_path: Path) -> None:
    url, _, _ = _seeded(tmp_path)
    missing, _ = _export(url, tmp_path, key=None)
    assert missing.exit_code == 1  # type: ignore[attr-defined]
    assert "set RESEARCH_EXPORT_KEY" in missing.output  # type: ignore[attr-defined]
    short, _ = _export(url, tmp_path, key="short")
    assert short.exit_code == 1  # type: ignore[attr-defined]
    assert "too short" in short.output  # type: ignore[attr-defined]
    assert not (tmp_path / "research.zip").exists()


def test_nothing_identifying_and_small_cells_merged_or_left_out(tmp_path: Path) -> None:
    url, groups, members = _seeded(tmp_path)
    result, files = _export(url, tmp_path)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert sorted(files) == ["README.txt", "answers.csv", "help.csv", "suppressed.csv"]
    everything = "\n".join(files.values())
    for secret in ("Amina", "Baraka", "+2547", "Kibera", "Mombasa", SECRET_TEXT, "private words",
                   "AgAD123", "36.8219"):  # fmt: skip
        assert secret not in everything, secret

    answers = _csv(files["answers.csv"])
    kibera = keyed_id(KEY.encode(), "g", groups["Kibera"])
    mombasa = keyed_id(KEY.encode(), "g", groups["Mombasa"])
    # Kibera had five members answering; Mombasa four, and no other small group to merge with
    assert {row["group"] for row in answers} == {kibera}
    assert _csv(files["suppressed.csv"]) == [
        {"what": "group", "which": mombasa, "members": "4", "action": "left out"},
        {"what": "business type", "which": "(none)", "members": "2", "action": "left blank"},
        {"what": "business type", "which": "retail", "members": "1", "action": "left blank"},
    ]
    assert f"group {mombasa}: 4 members, left out" in files["README.txt"]
    amina = keyed_id(KEY.encode(), "m", members["amina"])
    assert re.fullmatch(r"m-[0-9a-f]{16}", amina)
    assert {row["business_type"] for row in answers} == {"food"}
    assert all(row["week"].startswith("2026-W") for row in answers)
    by_step = {row["step"]: row for row in answers if row["member"] == amina}
    assert by_step["gave_help_to"]["value"] == keyed_id(KEY.encode(), "m", members["baraka"])
    assert by_step["opened"]["value"] == "2025-W11"  # a date answer, coarsened
    assert by_step["gave_help_how"]["value"] == "advice"
    assert "goal" not in by_step and "where" not in by_step and "stall" not in by_step
    assert by_step["challenge"]["skipped"] == "yes"

    ledger = _csv(files["help.csv"])
    assert len(ledger) == 5  # Kibera's records; Mombasa's left out with the group
    assert {row["note"] for row in ledger} == {""}

    again_result, again = _export(
        url, tmp_path / "again" if (tmp_path / "again").mkdir() is None else tmp_path
    )
    assert again_result.exit_code == 0  # type: ignore[attr-defined]
    assert again["answers.csv"] == files["answers.csv"]  # the same key: the same ids
    other_result, other = _export(url, tmp_path, key="another-secret-key-entirely")
    assert other_result.exit_code == 0  # type: ignore[attr-defined]
    assert amina not in other["answers.csv"]


def test_free_text_only_when_asked(tmp_path: Path) -> None:
    url, _, _ = _seeded(tmp_path)
    result, files = _export(url, tmp_path, "--include-text")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    goals = [row for row in _csv(files["answers.csv"]) if row["step"] == "goal"]
    assert [row["value"] for row in goals] == [SECRET_TEXT]
    assert "Free text (text answers, help notes) IS included" in files["README.txt"]


def test_one_group(tmp_path: Path) -> None:
    url, groups, _ = _seeded(tmp_path)
    result, files = _export(url, tmp_path, "--group", "Kibera")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    answers = _csv(files["answers.csv"])
    assert {row["group"] for row in answers} == {keyed_id(KEY.encode(), "g", groups["Kibera"])}
    assert len({row["member"] for row in answers}) == 5
