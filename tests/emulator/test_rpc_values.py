"""Values that travel as RPC parameters (sp_executesql, python-tds) or come back typed.

python-tds binds every parameter through sp_executesql with its TDS type, so these go through
the RPC path that pymssql (which inlines literals) never takes.
"""

from __future__ import annotations

import datetime as dt
import decimal

import pytds
import pytest


def _scalar(conn, sql: str, *params):
    with conn.cursor() as cursor:
        cursor.execute(sql, params or None)
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    "value",
    [
        decimal.Decimal("12345678901234567890123456789012345678"),
        decimal.Decimal("-0.1234567890123456789012345678901234567"),
        decimal.Decimal("99999999999999999999999999.999999999999"),
    ],
    ids=["38-digits-scale-0", "38-digits-scale-37", "38-digits-scale-12"],
)
def test_decimal_38_parameter_comes_back_exact(pytds_connect, value):
    # decimal(38, s) holds 38 digits (https://learn.microsoft.com/en-us/sql/t-sql/data-types/decimal-and-numeric-transact-sql);
    # Python's default decimal context has 28, which rounded the parameter on its way in.
    assert _scalar(pytds_connect(), "SELECT %s", value) == value


def test_empty_varbinary_parameter_is_an_empty_binary_value(pytds_connect):
    conn = pytds_connect()
    empty = pytds.Binary(b"")
    assert _scalar(conn, "SELECT %s", empty) == b""
    assert _scalar(conn, "SELECT DATALENGTH(%s)", empty) == 0
    assert _scalar(conn, "SELECT CASE WHEN %s IS NULL THEN 'null' ELSE 'value' END", empty) == "value"


def test_datetime2_parameter_out_of_datetime_range_is_error_242(pytds_connect):
    conn = pytds_connect()
    assert _scalar(conn, "SELECT CAST(%s AS datetime)", dt.datetime(1753, 1, 1)) == dt.datetime(1753, 1, 1)
    with pytest.raises(pytds.Error) as caught:
        _scalar(conn, "SELECT CAST(%s AS datetime)", dt.datetime(1752, 12, 31))
    assert caught.value.number == 242
    assert "datetime2 data type to a datetime data type" in str(caught.value)
    with pytest.raises(pytds.Error) as caught:
        _scalar(conn, "SELECT CAST(%s AS smalldatetime)", dt.datetime(2079, 6, 7))
    assert caught.value.number == 242


def test_sysdatetimeoffset_is_local_time_with_the_local_offset(pytds_connect):
    # https://learn.microsoft.com/en-us/sql/t-sql/functions/sysdatetimeoffset-transact-sql: the
    # server's date and time with its time zone offset. The emulator runs in this process's zone.
    value = _scalar(pytds_connect(), "SELECT SYSDATETIMEOFFSET()")
    local = dt.datetime.now().astimezone()
    assert value.utcoffset() == local.utcoffset()
    assert abs(value - local) < dt.timedelta(minutes=1)


def test_datetime2_minimum_reads_back_through_python_tds(pytds_connect):
    conn = pytds_connect()
    assert _scalar(conn, "SELECT CAST('0001-1-1 0:0:0' AS datetime2)") == dt.datetime(1, 1, 1)
    assert _scalar(conn, "SELECT CAST('0:0:0' AS time)") == dt.time(0, 0)
