"""`mutuality checkins`: validate check-in definition files."""

from __future__ import annotations

from pathlib import Path

import click

from bot.turns.checkins import DEFAULT_CHECKINS_PATH, read_sources
from conversations.loader import DefinitionError, parse_checkins


@click.group()
def checkins() -> None:
    """Check-in definitions."""


@checkins.command("validate")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
def checkins_validate(path: Path | None) -> None:
    """Check definition files (a file or a folder; default: the shipped ones)."""
    target = path or DEFAULT_CHECKINS_PATH
    try:
        found = parse_checkins(read_sources(target))
    except DefinitionError as error:
        click.echo(str(error), err=True)
        raise SystemExit(1) from error
    for checkin in found.values():
        click.echo(
            f"ok  {checkin.source}: {checkin.id} v{checkin.version}, {len(checkin.steps)} steps"
        )
