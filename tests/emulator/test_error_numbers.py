"""Every failure reaches the client as a SQL Server error: its number, severity and state, never
DuckDB's or Python's words.

Numbers and words are Microsoft's (the Database Engine error pages cited in ``errors.py`` and
``binding.py``). T-SQL the emulator cannot run gets error 40517 saying "not supported by the
emulator" and naming the statement. Most cases run on the engine directly; one goes over TDS.
"""

from __future__ import annotations

import pymssql
import pytest

from devtools.mssql_emulator.engine import Engine
from devtools.mssql_emulator.results import Session
from tests.emulator.test_engine import error_of

SETUP = "CREATE TABLE dbo.ErrOrders (id int NOT NULL, doc nvarchar(10) NULL, CONSTRAINT PK_ErrOrders PRIMARY KEY (id))"
# Words that only DuckDB, sqlglot or Python would write.
FOREIGN_WORDS = (
    "Binder Error", "Catalog Error", "Parser Error", "Conversion Error", "Invalid Input",
    "Candidate", "LINE 1", "duckdb", "DuckDB", "__info", "Traceback", "Error:", "sqlglot",
    "explicit type casts", "best candidate",
)  # fmt: skip


@pytest.fixture(scope="module")
def engine():
    engine = Engine()
    list(engine.execute_batch(Session(user="demo", database="ProcessStatus", spid=61), SETUP))
    return engine


@pytest.fixture
def session():
    return Session(user="demo", database="ProcessStatus", spid=62)


@pytest.mark.parametrize(
    ("sql", "number", "severity", "message"),
    [
        # The issue's own example, and the cases of the MSSQLSERVER_4104 page.
        (
            "SELECT nope.a FROM (SELECT 1 AS a) AS t",
            4104, 16, 'The multi-part identifier "nope.a" could not be bound.',
        ),
        (
            "SELECT ErrOrders.id FROM dbo.ErrOrders AS o",
            4104, 16, 'The multi-part identifier "ErrOrders.id" could not be bound.',
        ),
        (
            "SELECT 'X' FROM dbo.ErrOrders WHERE Other.id = ErrOrders.id",
            4104, 16, 'The multi-part identifier "Other.id" could not be bound.',
        ),
        (
            "DELETE FROM dbo.ErrOrders WHERE ErrOrders.id = Other.id",
            4104, 16, 'The multi-part identifier "Other.id" could not be bound.',
        ),
        (
            "SELECT guest.ErrOrders.id FROM dbo.ErrOrders",
            4104, 16, 'The multi-part identifier "guest.ErrOrders.id" could not be bound.',
        ),
        # The cases of the MSSQLSERVER_107 page.
        (
            "SELECT T1.* FROM dbo.ErrOrders",
            107, 15, "The column prefix 'T1' does not match with a table name or alias name used in the query.",
        ),
        (
            "SELECT ErrOrders.* FROM dbo.ErrOrders AS T1",
            107, 15,
            "The column prefix 'ErrOrders' does not match with a table name or alias name used in the query.",
        ),
        ("SELECT t.b FROM (SELECT 1 AS a) AS t", 207, 16, "Invalid column name 'b'."),
        (
            "SELECT id FROM dbo.ErrOrders a JOIN dbo.ErrOrders b ON a.id = b.id",
            209, 16, "Ambiguous column name 'id'.",
        ),
        (
            "SELECT 1 FROM dbo.ErrOrders x JOIN dbo.ErrOrders x ON 1 = 1",
            1011, 16, "The correlation name 'x' is specified multiple times in a FROM clause.",
        ),
        (
            "SELECT 1 FROM dbo.ErrOrders JOIN dbo.ErrOrders ON 1 = 1",
            1013, 16,
            'The objects "dbo.ErrOrders" and "dbo.ErrOrders" in the FROM clause have the same exposed names. '
            "Use correlation names to distinguish them.",
        ),
        (
            "SELECT id FROM dbo.ErrOrders GROUP BY doc",
            8120, 16,
            "Column 'id' is invalid in the select list because it is not contained in either an aggregate "
            "function or the GROUP BY clause.",
        ),
        (
            "SELECT (SELECT id FROM (SELECT 1 AS id UNION ALL SELECT 2) AS two)",
            512, 16,
            "Subquery returned more than 1 value. This is not permitted when the subquery follows "
            "=, !=, <, <= , >, >= or when the subquery is used as an expression.",
        ),
        (
            "SELECT id FROM dbo.ErrOrders UNION SELECT id, doc FROM dbo.ErrOrders",
            205, 16,
            "All queries combined using a UNION, INTERSECT or EXCEPT operator must have an equal number "
            "of expressions in their target lists.",
        ),
        (
            "SELECT id FROM dbo.ErrOrders WHERE count(*) > 1",
            147, 15,
            "An aggregate may not appear in the WHERE clause unless it is in a subquery contained in a "
            "HAVING clause or a select list, and the column being aggregated is an outer reference.",
        ),
        ("SET @x = 1", 137, 15, 'Must declare the scalar variable "@x".'),
        (
            "TRUNCATE TABLE dbo.NoSuchTable",
            4701, 16,
            'Cannot find the object "dbo.NoSuchTable" because it does not exist or you do not have permissions.',
        ),
        ("SELECT nosuch FROM dbo.ErrOrders", 207, 16, "Invalid column name 'nosuch'."),
        ("SELECT nosuchfn(1)", 195, 15, "'nosuchfn' is not a recognized built-in function name."),
        ("SELECT * FROM dbo.NoSuchTable", 208, 16, "Invalid object name 'dbo.NoSuchTable'."),
        ("EXEC dbo.NoSuchProcedure", 2812, 16, "Could not find stored procedure 'dbo.NoSuchProcedure'."),
        (
            "EXEC sp_datatype_info_100 @nope = 1",
            8145, 16, "@nope is not a parameter for procedure sp_datatype_info.",
        ),
        (
            "EXEC sp_datatype_info 1, 3, 5",
            8144, 16, "Procedure or function sp_datatype_info has too many arguments specified.",
        ),
    ],
)  # fmt: skip
def test_sql_server_error_number_severity_and_words(engine, session, sql, number, severity, message):
    error = error_of(engine, session, sql)
    assert (error.number, error.severity, error.state, error.message) == (number, severity, 1, message)


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("MERGE INTO dbo.ErrOrders AS t USING dbo.ErrOrders AS s ON t.id = s.id WHEN MATCHED THEN DELETE;", "MERGE"),
        ("WHILE 1 = 0 SELECT 1", "WHILE"),
        ("RAISERROR('boom', 16, 1)", "RAISERROR"),
        ("ALTER TABLE dbo.ErrOrders ADD extra int", "ALTER TABLE"),
        ("CREATE PROCEDURE dbo.p AS SELECT 1", "CREATE PROCEDURE"),
        ("DROP INDEX ix ON dbo.ErrOrders", "DROP INDEX"),
        ("BEGIN TRY SELECT 1 END TRY BEGIN CATCH SELECT 2 END CATCH", "BEGIN TRY"),
    ],
)  # fmt: skip
def test_a_statement_the_emulator_does_not_run_is_named(engine, session, sql, named):
    error = error_of(engine, session, sql)
    assert (error.number, error.severity, error.state) == (40517, 16, 1)
    assert error.message == f"The {named} statement is not supported by the emulator."


@pytest.mark.parametrize("clause", ["XML", "JSON"])
def test_a_for_xml_or_json_query_is_refused_not_answered_as_a_table(engine, session, clause):
    error = error_of(engine, session, f"SELECT id, doc FROM dbo.ErrOrders FOR {clause} PATH")
    assert (error.number, error.message) == (
        40517,
        f"The FOR {clause} clause is not supported by the emulator.",
    )
    assert (
        error_of(engine, session, "SELECT 'for xml path' AS words, nosuch FROM dbo.ErrOrders").number == 207
    )


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT id INTO dbo.ErrCopy FROM dbo.ErrOrders", "SELECT ... INTO"),
        (
            "INSERT INTO dbo.ErrOrders (id) OUTPUT inserted.id INTO dbo.ErrCopy VALUES (7)",
            "The OUTPUT clause",
        ),
        ("DELETE FROM dbo.ErrOrders OUTPUT deleted.id WHERE id = 7", "The OUTPUT clause"),
        (
            "UPDATE o SET doc = N'x' FROM dbo.ErrOrders o JOIN dbo.ErrOrders p ON p.id = o.id",
            "UPDATE of an alias from its FROM clause",
        ),
    ],
)
def test_a_clause_the_engine_would_drop_is_refused(engine, session, sql, named):
    error = error_of(engine, session, sql)
    assert (error.number, error.message) == (40517, f"{named} is not supported by the emulator.")
    assert error_of(engine, session, "SELECT * FROM dbo.ErrCopy").number == 208  # nothing was created


def test_a_system_procedure_the_emulator_lacks_is_named(engine, session):
    error = error_of(engine, session, "EXEC sp_help 'dbo.ErrOrders'")
    assert (error.number, error.message) == (
        40517,
        "The system procedure 'sp_help' is not supported by the emulator.",
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT SUBSTRING(1)",  # DuckDB: no function matches the argument types
        "SELECT ABS('x')",  # DuckDB: could not choose a best candidate function
    ],
)
def test_a_construct_duckdb_refuses_names_the_statement(engine, session, sql):
    error = error_of(engine, session, sql)
    assert (error.number, error.severity) == (40517, 16)
    assert error.message == f"Something in the statement '{sql}' is not supported by the emulator."


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT nope.a FROM (SELECT 1 AS a) AS t",
        "SELECT t.b FROM (SELECT 1 AS a) AS t",
        "SELECT * FROM (SELECT 1 AS a) AS t WHERE t.a = (SELECT u.z FROM (SELECT 1 AS y) AS u)",
        "SELECT SUBSTRING(1)",
        "SELECT ABS('x')",
        "SELECT nosuchfn(1)",
        "SELECT CAST('x' AS int)",
        "SELECT 1/0",
        "SELECT * FROM dbo.ErrOrders o JOIN dbo.ErrOrders p ON o.id = p.id WHERE doc = N'a'",
        "SELECT id FROM dbo.ErrOrders GROUP BY doc",
        "SELECT * FROM OPENJSON(N'[1]')",
        "INSERT INTO dbo.ErrOrders (id) VALUES (1), (1)",
        "MERGE INTO dbo.ErrOrders USING dbo.ErrOrders AS s ON 1 = 1 WHEN MATCHED THEN DELETE;",
    ],
)
def test_no_duckdb_or_python_words_reach_the_client(engine, session, sql):
    error = error_of(engine, session, sql)
    assert error.number != 50000
    assert not [word for word in FOREIGN_WORDS if word in error.message], error.message


def test_the_4104_error_reaches_a_client_over_tds(pymssql_connect):
    with pymssql_connect() as conn:
        with pytest.raises(pymssql.ProgrammingError) as caught:
            conn.cursor().execute("SELECT nope.a FROM (SELECT 1 AS a) AS t")
    number, message = caught.value.args
    assert number == 4104
    assert message.startswith(b'The multi-part identifier "nope.a" could not be bound.')


def test_a_procedure_the_emulator_lacks_over_rpc_is_40517_and_the_connection_stays(pymssql_connect):
    # pymssql's callproc sends an RPC request (MS-TDS 2.2.6.6) naming the procedure.
    with pymssql_connect() as conn:
        cursor = conn.cursor()
        with pytest.raises(pymssql.DatabaseError) as caught:
            cursor.callproc("sp_who")
        number, message = caught.value.args
        assert number == 40517
        assert b"sp_who" in message and b"not supported by the emulator" in message
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
