"""SQL Server types: parsing declarations, DuckDB storage, INFORMATION_SCHEMA facts, output conversion.

datetime2, time and datetimeoffset are stored in DuckDB as fixed-width text
(``YYYY-MM-DD HH:MM:SS.fffffff``), because DuckDB's timestamps stop at microseconds and its
nanosecond timestamps cannot reach year 9999. Fixed width keeps text order equal to time order.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import replace

from devtools.mssql_emulator.collations import DEFAULT as DEFAULT_COLLATION
from devtools.mssql_emulator.results import Column, DateTime2, Time7

STRING_TYPES = {"nvarchar", "nchar", "varchar", "char"}
TICK_TYPES = {"datetime2", "time", "datetimeoffset"}

_ALIASES = {
    "integer": "int",
    "numeric": "numeric",
    "dec": "decimal",
    "double precision": "float",
    "character": "char",
    "national character varying": "nvarchar",
    "sysname": "nvarchar",
    "binary": "varbinary",
    "smalldatetime": "datetime",
    "smallmoney": "money",
    "rowversion": "varbinary",
    "timestamp": "varbinary",
}

# The deprecated large-object types, and the (max) type each is stored and computed as: "Use
# nvarchar(max), varchar(max), and varbinary(max) instead"; text holds up to 2^31-1 bytes, ntext
# 2^30-1 characters, image 2^31-1 bytes
# (https://learn.microsoft.com/en-us/sql/t-sql/data-types/ntext-text-and-image-transact-sql).
LEGACY_LOBS = {"text": "varchar", "ntext": "nvarchar", "image": "varbinary"}
_LEGACY_MAXIMUM_LENGTH = {"text": 2147483647, "ntext": 1073741823, "image": 2147483647}
# xml is held as its text, nvarchar(max), and sent as XMLTYPE ([MS-TDS] 2.2.5.5.3, tokens.py).
# Its XML methods (.query(), .value(), ...), schema collections and the check that a value is
# well-formed XML are not modelled.
XML = "xml"

_DECL = re.compile(r"^\s*([a-z][a-z0-9_ ]*?)\s*(?:\(\s*(max|-?\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$", re.I)


class TypeError_(ValueError):
    """A type declaration SQL Server would not accept."""


def parse_type(text: str, name: str = "", *, in_cast: bool = False) -> Column:
    """Parse a declaration such as ``decimal(15,3)`` or ``NVARCHAR(MAX)`` into a Column."""
    match = _DECL.match(text.replace("[", "").replace("]", ""))
    if not match:
        raise TypeError_(f"Column, parameter, or variable : Cannot find data type {text}.")
    base = _ALIASES.get(match.group(1).lower(), match.group(1).lower())
    size, scale = match.group(2), match.group(3)
    if base in LEGACY_LOBS or base == XML:
        if size:
            raise TypeError_(f"Cannot specify a column width on data type {base}.")
        return Column(name, LEGACY_LOBS.get(base, "nvarchar"), length=-1, legacy_lob=base)
    length = -1 if size and size.lower() == "max" else (int(size) if size else None)
    if text.strip().lower() == "sysname":
        return Column(name, "nvarchar", length=128)
    if base in STRING_TYPES or base == "varbinary":
        # SQL Server's default length is 1 in a declaration and 30 in CAST/CONVERT.
        return Column(name, base, length=length if length is not None else (30 if in_cast else 1))
    if base in ("decimal", "numeric"):
        precision = length if length is not None else 18
        return Column(name, base, precision=precision, scale=int(scale) if scale else 0)
    if base == "float":
        return Column(name, "real" if length is not None and length <= 24 else "float")
    if base in ("real", "int", "bigint", "smallint", "tinyint", "bit", "money", "date", "datetime"):
        return Column(name, base)
    if base in TICK_TYPES:
        return Column(name, base, scale=length if length is not None else 7)
    if base == "uniqueidentifier":
        return Column(name, base)
    if base == "sql_variant" and in_cast:  # a stored sql_variant would need a type per value
        return Column(name, base)
    raise TypeError_(f"Column, parameter, or variable #1: Cannot find data type {match.group(1)}.")


def declaration(col: Column) -> str:
    """The type as SQL Server spells it: ``nvarchar(10)``, ``decimal(15,3)``, ``datetime2(7)``."""
    t = col.sql_type
    if t in STRING_TYPES or t == "varbinary":
        return f"{t}({'max' if col.length == -1 else col.length})"
    if t in ("decimal", "numeric"):
        return f"{t}({col.precision},{col.scale})"
    if t in TICK_TYPES:
        return f"{t}({col.scale})"
    return t


def length_check(col: Column) -> str | None:
    """A DuckDB CHECK constraint enforcing a declared string length (cheap strlen first)."""
    if col.sql_type in STRING_TYPES and col.length and col.length > 0:
        name = col.name.replace('"', '""')
        return f'CHECK (strlen("{name}") <= {col.length} OR length("{name}") <= {col.length})'
    return None


def storage_type(col: Column) -> str:
    """The DuckDB column type that holds this SQL Server type exactly."""
    t = col.sql_type
    return {
        "int": "INTEGER",
        "bigint": "BIGINT",
        "smallint": "SMALLINT",
        "tinyint": "UTINYINT",
        "bit": "BOOLEAN",
        "float": "DOUBLE",
        "real": "FLOAT",
        "money": "DECIMAL(19,4)",
        "date": "DATE",
        "datetime": "TIMESTAMP",
        "uniqueidentifier": "UUID",
        "varbinary": "BLOB",
    }.get(t) or (f"DECIMAL({col.precision},{col.scale})" if t in ("decimal", "numeric") else "VARCHAR")


def normalizer(col: Column, expr: str) -> str:
    """DuckDB SQL that turns a value headed for ``col`` into its stored form (or raises)."""
    t = col.sql_type
    if t == "datetime2":
        return f"ms_dt2({expr})"
    if t == "time":
        return f"ms_time({expr})"
    if t == "datetimeoffset":
        return f"ms_dto({expr})"
    if t == "datetime":  # SQL Server keeps 1/300 s: .000, .003, .007
        return f"ms_datetime({expr})"
    if t == "date":  # also the unseparated ISO form '20261129'
        return f"ms_date({expr})"
    return expr


# DuckDB macros behind ``normalizer``; error() messages carry the SQL Server error number.
MACROS = r"""
CREATE OR REPLACE MACRO ms_fail(n, msg) AS error('MSSQL|' || n || '|' || msg);
-- One use of s: DuckDB copies a macro's argument into every place it appears, and an INSERT
-- binds each copy (nested in ms_dt2_iso, two uses here made sixteen copies per value column).
CREATE OR REPLACE MACRO ms_unseparated(s) AS
  regexp_replace(s, '^(\d{4})(\d{2})(\d{2})((?: .*)?)$', '\1-\2-\3\4');
CREATE OR REPLACE MACRO ms_dt2_iso(s) AS CASE
  WHEN s IS NULL THEN NULL
  WHEN regexp_full_match(s, '\d{4}-\d{2}-\d{2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d{0,9})?)?)?')
    THEN CAST(CAST(split_part(s, '.', 1) AS TIMESTAMP) AS VARCHAR) || '.'
         || rpad(coalesce(regexp_extract(s, '\.(\d{1,7})', 1), ''), 7, '0')
  ELSE ms_fail(241, 'Conversion failed when converting date and/or time from character string.') END;
CREATE OR REPLACE MACRO ms_dt2_text(s) AS ms_dt2_iso(ms_unseparated(s));
CREATE OR REPLACE MACRO ms_dt2(x) AS ms_dt2_text(trim(CAST(x AS VARCHAR)));
CREATE OR REPLACE MACRO ms_time_text(s) AS CASE
  WHEN s IS NULL THEN NULL
  WHEN regexp_full_match(s, '\d{1,2}:\d{2}(:\d{2}(\.\d{0,9})?)?')
    THEN CAST(CAST(split_part(s, '.', 1) AS TIME) AS VARCHAR) || '.'
         || rpad(coalesce(regexp_extract(s, '\.(\d{1,7})', 1), ''), 7, '0')
  WHEN regexp_full_match(s, '\d{4}-\d{2}-\d{2}[ T].*') THEN substr(ms_dt2_text(s), 12)
  ELSE ms_fail(241, 'Conversion failed when converting date and/or time from character string.') END;
CREATE OR REPLACE MACRO ms_time(x) AS ms_time_text(trim(CAST(x AS VARCHAR)));
CREATE OR REPLACE MACRO ms_dto_text(s) AS CASE
  WHEN s IS NULL THEN NULL
  WHEN regexp_full_match(s, '(.*?)\s*([+-]\d{2}):?(\d{2})')
    THEN ms_dt2_text(regexp_extract(s, '^(.*?)\s*[+-]\d{2}:?\d{2}$', 1)) || ' '
         || regexp_extract(s, '([+-]\d{2}):?(\d{2})$', 1) || ':' || regexp_extract(s, '([+-]\d{2}):?(\d{2})$', 2)
  WHEN regexp_full_match(s, '(.*?)Z') THEN ms_dt2_text(rtrim(s, 'Z')) || ' +00:00'
  ELSE ms_dt2_text(s) || ' +00:00' END;
CREATE OR REPLACE MACRO ms_dto(x) AS ms_dto_text(trim(CAST(x AS VARCHAR)));
CREATE OR REPLACE MACRO ms_day_us(t) AS epoch_us(date_trunc('day', t));
CREATE OR REPLACE MACRO ms_datetime_ts(t) AS make_timestamp(
  ms_day_us(t) + (((epoch_us(t) - ms_day_us(t)) * 3 + 5000) // 10000 * 10000 + 1) // 3);
CREATE OR REPLACE MACRO ms_datetime(x) AS ms_datetime_ts(CAST(ms_unseparated(CAST(x AS VARCHAR)) AS TIMESTAMP));
CREATE OR REPLACE MACRO ms_date(x) AS CAST(ms_unseparated(CAST(x AS VARCHAR)) AS DATE);
CREATE OR REPLACE MACRO ms_nonzero(x) AS CASE
  WHEN x = 0 THEN ms_fail(8134, 'Divide by zero error encountered.') ELSE x END;
"""


def information_schema_facts(col: Column) -> dict:
    """What INFORMATION_SCHEMA.COLUMNS says about a column of this type."""
    t = col.sql_type
    facts = dict(
        DATA_TYPE=col.legacy_lob or t,
        CHARACTER_MAXIMUM_LENGTH=None,
        CHARACTER_OCTET_LENGTH=None,
        NUMERIC_PRECISION=None,
        NUMERIC_PRECISION_RADIX=None,
        NUMERIC_SCALE=None,
        DATETIME_PRECISION=None,
    )
    if col.legacy_lob == XML:  # as nvarchar(max) reports it
        facts["CHARACTER_MAXIMUM_LENGTH"] = facts["CHARACTER_OCTET_LENGTH"] = -1
    elif col.legacy_lob:
        characters = _LEGACY_MAXIMUM_LENGTH[col.legacy_lob]
        facts["CHARACTER_MAXIMUM_LENGTH"] = characters
        facts["CHARACTER_OCTET_LENGTH"] = characters * 2 if col.legacy_lob == "ntext" else characters
    elif t in STRING_TYPES or t == "varbinary":
        wide = 2 if t in ("nvarchar", "nchar") else 1
        facts["CHARACTER_MAXIMUM_LENGTH"] = col.length
        facts["CHARACTER_OCTET_LENGTH"] = -1 if col.length == -1 else col.length * wide
    numeric = {"int": (10, 0), "bigint": (19, 0), "smallint": (5, 0), "tinyint": (3, 0), "money": (19, 4)}
    if t in numeric:
        facts.update(NUMERIC_PRECISION=numeric[t][0], NUMERIC_PRECISION_RADIX=10, NUMERIC_SCALE=numeric[t][1])
    elif t in ("decimal", "numeric"):
        facts.update(NUMERIC_PRECISION=col.precision, NUMERIC_PRECISION_RADIX=10, NUMERIC_SCALE=col.scale)
    elif t in ("float", "real"):
        facts.update(NUMERIC_PRECISION=53 if t == "float" else 24, NUMERIC_PRECISION_RADIX=2)
    elif t == "date":
        facts["DATETIME_PRECISION"] = 0
    elif t == "datetime":
        facts["DATETIME_PRECISION"] = 3
    elif t in TICK_TYPES:
        facts["DATETIME_PRECISION"] = col.scale
    return facts


_DUCK_FALLBACK = {
    "INTEGER": Column("", "int"),
    "BIGINT": Column("", "bigint"),
    "HUGEINT": Column("", "decimal", precision=38, scale=0),
    "SMALLINT": Column("", "smallint"),
    "TINYINT": Column("", "smallint"),
    "UTINYINT": Column("", "tinyint"),
    "USMALLINT": Column("", "int"),
    "UINTEGER": Column("", "bigint"),
    "UBIGINT": Column("", "decimal", precision=20, scale=0),
    "BOOLEAN": Column("", "bit"),
    "DOUBLE": Column("", "float"),
    "FLOAT": Column("", "real"),
    "DATE": Column("", "date"),
    "TIMESTAMP": Column("", "datetime2", scale=6),
    "TIMESTAMP WITH TIME ZONE": Column("", "datetimeoffset", scale=6),
    "TIME": Column("", "time", scale=6),
    "UUID": Column("", "uniqueidentifier"),
    "BLOB": Column("", "varbinary", length=-1),
    "VARCHAR": Column("", "nvarchar", length=4000),
}


def from_duckdb(name: str, duck_type: str) -> Column:
    """The closest SQL Server type for a DuckDB result type (when the query gives no better)."""
    text = str(duck_type).upper()
    match = re.match(r"DECIMAL\((\d+),\s*(\d+)\)", text)
    if match:
        return Column(name, "decimal", precision=int(match.group(1)), scale=int(match.group(2)))
    column = replace(_DUCK_FALLBACK.get(text, Column("", "nvarchar", length=4000)), name=name)
    if column.sql_type in STRING_TYPES:  # text the query gives no collation for: the server's
        column = replace(column, collation=DEFAULT_COLLATION)
    return column


# ---- output conversion: DuckDB value -> results.py value, compiled once per column ----

_TICKS = [0, 0, 0, 0, 0, 0, 0, 0]


def _datetime2(text: str) -> DateTime2:
    return DateTime2(dt.datetime.fromisoformat(text[:26]), ord(text[26]) - 48)


def _time7(text: str) -> Time7:
    return Time7(dt.time.fromisoformat(text[:15]), ord(text[15]) - 48)


def _datetimeoffset(text: str) -> DateTime2:
    value = dt.datetime.fromisoformat(text[:26] + text[28:])
    return DateTime2(value, ord(text[26]) - 48)


def _round_datetime(value):
    """SQL Server's datetime keeps 1/300 s: .000, .003, .007 after rounding.

    Stored values are rounded on the way in (ms_datetime), so this is mostly one comparison.
    """
    if isinstance(value, dt.datetime):
        micro = value.microsecond
        rounded = ((micro * 3 + 5000) // 10000 * 10000 + 1) // 3
        if rounded != micro:
            return value.replace(microsecond=0) + dt.timedelta(microseconds=rounded)
    return value


def _round_to_scale(scale: int):
    if scale >= 7:
        return None
    step = 10 ** (7 - scale)

    def rounder(value):
        if isinstance(value, DateTime2):
            total = value.value.microsecond * 10 + value.ticks
            rounded = (total + step // 2) // step * step
            base = value.value.replace(microsecond=0) + dt.timedelta(microseconds=rounded // 10)
            return DateTime2(base, rounded % 10)
        return value

    return rounder


def converter(col: Column, duck_type: str):
    """A function from the DuckDB value to the value results.py promises, or None for identity."""
    t, duck = col.sql_type, str(duck_type).upper()
    if t == "sql_variant":
        return converter(col.variant_base, duck_type) if col.variant_base else None
    if duck == "DECIMAL_TEXT":  # a DuckDB DECIMAL fetched as its exact text
        if t in ("decimal", "numeric", "money"):
            return decimal.Decimal
        return {"float": float, "real": float, "int": int, "bigint": int}.get(t, decimal.Decimal)
    if duck == "VARCHAR_PADDED":  # padded by rpad() in the query already
        return None
    if t in ("nchar", "char") and col.length and col.length > 0:
        width = col.length
        return lambda v: v.ljust(width) if isinstance(v, str) else v
    if t in STRING_TYPES:
        return None if duck == "VARCHAR" else (lambda v: str(v) if not isinstance(v, (bytes, str)) else v)
    if t in ("datetime2", "datetimeoffset", "time") and duck == "VARCHAR":
        parse = {"datetime2": _datetime2, "time": _time7, "datetimeoffset": _datetimeoffset}[t]
        rounder = _round_to_scale(col.scale if col.scale is not None else 7) if t != "time" else None
        if rounder:
            return lambda v: rounder(parse(v))
        return parse
    if t == "datetime2" and duck.startswith("TIMESTAMP"):
        return lambda v: DateTime2(v) if isinstance(v, dt.datetime) else v
    if t == "datetime":
        return _round_datetime
    if t == "date" and duck.startswith("TIMESTAMP"):
        return lambda v: v.date()
    if t in ("decimal", "numeric", "money"):
        if duck.startswith("DECIMAL"):
            return None
        quantum = decimal.Decimal(1).scaleb(-(col.scale or 0))
        return lambda v: decimal.Decimal(str(v)).quantize(quantum)
    if t == "bit":
        return None if duck == "BOOLEAN" else bool
    if t in ("int", "bigint", "smallint", "tinyint"):
        return None if "INT" in duck else int
    if t in ("float", "real"):
        return None if duck in ("DOUBLE", "FLOAT") else float
    return None
