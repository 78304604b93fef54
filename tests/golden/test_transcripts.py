"""Every golden transcript in tests/golden/*.txt, through the inbox, the worker and the outbox,
with real storage and catalogs (see transcript.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.i18n.catalogs import load_catalogs
from bot.turns.checkins import load_checkins
from bot.turns.service import ConversationService
from storage.database import Database
from tests.golden.transcript import parse, play, set_scene

HERE = Path(__file__).parent
TRANSCRIPTS = sorted(HERE.glob("*.txt"))
CHECKINS = load_checkins(load_catalogs())


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
async def test_transcript(path: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    script = parse(path)
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'golden.db'}")
    try:
        await database.upgrade()
        code = await set_scene(database, script)
        service = ConversationService(database, CHECKINS, "KE", clock=lambda: script.clock)
        actual = await play(service, script, code)
    finally:
        await database.dispose()
    expected = path.read_text(encoding="utf-8").splitlines()
    if request.config.getoption("--update-golden"):
        path.write_text("\n".join(actual) + "\n", encoding="utf-8")
        return
    assert actual == expected


def test_every_shipped_checkin_has_a_transcript_in_every_language() -> None:
    languages = CHECKINS.catalogs.codes
    for checkin_id in CHECKINS.library.checkins:
        for language in languages:
            assert (HERE / f"{checkin_id}.{language}.txt").exists(), f"{checkin_id}.{language}.txt"
