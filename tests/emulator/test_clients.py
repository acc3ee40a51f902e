"""Three independent SQL Server clients treat the emulator as SQL Server.

pymssql (FreeTDS bundled in its wheel), python-tds (pure Python) and Debian's ``tsql`` (the
FreeTDS command line, a separate build) each log in over a real socket, read every type the
sync can meet with the right values, and see SQL Server's error numbers.

What each client does with datetime2(7) ``9999-12-31 23:59:59.9999999`` (the server sends all
seven digits):

- pymssql 2.4.6: ``datetime(9999, 12, 31, 23, 59, 59, 999999)``. FreeTDS cracks the value to
  nanoseconds and pymssql divides by 1,000: truncation, never rounding, so no overflow into
  year 10000. time(7) and datetimeoffset(7) behave the same.
- python-tds 1.17.1: the same value, by the same truncation in its own decoder.
- tsql: prints the value through FreeTDS's default date format (no locales.conf on Debian),
  ``Dec 31 9999 11:59PM``: minute resolution, no overflow either.

So the sync may read datetime2(7) natively with these drivers and gets exactly the contract's
truncation to microseconds. ``CONVERT(varchar(27), col, 121)`` is the driver-independent
alternative: all three clients receive the full 100 ns text. The tests pin both, so a driver
upgrade that starts rounding fails here first.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import uuid
from decimal import Decimal

import pymssql
import pytds
import pytest

from tests.emulator.login_errors import pymssql_login_error

UTC_PLUS_1 = dt.timezone(dt.timedelta(hours=1))

# (column, T-SQL expression, value a Python client must return)
EVERY_TYPE = [
    ("nvarchar_text", "CAST(N'Grüße aus Köln, 東京 😀' AS nvarchar(40))", "Grüße aus Köln, 東京 😀"),
    ("nchar_padded", "CAST(N'DE' AS nchar(3))", "DE "),
    ("varchar_text", "CAST('Müller' AS varchar(10))", "Müller"),
    ("char_padded", "CAST('ab' AS char(4))", "ab  "),
    (
        "nvarchar_max",
        "REPLICATE(CAST(N'Grüße 😀 ' AS nvarchar(max)), 1000)",
        "Grüße 😀 " * 1000,
    ),
    ("int_max", "CAST(2147483647 AS int)", 2147483647),
    ("int_min", "CAST(-2147483648 AS int)", -2147483648),
    ("bigint_max", "CAST(9223372036854775807 AS bigint)", 9223372036854775807),
    ("smallint_min", "CAST(-32768 AS smallint)", -32768),
    ("tinyint_max", "CAST(255 AS tinyint)", 255),
    ("bit_true", "CAST(1 AS bit)", True),
    ("bit_false", "CAST(0 AS bit)", False),
    (
        "decimal_38_0",
        "CAST(99999999999999999999999999999999999999 AS decimal(38,0))",
        Decimal("99999999999999999999999999999999999999"),
    ),
    (
        "decimal_38_10",
        "CAST(-9999999999999999999999999999.9999999999 AS decimal(38,10))",
        Decimal("-9999999999999999999999999999.9999999999"),
    ),
    (
        "decimal_38_38",
        "CAST(0.00000000000000000000000000000000000001 AS decimal(38,38))",
        Decimal("0.00000000000000000000000000000000000001"),
    ),
    ("numeric_15_3", "CAST(-12345.678 AS numeric(15,3))", Decimal("-12345.678")),
    ("float_tenth", "CAST(0.1 AS float)", 0.1),
    ("float_max", "CAST(1.7976931348623157E+308 AS float)", 1.7976931348623157e308),
    ("real_value", "CAST(3.5 AS real)", 3.5),
    ("money_max", "CAST(922337203685477.5807 AS money)", Decimal("922337203685477.5807")),
    ("money_min", "CAST(-922337203685477.5808 AS money)", Decimal("-922337203685477.5808")),
    ("date_min", "CAST('0001-01-01' AS date)", dt.date(1, 1, 1)),
    ("date_max", "CAST('9999-12-31' AS date)", dt.date(9999, 12, 31)),
    ("time_0", "CAST('12:34:56' AS time(0))", dt.time(12, 34, 56)),
    # 100 ns digits are truncated to microseconds by both Python clients (see the docstring).
    ("time_7", "CAST('23:59:59.9999999' AS time(7))", dt.time(23, 59, 59, 999999)),
    (
        "datetime_legacy",
        "CAST('2026-11-29T23:59:59.997' AS datetime)",
        dt.datetime(2026, 11, 29, 23, 59, 59, 997000),
    ),
    (
        "datetime2_max",
        "CAST('9999-12-31 23:59:59.9999999' AS datetime2(7))",
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
    ),
    ("datetime2_min", "CAST('0001-01-01 00:00:00' AS datetime2(7))", dt.datetime(1, 1, 1)),
    (
        "datetime2_ticks",
        "CAST('2026-11-29 12:34:56.1234567' AS datetime2(7))",
        dt.datetime(2026, 11, 29, 12, 34, 56, 123456),
    ),
    (
        "datetime2_3",
        "CAST('2026-11-29 12:34:56.123' AS datetime2(3))",
        dt.datetime(2026, 11, 29, 12, 34, 56, 123000),
    ),
    # The text form a query can ask for when a client cannot hold 100 ns.
    (
        "datetime2_as_text_121",
        "CONVERT(varchar(27), CAST('9999-12-31 23:59:59.9999999' AS datetime2(7)), 121)",
        "9999-12-31 23:59:59.9999999",
    ),
    (
        "datetimeoffset_value",
        "CAST('2026-11-29 12:34:56.1234567 +01:00' AS datetimeoffset(7))",
        dt.datetime(2026, 11, 29, 12, 34, 56, 123456, tzinfo=UTC_PLUS_1),
    ),
    (
        "uniqueidentifier_value",
        "CAST('6F9619FF-8B86-D011-B42D-00C04FD430C8' AS uniqueidentifier)",
        uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FD430C8"),
    ),
    ("varbinary_value", "CAST(0xDEADBEEF00 AS varbinary(10))", b"\xde\xad\xbe\xef\x00"),
]

NULL_TYPES = [
    "nvarchar(10)", "nchar(3)", "varchar(10)", "char(4)", "nvarchar(max)", "int", "bigint",
    "smallint", "tinyint", "bit", "decimal(38,10)", "numeric(15,3)", "float", "real", "money",
    "date", "time(7)", "datetime", "datetime2(7)", "datetimeoffset(7)", "uniqueidentifier",
    "varbinary(10)", "varbinary(max)",
]  # fmt: skip

EVERY_TYPE_QUERY = "SELECT " + ",\n       ".join(f"{expr} AS {name}" for name, expr, _ in EVERY_TYPE)
NULL_QUERY = "SELECT " + ", ".join(
    f"CAST(NULL AS {sql_type}) AS null_{position}" for position, sql_type in enumerate(NULL_TYPES)
)
EXPECTED = {name: value for name, _, value in EVERY_TYPE}

BAD_LOGIN, MISSING_OBJECT, SYNTAX_ERROR = 18456, 208, 102
MISSING_OBJECT_QUERY = "SELECT * FROM dbo.NoSuchTable"
SYNTAX_ERROR_QUERY = "SELECT FROM WHERE"


def assert_value(name: str, got) -> None:
    expected = EXPECTED[name]
    assert got == expected, name
    # True == 1 and Decimal("0.5") == 0.5: the Python type must be right as well.
    assert type(got) is type(expected), name
    if isinstance(expected, dt.datetime) and expected.tzinfo is not None:
        assert got.utcoffset() == expected.utcoffset(), name


def assert_every_type(columns: list[str], row: tuple) -> None:
    """The whole-row read: many columns of many types in one COLMETADATA and one ROW."""
    assert columns == list(EXPECTED)
    for name, got in zip(columns, row, strict=True):
        assert_value(name, got)


# One test per type as well, so a failure names the type instead of stopping at the first.
each_type = pytest.mark.parametrize(
    ("name", "expression"), [(name, expr) for name, expr, _ in EVERY_TYPE], ids=list(EXPECTED)
)


# --- pymssql -----------------------------------------------------------------------------


def test_pymssql_logs_in_and_sees_sql_server(pymssql_connect, emulator):
    with pymssql_connect() as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT DB_NAME(), SUSER_NAME(), @@VERSION")
        database, user, version = cursor.fetchone()
    assert (database, user) == (emulator.database, emulator.user)
    assert version.startswith("Microsoft SQL Server 2022")


def test_pymssql_reads_every_type(pymssql_connect):
    with pymssql_connect() as conn:
        cursor = conn.cursor()
        cursor.execute(EVERY_TYPE_QUERY)
        columns = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    assert len(rows) == 1
    assert_every_type(columns, rows[0])


@each_type
def test_pymssql_reads_each_type(pymssql_connect, name, expression):
    cursor = pymssql_connect().cursor()
    cursor.execute(f"SELECT {expression} AS {name}")
    (value,) = cursor.fetchone()
    assert_value(name, value)


def test_pymssql_reads_null_of_every_type(pymssql_connect):
    with pymssql_connect() as conn:
        cursor = conn.cursor()
        cursor.execute(NULL_QUERY)
        assert cursor.fetchall() == [(None,) * len(NULL_TYPES)]


def test_pymssql_bad_login_is_18456(emulator):
    # In a fresh process: pymssql keeps the last server message process-wide (login_errors.py).
    number, message = pymssql_login_error(emulator, password="not-the-" + "password")
    assert number == BAD_LOGIN
    assert message.startswith("Login failed for user 'demo'.")


@pytest.mark.parametrize(
    ("query", "number", "wording"),
    [
        (MISSING_OBJECT_QUERY, MISSING_OBJECT, b"Invalid object name 'dbo.NoSuchTable'."),
        (SYNTAX_ERROR_QUERY, SYNTAX_ERROR, b"Incorrect syntax near"),
    ],
)
def test_pymssql_sees_sql_server_error_numbers(pymssql_connect, query, number, wording):
    with pymssql_connect() as conn:
        with pytest.raises(pymssql.ProgrammingError) as caught:
            conn.cursor().execute(query)
    assert caught.value.args[0] == number
    assert wording in caught.value.args[1]


# --- python-tds --------------------------------------------------------------------------


def test_pytds_logs_in_and_sees_sql_server(pytds_connect, emulator):
    with pytds_connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT DB_NAME(), SUSER_NAME()")
        assert cursor.fetchone() == (emulator.database, emulator.user)
        assert conn.product_version >> 24 == 16  # SQL Server 2022


def test_pytds_reads_every_type(pytds_connect):
    with pytds_connect() as conn, conn.cursor() as cursor:
        cursor.execute(EVERY_TYPE_QUERY)
        columns = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    assert len(rows) == 1
    assert_every_type(columns, tuple(rows[0]))


@each_type
def test_pytds_reads_each_type(pytds_connect, name, expression):
    with pytds_connect().cursor() as cursor:
        cursor.execute(f"SELECT {expression} AS {name}")
        (value,) = cursor.fetchone()
    assert_value(name, value)


def test_pytds_reads_null_of_every_type(pytds_connect):
    with pytds_connect() as conn, conn.cursor() as cursor:
        cursor.execute(NULL_QUERY)
        assert [tuple(row) for row in cursor.fetchall()] == [(None,) * len(NULL_TYPES)]


def test_pytds_bad_login_is_18456(pytds_connect):
    with pytest.raises(pytds.OperationalError) as caught:
        pytds_connect(password="not-the-" + "password")
    assert caught.value.number == BAD_LOGIN
    assert caught.value.text == "Login failed for user 'demo'."


@pytest.mark.parametrize(
    ("query", "number"), [(MISSING_OBJECT_QUERY, MISSING_OBJECT), (SYNTAX_ERROR_QUERY, SYNTAX_ERROR)]
)
def test_pytds_sees_sql_server_error_numbers(pytds_connect, query, number):
    with pytds_connect() as conn, conn.cursor() as cursor:
        with pytest.raises(pytds.ProgrammingError) as caught:
            cursor.execute(query)
    assert caught.value.number == number
    assert caught.value.severity == (15 if number == SYNTAX_ERROR else 16)


# --- tsql (Debian freetds-bin) -----------------------------------------------------------

TSQL_SEPARATOR = "\x1f"  # unit separator: never inside a value


def run_tsql(emulator, sql: str, password: str | None = None) -> subprocess.CompletedProcess:
    """Feed one batch to the tsql command, as a person at a terminal would."""
    command = [
        "tsql",
        "-H", emulator.host,
        "-p", str(emulator.port),
        "-U", emulator.user,
        "-P", emulator.password if password is None else password,
        "-D", emulator.database,
        "-t", TSQL_SEPARATOR,
        "-o", "fq",  # no footer ("(1 row affected)"), no prompts or banner
    ]  # fmt: skip
    env = dict(os.environ, TDSVER="7.4", LANG="C.UTF-8")
    return subprocess.run(
        command,
        input=f"{sql}\ngo\nexit\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
        check=False,
    )


def tsql_table(result: subprocess.CompletedProcess) -> list[list[str]]:
    """Header and rows of tsql's output, split on the column separator."""
    lines = [line for line in result.stdout.splitlines() if TSQL_SEPARATOR in line or line]
    return [line.split(TSQL_SEPARATOR) for line in lines if not line.startswith("locale")]


# What tsql prints. FreeTDS converts every value to text on the client. Without a
# locales.conf (Debian installs none) dates and times use FreeTDS's built-in
# "%b %e %Y %I:%M%p": minute resolution, so fractions of a second never reach tsql's output;
# the CONVERT(..., 121) column shows them as text.
TSQL_EXPECTED = {
    "nvarchar_text": "Grüße aus Köln, 東京 😀",
    "nchar_padded": "DE ",
    "varchar_text": "Müller",
    "char_padded": "ab  ",
    "nvarchar_max": "Grüße 😀 " * 1000,
    "int_max": "2147483647",
    "int_min": "-2147483648",
    "bigint_max": "9223372036854775807",
    "smallint_min": "-32768",
    "tinyint_max": "255",
    "bit_true": "1",
    "bit_false": "0",
    "decimal_38_0": "99999999999999999999999999999999999999",
    "decimal_38_10": "-9999999999999999999999999999.9999999999",
    "decimal_38_38": "0.00000000000000000000000000000000000001",
    "numeric_15_3": "-12345.678",
    "float_tenth": "0.10000000000000001",
    "float_max": "1.7976931348623157e+308",
    "real_value": "3.5",
    "money_max": "922337203685477.5807",
    "money_min": "-922337203685477.5808",
    "date_min": "Jan  1 1 12:00AM",
    "date_max": "Dec 31 9999 12:00AM",
    "time_0": "Jan  1 1900 12:34PM",
    "time_7": "Jan  1 1900 11:59PM",
    "datetime_legacy": "Nov 29 2026 11:59PM",
    "datetime2_max": "Dec 31 9999 11:59PM",
    "datetime2_min": "Jan  1 1 12:00AM",
    "datetime2_ticks": "Nov 29 2026 12:34PM",
    "datetime2_3": "Nov 29 2026 12:34PM",
    "datetime2_as_text_121": "9999-12-31 23:59:59.9999999",
    # The default format has no offset field; the clock time is the value's own (12:34 at
    # +01:00), not converted to UTC (11:34).
    "datetimeoffset_value": "Nov 29 2026 12:34PM",
    "uniqueidentifier_value": "6F9619FF-8B86-D011-B42D-00C04FD430C8",
    "varbinary_value": "deadbeef00",
}


def test_tsql_reads_every_type(emulator):
    result = run_tsql(emulator, EVERY_TYPE_QUERY)
    assert (result.returncode, result.stderr) == (0, "")
    header, *rows = tsql_table(result)
    assert header == list(EXPECTED)
    assert len(rows) == 1
    assert dict(zip(header, rows[0], strict=True)) == TSQL_EXPECTED


@each_type
def test_tsql_reads_each_type(emulator, name, expression):
    result = run_tsql(emulator, f"SELECT {expression} AS {name}")
    assert (result.returncode, result.stderr) == (0, "")
    assert tsql_table(result) == [[name], [TSQL_EXPECTED[name]]]


def test_tsql_reads_null_of_every_type(emulator):
    result = run_tsql(emulator, NULL_QUERY)
    assert (result.returncode, result.stderr) == (0, "")
    header, *rows = tsql_table(result)
    assert len(header) == len(NULL_TYPES)
    assert rows == [["NULL"] * len(NULL_TYPES)]


def test_tsql_bad_login_is_18456(emulator):
    result = run_tsql(emulator, "SELECT 1", password="not-the-" + "password")
    output = result.stdout + result.stderr
    assert f"Msg {BAD_LOGIN} (severity 14" in output
    assert "Login failed for user 'demo'." in output
    assert result.returncode != 0


@pytest.mark.parametrize(
    ("query", "number"), [(MISSING_OBJECT_QUERY, MISSING_OBJECT), (SYNTAX_ERROR_QUERY, SYNTAX_ERROR)]
)
def test_tsql_sees_sql_server_error_numbers(emulator, query, number):
    result = run_tsql(emulator, query)
    severity = 15 if number == SYNTAX_ERROR else 16  # SQL Server reports syntax at 15
    assert f"Msg {number} (severity {severity}, state 1)" in result.stderr
    assert result.stdout.strip() == ""
