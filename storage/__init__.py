"""Durable storage: SQLAlchemy models, Alembic migrations and repositories behind one `Database`.

Callers open `Database(url).transaction()` and work with the repositories of the `UnitOfWork` it
yields; every repository returns frozen records, never ORM objects, so nothing lazy-loads once the
transaction is over.
"""

from storage.database import Database
from storage.errors import (
    AddressInUse,
    DatabaseUnavailable,
    DuplicateMessage,
    InvalidDatabaseUrl,
    InvalidGroup,
    NotFound,
    StorageError,
)
from storage.unit_of_work import UnitOfWork

__all__ = [
    "AddressInUse",
    "Database",
    "DatabaseUnavailable",
    "DuplicateMessage",
    "InvalidDatabaseUrl",
    "InvalidGroup",
    "NotFound",
    "StorageError",
    "UnitOfWork",
]
