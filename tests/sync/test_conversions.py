"""Every conversion of the data contract, edge values included, evaluated by real PostgreSQL.

Conversions run as SQL over the raw staging table, so each case loads one raw value into a
one-column table and reads back what the conversion and its validity predicate make of it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from include.table_sync.conversions import CONVERSIONS, fits_target, raw_type
from include.table_sync.sqlserver_types import SqlServerType

INVALID = object()  # expected outcome: the value is reported, never loaded
# Raw text a verified datetime2 column cannot carry: the server renders it (CONVERT style 121).
IMPOSSIBLE_FROM_A_VERIFIED_COLUMN = {
    "not a time",
    "2026-02-30 00:00:00.0000000",
    "2026-13-01 00:00:00",
    "2026-11-29 24:00:00.0000000",
    "0000-01-01 00:00:00",
}

CASES = [
    # conversion, source type, target type, raw value, expected
    ("trim", "nvarchar(10)", "varchar(10)", "0000012345", "0000012345"),
    ("trim", "nvarchar(6)", "varchar(6)", "000010  ", "000010"),
    ("trim", "nvarchar(10)", "varchar(10)", "   ", INVALID),
    ("trim", "nvarchar(10)", "varchar(10)", "", INVALID),
    ("trim", "nvarchar(10)", "varchar(10)", None, None),  # NULL key: caught by validate's key check
    ("trim_empty_null", "nchar(3)", "varchar(3)", "DE ", "DE"),
    ("trim_empty_null", "nvarchar(4)", "varchar(4)", "", None),
    ("trim_empty_null", "nvarchar(4)", "varchar(4)", "   ", None),
    ("trim_empty_null", "nvarchar(4)", "varchar(4)", None, None),
    ("trim_empty_null", "nvarchar(80)", "varchar(80)", "Müller 日本語 🚀", "Müller 日本語 🚀"),
    ("trim_empty_null", "nvarchar(80)", "varchar(80)", "  leading kept", "  leading kept"),
    ("trim_empty_null", "nvarchar(10)", "varchar(4)", "TOOLONG", INVALID),
    ("trim", "nvarchar(10)", "varchar(4)", "TOOLONG", INVALID),
    ("sap_date", "nvarchar(8)", "date", "20261129", dt.date(2026, 11, 29)),
    ("sap_date", "nvarchar(8)", "date", "20240229", dt.date(2024, 2, 29)),
    ("sap_date", "nvarchar(8)", "date", "00000000", None),
    ("sap_date", "nvarchar(8)", "date", "", None),
    ("sap_date", "nvarchar(8)", "date", "        ", None),
    ("sap_date", "nvarchar(8)", "date", None, None),
    ("sap_date", "nvarchar(8)", "date", "99991231", dt.date(9999, 12, 31)),
    ("sap_date", "nvarchar(8)", "date", "20230229", INVALID),
    ("sap_date", "nvarchar(8)", "date", "20261301", INVALID),
    ("sap_date", "nvarchar(8)", "date", "20261100", INVALID),
    ("sap_date", "nvarchar(8)", "date", "2026-11-", INVALID),
    ("sap_date", "nvarchar(8)", "date", "ABCDEFGH", INVALID),
    ("sap_date", "nvarchar(8)", "date", "00001231", INVALID),
    ("sap_time", "nvarchar(6)", "time", "134501", dt.time(13, 45, 1)),
    ("sap_time", "nvarchar(6)", "time", "000000", dt.time(0, 0, 0)),
    ("sap_time", "nvarchar(6)", "time", "235959", dt.time(23, 59, 59)),
    ("sap_time", "nvarchar(6)", "time", "", None),
    ("sap_time", "nvarchar(6)", "time", None, None),
    ("sap_time", "nvarchar(6)", "time", "240000", INVALID),
    ("sap_time", "nvarchar(6)", "time", "126000", INVALID),
    ("sap_time", "nvarchar(6)", "time", "12:45", INVALID),
    ("sap_numc_int", "nvarchar(2)", "smallint", "02", 2),
    ("sap_numc_int", "nvarchar(2)", "smallint", "00", 0),
    ("sap_numc_int", "nvarchar(2)", "smallint", "", None),
    ("sap_numc_int", "nvarchar(2)", "smallint", None, None),
    ("sap_numc_int", "nvarchar(2)", "smallint", "A1", INVALID),
    ("sap_numc_int", "nvarchar(6)", "smallint", "99999", INVALID),
    ("sap_flag", "nchar(1)", "boolean", "X", True),
    ("sap_flag", "nchar(1)", "boolean", " ", False),
    ("sap_flag", "nchar(1)", "boolean", "", False),
    ("sap_flag", "nchar(1)", "boolean", None, False),
    ("sap_flag", "nchar(1)", "boolean", "x", INVALID),
    ("sap_flag", "nchar(1)", "boolean", "Y", INVALID),
    ("date_part", "datetime", "date", dt.datetime(2026, 11, 29, 0, 0), dt.date(2026, 11, 29)),
    ("date_part", "datetime", "date", dt.datetime(2026, 11, 29, 23, 59, 59, 997000), dt.date(2026, 11, 29)),
    ("date_part", "datetime", "date", None, None),
    (
        "datetime2_to_us",
        "datetime2(7)",
        "timestamp(6)",
        "9999-12-31 23:59:59.9999999",
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
    ),
    (
        "datetime2_to_us",
        "datetime2(7)",
        "timestamp(6)",
        "2026-11-29 13:45:01.1234567",
        dt.datetime(2026, 11, 29, 13, 45, 1, 123456),
    ),  # truncated, not rounded
    ("datetime2_to_us", "datetime2(7)", "timestamp(6)", "0001-01-01 00:00:00.0000000", dt.datetime(1, 1, 1)),
    ("datetime2_to_us", "datetime2(7)", "timestamp(6)", None, None),
    ("datetime2_to_us", "datetime2(7)", "timestamp(6)", "not a time", INVALID),
    ("datetime2_to_us", "datetime2(7)", "timestamp(6)", "2026-02-30 00:00:00.0000000", INVALID),
    ("datetime2_to_us", "datetime2(7)", "timestamp(6)", "2026-13-01 00:00:00", INVALID),
    ("datetime2_to_us", "datetime2(7)", "timestamp(6)", "2026-11-29 24:00:00.0000000", INVALID),
    ("datetime2_to_us", "datetime2(7)", "timestamp(6)", "0000-01-01 00:00:00", INVALID),
    (
        "datetime2_to_us",
        "datetime2(7)",
        "timestamp(6)",
        "2024-02-29 23:59:59.5",
        dt.datetime(2024, 2, 29, 23, 59, 59, 500000),
    ),
    ("none", "decimal(15,3)", "numeric(15,3)", Decimal("999999999999.999"), Decimal("999999999999.999")),
    ("none", "decimal(15,3)", "numeric(15,3)", Decimal("-12.500"), Decimal("-12.500")),
    ("none", "decimal(16,3)", "numeric(15,3)", Decimal("1000000000000.000"), INVALID),
    ("none", "decimal(15,4)", "numeric(15,3)", Decimal("1.0005"), INVALID),  # never rounded silently
    ("none", "bigint", "integer", 2147483648, INVALID),
    ("none", "int", "smallint", -32769, INVALID),
    ("none", "decimal(9,5)", "numeric(9,5)", Decimal("1.23456"), Decimal("1.23456")),
    ("none", "int", "integer", 2147483647, 2147483647),
    ("none", "bit", "boolean", True, True),
    ("none", "bit", "boolean", None, None),
    ("none", "date", "date", dt.date(1, 1, 1), dt.date(1, 1, 1)),
]


@pytest.fixture(scope="module")
def pg(postgres):
    with psycopg.connect(postgres.dsn("orders"), autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize(("conversion", "source_type", "target_type", "raw", "expected"), CASES)
def test_conversion(pg, conversion, source_type, target_type, raw, expected):
    parsed = SqlServerType.parse(source_type)
    rule = CONVERSIONS[conversion]
    assert rule.accepts(parsed)
    column = sql.Identifier("raw_value")
    with pg.transaction(force_rollback=True):
        pg.execute(sql.SQL("CREATE TEMP TABLE raw_case (raw_value {})").format(sql.SQL(raw_type(parsed))))
        pg.execute("INSERT INTO raw_case VALUES (%s)", (raw,))
        # Checks run in full for a custom query, whose column types are not verified, and
        # without those the verified type makes impossible otherwise: both must agree on every
        # value the declared type can hold.
        verdicts = []
        for declared in (None, parsed):
            predicate = rule.invalid(column, target_type, declared) or sql.SQL("false")
            verdicts.append(pg.execute(sql.SQL("SELECT {} FROM raw_case").format(predicate)).fetchone()[0])
        invalid = verdicts[0]
        if raw not in IMPOSSIBLE_FROM_A_VERIFIED_COLUMN:
            assert verdicts[1] is invalid
        if expected is INVALID:
            assert invalid is True, f"{raw!r} should be reported as unconvertible"
            return
        assert invalid is False, f"{raw!r} was reported as unconvertible"
        converted = pg.execute(
            sql.SQL("SELECT {} FROM raw_case").format(rule.convert(column, target_type))
        ).fetchone()[0]
        assert converted == expected
        assert type(converted) is type(expected)


def test_every_contract_conversion_is_covered():
    assert {case[0] for case in CASES} == set(CONVERSIONS)


@pytest.mark.parametrize(
    ("declared", "target_type", "fits"),
    [
        ("nvarchar(10)", "varchar(10)", True),
        ("nchar(3)", "varchar(5)", True),
        ("nvarchar(11)", "varchar(10)", False),
        ("nvarchar(max)", "varchar(10)", False),
        ("decimal(15,3)", "numeric(15,3)", True),
        ("decimal(9,5)", "numeric(12,5)", True),
        ("decimal(15,3)", "numeric(15,2)", False),  # would round
        ("decimal(16,3)", "numeric(15,3)", False),  # would overflow
        ("int", "integer", True),
        ("smallint", "integer", True),
        ("bigint", "integer", False),
        ("int", "smallint", False),
        ("int", "numeric(12,2)", True),
        ("int", "numeric(11,2)", False),
        ("money", "numeric(19,4)", True),
        ("money", "numeric(19,2)", False),
        ("int", "varchar(20)", False),  # not text: its length is not declared
        (None, "varchar(10)", False),  # a custom query's types are not verified: check everything
    ],
)
def test_checks_are_skipped_only_where_no_value_can_fail(declared, target_type, fits):
    parsed = SqlServerType.parse(declared) if declared else None
    assert fits_target(parsed, target_type) is fits
