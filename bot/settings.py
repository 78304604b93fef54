"""One settings object, built from the environment and an optional `.env` file.

Nothing else in the code reads `os.environ`: components receive the `Settings` they need. The
variable names are part of the product's contract and are documented in the README.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.engines import DEFAULT_POOL_SIZE

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///mutuality.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    database_pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, alias="DATABASE_POOL_SIZE")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    redis_prefix: str = Field(default="mutuality:", alias="REDIS_PREFIX")
    public_url: str | None = Field(default=None, alias="PUBLIC_URL")
    port: int = Field(default=8000, alias="PORT")
    access_log: bool = Field(default=False, alias="ACCESS_LOG")
    default_country: str = Field(default="KE", alias="DEFAULT_COUNTRY")
    checkins_path: Path | None = Field(default=None, alias="CHECKINS_PATH")
    locales_path: Path | None = Field(default=None, alias="LOCALES_PATH")
    templates_path: Path | None = Field(default=None, alias="TEMPLATES_PATH")
    console_secret: str | None = Field(default=None, alias="CONSOLE_SECRET")
    console_idle_minutes: int = Field(default=480, ge=1, alias="CONSOLE_IDLE_MINUTES")
    research_export_key: SecretStr | None = Field(default=None, alias="RESEARCH_EXPORT_KEY")
    retention_days: int = Field(default=730, ge=1, alias="RETENTION_DAYS")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    log_format: str = Field(default="text", alias="LOG_FORMAT")
    log_library_level: str = Field(default="WARNING", alias="LOG_LIBRARY_LEVEL")

    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_URL")
    telegram_webhook_secret: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET")

    twilio_account_sid: str | None = Field(default=None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(default=None, alias="TWILIO_AUTH_TOKEN")
    twilio_api_url: str = Field(default="https://api.twilio.com", alias="TWILIO_API_URL")
    twilio_content_api_url: str = Field(
        default="https://content.twilio.com", alias="TWILIO_CONTENT_API_URL"
    )
    whatsapp_interactive: bool = Field(default=True, alias="WHATSAPP_INTERACTIVE")
    twilio_whatsapp_from: str | None = Field(default=None, alias="TWILIO_WHATSAPP_FROM")
    twilio_sms_from: str | None = Field(default=None, alias="TWILIO_SMS_FROM")

    # Sending limits; defaults are the providers' documented ones.
    telegram_rate_per_second: float = Field(default=30.0, alias="TELEGRAM_RATE_PER_SECOND")
    telegram_chat_rate_per_second: float = Field(default=1.0, alias="TELEGRAM_CHAT_RATE_PER_SECOND")
    telegram_chat_burst: int = Field(default=3, ge=1, le=20, alias="TELEGRAM_CHAT_BURST")
    telegram_group_rate_per_minute: float = Field(
        default=20.0, alias="TELEGRAM_GROUP_RATE_PER_MINUTE"
    )
    whatsapp_rate_per_second: float = Field(default=80.0, alias="TWILIO_WHATSAPP_MPS")
    sms_rate_per_second: float = Field(default=1.0, alias="TWILIO_SMS_MPS")

    @field_validator(
        "redis_url",
        "public_url",
        "telegram_bot_token",
        "telegram_webhook_secret",
        "twilio_account_sid",
        "twilio_auth_token",
        "twilio_whatsapp_from",
        "twilio_sms_from",
        "console_secret",
        "research_export_key",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("PUBLIC_URL must start with https:// (or http:// for local tests)")
        return value.rstrip("/") if value else value

    @property
    def telegram_webhook(self) -> bool:
        """Telegram pushes to our webhook (else we poll it): needs PUBLIC_URL and a secret."""
        return bool(self.telegram_bot_token and self.public_url and self.telegram_webhook_secret)

    @property
    def console_cookie_secure(self) -> bool:
        """The console's session cookie is sent over HTTPS only when the public URL is https."""
        return bool(self.public_url and self.public_url.startswith("https://"))

    @property
    def twilio_enabled(self) -> bool:
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and (self.twilio_whatsapp_from or self.twilio_sms_from)
        )

    def problems(self) -> list[str]:
        """Configuration that cannot work, said plainly (checked before anything starts)."""
        found = []
        if self.twilio_enabled and not self.public_url:
            found.append(
                "Twilio is configured but PUBLIC_URL is not: Twilio needs it to reach "
                "/webhooks/twilio, and signatures are checked against it"
            )
        if bool(self.twilio_account_sid) != bool(self.twilio_auth_token):
            found.append("set both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or neither")
        if self.telegram_webhook_secret and not self.telegram_bot_token:
            found.append("TELEGRAM_WEBHOOK_SECRET is set but TELEGRAM_BOT_TOKEN is not")
        return found

    @field_validator("log_level", "log_library_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("a log level is one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        fmt = value.strip().lower()
        if fmt not in ("text", "json"):
            raise ValueError("LOG_FORMAT is text (the default) or json (one object a line)")
        return fmt

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """Values no log line may show (see `bot.logs.PrivacyFilter`)."""
        return (
            self.telegram_bot_token,
            self.telegram_webhook_secret,
            self.twilio_auth_token,
            self.twilio_account_sid,
        )

    @field_validator("default_country")
    @classmethod
    def _country(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("DEFAULT_COUNTRY must be a two-letter country code, like KE or MX")
        return value.upper()


def load_settings() -> Settings:
    return Settings()
