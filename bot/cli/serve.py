"""The long-running commands: `chat`, `run`, and the production processes `web`, `worker`,
`clock`. The channel libraries are imported only when one of these starts, which keeps the
other commands quick."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import click

from bot.cli.app import App, pass_app
from bot.turns import console
from bot.turns.service import ConversationService
from conversations.loader import DefinitionError
from storage.database import Database
from storage.errors import DatabaseUnavailable


@click.command()
@click.option(
    "--as", "address", required=True, help="Your phone number or any id; the same id resumes."
)
@pass_app
def chat(app: App, address: str) -> None:
    """Talk to the bot in this terminal, as a member. Ctrl-D ends."""
    checkins = app.checkins()
    address = address.strip()
    if not address:
        raise click.BadParameter("give a phone number or an id", param_hint="--as")

    async def work(database: Database) -> None:
        service = ConversationService(database, checkins, app.settings.default_country)
        await console.chat(service, address)

    app.run(work)


@click.command()
@click.option(
    "--as",
    "chat_as",
    help="Also talk to the bot in this terminal as this member (default: when no channel is "
    "configured and this is a terminal, as 'console').",
)
@pass_app
def run(app: App, chat_as: str | None) -> None:
    """Everything in one process: channels, workers, sender, the clock and the web server with
    the coordinator console on PORT (and a terminal chat with the bot)."""
    settings = app.settings
    configured = bool(settings.telegram_bot_token or settings.twilio_enabled)
    if chat_as is None and not configured:
        if not sys.stdin.isatty():
            raise click.ClickException(
                "no channel is configured (TELEGRAM_BOT_TOKEN, or TWILIO_* and PUBLIC_URL); "
                "to talk to the bot here, run: mutuality run --as +254712345678"
            )
        chat_as = "console"
    if not configured:
        click.echo("No channel configured yet: talking to the bot here. Ctrl-D ends.", err=True)
    from bot import processes

    processes.configure_logging(settings, quiet=chat_as is not None)
    _run_process(lambda: processes.run(settings, chat_as))


@click.command()
@pass_app
def web(app: App) -> None:
    """The web process: webhooks, health checks and the coordinator console on PORT."""
    from bot import processes

    processes.configure_logging(app.settings)
    _run_process(lambda: processes.web(app.settings))


@click.command()
@pass_app
def worker(app: App) -> None:
    """A worker process: handles stored messages and sends replies (run as many as needed)."""
    from bot import processes

    processes.configure_logging(app.settings)
    _run_process(lambda: processes.worker(app.settings))


def _run_process(start: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a long-lived process; the channel libraries are imported only by these commands,
    which keeps `chat`, `groups` and `export` quick to start."""
    from bot.pipeline.coordination.factory import CoordinationUnavailable
    from bot.processes import run_process

    try:
        run_process(start())
    except (ValueError, DefinitionError, DatabaseUnavailable, CoordinationUnavailable) as error:
        raise click.ClickException(str(error)) from error
    _exit_now()


def _exit_now() -> None:
    """End a process that has stopped cleanly without the interpreter's own teardown.

    By now every connection is closed and every log line written; what is left is Python
    collecting a serving process's hundreds of thousands of objects one last time, seconds
    on a busy machine, which a process manager's 10-second SIGKILL does not wait for. So the
    logs and streams are flushed, and the process ends here."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


@click.command()
@pass_app
def clock(app: App) -> None:
    """The clock process: invitations, reminders, expiries, highlights, scheduled broadcasts.
    Run one; a second one waits for the first's lease and takes over if it dies."""
    from bot import processes

    processes.configure_logging(app.settings)
    _run_process(lambda: processes.clock(app.settings))
