"""Whether a database is already at the newest shipped revision, asked without Alembic.

Every process migrates its database when it starts (`Database.upgrade`), and almost always there
is nothing to do. Alembic and what it loads (Mako, its script machinery) weigh about 10 MiB that
a long-running process would then carry for good; so the shipped head is read from the scripts'
own `revision` and `down_revision` lines, and the database's revision from `alembic_version`.
Only when they differ, or the scripts do not name exactly one head, is Alembic loaded to do the
work (`storage.schema_migrations`), which stays the one authority on what a migration is.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"

_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


@cache
def shipped_head() -> str | None:
    """The one revision no shipped script builds on; None when there is not exactly one (or a
    script does not say its revision plainly), which leaves the question to Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in VERSIONS_DIR.glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        down = _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(_QUOTED.findall(down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def at_shipped_head(connection: Connection) -> bool:
    """Whether the database on `connection` records exactly the shipped head revision."""
    head = shipped_head()
    if head is None or not inspect(connection).has_table("alembic_version"):
        return False
    recorded = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return list(recorded) == [head]
