"""INSERT ... OUTPUT inserted.<column>: the inserted rows come back as a result set, as
https://learn.microsoft.com/en-us/sql/t-sql/queries/output-clause-transact-sql documents
("Returns information from, or expressions based on, each row affected by an INSERT ...
statement"). SQLAlchemy's mssql dialect asks for a new IDENTITY value this way.
"""

from __future__ import annotations

import decimal
import itertools

import pytest

from devtools.mssql_emulator.engine import Engine
from devtools.mssql_emulator.results import ResultSet, RowCount, Session
from tests.emulator.test_engine import error_of, query, run

_spids = itertools.count(70)


@pytest.fixture
def engine():
    engine = Engine()
    run(
        engine,
        Session(user="demo", database="ProcessStatus", spid=69),
        "CREATE TABLE dbo.OutOrders (id int IDENTITY(1,1) NOT NULL PRIMARY KEY,"
        " code nchar(4) NULL, amount decimal(9,2) NULL, note nvarchar(20) NOT NULL DEFAULT N'new')",
    )
    return engine


def _session():
    return Session(user="demo", database="ProcessStatus", spid=next(_spids))


def test_inserted_identity_and_defaults_come_back_as_a_result_set(engine):
    session = _session()
    result = query(
        engine,
        session,
        "INSERT INTO dbo.OutOrders (code, amount) OUTPUT inserted.id, inserted.code AS c,"
        " inserted.amount, inserted.note VALUES (N'ab', 1.5), (N'cd', 2)",
    )
    assert [(c.name, c.sql_type, c.length) for c in result.columns] == [
        ("id", "int", None),
        ("c", "nchar", 4),
        ("amount", "decimal", None),
        ("note", "nvarchar", 20),
    ]
    assert result.rows == [
        (1, "ab  ", decimal.Decimal("1.50"), "new"),
        (2, "cd  ", decimal.Decimal("2.00"), "new"),
    ]
    assert query(engine, session, "SELECT @@ROWCOUNT").rows == [(2,)]
    star = query(engine, session, "INSERT INTO dbo.OutOrders (code) OUTPUT inserted.* SELECT N'ef'")
    assert [c.name for c in star.columns] == ["id", "code", "amount", "note"]
    assert star.rows == [(3, "ef  ", None, "new")]
    defaults = query(engine, session, "INSERT dbo.OutOrders OUTPUT inserted.id, inserted.note DEFAULT VALUES")
    assert defaults.rows == [(4, "new")]


def test_the_same_statement_twice_inserts_twice_never_a_cached_answer(engine):
    session = _session()
    sql = "INSERT INTO dbo.OutOrders (code) OUTPUT inserted.id VALUES (N'x')"
    first = query(engine, session, sql)
    second = query(engine, session, sql)
    assert (first.cache_key, second.cache_key) == (None, None)
    assert (first.rows, second.rows) == ([(1,)], [(2,)])
    assert query(engine, session, "SELECT COUNT(*) FROM dbo.OutOrders").rows == [(2,)]


def test_output_inside_a_transaction_is_undone_by_rollback_and_unseen_by_others(engine):
    session, other = _session(), _session()
    outcomes = run(
        engine,
        session,
        "BEGIN TRANSACTION; INSERT INTO dbo.OutOrders (code) OUTPUT inserted.id, inserted.code VALUES (N'tx')",
    )
    assert [o.rows for o in outcomes if isinstance(o, ResultSet)] == [[(1, "tx  ")]]
    assert query(engine, session, "SELECT COUNT(*) FROM dbo.OutOrders").rows == [(1,)]
    assert query(engine, other, "SELECT COUNT(*) FROM dbo.OutOrders").rows == [(0,)]
    run(engine, session, "ROLLBACK")
    assert query(engine, session, "SELECT COUNT(*) FROM dbo.OutOrders").rows == [(0,)]
    run(engine, session, "BEGIN TRAN")
    kept = query(engine, session, "INSERT INTO dbo.OutOrders (code) OUTPUT inserted.code VALUES (N'ok')")
    run(engine, session, "COMMIT")
    assert kept.rows == [("ok  ",)]
    assert query(engine, other, "SELECT code FROM dbo.OutOrders").rows == [("ok  ",)]


def test_a_plain_insert_still_sends_a_count_only(engine):
    outcomes = run(engine, _session(), "INSERT INTO dbo.OutOrders (code) VALUES (N'a'), (N'b')")
    assert outcomes == [RowCount(2)]


@pytest.mark.parametrize(
    ("sql", "number", "message"),
    [
        (
            "INSERT INTO dbo.OutOrders (code) OUTPUT deleted.id VALUES (N'a')",
            4104,
            'The multi-part identifier "deleted.id" could not be bound.',
        ),
        (
            "INSERT INTO dbo.OutOrders (code) OUTPUT inserted.nosuch VALUES (N'a')",
            207,
            "Invalid column name 'nosuch'.",
        ),
        (
            "INSERT INTO dbo.OutOrders (code) OUTPUT inserted.id INTO dbo.OutLog VALUES (N'a')",
            40517,
            "The OUTPUT clause is not supported by the emulator.",
        ),
    ],
)
def test_what_output_cannot_name_is_an_error_and_inserts_nothing(engine, sql, number, message):
    session = _session()
    error = error_of(engine, session, sql)
    assert (error.number, error.message) == (number, message)
    assert query(engine, session, "SELECT COUNT(*) FROM dbo.OutOrders").rows == [(0,)]


def test_sqlalchemy_style_output_over_tds(pymssql_connect):
    """pymssql (FreeTDS) reads the OUTPUT rows as the statement's result set."""
    conn = pymssql_connect(autocommit=True)
    cursor = conn.cursor()
    cursor.execute(
        "CREATE TABLE dbo.OutTds (id int IDENTITY(1,1) NOT NULL PRIMARY KEY, name nvarchar(10) NOT NULL)"
    )
    try:
        cursor.execute("INSERT INTO dbo.OutTds (name) OUTPUT inserted.id VALUES (%s)", ("first",))
        assert cursor.fetchall() == [(1,)]
        cursor.execute(
            "INSERT INTO dbo.OutTds (name) OUTPUT inserted.id, inserted.name VALUES (%s)", ("second",)
        )
        assert cursor.fetchall() == [(2, "second")]
    finally:
        cursor.execute("DROP TABLE dbo.OutTds")
