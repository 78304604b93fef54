"""Log lines never hold a full phone number, a chat id or a secret; libraries stay quiet; JSON
lines for shippers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import LIBRARIES, guard_last_resort, mask_addresses, setup_logging
from bot.processes import configure_logging
from bot.settings import Settings

TOKEN = "123456:AAE-fake-bot-token-for-tests"
AUTH = "f00dbabe0123456789abcdef01234567"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put back the root logger's handlers and every level the tests change."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in LIBRARIES}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("whatsapp:+254712345001 is gone (21610)", "whatsapp:+2547•••••001 is gone (21610)"),
        ("sms:+14155238886", "sms:+1415••••886"),
        ("telegram chat 6000000001", "telegram chat 6000•••001"),
        ("group -1002233445566", "group -1002••••••566"),
        ("To=whatsapp%3A%2B254712345678&Body=", "To=whatsapp%3A%2B2547•••••678&Body="),
        ("update 480132013, message 302", "update 480132013, message 302"),
        ("telegram:123456789 is gone (403)", "telegram:12•••••89 is gone (403)"),
    ],
)
def test_addresses_are_masked(text: str, masked: str) -> None:
    assert mask_addresses(text) == masked


def test_no_full_address_or_secret_reaches_a_line(restore_logging: None) -> None:
    out = io.StringIO()
    setup_logging(secrets=(TOKEN, AUTH, None), stream=out)
    log = logging.getLogger("bot.pipeline.sender")
    log.info("%s:%s is gone (%s)", "whatsapp", "+254712345001", "21610")
    log.warning("POST https://api.telegram.org/bot%s/sendMessage failed", TOKEN)
    try:
        raise RuntimeError("cannot reach +254712345001 with auth " + AUTH)
    except RuntimeError:
        log.exception("send failed")
    text = out.getvalue()
    assert "whatsapp:+2547•••••001 is gone (21610)" in text
    assert "/bot•••/sendMessage" in text
    assert "RuntimeError: cannot reach +2547•••••001 with auth •••" in text  # the traceback
    for secret in ("+254712345001", "254712345001", TOKEN, AUTH):
        assert secret not in text


def test_libraries_are_quiet_below_warning_unless_asked(restore_logging: None) -> None:
    out = io.StringIO()
    setup_logging(stream=out)
    logging.getLogger("twilio.http_client").info("-- BEGIN Twilio API Request --")
    logging.getLogger("apscheduler.executors.default").info('Running job "sweep"')
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org")
    logging.getLogger("bot.runtime").info("polling Telegram")
    logging.getLogger("twilio.http_client").warning("Twilio said no")
    assert out.getvalue().count("\n") == 2
    assert "polling Telegram" in out.getvalue() and "Twilio said no" in out.getvalue()

    asked = io.StringIO()
    setup_logging(library_level="DEBUG", level="DEBUG", stream=asked)
    logging.getLogger("twilio.http_client").info("-- BEGIN Twilio API Request --")
    assert "BEGIN Twilio API Request" in asked.getvalue()


def test_settings_choose_the_level_and_json_lines(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, LOG_LEVEL="warning", LOG_FORMAT="JSON", TELEGRAM_BOT_TOKEN=TOKEN
    )
    assert (settings.log_level, settings.log_format) == ("WARNING", "json")
    configure_logging(settings)
    log = logging.getLogger("bot.pipeline.worker")
    log.info("not written: below WARNING")
    log.warning("member %s wrote from %s", 12, "sms:+254712345001")
    try:
        raise ValueError(TOKEN)
    except ValueError:
        log.error("it broke", exc_info=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "WARNING" and first["logger"] == "bot.pipeline.worker"
    assert first["message"] == "member 12 wrote from sms:+2547•••••001"
    assert first["time"].endswith("+00:00")
    assert second["message"] == "it broke" and "ValueError: •••" in second["exception"]
    assert TOKEN not in "\n".join(lines)


def test_log_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        Settings(_env_file=None, LOG_FORMAT="xml")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="log level"):
        Settings(_env_file=None, LOG_LEVEL="loud")  # type: ignore[call-arg]


def test_commands_without_logging_set_up_mask_their_warnings_too(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    guard_last_resort((TOKEN,))
    guard_last_resort((TOKEN,))  # a second command in the same process: one filter
    assert logging.lastResort is not None
    assert len(logging.lastResort.filters) == 1
    logging.getLogger("bot.members.roster").warning("row for %s with %s", "+254712345001", TOKEN)
    assert capsys.readouterr().err == "row for +2547•••••001 with •••\n"
