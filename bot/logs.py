"""What the processes log, and what they never do: a full phone number or chat id, a secret.

Every line goes through one handler on the root logger, whose `PrivacyFilter` rewrites the
formatted message (and any traceback) before it is written:

- addresses are masked: `whatsapp:+254712345001` becomes `whatsapp:+2547•••••001`, a Telegram
  chat id `6000000001` becomes `6000•••001` (any run of 10 or more digits is taken for one, so
  a Unix time is masked too: a small price for never missing an address);
- the configured secrets (bot token, Twilio's auth token and account SID, the webhook secret)
  are replaced by `•••`.

Message bodies are kept out by the code that logs (it logs ids, never texts); the filter is the
net under it for addresses and secrets, which reach log lines through libraries' URLs and
exceptions too. Libraries that log every request (twilio, httpx, APScheduler) are held at
WARNING unless `LOG_LIBRARY_LEVEL` asks for more. `LOG_FORMAT=json` writes one JSON object a
line, for log shippers.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Final

MASK: Final = "•"
SECRET_MASK: Final = "•••"
LIBRARIES: Final = (
    "twilio",
    "apscheduler",
    "httpx",
    "httpcore",
    "aiogram",
    "telegram",
    "asyncio",
    "uvicorn.access",
    "aiosqlite",
    "sqlalchemy",
    "alembic",
)
"""Loggers of libraries that are chatty below WARNING (requests, jobs, connections)."""

_ADDRESS = re.compile(r"(?<!\d)(\+\d{4}|\d{4})(\d{3,11})(\d{3})(?!\d)")
"""A +E.164 number of 10 to 18 digits, or a bare run of 10 to 18 digits (Telegram ids, phone
numbers written without +, as in a URL-encoded `%2B2547...`)."""


_TELEGRAM = re.compile(r"(?i)(telegram[: ]-?\d{2})(\d{3,7})(\d{2})(?!\d)")
"""A shorter Telegram id written as an address (`telegram:123456789`): older accounts' ids have
fewer than 10 digits."""


def mask_addresses(text: str) -> str:
    """`text` with every phone number and chat id masked but for its first 4 and last 3 digits
    (enough to tell a country and a line apart when reading a log, not to reach anyone)."""
    text = _ADDRESS.sub(lambda m: m[1] + MASK * len(m[2]) + m[3], text)
    return _TELEGRAM.sub(lambda m: m[1] + MASK * len(m[2]) + m[3], text)


class PrivacyFilter(logging.Filter):
    """Masks addresses and secrets in each record's message and traceback, in place, so every
    formatter after it sees the clean text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        # longest first, so a secret that contains another is replaced whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, SECRET_MASK)
        return mask_addresses(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what can be read
            message = str(record.msg)
        record.msg, record.args = self.clean(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and the traceback
    when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def setup_logging(
    level: str = "INFO",
    fmt: str = "text",
    library_level: str = "WARNING",
    secrets: Iterable[str | None] = (),
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Make one privacy-filtered handler the root logger's only one (replacing any earlier
    one, so calling it again reconfigures), at `level`; libraries at `library_level` or less
    verbose. Returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(PrivacyFilter(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet = max(logging.getLevelName(library_level), logging.getLevelName(level))
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(quiet)
    return handler


def guard_last_resort(secrets: Iterable[str | None] = ()) -> None:
    """Commands that set up no logging (`mutuality groups`, `export`...) still write warnings
    through Python's last-resort handler: mask those lines too (once per process)."""
    handler = logging.lastResort
    if handler is None:
        return
    for old in [f for f in handler.filters if isinstance(f, PrivacyFilter)]:
        handler.removeFilter(old)
    handler.addFilter(PrivacyFilter(secrets))
