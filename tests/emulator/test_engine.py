"""The emulator's SQL engine on its own (no sockets): statements, declared types, edge values, errors."""

from __future__ import annotations

import datetime as dt
import types
import uuid
from decimal import Decimal

import pytest

from devtools.mssql_emulator.engine import Engine
from devtools.mssql_emulator.results import (
    DateTime2,
    EnvChange,
    ResultSet,
    RowCount,
    Session,
    SqlServerError,
    StatementDone,
)


@pytest.fixture(scope="module")
def engine():
    return Engine()


@pytest.fixture
def session():
    return Session(user="demo", database="ProcessStatus", spid=57)


def run(engine, session, sql):
    """All outcomes of a batch, with result rows read out."""
    outcomes = []
    for outcome in engine.execute_batch(session, sql):
        if isinstance(outcome, ResultSet):
            outcome.rows = list(outcome.rows)
        outcomes.append(outcome)
    return outcomes


def query(engine, session, sql) -> ResultSet:
    results = [o for o in run(engine, session, sql) if isinstance(o, ResultSet)]
    assert len(results) == 1
    return results[0]


def error_of(engine, session, sql) -> SqlServerError:
    with pytest.raises(SqlServerError) as caught:
        run(engine, session, sql)
    return caught.value


TYPED_TABLE = """
CREATE TABLE dbo.typed (
    id int NOT NULL,
    name nvarchar(20) NULL,
    code nchar(3) NULL,
    ascii_code char(4) NULL,
    amount decimal(38,10) NULL,
    qty decimal(15,3) NULL,
    changed datetime2(7) NULL,
    legacy datetime NULL,
    day date NULL,
    flag bit NULL,
    big bigint NULL,
    ratio float NULL,
    guid uniqueidentifier NULL,
    CONSTRAINT PK_typed PRIMARY KEY (id)
)
"""


@pytest.fixture(scope="module")
def typed(engine):
    owner = Session(user="demo", database="ProcessStatus", spid=1)
    run(engine, owner, TYPED_TABLE)
    run(
        engine,
        owner,
        "INSERT INTO dbo.typed (id, name, code, ascii_code, amount, qty, changed, legacy, day, flag, big, ratio, guid) VALUES "
        "(1, N'Müller 日本 😀', N'DE', 'ab', 9999999999999999999999999999.9999999999, 12345678901.123, "
        "'9999-12-31 23:59:59.9999999', '2026-11-29 10:00:00.002', '2026-11-29', 1, 9223372036854775807, 0.5, "
        "'6F9619FF-8B86-D011-B42D-00C04FC964FF'), "
        "(2, N'', NULL, NULL, -9999999999999999999999999999.9999999999, -0.001, '0001-01-01', NULL, NULL, 0, NULL, NULL, NULL), "
        "(3, NULL, N'X', NULL, 0, 0, '2026-11-29 13:45:01.1234567', NULL, NULL, NULL, NULL, NULL, NULL)",
    )
    return "dbo.typed"


def test_base_table_columns_keep_their_declared_types(engine, session, typed):
    result = query(engine, session, "SELECT * FROM dbo.typed ORDER BY id")
    declared = {c.name: (c.sql_type, c.length, c.precision, c.scale) for c in result.columns}
    assert declared["name"] == ("nvarchar", 20, None, None)
    assert declared["code"] == ("nchar", 3, None, None)
    assert declared["amount"] == ("decimal", None, 38, 10)
    assert declared["changed"] == ("datetime2", None, None, 7)
    assert declared["legacy"][0] == "datetime"
    assert declared["flag"][0] == "bit"
    assert result.columns[0].nullable is False


def test_edge_values_round_trip_exactly(engine, session, typed):
    rows = query(engine, session, "SELECT * FROM dbo.typed ORDER BY id").rows
    first, second, third = rows
    assert first[1] == "Müller 日本 😀"
    assert first[2] == "DE " and first[3] == "ab  "  # fixed width comes out padded
    assert first[4] == Decimal("9999999999999999999999999999.9999999999")
    assert second[4] == Decimal("-9999999999999999999999999999.9999999999")
    assert first[5] == Decimal("12345678901.123")
    assert first[6] == DateTime2(dt.datetime(9999, 12, 31, 23, 59, 59, 999999), 9)
    assert second[6] == DateTime2(dt.datetime(1, 1, 1), 0)
    assert third[6] == DateTime2(dt.datetime(2026, 11, 29, 13, 45, 1, 123456), 7)
    assert first[7] == dt.datetime(2026, 11, 29, 10, 0, 0, 3333)  # 1/300 s: .002 rounds to .003
    assert first[8] == dt.date(2026, 11, 29)
    assert first[9] is True and second[9] is False and third[9] is None
    assert first[10] == 9223372036854775807
    assert first[12] == uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FC964FF")
    assert second[1] == "" and third[1] is None  # '' is not NULL


def test_rows_are_streamed_lazily(engine, session, typed):
    result = next(engine.execute_batch(session, "SELECT id FROM dbo.typed"))
    assert isinstance(result.rows, types.GeneratorType)
    assert sorted(r[0] for r in result.rows) == [1, 2, 3]


def test_casts_and_functions_get_sql_server_types(engine, session, typed):
    result = query(
        engine,
        session,
        "SELECT CAST(id AS nvarchar(5)) AS s, CONVERT(varchar(8), day, 112) AS dats, 7/2 AS q, "
        "ISNULL(name, N'none') AS n, LEN(N'ab  ') AS l, LTRIM(RTRIM(N'  x  ')) AS t, N'ü' AS lit, "
        "CAST(qty AS decimal(18,2)) AS d FROM dbo.typed WHERE id = 1",
    )
    columns = {c.name: c for c in result.columns}
    assert (columns["s"].sql_type, columns["s"].length) == ("nvarchar", 5)
    assert columns["q"].sql_type == "int"
    assert (columns["d"].sql_type, columns["d"].precision, columns["d"].scale) == ("decimal", 18, 2)
    assert result.rows == [("1", "20261129", 3, "Müller 日本 😀", 2, "x", "ü", Decimal("12345678901.12"))]


def test_view_keeps_base_types_and_information_schema_describes_it(engine, session, typed):
    run(engine, session, "CREATE OR ALTER VIEW dbo.vTyped AS SELECT id, code, changed, amount FROM dbo.typed")
    result = query(engine, session, "SELECT * FROM ProcessStatus.dbo.vTyped WHERE id = 1")
    assert [c.sql_type for c in result.columns] == ["int", "nchar", "datetime2", "decimal"]
    assert result.rows[0][1] == "DE "
    info = query(
        engine,
        session,
        "SELECT COLUMN_NAME, ORDINAL_POSITION, IS_NULLABLE, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, "
        "NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION FROM ProcessStatus.INFORMATION_SCHEMA.COLUMNS "
        "WHERE TABLE_SCHEMA = 'dbo' AND TABLE_NAME = 'vTyped' ORDER BY ORDINAL_POSITION",
    )
    assert info.rows == [
        ("id", 1, "NO", "int", None, 10, 0, None),
        ("code", 2, "YES", "nchar", 3, None, None, None),
        ("changed", 3, "YES", "datetime2", None, None, None, 7),
        ("amount", 4, "YES", "decimal", None, 38, 10, None),
    ]
    views = query(
        engine, session, "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.VIEWS WHERE TABLE_NAME = 'vTyped'"
    )
    assert views.rows == [("vTyped",)]


def test_max_length_is_minus_one_in_information_schema(engine, session):
    run(engine, session, "CREATE TABLE dbo.notes (body nvarchar(max), raw varbinary(max))")
    info = query(
        engine,
        session,
        "SELECT CHARACTER_MAXIMUM_LENGTH FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'notes' "
        "ORDER BY ORDINAL_POSITION",
    )
    assert info.rows == [(-1,), (-1,)]


def test_errors_are_worded_like_sql_server(engine, session, typed):
    missing = error_of(engine, session, "SELECT * FROM dbo.nope")
    assert (missing.number, missing.severity, missing.message) == (208, 16, "Invalid object name 'dbo.nope'.")
    column = error_of(engine, session, "SELECT x FROM dbo.typed")
    assert (column.number, column.message) == (207, "Invalid column name 'x'.")
    syntax = error_of(engine, session, "SELECT FROM WHERE")
    assert (syntax.number, syntax.severity) == (102, 15)
    duplicate = error_of(engine, session, "INSERT INTO dbo.typed (id) VALUES (1)")
    assert (duplicate.number, duplicate.severity) == (2627, 14)
    assert duplicate.message == (
        "Violation of PRIMARY KEY constraint 'PK_typed'. Cannot insert duplicate key in object "
        "'dbo.typed'. The duplicate key value is (1)."
    )
    assert error_of(engine, session, "SELECT 1/0").number == 8134
    assert error_of(engine, session, "SELECT CAST('abc' AS int)").number == 245
    assert error_of(engine, session, "INSERT INTO dbo.typed (id, day) VALUES (50, 'nope')").number == 241
    assert error_of(engine, session, "SELECT CAST('x1' AS decimal(10,2))").number == 8114
    assert error_of(engine, session, "USE NoSuchDb").number == 911
    assert error_of(engine, session, TYPED_TABLE).number == 2714


def test_earlier_statements_complete_before_the_failing_one(engine, session):
    outcomes = engine.execute_batch(session, "SELECT 1 AS a; SELECT * FROM dbo.missing_table")
    first = next(outcomes)
    assert list(first.rows) == [(1,)]
    with pytest.raises(SqlServerError) as caught:
        next(outcomes)
    assert caught.value.number == 208


def test_session_statements(engine, session):
    outcomes = run(
        engine,
        session,
        "SET NOCOUNT ON; SET ANSI_NULLS ON SET TEXTSIZE 2147483647\nSET LOCK_TIMEOUT 5000 "
        "USE tempdb; SELECT DB_NAME() AS db\nGO\nBEGIN TRAN; COMMIT",
    )
    assert EnvChange("database", "ProcessStatus", "tempdb") in outcomes
    assert [o.rows for o in outcomes if isinstance(o, ResultSet)] == [[("tempdb",)]]
    assert session.database == "tempdb"
    assert all(isinstance(o, (StatementDone, EnvChange, ResultSet)) for o in outcomes)


def test_server_facts(engine, session):
    row = query(
        engine,
        session,
        "SELECT @@VERSION, @@SPID, SERVERPROPERTY('ProductVersion'), SCHEMA_NAME(), SUSER_SNAME()",
    ).rows[0]
    assert row[0].startswith("Microsoft SQL Server 2022") and "(emulated)" in row[0]
    assert row[1:] == (57, "16.0.1000.6", "dbo", "demo")


def test_if_object_id_drop_and_three_part_names(engine, session):
    run(engine, session, "CREATE SCHEMA staging")
    run(engine, session, "CREATE TABLE staging.[Items] (k int PRIMARY KEY, v nvarchar(5))")
    counts = run(
        engine, session, "INSERT INTO ProcessStatus.staging.items (k, v) VALUES (1, N'a'), (2, N'b')"
    )
    assert counts == [RowCount(2)]
    assert query(engine, session, "SELECT COUNT(*) FROM STAGING.ITEMS").rows == [(2,)]
    run(engine, session, "IF OBJECT_ID('staging.Items', 'U') IS NOT NULL DROP TABLE staging.Items")
    assert query(engine, session, "SELECT OBJECT_ID('staging.Items')").rows == [(None,)]
    run(engine, session, "DROP VIEW IF EXISTS staging.NoSuchView; DROP SCHEMA staging")


def test_update_delete_truncate_count_rows(engine, session):
    run(engine, session, "CREATE TABLE dbo.counts (k int PRIMARY KEY, stamp datetime2(7), v nvarchar(3))")
    run(engine, session, "INSERT INTO dbo.counts (k, v) VALUES (1, N'a'), (2, N'b'), (3, N'c')")
    assert run(
        engine, session, "UPDATE dbo.counts SET stamp = '2026-01-02 03:04:05.1234567' WHERE k > 1"
    ) == [RowCount(2)]
    stamp = query(engine, session, "SELECT stamp FROM dbo.counts WHERE k = 2").rows[0][0]
    assert stamp == DateTime2(dt.datetime(2026, 1, 2, 3, 4, 5, 123456), 7)
    assert run(engine, session, "DELETE FROM dbo.counts WHERE k = 1") == [RowCount(1)]
    assert run(engine, session, "TRUNCATE TABLE dbo.counts") == [StatementDone()]
    assert query(engine, session, "SELECT COUNT(*) FROM dbo.counts").rows == [(0,)]
    assert error_of(engine, session, "INSERT INTO dbo.counts (k, v) VALUES (9, N'toolong')").number == 2628


def test_fast_insert_keeps_awkward_literals(engine, session):
    run(engine, session, "CREATE TABLE dbo.awkward (k int PRIMARY KEY, v nvarchar(40))")
    values = ", ".join(f"({i}, N'r{i}')" for i in range(3, 1000))
    sql = f"INSERT INTO [dbo].[awkward] ([k], [v]) VALUES (1, N'it''s, N''x), (y'), (2, '  '), {values}"
    assert run(engine, session, sql) == [RowCount(999)]
    rows = query(engine, session, "SELECT v FROM dbo.awkward WHERE k < 3 ORDER BY k").rows
    assert rows == [("it's, N'x), (y",), ("  ",)]


def test_fast_insert_leaves_anything_but_plain_literals_to_the_general_path(engine, session):
    from devtools.mssql_emulator.bulk_insert import values_as_csv

    assert values_as_csv("(1,N'a''b'),\n( -2.5e3 , NULL );") == (b"1,'a''b'\n-2.5e3,NULL", 2)
    for body in (
        "(1 2)",
        "(1+2)",
        "(@v)",
        "(GETDATE())",
        "((1))",
        "(1,,2)",
        "(null)",
        "('a' 'b')",
        "(NN'x')",
    ):
        assert values_as_csv(body) is None, body
    run(engine, session, "CREATE TABLE dbo.plain (k int, v nvarchar(10))")
    assert run(engine, session, "INSERT INTO dbo.plain VALUES (1, null), (2, N'x'), (3 , 'y' )") == [
        RowCount(3)
    ]
    rows = query(engine, session, "SELECT k, v FROM dbo.plain ORDER BY k").rows
    assert rows == [(1, None), (2, "x"), (3, "y")]
    # A row of the wrong width passes the text checks; the CSV reader refuses it, so the
    # general path reports SQL Server's error.
    assert error_of(engine, session, "INSERT INTO dbo.plain VALUES (4, N'a'), (5)").number == 109
    assert error_of(engine, session, "INSERT INTO dbo.plain VALUES (4, N'a', 1)").number == 110
    assert error_of(engine, session, "INSERT INTO dbo.plain VALUES (4 5, N'a')").number == 102


def test_more_than_1000_rows_in_values_is_refused(engine, session):
    run(engine, session, "CREATE TABLE dbo.limits (k int)")
    values = ", ".join(f"({i})" for i in range(1001))
    error = error_of(engine, session, f"INSERT INTO dbo.limits (k) VALUES {values}")
    assert error.number == 10738
    assert query(engine, session, "SELECT COUNT(*) FROM dbo.limits").rows == [(0,)]


def test_cache_key_follows_data_and_time(engine, session, typed):
    first = query(engine, session, "SELECT id FROM dbo.typed")
    again = query(engine, session, "SELECT id FROM dbo.typed")
    assert first.cache_key is not None and first.cache_key == again.cache_key
    run(engine, session, "UPDATE dbo.typed SET ratio = 1.5 WHERE id = 3")
    assert query(engine, session, "SELECT id FROM dbo.typed").cache_key != first.cache_key
    assert query(engine, session, "SELECT GETDATE()").cache_key is None


@pytest.mark.parametrize(
    "volatile",
    [
        "RAND()",
        "RAND(7)",
        "NEWID()",
        "CAST(NEWID() AS nvarchar(36))",
        "GETDATE()",
        "SYSDATETIME()",
        "SYSUTCDATETIME()",
        "CURRENT_TIMESTAMP",
        "@@SPID",
        "@@TRANCOUNT",
        "@@ROWCOUNT",
    ],
)
def test_volatile_functions_are_never_cacheable(engine, session, typed, volatile):
    # The TDS side replays a result with a cache key; RAND() replayed would repeat its value.
    assert query(engine, session, f"SELECT id, {volatile} AS v FROM dbo.typed").cache_key is None
    assert query(engine, session, f"SELECT {volatile} AS v").cache_key is None
    assert query(engine, session, "SELECT id FROM dbo.typed").cache_key is not None


def test_cacheable_query_runs_when_its_first_row_is_asked_for(engine, session):
    run(engine, session, "CREATE TABLE dbo.divisors (k int)")
    run(engine, session, "INSERT INTO dbo.divisors VALUES (2), (0)")
    # A cache hit never asks for a row, so the query must not have run yet...
    result = next(engine.execute_batch(session, "SELECT 10 / k AS q FROM dbo.divisors"))
    assert result.cache_key is not None
    # ...and its errors still arrive as SQL Server's, with the first row.
    with pytest.raises(SqlServerError) as caught:
        list(result.rows)
    assert caught.value.number == 8134
    # Not cacheable: the query runs at the statement, as before.
    with pytest.raises(SqlServerError) as caught:
        next(engine.execute_batch(session, "SELECT 10 / k + RAND() AS q FROM dbo.divisors"))
    assert caught.value.number == 8134


def test_cache_key_is_withdrawn_when_data_changes_before_the_query_runs(engine, session):
    run(engine, session, "CREATE TABLE dbo.moving (k int)")
    run(engine, session, "INSERT INTO dbo.moving VALUES (1)")
    result = next(engine.execute_batch(session, "SELECT k FROM dbo.moving"))
    assert result.cache_key is not None
    run(engine, Session(user="demo", database="ProcessStatus", spid=58), "INSERT INTO dbo.moving VALUES (2)")
    assert sorted(result.rows) == [(1,), (2,)]
    assert result.cache_key is None  # these rows are not the ones the key named


def test_string_concatenation_comparison_and_rowcount(engine, session):
    run(engine, session, "CREATE TABLE dbo.people (first nvarchar(10), last nvarchar(10), stamp datetime)")
    run(engine, session, "INSERT INTO dbo.people VALUES (N'Ada', N'Lovelace', '2026-11-29T23:59:59.999')")
    assert query(engine, session, "SELECT @@ROWCOUNT").rows == [(1,)]
    result = query(engine, session, "SELECT first + N' ' + last AS full_name, stamp FROM dbo.people")
    assert (result.columns[0].sql_type, result.columns[0].length) == ("nvarchar", 21)
    # datetime's 1/300 s rounds .999 up into the next day, as SQL Server stores it.
    assert result.rows == [("Ada Lovelace", dt.datetime(2026, 11, 30))]
    # The default collation is case-insensitive.
    assert query(engine, session, "SELECT COUNT(*) FROM dbo.people WHERE last = N'LOVELACE'").rows == [(1,)]


def test_a_streaming_select_does_not_block_other_sessions(engine, session):
    run(engine, session, "CREATE TABLE dbo.many (k int)")
    values = ", ".join(f"({i})" for i in range(1000))
    for _ in range(10):
        run(engine, session, f"INSERT INTO dbo.many (k) VALUES {values}")
    reader = next(engine.execute_batch(session, "SELECT a.k FROM dbo.many a CROSS JOIN dbo.many b"))
    first = next(reader.rows)  # the reader holds an open, mostly unread result
    other = Session(user="demo", database="ProcessStatus", spid=58)
    assert run(engine, other, "INSERT INTO dbo.many (k) VALUES (-1)") == [RowCount(1)]
    assert query(engine, other, "SELECT COUNT(*) FROM dbo.many").rows == [(10001,)]
    assert isinstance(first[0], int)
    reader.rows.close()


def test_convert_styles_keep_every_100ns_digit(engine, session):
    """The sync reads datetime2/datetimeoffset/time through CONVERT styles 121, 127 and 114."""
    run(
        engine,
        session,
        "CREATE TABLE dbo.ticks (a datetime2(7), b datetime2(3), c time(7), d datetimeoffset(7))",
    )
    run(
        engine,
        session,
        "INSERT INTO dbo.ticks VALUES ('9999-12-31 23:59:59.9999999', '2026-11-29 10:11:12.345', "
        "'13:45:01.1234567', '2026-11-29 12:34:56.1234567 +01:00'), "
        "('0001-01-01', '2026-11-29', '00:00', '2026-11-29T12:00:00Z')",
    )
    rows = query(
        engine,
        session,
        "SELECT CONVERT(varchar(27), [a], 121) AS [a], CONVERT(varchar(27), b, 121), "
        "CONVERT(varchar(34), d, 127), CONVERT(varchar(16), c, 114) FROM dbo.ticks",
    ).rows
    assert rows == [
        (
            "9999-12-31 23:59:59.9999999",
            "2026-11-29 10:11:12.345",
            "2026-11-29T12:34:56.1234567+01:00",
            "13:45:01:123",
        ),
        (
            "0001-01-01 00:00:00.0000000",
            "2026-11-29 00:00:00.000",
            "2026-11-29T12:00:00.0000000Z",
            "00:00:00:000",
        ),
    ]


def test_less_common_types_round_trip(engine, session):
    run(
        engine,
        session,
        "CREATE TABLE dbo.misc (b varbinary(max), m money, r real, s smallint, t tinyint, "
        "tm time(7), o datetimeoffset(7), f float)",
    )
    run(
        engine,
        session,
        "INSERT INTO dbo.misc VALUES (0x0102FF, 922337203685477.5807, 1.5, -32768, 255, "
        "'23:59:59.9999999', '9999-12-31 23:59:59.9999999 +14:00', 1.7976931348623157E+308)",
    )
    result = query(engine, session, "SELECT * FROM dbo.misc")
    assert [c.sql_type for c in result.columns] == [
        "varbinary",
        "money",
        "real",
        "smallint",
        "tinyint",
        "time",
        "datetimeoffset",
        "float",
    ]
    b, m, r, s, t, tm, o, f = result.rows[0]
    assert (b, m, r, s, t, f) == (
        b"\x01\x02\xff",
        Decimal("922337203685477.5807"),
        1.5,
        -32768,
        255,
        1.7976931348623157e308,
    )
    assert (tm.value, tm.ticks) == (dt.time(23, 59, 59, 999999), 9)
    assert o.value == dt.datetime(
        9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=14))
    )
    assert o.ticks == 9
    overflow = error_of(engine, session, "SELECT CAST(300 AS tinyint)")
    assert (overflow.number, overflow.message) == (
        220,
        "Arithmetic overflow error for data type tinyint, value = 300.",
    )


def test_unseparated_iso_dates_are_accepted(engine, session):
    run(engine, session, "CREATE TABLE dbo.dates (a date, b datetime, c datetime2(7))")
    run(engine, session, "INSERT INTO dbo.dates VALUES ('20261129', '20261129 10:00:00', '20261129')")
    row = query(engine, session, "SELECT a, b, c, CAST('20261130' AS date) FROM dbo.dates").rows[0]
    assert row == (
        dt.date(2026, 11, 29),
        dt.datetime(2026, 11, 29, 10),
        DateTime2(dt.datetime(2026, 11, 29)),
        dt.date(2026, 11, 30),
    )


def test_statements_without_semicolons_and_undeclared_variables(engine, session):
    outcomes = run(
        engine,
        session,
        "CREATE TABLE dbo.loose (a int) INSERT INTO dbo.loose VALUES (1) "
        "INSERT INTO dbo.loose SELECT a + 1 FROM dbo.loose SELECT COUNT(*) FROM dbo.loose",
    )
    assert outcomes[:3] == [StatementDone(), RowCount(1), RowCount(1)]
    assert outcomes[3].rows == [(2,)]
    undeclared = error_of(engine, session, "SELECT @nope")
    assert (undeclared.number, undeclared.message) == (137, 'Must declare the scalar variable "@nope".')
