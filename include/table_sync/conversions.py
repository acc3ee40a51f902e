"""The contract's SAP conversions, as SQL that PostgreSQL runs over the whole staged batch.

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
    """The PostgreSQL type that holds a source value exactly as the driver returns it."""
    name = source_type.name
    if source_type.is_text or name in {"datetime2", "datetimeoffset", "time"}:
        # datetime2/time/datetimeoffset are read as text (see source_expression): 100 ns ticks
        # and the year 9999 survive, and the driver never rounds them.
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


def source_expression(column: str, source_type: SqlServerType) -> str:
    """The T-SQL select-list item reading ``column`` (bracket-quoted) in its raw form."""
    quoted = "[" + column.replace("]", "]]") + "]"
    if source_type.name == "datetime2":
        # Style 121 keeps all 7 fractional digits; FreeTDS would round 23:59:59.9999999 up.
        return f"CONVERT(varchar(27), {quoted}, 121) AS {quoted}"
    if source_type.name == "datetimeoffset":
        return f"CONVERT(varchar(34), {quoted}, 127) AS {quoted}"
    if source_type.name == "time":
        return f"CONVERT(varchar(16), {quoted}, 114) AS {quoted}"
    return quoted


def _length_check(raw: Expr, target_type: str) -> Expr | None:
    match = _VARCHAR.match(target_type)
    if not match:
        return None
    return sql.SQL("char_length({raw}) > {n}").format(raw=raw, n=sql.Literal(int(match.group(1))))


def _blank(raw: Expr) -> Expr:
    return sql.SQL("({raw} IS NULL OR rtrim({raw}) = '')").format(raw=raw)


@dataclass(frozen=True)
class Conversion:
    name: str
    accepts: Callable[[SqlServerType], bool]
    convert: Callable[[Expr, str], Expr]
    invalid: Callable[[Expr, str], Expr | None]
    reason: str


def _trim_invalid(raw: Expr, target_type: str) -> Expr:
    length = _length_check(sql.SQL("rtrim({raw})").format(raw=raw), target_type)
    empty = sql.SQL("({raw} IS NOT NULL AND rtrim({raw}) = '')").format(raw=raw)
    return sql.SQL("({} OR coalesce({}, false))").format(empty, length) if length else empty


def _trim_empty_null_invalid(raw: Expr, target_type: str) -> Expr | None:
    length = _length_check(sql.SQL("rtrim({raw})").format(raw=raw), target_type)
    return sql.SQL("coalesce({}, false)").format(length) if length else None


_DATE_INVALID = """CASE
  WHEN {raw} IS NULL OR rtrim({raw}) IN ('', '00000000') THEN false
  WHEN {raw} !~ '^[0-9]{{8}}$' THEN true
  WHEN substr({raw}, 1, 4) = '0000' OR substr({raw}, 5, 2)::int NOT BETWEEN 1 AND 12 THEN true
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
_DATETIME2_INVALID = "({raw} IS NOT NULL AND {raw} !~ " + "'" + _DATETIME2_PATTERN + "')"


def _template(text: str) -> Callable[[Expr, str], Expr]:
    return lambda raw, _target_type: sql.SQL(text).format(raw=raw)


def _none_invalid(raw: Expr, target_type: str) -> Expr | None:
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
            _template(_DATE_INVALID),
            "not a DATS date YYYYMMDD",
        ),
        Conversion(
            "sap_time",
            _is_text,
            _cast(_template(_TIME_CONVERT)),
            _template(_TIME_INVALID),
            "not a TIMS time HHMMSS",
        ),
        Conversion(
            "sap_numc_int",
            _is_text,
            _cast(
                _template("CASE WHEN {raw} IS NULL OR btrim({raw}) = '' THEN NULL ELSE btrim({raw})::int END")
            ),
            _template(_NUMC_INVALID),
            "not a NUMC number that fits smallint",
        ),
        Conversion(
            "sap_flag",
            _is_text,
            _cast(_template("coalesce(rtrim({raw}), '') = 'X'")),
            _template(_FLAG_INVALID),
            "not an SAP flag ('X' or blank)",
        ),
        Conversion(
            "date_part",
            lambda t: t.name in {"datetime", "datetime2", "date"},
            _cast(_template("{raw}::date")),
            lambda raw, target_type: None,
            "",
        ),
        Conversion(
            "datetime2_to_us",
            lambda t: t.name == "datetime2",
            _cast(_template("left({raw}, 26)::timestamp(6)")),
            _template(_DATETIME2_INVALID),
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
