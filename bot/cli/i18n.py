"""`mutuality i18n`: extract the message catalogs and check the translations."""

from __future__ import annotations

import click

from bot.i18n import maintenance


@click.group()
def i18n() -> None:
    """Translation catalogs (see docs/translating.md)."""


@i18n.command("extract")
def i18n_extract() -> None:
    """Write locales/messages.pot and merge it into every language's catalog."""
    template = maintenance.extract()
    click.echo(f"Wrote {maintenance.write_template(template)} ({len(template)} messages)")
    for path in maintenance.update(template):
        click.echo(f"Updated {path}")


@i18n.command("check")
def i18n_check() -> None:
    """Report missing, fuzzy and placeholder-breaking translations."""
    problems = maintenance.check(maintenance.extract())
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise SystemExit(1)
    click.echo("All catalogs are complete.")
