"""Collations over pymssql: each documented option (case, accent, kana, width, binary, _SC),
collation precedence and its errors, and where a column's or database's collation shows.

Expectations come from Microsoft's pages, cited per test:
- Collation and Unicode support:
  https://learn.microsoft.com/en-us/sql/relational-databases/collations/collation-and-unicode-support
- Collation precedence:
  https://learn.microsoft.com/en-us/sql/t-sql/statements/collation-precedence-transact-sql
- COLLATIONPROPERTY, DATABASEPROPERTYEX, REPLACE, CHARINDEX, PATINDEX, LIKE reference pages.
"""

from __future__ import annotations

import itertools

import pymssql
import pytest

from devtools.mssql_emulator import translate
from devtools.mssql_emulator.engine import Engine
from devtools.mssql_emulator.results import Session

_names = itertools.count(1)


def _rows(conn, sql: str) -> list[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _one(conn, sql: str):
    rows = _rows(conn, sql)
    assert len(rows) == 1, rows
    return rows[0] if len(rows[0]) > 1 else rows[0][0]


def _error_number(conn, sql: str) -> int:
    with pytest.raises(pymssql.Error) as caught, conn.cursor() as cursor:
        cursor.execute(sql)
        cursor.fetchall()
    return caught.value.args[0]


@pytest.fixture
def conn(pymssql_connect):
    return pymssql_connect(autocommit=True)


@pytest.fixture
def table(conn):
    """A fresh table name in dbo, dropped after the test."""
    name = f"coll_t{next(_names)}"
    yield name
    with conn.cursor() as cursor:
        cursor.execute(f"IF OBJECT_ID('dbo.{name}', 'U') IS NOT NULL DROP TABLE dbo.{name}")


def test_default_collation_string_functions_ignore_case(conn):
    # REPLACE/CHARINDEX/PATINDEX "perform comparisons based on the collation of the input";
    # the default SQL_Latin1_General_CP1_CI_AS is case-insensitive.
    assert _one(
        conn, "SELECT REPLACE(N'aXa', N'x', N'y'), CHARINDEX(N'B', N'abc'), PATINDEX(N'%B%', N'abc')"
    ) == (
        "aya",
        2,
        2,
    )


def test_width_insensitive_by_default_and_binary_is_exact(conn):
    # Without _WS, full-width and half-width forms are equal; a _BIN2 collation compares code points.
    assert _one(conn, "SELECT CASE WHEN N'ａ' = N'a' THEN 1 ELSE 0 END") == 1
    doubled = _one(conn, "SELECT REPLACE(N'x＂y\"', N'\"', N'\"\"')")
    assert doubled == 'x""y""'
    exact = _one(conn, "SELECT REPLACE(N'x＂y\"' COLLATE Latin1_General_100_BIN2, N'\"', N'\"\"')")
    assert exact == 'x＂y""'
    assert _one(conn, "SELECT CASE WHEN N'ａ' COLLATE Latin1_General_CI_AS_WS = N'a' THEN 1 ELSE 0 END") == 0


def test_case_sensitive_collation_sorts_lower_case_first(conn):
    assert _one(conn, "SELECT CASE WHEN N'a' COLLATE Latin1_General_CS_AS = N'A' THEN 1 ELSE 0 END") == 0
    assert _one(conn, "SELECT CASE WHEN N'a' COLLATE Latin1_General_CI_AS = N'A' THEN 1 ELSE 0 END") == 1
    ordered = _rows(
        conn,
        "SELECT x FROM (VALUES (N'B'), (N'b'), (N'A'), (N'a')) AS v(x) ORDER BY x COLLATE Latin1_General_CS_AS",
    )
    # "_CS ... lowercase letters sort ahead of their uppercase versions"
    assert [r[0] for r in ordered] == ["a", "A", "b", "B"]


def test_accent_sensitivity(conn):
    assert (
        _one(conn, "SELECT CASE WHEN N'café' COLLATE Latin1_General_CI_AI = N'CAFE' THEN 1 ELSE 0 END") == 1
    )
    assert (
        _one(conn, "SELECT CASE WHEN N'café' COLLATE Latin1_General_CI_AS = N'CAFE' THEN 1 ELSE 0 END") == 0
    )
    ordered = _rows(
        conn, "SELECT x FROM (VALUES (N'f'), (N'é'), (N'e')) AS v(x) ORDER BY x COLLATE Latin1_General_CI_AS"
    )
    assert [r[0] for r in ordered] == ["e", "é", "f"]  # linguistic, not code-point order


def test_binary_collations_group_and_sort_by_code_point(conn, table):
    with conn.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE dbo.{table} (id int PRIMARY KEY, bin nvarchar(10) COLLATE SQL_Latin1_General_CP850_BIN2,"
            " ci nvarchar(10))"
        )
        cursor.execute(
            f"INSERT INTO dbo.{table} VALUES (1, N'b', N'b'), (2, N'A', N'A'), (3, N'a', N'a'), (4, N'B', N'B')"
        )
    assert _rows(conn, f"SELECT bin FROM dbo.{table} ORDER BY bin") == [("A",), ("B",), ("a",), ("b",)]
    assert _one(conn, f"SELECT COUNT(DISTINCT bin) FROM dbo.{table}") == 4
    assert _one(conn, f"SELECT COUNT(*) FROM (SELECT ci FROM dbo.{table} GROUP BY ci) AS g") == 2
    assert _one(conn, f"SELECT COUNT(*) FROM dbo.{table} WHERE bin = N'a'") == 1
    assert _one(conn, f"SELECT COUNT(*) FROM dbo.{table} WHERE ci = N'a'") == 2


def test_japanese_kana_and_width_sensitivity(conn):
    def equal(left: str, right: str, collation: str) -> int:
        return _one(conn, f"SELECT CASE WHEN N'{left}' COLLATE {collation} = N'{right}' THEN 1 ELSE 0 END")

    # Without _KS hiragana equals katakana; without _WS half-width katakana equals full-width.
    assert equal("あ", "ア", "Japanese_CI_AS") == 1
    assert equal("ｱ", "ア", "Japanese_CI_AS") == 1
    assert equal("あ", "ア", "Japanese_CI_AS_KS") == 0
    assert equal("ｱ", "ア", "Japanese_CI_AS_KS") == 1
    assert equal("ｱ", "ア", "Japanese_CI_AS_KS_WS") == 0


def test_supplementary_characters_count_once_only_under_sc(conn):
    # Without an _SC collation a supplementary character is two UTF-16 code units to LEN.
    assert _one(conn, "SELECT LEN(N'😀'), LEN(N'😀' COLLATE Latin1_General_100_CI_AS_SC)") == (2, 1)
    assert _one(conn, "SELECT DATALENGTH(N'😀')") == 4


def test_column_and_view_collations_show_in_information_schema(conn, table):
    with conn.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE dbo.{table} (id int PRIMARY KEY, jp nvarchar(10) COLLATE japanese_ci_as,"
            " plain varchar(10), bin char(3) COLLATE Latin1_General_100_BIN2)"
        )
        cursor.execute(f"CREATE VIEW dbo.{table}_v AS SELECT jp, plain, bin, id FROM dbo.{table}")
    try:
        for name in (table, f"{table}_v"):
            rows = _rows(
                conn,
                "SELECT COLUMN_NAME, COLLATION_NAME FROM INFORMATION_SCHEMA.COLUMNS "
                f"WHERE TABLE_NAME = '{name}' ORDER BY ORDINAL_POSITION",
            )
            collations = {column: collation for column, collation in rows}
            assert collations["jp"] == "Japanese_CI_AS"  # SQL Server's spelling, whatever was written
            assert collations["plain"] == "SQL_Latin1_General_CP1_CI_AS"
            assert collations["bin"] == "Latin1_General_100_BIN2"
            assert collations["id"] is None
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP VIEW dbo.{table}_v")


def test_database_collation_is_the_default_for_its_columns_and_literals(conn):
    name = f"coll_db{next(_names)}"
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name} COLLATE Latin1_General_100_CS_AS")
    try:
        assert _one(conn, f"SELECT DATABASEPROPERTYEX('{name}', 'Collation')") == "Latin1_General_100_CS_AS"
        assert (
            _one(conn, "SELECT DATABASEPROPERTYEX('master', 'Collation')") == "SQL_Latin1_General_CP1_CI_AS"
        )
        assert _one(conn, "SELECT DATABASEPROPERTYEX('no_such_database', 'Collation')") is None
        with conn.cursor() as cursor:
            cursor.execute(f"USE {name}")
            cursor.execute("CREATE TABLE dbo.t (v nvarchar(5))")
        # Literals take the current database's collation (coercible-default): case-sensitive here.
        assert _one(conn, "SELECT CASE WHEN N'a' = N'A' THEN 1 ELSE 0 END") == 0
        column = _one(conn, "SELECT COLLATION_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 't'")
        assert column == "Latin1_General_100_CS_AS"
    finally:
        with conn.cursor() as cursor:
            cursor.execute("USE master")
            cursor.execute(f"DROP DATABASE {name}")


def test_collationproperty_and_serverproperty(conn):
    # COLLATIONPROPERTY's own example: Traditional_Spanish_CS_AS_KS_WS has code page 1252.
    assert _one(conn, "SELECT COLLATIONPROPERTY('Traditional_Spanish_CS_AS_KS_WS', 'CodePage')") == 1252
    assert _one(
        conn,
        "SELECT COLLATIONPROPERTY('SQL_Latin1_General_CP850_BIN2', 'CodePage'),"
        " COLLATIONPROPERTY('SQL_Latin1_General_CP850_BIN2', 'ComparisonStyle'),"
        " COLLATIONPROPERTY('Japanese_CI_AS', 'CodePage'), COLLATIONPROPERTY('Japanese_CI_AS', 'LCID'),"
        " COLLATIONPROPERTY('Latin1_General_100_CI_AS_SC', 'Version'),"
        " COLLATIONPROPERTY('SQL_Latin1_General_CP1_CI_AS', 'ComparisonStyle'),"
        " COLLATIONPROPERTY('No_Such_Collation', 'CodePage')",
    ) == (850, 0, 932, 1041, 2, 196609, None)
    assert _one(conn, "SELECT SERVERPROPERTY('Collation')") == "SQL_Latin1_General_CP1_CI_AS"


def test_collation_precedence_examples(conn, table):
    # The precedence page's own examples, on its TestTab.
    with conn.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE dbo.{table} (id int, GreekCol nvarchar(10) collate greek_ci_as,"
            " LatinCol nvarchar(10) collate latin1_general_cs_as)"
        )
        cursor.execute(f"INSERT dbo.{table} VALUES (1, N'A', N'a')")
    assert _error_number(conn, f"SELECT * FROM dbo.{table} WHERE GreekCol = LatinCol") == 468
    assert _rows(conn, f"SELECT * FROM dbo.{table} WHERE GreekCol = LatinCol COLLATE greek_ci_as") == [
        (1, "A", "a")
    ]
    case = "(CASE WHEN id > 10 THEN GreekCol ELSE LatinCol END)"
    assert _error_number(conn, f"SELECT {case} FROM dbo.{table}") == 451
    assert _error_number(conn, f"SELECT PATINDEX({case}, 'a') FROM dbo.{table}") == 446
    assert _rows(conn, f"SELECT {case} COLLATE Latin1_General_CI_AS FROM dbo.{table}") == [("a",)]
    # Concatenation is collation sensitive; two explicit collations conflict as well.
    assert _error_number(conn, f"SELECT CONCAT(GreekCol, LatinCol) FROM dbo.{table}") == 468
    assert _error_number(conn, f"SELECT GreekCol + LatinCol FROM dbo.{table}") == 468
    both = "SELECT 1 WHERE N'a' COLLATE Latin1_General_CS_AS = N'a' COLLATE Latin1_General_CI_AS"
    assert _error_number(conn, both) == 468
    # A plain SELECT of the two columns is fine: no operation combines them.
    assert _rows(conn, f"SELECT GreekCol, LatinCol FROM dbo.{table}") == [("A", "a")]


def test_conflict_message_names_both_collations(conn, table):
    with conn.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE dbo.{table} (a nvarchar(5) COLLATE Latin1_General_CI_AS, b nvarchar(5) COLLATE Latin1_General_BIN2)"
        )
    with pytest.raises(pymssql.Error) as caught, conn.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM dbo.{table} WHERE a = b")
    message = caught.value.args[1].decode() if isinstance(caught.value.args[1], bytes) else str(caught.value)
    assert (
        'Cannot resolve the collation conflict between "Latin1_General_BIN2" and "Latin1_General_CI_AS"'
        " in the equal to operation." in message
    )


def test_invalid_collation_is_error_448(conn):
    assert _error_number(conn, "SELECT N'a' COLLATE No_Such_Collation_CI_AS") == 448
    assert _error_number(conn, "CREATE TABLE dbo.never (v nvarchar(3) COLLATE Latin1_General_XX)") == 448


def test_like_patterns_follow_the_collation(conn):
    def like(value: str, pattern: str, collation: str = "") -> int:
        collate = f" COLLATE {collation}" if collation else ""
        return _one(conn, f"SELECT CASE WHEN N'{value}'{collate} LIKE N'{pattern}' THEN 1 ELSE 0 END")

    assert like("abc", "[a-c]B%") == 1
    assert like("abc", "[a-c]B%", "Latin1_General_CS_AS") == 0
    assert like("a_c", "a!_c' ESCAPE N'!") == 1
    assert like("abc", "a!_c' ESCAPE N'!") == 0
    assert like("Ábc", "a%", "Latin1_General_CI_AI") == 1
    assert like("Ábc", "a%", "Latin1_General_CI_AS") == 0


def test_patterns_known_only_per_row_follow_the_collation(conn):
    rows = _rows(
        conn,
        "SELECT REPLACE(t, p, N'!'), CHARINDEX(p, t), PATINDEX(N'%' + p + N'%', t)"
        " FROM (VALUES (N'aXa', N'x'), (N'aXa' COLLATE Latin1_General_BIN2, N'x')) AS v(t, p)",
    )
    assert rows[0] == ("a!a", 2, 2)


def test_binary_line_expression_keeps_every_character(conn, table):
    # Issue 12's collation-proof field: binary before escaping, whatever the column's collation.
    values = ['a＂b"c', 'ａ\u0301"', 'emoji 😀"', "Ａｂ"]
    with conn.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE dbo.{table} (id int PRIMARY KEY, sap nvarchar(20) COLLATE SQL_Latin1_General_CP850_BIN2,"
            " jp nvarchar(20) COLLATE Japanese_CI_AS, ai nvarchar(20) COLLATE Latin1_General_CI_AI,"
            " dflt nvarchar(20))"
        )
        for key, value in enumerate(values):
            cursor.execute(
                f"INSERT INTO dbo.{table} VALUES (%d, %s, %s, %s, %s)", (key, value, value, value, value)
            )
    fields = ", N',', ".join(
        f"""N'"', REPLACE(CAST({c} AS nvarchar(20)) COLLATE Latin1_General_100_BIN2, N'"', N'""'), N'"'"""
        for c in ("sap", "jp", "ai", "dflt")
    )
    lines = _rows(conn, f"SELECT CONCAT({fields}) FROM dbo.{table} ORDER BY id")
    for (line,), value in zip(lines, values, strict=True):
        quoted = '"' + value.replace('"', '""') + '"'
        assert line == ",".join([quoted] * 4)


def test_update_and_delete_compare_under_the_column_collation(conn, table):
    with conn.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE dbo.{table} (id int PRIMARY KEY, ci nvarchar(10), bin nvarchar(10) COLLATE Latin1_General_100_BIN2)"
        )
        cursor.execute(f"INSERT INTO dbo.{table} VALUES (1, N'Abc', N'Abc'), (2, N'abc  ', N'abc')")
        cursor.execute(f"UPDATE dbo.{table} SET ci = N'set' WHERE ci = N'ABC'")
        assert cursor.rowcount == 2  # case-insensitive, trailing spaces ignored
        cursor.execute(f"DELETE FROM dbo.{table} WHERE bin = N'abc'")
        assert cursor.rowcount == 1  # binary: only the lower-case row
    assert _rows(conn, f"SELECT id, ci, bin FROM dbo.{table}") == [(1, "set", "Abc")]


def test_union_checks_collations_and_union_all_does_not(conn, table):
    with conn.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE dbo.{table} (g nvarchar(5) COLLATE Greek_CI_AS, l nvarchar(5) COLLATE Latin1_General_CS_AS)"
        )
        cursor.execute(f"INSERT INTO dbo.{table} VALUES (N'a', N'b')")
    assert _error_number(conn, f"SELECT g FROM dbo.{table} UNION SELECT l FROM dbo.{table}") == 468
    assert sorted(_rows(conn, f"SELECT g FROM dbo.{table} UNION ALL SELECT l FROM dbo.{table}")) == [
        ("a",),
        ("b",),
    ]


def test_binary_replace_stays_duckdbs_native_replace():
    # The sync reads 1M rows through REPLACE: under a binary collation it must cost what DuckDB's
    # replace() costs, and under the default collation no regular expression or Python UDF.
    engine = Engine()
    session = Session("demo", "master", 51)
    list(engine.execute_batch(session, "CREATE TABLE dbo.r (x nvarchar(20))"))

    def duckdb_sql(select: str) -> str:
        return engine._translate_query(session, translate.parse(select)[0]).sql.upper()

    binary = duckdb_sql(
        "SELECT REPLACE(CAST(x AS nvarchar(20)) COLLATE Latin1_General_100_BIN2, N'\"', N'\"\"') FROM dbo.r"
    )
    assert binary.count("REPLACE(") == 1 and "REGEXP" not in binary and "MS_COLLATE" not in binary
    default = duckdb_sql("SELECT REPLACE(x, N'\"', N'\"\"') FROM dbo.r")
    assert "REGEXP" not in default and "MS_COLLATE" not in default
