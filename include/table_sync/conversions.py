"""The contract's conversions, as PostgreSQL SQL that runs over the whole staged batch.

Rows arrive from SQL Server in their raw form and are COPY'd unchanged into a raw staging
table. Each conversion then contributes two pieces of SQL per column:

* ``invalid``: a predicate that is true when a raw value cannot be converted. The extract step
  scans the raw table once with all predicates and reports offending keys, columns and values,
  so garbage is named and never loaded silently;
* ``convert``: the expression producing the target value, used in one INSERT ... SELECT.

Doing this set-based in PostgreSQL keeps Python out of the per-value path (67 columns times a
million rows). Every predicate is written with CASE so that no cast can raise before the checks
that guard it ran (PostgreSQL does not promise left-to-right evaluation of AND).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from psycopg import sql

from include.table_sync.sqlserver_types import SqlServerType

Expr = sql.Composable

_VARCHAR = re.compile(r"^varchar\((\d+)\)$")
_NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")


def raw_type(source_type: SqlServerType) -> str:
    """The PostgreSQL type of the raw staging column: it reads the text the server renders (tsql.value_text)."""
    name = source_type.name
    if source_type.is_text or name in {"datetime2", "datetimeoffset", "time"}:
        # datetime2/time/datetimeoffset stay text (see tsql.value_text): 100 ns ticks and the
        # year 9999 survive, and nothing rounds them.
        return "text"
    return {
        "int": "integer",
        "bigint": "bigint",
        "smallint": "smallint",
        "tinyint": "smallint",
        "bit": "boolean",
        "decimal": "numeric",
        "numeric": "numeric",
        "money": "numeric",
        "float": "double precision",
        "real": "real",
        "date": "date",
        "datetime": "timestamp",
        "uniqueidentifier": "uuid",
        "varbinary": "bytea",
    }[name]


def fits_target(declared: SqlServerType | None, target_type: str) -> bool:
    """True when every value of the ``declared`` source type fits ``target_type`` unchanged.

    Then a range or length check could never fire, and the extract skips it: a million rows
    times dozens of predicates is most of the validation's cost. ``declared`` is None when the
    source's types were not verified against the catalog (a custom query), and nothing is skipped.
    """
    if declared is None:
        return False
    varchar = _VARCHAR.match(target_type)
    if varchar:
        return (
            declared.is_text
            and declared.length not in (None, -1)
            and declared.length <= int(varchar.group(1))
        )
    numeric = _NUMERIC.match(target_type)
    if numeric:
        digits = _EXACT_DIGITS.get(declared.name)
        if declared.precision is not None:
            digits = (declared.precision - declared.scale, declared.scale)
        if digits is None:
            return False
        precision, scale = int(numeric.group(1)), int(numeric.group(2))
        return digits[1] <= scale and digits[0] <= precision - scale
    return declared.name in _INTEGER_FITS.get(target_type, ())


# (integer digits, decimal digits) of the exact numeric types without a declared precision.
_EXACT_DIGITS = {"tinyint": (3, 0), "smallint": (5, 0), "int": (10, 0), "bigint": (19, 0), "money": (15, 4)}
_INTEGER_FITS = {
    "smallint": ("tinyint", "smallint"),
    "integer": ("tinyint", "smallint", "int"),
    "bigint": ("tinyint", "smallint", "int", "bigint"),
}


def _length_check(raw: Expr, target_type: str) -> Expr | None:
    match = _VARCHAR.match(target_type)
    if not match:
        return None
    return sql.SQL("char_length({raw}) > {n}").format(raw=raw, n=sql.Literal(int(match.group(1))))


# An invalid-value predicate: (raw column, target type, declared source type or None) -> SQL
# true for values the conversion cannot load, or None when no value can be invalid.
Check = Callable[[Expr, str, SqlServerType | None], Expr | None]


@dataclass(frozen=True)
class Conversion:
    name: str
    accepts: Callable[[SqlServerType], bool]
    convert: Callable[[Expr, str], Expr]
    invalid: Check
    reason: str


def _trim_invalid(raw: Expr, target_type: str, declared: SqlServerType | None) -> Expr:
    empty = sql.SQL("({raw} IS NOT NULL AND rtrim({raw}) = '')").format(raw=raw)
    if fits_target(declared, target_type):
        return empty
    length = _length_check(sql.SQL("rtrim({raw})").format(raw=raw), target_type)
    return sql.SQL("({} OR coalesce({}, false))").format(empty, length) if length else empty


def _trim_empty_null_invalid(raw: Expr, target_type: str, declared: SqlServerType | None) -> Expr | None:
    if fits_target(declared, target_type):
        return None
    length = _length_check(sql.SQL("rtrim({raw})").format(raw=raw), target_type)
    return sql.SQL("coalesce({}, false)").format(length) if length else None


_DATE_INVALID = """CASE
  WHEN {raw} IS NULL OR rtrim({raw}) IN ('', '00000000') THEN false
  WHEN {raw} !~ '^[0-9]{{8}}$' THEN true
  WHEN substr({raw}, 1, 4) = '0000' OR substr({raw}, 5, 2)::int NOT BETWEEN 1 AND 12 THEN true
  WHEN substr({raw}, 7, 2)::int BETWEEN 1 AND 28 THEN false  -- every month has these: skip the calendar
  ELSE substr({raw}, 7, 2)::int NOT BETWEEN 1 AND extract(day FROM
       make_date(substr({raw}, 1, 4)::int, substr({raw}, 5, 2)::int, 1)
       + interval '1 month' - interval '1 day')::int
END"""

_DATE_CONVERT = """CASE WHEN {raw} IS NULL OR rtrim({raw}) IN ('', '00000000') THEN NULL
  ELSE make_date(substr({raw}, 1, 4)::int, substr({raw}, 5, 2)::int, substr({raw}, 7, 2)::int) END"""

_TIME_INVALID = """CASE
  WHEN {raw} IS NULL OR rtrim({raw}) = '' THEN false
  WHEN {raw} !~ '^[0-9]{{6}}$' THEN true
  ELSE substr({raw}, 1, 2)::int > 23 OR substr({raw}, 3, 2)::int > 59 OR substr({raw}, 5, 2)::int > 59
END"""

_TIME_CONVERT = """CASE WHEN {raw} IS NULL OR rtrim({raw}) = '' THEN NULL
  ELSE make_time(substr({raw}, 1, 2)::int, substr({raw}, 3, 2)::int, substr({raw}, 5, 2)::int) END"""

_NUMC_INVALID = """CASE
  WHEN {raw} IS NULL OR btrim({raw}) = '' THEN false
  WHEN btrim({raw}) !~ '^[0-9]{{1,5}}$' THEN true
  ELSE btrim({raw})::int > 32767
END"""

_FLAG_INVALID = "coalesce(rtrim({raw}), '') NOT IN ('X', '')"

# datetime2 text from CONVERT(..., 121): 'YYYY-MM-DD hh:mm:ss.fffffff'. Truncating the text to
# 26 characters drops the 7th digit: truncation, never rounding, and 9999-12-31 stays in range.
_DATETIME2_PATTERN = r"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}} [0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(\.[0-9]{{1,7}})?$"
# The shape, then the calendar and the clock, so that no cast in the conversion can raise.
_DATETIME2_INVALID = (
    """CASE
  WHEN {raw} IS NULL THEN false
  WHEN {raw} !~ '"""
    + _DATETIME2_PATTERN
    + """' THEN true
  WHEN substr({raw}, 1, 4) = '0000' OR substr({raw}, 6, 2)::int NOT BETWEEN 1 AND 12 THEN true
  WHEN substr({raw}, 12, 2)::int > 23 OR substr({raw}, 15, 2)::int > 59
       OR substr({raw}, 18, 2)::int > 59 THEN true
  WHEN substr({raw}, 9, 2)::int BETWEEN 1 AND 28 THEN false
  ELSE substr({raw}, 9, 2)::int NOT BETWEEN 1 AND extract(day FROM
       make_date(substr({raw}, 1, 4)::int, substr({raw}, 6, 2)::int, 1)
       + interval '1 month' - interval '1 day')::int
END"""
)


def _template(text: str) -> Callable[[Expr, str], Expr]:
    return lambda raw, _target_type: sql.SQL(text).format(raw=raw)


def _none_invalid(raw: Expr, target_type: str, declared: SqlServerType | None) -> Expr | None:
    if fits_target(declared, target_type):
        return None
    numeric = _NUMERIC.match(target_type)
    if numeric:
        precision, scale = int(numeric.group(1)), int(numeric.group(2))
        return sql.SQL(
            "({raw} IS NOT NULL AND (abs({raw}) >= {limit} OR {raw} <> round({raw}, {scale})))"
        ).format(raw=raw, limit=sql.Literal(10 ** (precision - scale)), scale=sql.Literal(scale))
    if target_type == "smallint":
        return sql.SQL("({raw} NOT BETWEEN -32768 AND 32767)").format(raw=raw)
    if target_type == "integer":
        return sql.SQL("({raw} NOT BETWEEN -2147483648 AND 2147483647)").format(raw=raw)
    length = _length_check(raw, target_type)
    return sql.SQL("coalesce({}, false)").format(length) if length else None


def _check(text: str) -> Check:
    return lambda raw, _target_type, _declared: sql.SQL(text).format(raw=raw)


def _datetime2_invalid(raw: Expr, _target_type: str, declared: SqlServerType | None) -> Expr | None:
    # A verified datetime2 column is rendered by the server's CONVERT(..., 121), which always
    # has this shape; only text from an unverified (custom query) column needs the check.
    if declared is not None and declared.name == "datetime2":
        return None
    return sql.SQL(_DATETIME2_INVALID).format(raw=raw)


def _cast(expression: Callable[[Expr, str], Expr]) -> Callable[[Expr, str], Expr]:
    """Wrap a conversion so its result is cast to the exact target type."""
    return lambda raw, target_type: sql.SQL("({})::{}").format(
        expression(raw, target_type), sql.SQL(target_type)
    )


def _is_text(source_type: SqlServerType) -> bool:
    return source_type.is_text


CONVERSIONS: dict[str, Conversion] = {
    conversion.name: conversion
    for conversion in (
        Conversion(
            "trim",
            _is_text,
            _cast(_template("rtrim({raw})")),
            _trim_invalid,
            "empty key or longer than the target column",
        ),
        Conversion(
            "trim_empty_null",
            _is_text,
            _cast(_template("NULLIF(rtrim({raw}), '')")),
            _trim_empty_null_invalid,
            "longer than the target column",
        ),
        Conversion(
            "sap_date",
            _is_text,
            _cast(_template(_DATE_CONVERT)),
            _check(_DATE_INVALID),
            "not a DATS date YYYYMMDD",
        ),
        Conversion(
            "sap_time",
            _is_text,
            _cast(_template(_TIME_CONVERT)),
            _check(_TIME_INVALID),
            "not a TIMS time HHMMSS",
        ),
        Conversion(
            "sap_numc_int",
            _is_text,
            _cast(
                _template("CASE WHEN {raw} IS NULL OR btrim({raw}) = '' THEN NULL ELSE btrim({raw})::int END")
            ),
            _check(_NUMC_INVALID),
            "not a NUMC number that fits smallint",
        ),
        Conversion(
            "sap_flag",
            _is_text,
            _cast(_template("coalesce(rtrim({raw}), '') = 'X'")),
            _check(_FLAG_INVALID),
            "not an SAP flag ('X' or blank)",
        ),
        Conversion(
            "date_part",
            lambda t: t.name in {"datetime", "datetime2", "date"},
            _cast(_template("{raw}::date")),
            lambda raw, target_type, declared: None,
            "",
        ),
        Conversion(
            "datetime2_to_us",
            lambda t: t.name == "datetime2",
            _cast(_template("left({raw}, 26)::timestamp(6)")),
            _datetime2_invalid,
            "not a datetime2 value",
        ),
        Conversion(
            "none",
            lambda t: t.name not in {"datetime2", "datetimeoffset", "time"},
            _cast(_template("{raw}")),
            _none_invalid,
            "out of range for the target type",
        ),
    )
}
