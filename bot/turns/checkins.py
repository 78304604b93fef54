"""Read check-in definitions from disk and build the engine's library and lexicon."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conversations.engine import CheckinLibrary
from conversations.i18n import Catalogs
from conversations.loader import DefinitionError, Problem, parse_checkins
from conversations.words import Lexicon, build_lexicon

DEFAULT_CHECKINS_PATH = Path(__file__).resolve().parents[2] / "conversations" / "definitions"


def definition_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(path.glob("*.yaml"))


def read_sources(path: Path) -> list[tuple[str, str]]:
    files = definition_files(path)
    if not files:
        raise DefinitionError([Problem(str(path), 1, "no *.yaml check-in definitions found here")])
    sources = []
    problems = []
    for file in files:
        try:
            sources.append((str(file), file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(str(file), 1, f"cannot read the file: {error}"))
    if problems:
        raise DefinitionError(problems)
    return sources


@dataclass(frozen=True)
class Checkins:
    """What the engine needs at every turn, loaded once."""

    library: CheckinLibrary
    catalogs: Catalogs
    lexicon: Lexicon


def load_checkins(catalogs: Catalogs, path: Path | None = None) -> Checkins:
    checkins = parse_checkins(read_sources(path or DEFAULT_CHECKINS_PATH))
    library = CheckinLibrary(checkins)
    return Checkins(library, catalogs, build_lexicon(catalogs, library.keywords()))
