"""One settings object, built from the environment and an optional `.env` file.

Nothing else in the code reads `os.environ`: components receive the `Settings` they need. The
variable names are part of the product's contract and are documented in the README.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///mutuality.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    default_country: str = Field(default="KE", alias="DEFAULT_COUNTRY")
    checkins_path: Path | None = Field(default=None, alias="CHECKINS_PATH")
    locales_path: Path | None = Field(default=None, alias="LOCALES_PATH")

    @field_validator("default_country")
    @classmethod
    def _country(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("DEFAULT_COUNTRY must be a two-letter country code, like KE or MX")
        return value.upper()


def load_settings() -> Settings:
    return Settings()
