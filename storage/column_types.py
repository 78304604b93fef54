"""Column types that make every backend store and return the same Python values.

- `UTCDateTime`: aware datetimes in, aware UTC datetimes out, on every backend (SQLite keeps no
  zone, so naive values read back are declared UTC, which is what was written).
- `ExactDecimal`: `Decimal` in and out, `NUMERIC(24, 6)` on PostgreSQL and a TEXT string on
  SQLite, never a float on the way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, Text
from sqlalchemy.types import TypeDecorator, TypeEngine

DECIMAL_PRECISION = 24
DECIMAL_SCALE = 6
_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)
_LIMIT = Decimal(10) ** (DECIMAL_PRECISION - DECIMAL_SCALE)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored and returned in UTC.

    Writing a naive datetime raises `ValueError`: its zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware datetime")
        as_utc = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return as_utc.replace(tzinfo=None)
        return as_utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def exact_decimal(value: Decimal) -> Decimal:
    """`value` at the stored scale, or `ValueError` if storing it would change it.

    Finite values with at most 6 decimal places and fewer than 18 integer digits are stored
    exactly; anything else is refused rather than rounded.
    """
    if not isinstance(value, Decimal):
        raise TypeError(f"expected a Decimal, got {type(value).__name__}: {value!r}")
    if not value.is_finite():
        raise ValueError(f"cannot store the non-finite amount {value}")
    quantized = value.quantize(_QUANTUM)
    if quantized != value:
        raise ValueError(f"{value} has more than {DECIMAL_SCALE} decimal places")
    if abs(quantized) >= _LIMIT:
        raise ValueError(f"{value} is too large to store exactly")
    return quantized


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal: `NUMERIC(24, 6)` on PostgreSQL, a TEXT string on SQLite.

    Values are checked by `exact_decimal` before they are written, so both backends hold the same
    value at the same scale (`Decimal('1500.50')` reads back as `Decimal('1500.500000')`, which is
    equal). On SQLite the column compares as text: do not sort or filter by it in SQL.
    """

    impl = Numeric(DECIMAL_PRECISION, DECIMAL_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(DECIMAL_PRECISION, DECIMAL_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = exact_decimal(value)
        if dialect.name == "sqlite":
            return format(exact, "f")
        return exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        if isinstance(value, str):
            return Decimal(value)
        raise TypeError(f"unexpected stored decimal {value!r} ({type(value).__name__})")
