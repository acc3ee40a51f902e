"""Typed values through the whole emulator: real drivers over TDS, engine on DuckDB behind it."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

CREATE = """
IF OBJECT_ID('dbo.{name}', 'U') IS NOT NULL DROP TABLE dbo.{name};
CREATE TABLE dbo.{name} (
    id int NOT NULL PRIMARY KEY,
    label nvarchar(40) NULL,
    code nchar(3) NULL,
    amount decimal(38,10) NULL,
    qty decimal(15,3) NULL,
    stamp datetime2(7) NULL,
    legacy datetime NULL,
    day date NULL,
    flag bit NULL,
    big bigint NULL,
    guid uniqueidentifier NULL
)
"""
INSERT = """
INSERT INTO dbo.{name} (id, label, code, amount, qty, stamp, legacy, day, flag, big, guid) VALUES
(1, N'Müller 日本 😀', N'DE', 9999999999999999999999999999.9999999999, -12345678901.123,
 '9999-12-31 23:59:59.9999999', '2026-11-29 10:00:00.000', '2026-11-29', 1, 9223372036854775807,
 '6F9619FF-8B86-D011-B42D-00C04FC964FF'),
(2, N'', NULL, 0, 0, '0001-01-01 00:00:00', NULL, NULL, 0, NULL, NULL),
(3, NULL, N'X', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
"""
SELECT = (
    "SELECT id, label, code, amount, qty, stamp, legacy, day, flag, big, guid FROM dbo.{name} ORDER BY id"
)


def _common_assertions(rows):
    first, second, third = rows
    assert first[1] == "Müller 日本 😀"
    assert first[2] == "DE " and third[2] == "X  "
    assert first[3] == Decimal("9999999999999999999999999999.9999999999")
    assert first[4] == Decimal("-12345678901.123")
    assert first[6] == dt.datetime(2026, 11, 29, 10, 0, 0)
    assert first[7] == dt.date(2026, 11, 29)
    assert bool(first[8]) is True and bool(second[8]) is False and third[8] is None
    assert first[9] == 9223372036854775807
    assert second[1] == "" and third[1] is None
    assert second[3] == Decimal("0E-10")


@pytest.mark.parametrize("driver", ["pymssql", "pytds"])
def test_edge_values_round_trip(driver, pymssql_connect, pytds_connect):
    name = f"types_{driver}"
    conn = pymssql_connect(autocommit=True) if driver == "pymssql" else pytds_connect()
    cursor = conn.cursor()
    cursor.execute(CREATE.format(name=name))
    cursor.execute(INSERT.format(name=name))
    cursor.execute(SELECT.format(name=name))
    rows = cursor.fetchall()
    _common_assertions(rows)
    stamp_max, stamp_min = rows[0][5], rows[1][5]
    # Both drivers hand out microseconds: 100 ns ticks are truncated or rounded by the driver,
    # never turned into a different day.
    assert stamp_max.date() == dt.date(9999, 12, 31) and stamp_max.hour == 23
    assert stamp_min == dt.datetime(1, 1, 1)
    guid = rows[0][10]
    assert uuid.UUID(str(guid)) == uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FC964FF")


def test_information_schema_through_pymssql(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    cursor = conn.cursor()
    cursor.execute(CREATE.format(name="types_info"))
    cursor.execute(
        "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, "
        "DATETIME_PRECISION FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'types_info' "
        "ORDER BY ORDINAL_POSITION"
    )
    rows = {r[0]: r[1:] for r in cursor.fetchall()}
    assert rows["label"] == ("nvarchar", 40, None, None, None)
    assert rows["qty"] == ("decimal", None, 15, 3, None)
    assert rows["stamp"] == ("datetime2", None, None, None, 7)


def test_sql_server_errors_reach_the_driver(pymssql_connect):
    import pymssql

    cursor = pymssql_connect(autocommit=True).cursor()
    with pytest.raises(pymssql.Error) as caught:
        cursor.execute("SELECT * FROM dbo.does_not_exist")
    assert caught.value.args[0] == 208
    assert b"Invalid object name 'dbo.does_not_exist'." in caught.value.args[1]
