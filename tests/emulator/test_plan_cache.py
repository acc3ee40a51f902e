"""The emulator's plan cache (devtools/mssql_emulator/plan_cache.py): reused only where it cannot
change an answer, as SQL Server recompiles a plan after the objects it reads change."""

from __future__ import annotations

import pytest

from devtools.mssql_emulator.engine import Engine
from devtools.mssql_emulator.results import Session
from tests.emulator.test_engine import error_of, query, run


@pytest.fixture
def engine():
    return Engine()  # each test counts hits from zero


@pytest.fixture
def session():
    return Session(user="demo", database="ProcessStatus", spid=61)


def hits_of(engine, session, sql) -> int:
    before = engine.plans.hits
    query(engine, session, sql)
    return engine.plans.hits - before


def test_the_same_text_is_compiled_once(engine, session):
    run(
        engine,
        session,
        "CREATE TABLE dbo.items (id int, name nvarchar(10)); INSERT dbo.items VALUES (1, N'a')",
    )
    text = "SELECT id, UPPER(name) AS name FROM dbo.items"
    first = query(engine, session, text)
    assert hits_of(engine, session, text) == 1
    again = query(engine, session, text)
    assert again.rows == first.rows == [(1, "A")]
    assert [(c.name, c.sql_type, c.length) for c in again.columns] == [
        (c.name, c.sql_type, c.length) for c in first.columns
    ]


def test_a_changed_table_is_compiled_again(engine, session):
    text = "SELECT v FROM dbo.changing"
    run(engine, session, "CREATE TABLE dbo.changing (v int); INSERT dbo.changing VALUES (7)")
    assert query(engine, session, text).columns[0].sql_type == "int"
    query(engine, session, text)
    run(engine, session, "DROP TABLE dbo.changing; CREATE TABLE dbo.changing (v nvarchar(5))")
    run(engine, session, "INSERT dbo.changing VALUES (N'x')")
    result = query(engine, session, text)
    assert (result.columns[0].sql_type, result.rows) == ("nvarchar", [("x",)])
    run(engine, session, "DROP TABLE dbo.changing")
    assert error_of(engine, session, text).number == 208


def test_new_rows_are_read_after_a_write(engine, session):
    text = "SELECT COUNT(*) FROM dbo.growing"
    run(engine, session, "CREATE TABLE dbo.growing (v int)")
    assert query(engine, session, text).rows == [(0,)]
    run(engine, session, "INSERT dbo.growing VALUES (1), (2)")
    assert query(engine, session, text).rows == [(2,)]


def test_each_database_gets_its_own_plan(engine, session):
    run(engine, session, "CREATE DATABASE other")
    other = Session(user="demo", database="other", spid=62)
    run(engine, session, "CREATE TABLE dbo.t (v int); INSERT dbo.t VALUES (1)")
    run(engine, other, "CREATE TABLE dbo.t (v int); INSERT dbo.t VALUES (2)")
    text = "SELECT v FROM dbo.t"
    assert query(engine, session, text).rows == [(1,)]
    assert query(engine, other, text).rows == [(2,)]
    assert query(engine, session, text).rows == [(1,)]
    assert query(engine, other, text).rows == [(2,)]


def test_session_values_and_volatile_functions_are_never_reused(engine, session):
    other = Session(user="demo", database="ProcessStatus", spid=63)
    for sql in ("SELECT @@SPID", "SELECT @@TRANCOUNT, @@ROWCOUNT", "SELECT NEWID()", "SELECT GETDATE()"):
        query(engine, session, sql)
        assert hits_of(engine, session, sql) == 0, sql
    assert query(engine, session, "SELECT @@SPID").rows == [(61,)]
    assert query(engine, other, "SELECT @@SPID").rows == [(63,)]


def test_set_rowcount_limits_a_reused_plan(engine, session):
    run(engine, session, "CREATE TABLE dbo.many (v int); INSERT dbo.many VALUES (1), (2), (3)")
    text = "SELECT v FROM dbo.many ORDER BY v"
    assert len(query(engine, session, text).rows) == 3
    run(engine, session, "SET ROWCOUNT 1")
    assert query(engine, session, text).rows == [(1,)]
    run(engine, session, "SET ROWCOUNT 0")
    assert len(query(engine, session, text).rows) == 3


def test_a_table_of_a_rolled_back_transaction_is_not_read_from_a_plan(engine, session):
    text = "SELECT v FROM dbo.fleeting"
    run(engine, session, "BEGIN TRAN; CREATE TABLE dbo.fleeting (v int); INSERT dbo.fleeting VALUES (5)")
    assert query(engine, session, text).rows == [(5,)]
    assert query(engine, session, text).rows == [(5,)]
    run(engine, session, "ROLLBACK")
    assert error_of(engine, session, text).number == 208


def _known_text(engine, session, create: str, text: str) -> str:
    """``text`` after ``create``, run twice: its plan is kept from then on."""
    run(engine, session, create)
    query(engine, session, text)
    assert hits_of(engine, session, text) == 1
    return text


def test_implicit_transactions_still_open_a_transaction_on_a_known_text(engine, session):
    text = _known_text(engine, session, "CREATE TABLE dbo.it (v int)", "SELECT v FROM dbo.it")
    run(engine, session, "SET IMPLICIT_TRANSACTIONS ON")
    query(engine, session, text)
    assert query(engine, session, "SELECT @@TRANCOUNT").rows == [(1,)]
    run(engine, session, "COMMIT; SET IMPLICIT_TRANSACTIONS OFF")


def test_fmtonly_sends_no_rows_for_a_known_text(engine, session):
    create = "CREATE TABLE dbo.fo (v int); INSERT dbo.fo VALUES (1)"
    text = _known_text(engine, session, create, "SELECT v FROM dbo.fo")
    run(engine, session, "SET FMTONLY ON")
    described = query(engine, session, text)
    run(engine, session, "SET FMTONLY OFF")
    assert (described.columns[0].name, described.rows) == ("v", [])
