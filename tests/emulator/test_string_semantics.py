"""String semantics over pymssql: trailing spaces, DATALENGTH, REPLICATE's 8,000-byte cut, the
float default style, and the render deviations a test can ask the emulator for (issue 12).

Sources (Microsoft Learn):
- Trailing spaces: https://learn.microsoft.com/en-us/troubleshoot/sql/database-engine/query-performance/comparisons-trailing-spaces
- LEN / DATALENGTH: https://learn.microsoft.com/en-us/sql/t-sql/functions/len-transact-sql,
  https://learn.microsoft.com/en-us/sql/t-sql/functions/datalength-transact-sql
- REPLICATE: https://learn.microsoft.com/en-us/sql/t-sql/functions/replicate-transact-sql
- float styles: https://learn.microsoft.com/en-us/sql/t-sql/functions/cast-and-convert-transact-sql#float-and-real-styles
"""

from __future__ import annotations

import pymssql
import pytest

from devtools.mssql_emulator import MssqlEmulator


def _one(conn, sql: str):
    with conn.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    assert len(rows) == 1, rows
    return rows[0] if len(rows[0]) > 1 else rows[0][0]


@pytest.fixture
def conn(pymssql_connect):
    return pymssql_connect(autocommit=True)


def test_trailing_spaces_are_ignored_in_comparisons(conn):
    assert _one(conn, "SELECT CASE WHEN N'ab' = N'ab  ' THEN 1 ELSE 0 END") == 1
    assert _one(conn, "SELECT CASE WHEN 'ab' <> 'ab ' THEN 1 ELSE 0 END") == 0
    assert _one(conn, "SELECT CASE WHEN N'ab ' IN (N'x', N'ab') THEN 1 ELSE 0 END") == 1
    assert (
        _one(conn, "SELECT CASE WHEN N'ab' COLLATE Latin1_General_100_BIN2 = N'ab   ' THEN 1 ELSE 0 END") == 1
    )
    # Leading spaces count, and so does any other trailing character.
    assert _one(conn, "SELECT CASE WHEN N' ab' = N'ab' THEN 1 ELSE 0 END") == 0
    assert _one(conn, "SELECT CASE WHEN N'ab' + NCHAR(9) = N'ab' THEN 1 ELSE 0 END") == 0


def test_len_drops_trailing_spaces_and_datalength_counts_bytes(conn):
    assert _one(conn, "SELECT LEN(N'abc  '), DATALENGTH(N'abc  '), LEN('abc  '), DATALENGTH('abc  ')") == (
        3,
        10,
        3,
        5,
    )


def test_datalength_of_each_type(conn):
    row = _one(
        conn,
        "SELECT DATALENGTH(CAST(1 AS int)), DATALENGTH(CAST(1 AS bigint)), DATALENGTH(CAST(1 AS smallint)),"
        " DATALENGTH(CAST(1 AS tinyint)), DATALENGTH(CAST(1 AS bit)), DATALENGTH(CAST(1 AS float)),"
        " DATALENGTH(CAST(1 AS real)), DATALENGTH(CAST(1 AS money)), DATALENGTH(CAST(1 AS decimal(9,2))),"
        " DATALENGTH(CAST(1 AS decimal(38,2))), DATALENGTH(CAST('2026-01-01' AS date)),"
        " DATALENGTH(CAST('2026-01-01' AS datetime)), DATALENGTH(CAST('2026-01-01' AS datetime2(7))),"
        " DATALENGTH(CAST('2026-01-01' AS datetime2(2))), DATALENGTH(NEWID()), DATALENGTH(0x0102),"
        " DATALENGTH(CAST(N'ab' AS nchar(5))), DATALENGTH(CAST(NULL AS int))",
    )
    assert row == (4, 8, 2, 1, 1, 8, 4, 8, 5, 17, 3, 8, 8, 6, 16, 2, 10, None)


def test_replicate_is_cut_at_8000_bytes_unless_max(conn):
    assert _one(conn, "SELECT LEN(REPLICATE(N'x', 5000)), LEN(REPLICATE('x', 9000))") == (4000, 8000)
    assert _one(conn, "SELECT LEN(REPLICATE(CAST(N'x' AS nvarchar(max)), 5000))") == 5000
    assert _one(conn, "SELECT REPLICATE(N'ab', 3), REPLICATE(N'ab', -1)") == ("ababab", None)


@pytest.mark.parametrize(
    ("literal", "text"),
    [
        ("1900000.0", "1.9e+006"),
        ("123456.0", "123456"),
        ("1234567.0", "1.23457e+006"),
        ("0.0001", "0.0001"),
        ("0.00001", "1e-005"),
        ("-2.5", "-2.5"),
        ("0", "0"),
    ],
)
def test_float_default_style_has_six_digits(conn, literal, text):
    assert _one(conn, f"SELECT CONVERT(varchar(30), CAST({literal} AS float))") == text
    assert _one(conn, f"SELECT CAST(CAST({literal} AS float) AS nvarchar(30))") == text


def test_float_styles_1_2_3(conn):
    assert _one(
        conn,
        "SELECT CONVERT(varchar(30), CAST(0.1 AS float), 1), CONVERT(varchar(30), CAST(0.1 AS float), 2),"
        " CONVERT(varchar(30), CAST(0.1 AS float), 3)",
    ) == ("1.0000000e-001", "1.000000000000000e-001", "1.0000000000000001e-001")


# Each deviation: a query, what SQL Server documents, and what the deviating emulator says.
DEVIATIONS = {
    "float-style3-15-digits": (
        "SELECT CONVERT(varchar(30), CAST(0.1 AS float), 3)",
        "1.0000000000000001e-001",
        "1.00000000000000e-001",
    ),
    "datetime2-6-digits": (
        "SELECT CONVERT(varchar(30), CAST('2026-12-11 10:20:30.1234567' AS datetime2(7)), 121)",
        "2026-12-11 10:20:30.1234567",
        "2026-12-11 10:20:30.123456",
    ),
    "binary-replace-ignores-width": (
        "SELECT REPLACE(N'a＂b\"' COLLATE Latin1_General_100_BIN2, N'\"', N'\"\"')",
        'a＂b""',
        'a""b""',
    ),
}


def test_the_session_emulator_renders_as_documented(conn):
    for query, documented, _deviated in DEVIATIONS.values():
        assert _one(conn, query) == documented


@pytest.mark.parametrize("deviation", sorted(DEVIATIONS))
def test_render_deviation_changes_exactly_one_rendering(deviation):
    query, documented, deviated = DEVIATIONS[deviation]
    with MssqlEmulator(user="demo", password="demo-password", render_deviation=deviation) as emulator:
        with pymssql.connect(**emulator.connect_kwargs(login_timeout=10, timeout=30)) as conn:
            assert _one(conn, query) == deviated != documented
            for other, (other_query, other_documented, _) in DEVIATIONS.items():
                if other != deviation:
                    assert _one(conn, other_query) == other_documented


def test_unknown_render_deviation_fails_every_statement_naming_the_valid_ones():
    with MssqlEmulator(
        user="demo", password="demo-password", render_deviation="no-such-deviation"
    ) as emulator:
        with pymssql.connect(**emulator.connect_kwargs(login_timeout=10, timeout=30)) as conn:
            with pytest.raises(pymssql.Error) as caught, conn.cursor() as cursor:
                cursor.execute("SELECT 1")
    assert caught.value.args[0] == 50000
    assert b"float-style3-15-digits" in caught.value.args[1]
