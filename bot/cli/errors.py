"""What the operator sees when a command cannot do its work: one line that says why, and exit
code 1; never a traceback. `--traceback` on the root command shows the whole story for a bug."""

from __future__ import annotations

import sqlite3
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from storage.errors import StorageError


class OperatorCommands(click.Group):
    """The root group: turns the errors an operator can meet into one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException, SystemExit):
            raise
        except Exception as error:
            if ctx.params.get("traceback"):
                raise
            raise click.ClickException(operator_message(error)) from None


def operator_message(error: BaseException) -> str:
    """One line an operator can act on, for an error a command did not handle itself."""
    if isinstance(error, StorageError):
        return str(error)
    if isinstance(error, PermissionError):
        return f"no permission to write or read {error.filename!r}"
    if isinstance(error, FileNotFoundError):
        return f"no such file or folder: {error.filename!r}"
    if isinstance(error, IsADirectoryError):
        return f"{error.filename!r} is a folder, not a file"
    if isinstance(error, OSError):
        where = f" ({error.filename!r})" if error.filename else ""
        return f"{error.strerror or error}{where}"
    if isinstance(error, OperationalError) and isinstance(error.orig, sqlite3.OperationalError):
        if "locked" in str(error.orig):
            return (
                "the SQLite database is locked by another process (a running `mutuality run`?); "
                "stop it or try again"
            )
        return f"the SQLite database cannot be used: {error.orig}"
    return (
        f"unexpected {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} "
        "(run again with `mutuality --traceback ...` to see where)"
    )
