"""Pure helpers behind the columns and exports: exact decimals, join codes, rendering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from storage.column_types import UTCDateTime, exact_decimal
from storage.join_codes import ALPHABET, canonical_join_code, new_join_code
from storage.repositories.exports import iso_utc, render_decimal, render_json


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (Decimal("1500.50"), "1500.500000"),
        (Decimal("999999999999.99"), "999999999999.990000"),
        (Decimal("-0.000001"), "-0.000001"),
        (Decimal("1E+3"), "1000.000000"),
        (Decimal("999999999999999999.999999"), "999999999999999999.999999"),
    ],
)
def test_exact_decimals_keep_every_digit(value: Decimal, stored: str) -> None:
    assert format(exact_decimal(value), "f") == stored
    assert exact_decimal(value) == value


@pytest.mark.parametrize(
    "value",
    [Decimal("0.0000001"), Decimal("1000000000000000000"), Decimal("NaN"), Decimal("-Infinity")],
)
def test_values_that_would_change_are_refused(value: Decimal) -> None:
    with pytest.raises(ValueError):
        exact_decimal(value)


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        exact_decimal(1500.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "places", "rendered"),
    [
        (Decimal("1500.500000"), 2, "1500.50"),
        (Decimal("1500.505000"), 2, "1500.505"),
        (Decimal("2000.000000"), 0, "2000"),
        (Decimal("2000.000000"), 2, "2000.00"),
        (Decimal("0E-6"), 0, "0"),
        (Decimal("0.000001"), 0, "0.000001"),
        (Decimal("-42.000000"), 2, "-42.00"),
    ],
)
def test_render_decimal(value: Decimal, places: int, rendered: str) -> None:
    assert render_decimal(value, places) == rendered


def test_render_json_is_compact_sorted_and_readable() -> None:
    assert render_json({"b": 1, "a": "Bogotá"}) == '{"a":"Bogotá","b":1}'


def test_iso_utc() -> None:
    moment = datetime(2025, 3, 3, 4, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert iso_utc(moment) == "2025-03-03T09:00:00+00:00"


def test_join_codes() -> None:
    for _ in range(200):
        code = new_join_code()
        assert len(code) == 6 and set(code) <= set(ALPHABET)
        assert set(code) <= set(ALPHABET)
    assert canonical_join_code(" abc-2de ") == "ABC2DE"


def test_utc_datetime_refuses_naive_values() -> None:
    column_type = UTCDateTime()
    from sqlalchemy.dialects import postgresql

    with pytest.raises(ValueError, match="naive"):
        column_type.process_bind_param(datetime(2025, 1, 1), postgresql.dialect())
    aware = datetime(2025, 1, 1, tzinfo=UTC)
    assert column_type.process_bind_param(aware, postgresql.dialect()) == aware
