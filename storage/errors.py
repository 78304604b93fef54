"""The errors storage raises on purpose; anything else escaping it is a bug or an outage."""

from __future__ import annotations

from sqlalchemy.exc import DataError, IntegrityError, StatementError


class StorageError(Exception):
    """Base of every error raised deliberately by `storage`."""


class InvalidDatabaseUrl(StorageError):
    """The configured database URL names a backend or driver storage cannot use."""


class DatabaseUnavailable(StorageError):
    """The database could not be reached or used.

    The message names the backend, host, port and database (or the SQLite file) and the driver's
    reason; it never contains the password.
    """


class InvalidGroup(StorageError):
    """A group cannot be created as asked; the message says why, in words fit for an operator."""


class AddressInUse(StorageError):
    """The (channel, value) address already belongs to a member."""

    def __init__(self, channel: str, value: str) -> None:
        super().__init__(f"the address {channel}:{value} already belongs to a member")
        self.channel = channel
        self.value = value


class DuplicateMessage(StorageError):
    """An inbound message with this provider message id was already logged on this channel.

    Raised without disturbing the surrounding transaction, so a webhook can acknowledge the
    duplicate delivery and do nothing else. `existing_id` is the id of the first logged message.
    """

    def __init__(self, channel: str, provider_message_id: str, existing_id: int) -> None:
        super().__init__(
            f"message {provider_message_id!r} on {channel} was already logged as #{existing_id}"
        )
        self.channel = channel
        self.provider_message_id = provider_message_id
        self.existing_id = existing_id


class NotFound(StorageError):
    """The row an update names does not exist."""


def refused_values(error: BaseException) -> bool:
    """Whether the database refused a statement for the values in it (a string too long for
    its column, a character it cannot store, a constraint) rather than for being unreachable
    or overwhelmed: the same statement would fail again, and a statement without those values
    would not. SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation);
    on SQLite, its integrity errors."""
    if isinstance(error, DataError | IntegrityError):
        return True
    if not isinstance(error, StatementError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in ("22", "23")
