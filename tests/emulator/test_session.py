"""Session-level T-SQL through pymssql: scalar variables, application locks, SET ROWCOUNT,
WAITFOR DELAY; behaviour from the Microsoft pages cited in variables.py, app_locks.py and engine.py."""

from __future__ import annotations

import datetime as dt
import decimal
import time
import uuid

import pymssql
import pytest


def _rows(conn, sql: str):
    cursor = conn.cursor()
    cursor.execute(sql)
    return cursor.fetchall()


def _error_number(conn, sql: str) -> int:
    with pytest.raises(pymssql.DatabaseError) as caught:
        conn.cursor().execute(sql)
    return caught.value.args[0]


def test_declare_set_and_read_keep_the_declared_type(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    rows = _rows(
        conn,
        "DECLARE @i int = 5, @s nvarchar(10) = N'ä', @d decimal(9,2), @t datetime2 = '2024-01-02 03:04:05.1234567';"
        "SET @i += 2; SET @d = 1.005; SELECT @i, @s + N'x', @d, CONVERT(varchar(27), @t, 121), @i / 2",
    )
    assert rows == [(7, "äx", decimal.Decimal("1.01"), "2024-01-02 03:04:05.1234567", 3)]


def test_select_assigns_the_last_row_and_leaves_the_variable_when_none(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    t = f"vars_{uuid.uuid4().hex[:8]}"
    conn.cursor().execute(f"CREATE TABLE {t} (k int, n nvarchar(5)); INSERT {t} VALUES (1, N'a'), (2, N'b')")
    rows = _rows(
        conn,
        f"DECLARE @k int = 0, @n nvarchar(5); SELECT @k = k, @n = n FROM {t} ORDER BY k;"
        f"SELECT @k = k FROM {t} WHERE k > 5; SELECT @k, @n",
    )
    assert rows == [(2, "b")]


def test_variables_drive_if_and_where(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    assert _rows(conn, "DECLARE @n int = 3; IF @n > 2 SELECT 'big' ELSE SELECT 'small'") == [("big",)]
    t = f"vw_{uuid.uuid4().hex[:8]}"
    conn.cursor().execute(f"CREATE TABLE {t} (n nvarchar(10)); INSERT {t} VALUES (N'a'), (N'b')")
    assert _rows(conn, f"DECLARE @name sysname = N'b'; SELECT n FROM {t} WHERE n = @name") == [("b",)]


def test_an_undeclared_variable_is_137_and_scope_is_the_batch(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    assert _error_number(conn, "SELECT @nowhere") == 137
    conn.cursor().execute("DECLARE @x int = 1")
    assert _error_number(conn, "SELECT @x") == 137


def test_app_locks_are_exclusive_between_sessions(pymssql_connect):
    first, second = pymssql_connect(autocommit=True), pymssql_connect(autocommit=True)
    resource = f"lock_{uuid.uuid4().hex[:8]}"
    take = (
        f"DECLARE @r int; EXEC @r = sp_getapplock @Resource = '{resource}', @LockMode = 'Exclusive', "
        "@LockOwner = 'Session', @LockTimeout = 200; SELECT @r"
    )
    release = f"DECLARE @r int; EXEC @r = sp_releaseapplock @Resource = '{resource}', @LockOwner = 'Session'; SELECT @r"
    assert _rows(first, take) == [(0,)]
    assert _rows(second, take) == [(-1,)]
    assert _rows(second, release) == [(-999,)]
    assert _rows(first, release) == [(0,)]
    assert _rows(second, take) == [(0,)]
    assert _rows(second, release) == [(0,)]


def test_datetime_variable_round_trip(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    assert _rows(conn, "DECLARE @d date = '2024-02-29'; SELECT DATEADD(day, 1, @d)") == [
        (dt.date(2024, 3, 1),)
    ]


def test_set_rowcount_limits_rows_until_set_back_to_zero(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    t = f"rc_{uuid.uuid4().hex[:8]}"
    conn.cursor().execute(f"CREATE TABLE {t} (k int); INSERT {t} VALUES (1), (2), (3)")
    conn.cursor().execute("SET ROWCOUNT 2")
    assert _rows(conn, f"SELECT k FROM {t} ORDER BY k DESC") == [(3,), (2,)]
    conn.cursor().execute("SET ROWCOUNT 0")
    assert _rows(conn, f"SELECT k FROM {t} ORDER BY k DESC") == [(3,), (2,), (1,)]


def test_waitfor_delay_waits_and_attention_cancels_it(pymssql_connect, pytds_connect):
    conn = pymssql_connect(autocommit=True)
    started = time.perf_counter()
    conn.cursor().execute("WAITFOR DELAY '00:00:00.300'")
    assert time.perf_counter() - started >= 0.3
    # python-tds sends ATTENTION when its timeout expires; the connection stays usable.
    slow = pytds_connect(timeout=1)
    started = time.perf_counter()
    with pytest.raises(Exception) as caught:
        slow.cursor().execute("WAITFOR DELAY '00:00:30'")
    assert time.perf_counter() - started < 10
    assert "timeout" in type(caught.value).__name__.lower() or "timeout" in str(caught.value).lower()
    cursor = slow.cursor()
    cursor.execute("SELECT 1")
    assert cursor.fetchall() == [(1,)]


def test_a_table_valued_parameter_is_refused_and_the_connection_stays(pytds_connect):
    """python-tds sends a TableValuedParam as RPC type 0xF3 (MS-TDS 2.2.5.5.5)."""
    import pytds

    conn = pytds_connect()
    cursor = conn.cursor()
    with pytest.raises(pytds.OperationalError) as caught:
        cursor.execute(
            "SELECT * FROM %s", (pytds.TableValuedParam(type_name="dbo.no_such_type", rows=[(1,)]),)
        )
    assert caught.value.msg_no == 40517
    cursor.execute("SELECT 2")
    assert cursor.fetchall() == [(2,)]


def test_sys_databases_lists_every_database_with_db_id(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    rows = _rows(
        conn, "SELECT name, database_id, state_desc, is_read_committed_snapshot_on FROM sys.databases"
    )
    by_name = {r[0].lower(): r for r in rows}
    assert {"master", "tempdb", "model", "msdb"} <= set(by_name)
    assert all(r[2] == "ONLINE" and r[3] for r in rows)
    ids = _rows(conn, "SELECT DB_ID('master'), DB_ID('tempdb')")[0]
    assert ids == (by_name["master"][1], by_name["tempdb"][1])


def test_sys_system_views_names_the_catalog_views(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    names = {(r[0], r[1]) for r in _rows(conn, "SELECT name, SCHEMA_NAME(schema_id) FROM sys.system_views")}
    assert {("tables", "sys"), ("databases", "sys"), ("TABLES", "INFORMATION_SCHEMA")} <= names


def test_db_id_of_a_parameter_through_sp_executesql(pytds_connect):
    """python-tds sends parameters by sp_executesql; DB_ID(@p) then reads a typed parameter."""
    cursor = pytds_connect().cursor()
    cursor.execute("SELECT DB_ID(%s), DB_ID('tempdb')", ("tempdb",))
    first, second = cursor.fetchone()
    assert first == second and first is not None


def test_information_schema_routines_is_empty(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    assert _rows(
        conn, "SELECT COUNT(*) FROM INFORMATION_SCHEMA.ROUTINES WHERE ROUTINE_TYPE = 'PROCEDURE'"
    ) == [(0,)]
    assert _error_number(conn, "CREATE PROCEDURE p (@param int) AS SELECT @param") == 40517


def test_declare_sends_no_done_and_each_assignment_one(pytds_connect):
    """SQL Server answers DECLARE with nothing and each SELECT @v = ... with a DONE, so a
    client sees two empty sets before the query's."""
    cursor = pytds_connect().cursor()
    cursor.execute("DECLARE @v int\nSELECT @v = 1\nSELECT @v = 2\nSELECT 'value'")
    assert not cursor.description
    assert cursor.nextset() and not cursor.description
    assert cursor.nextset() and cursor.fetchall() == [("value",)]
    assert not cursor.nextset()


def test_dm_exec_connections_is_current_from_every_database(pymssql_connect):
    # Its rows are read when a query asks for them (they used to be rewritten into every
    # database's table at each login and logout, which made logins queue behind each other
    # when many connections were open; pymssql's own suite timed out). Whatever database a
    # query names, it sees the connections open now, and none that closed.
    admin = pymssql_connect(autocommit=True)
    names = [f"zz_login_cost_{n}" for n in range(4)]  # after the others in DB_ID's name order

    def counts() -> list[int]:
        return [_rows(admin, f"SELECT COUNT(*) FROM {name}.sys.dm_exec_connections")[0][0] for name in names]

    def settled(expected: int) -> list[int]:
        # A closed client's logout reaches the server a moment after close() returns.
        deadline = time.monotonic() + 10
        while (found := counts()) != [expected] * len(names) and time.monotonic() < deadline:
            time.sleep(0.1)
        return found

    for name in names:
        admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        before = counts()[0]
        held = [pymssql_connect(autocommit=True) for _ in range(20)]
        for _ in range(5):
            pymssql_connect(autocommit=True).close()
        during = settled(before + len(held))
        for conn in held:
            conn.close()
        after = settled(before)
    finally:
        for name in names:
            admin.cursor().execute(f"DROP DATABASE {name}")
    assert during == [before + len(held)] * len(names)
    assert after == [before] * len(names)
