"""Metadata clients ask for: SET FMTONLY, multi-part column names, the catalog views SQLAlchemy
and dlt read, and sp_datatype_info (FreeTDS ODBC's SQLGetTypeInfo).

Expectations are Microsoft's (the pages cited in ``system_views.py``, ``procedures.py`` and
``engine._describe_only``), run on the engine directly; the client tests
(test_client_sqlalchemy.py, test_client_freebcp.py) run the same over TDS.
"""

from __future__ import annotations

import pytest

from devtools.mssql_emulator.engine import Engine
from devtools.mssql_emulator.results import ResultSet, Session, SqlServerError
from tests.emulator.test_catalog_views import one, rows
from tests.emulator.test_engine import run

ORDERS = """
CREATE TABLE dbo.MetaOrders (
    id int IDENTITY(100,5) NOT NULL,
    doc nvarchar(10) NOT NULL,
    item nchar(6) NOT NULL,
    status varchar(2) NULL DEFAULT 'A',
    code nvarchar(8) COLLATE Latin1_General_CS_AS NULL,
    amount decimal(15,3) NULL,
    CONSTRAINT PK_MetaOrders PRIMARY KEY (doc, item)
)
"""
VIEW = "CREATE VIEW dbo.vwMetaOrders AS SELECT doc, amount FROM dbo.MetaOrders"


@pytest.fixture(scope="module")
def engine():
    engine = Engine()
    session = Session(user="demo", database="ProcessStatus", spid=70)
    for statement in (ORDERS, VIEW, "INSERT INTO dbo.MetaOrders (doc, item) VALUES (N'1', N'10')"):
        list(engine.execute_batch(session, statement))
    return engine


@pytest.fixture
def session():
    return Session(user="demo", database="ProcessStatus", spid=71)


def results(engine, session, sql: str) -> list[ResultSet]:
    return [o for o in run(engine, session, sql) if isinstance(o, ResultSet)]


# ---- SET FMTONLY ----


def test_fmtonly_sends_the_columns_and_no_rows(engine, session):
    described, counted = results(
        engine,
        session,
        "SET FMTONLY ON SELECT doc, amount FROM dbo.MetaOrders SET FMTONLY OFF SELECT count(*) FROM dbo.MetaOrders",
    )
    assert [(c.name, c.sql_type, c.length) for c in described.columns] == [
        ("doc", "nvarchar", 10),
        ("amount", "decimal", None),
    ]
    assert described.rows == []
    assert counted.rows == [(1,)]  # OFF again: the next query runs


def test_fmtonly_changes_nothing(engine, session):
    list(
        engine.execute_batch(
            session,
            "SET FMTONLY ON "
            "INSERT INTO dbo.MetaOrders (doc, item) VALUES (N'2', N'20') "
            "DELETE FROM dbo.MetaOrders "
            "CREATE TABLE dbo.MetaNever (a int) "
            "SET FMTONLY OFF",
        )
    )
    assert rows(engine, session, "SELECT doc FROM dbo.MetaOrders") == [("1",)]
    assert one(engine, session, "SELECT OBJECT_ID('dbo.MetaNever')") is None


def test_fmtonly_still_reports_a_missing_object(engine, session):
    with pytest.raises(SqlServerError) as caught:
        results(engine, session, "SET FMTONLY ON SELECT * FROM dbo.NoSuchTable")
    assert caught.value.number == 208


# ---- multi-part column names ----


def test_a_column_qualified_by_schema_and_table(engine, session):
    assert rows(engine, session, "SELECT sys.objects.name FROM sys.objects WHERE sys.objects.type = 'V'") == [
        ("vwMetaOrders",)
    ]


def test_a_column_qualified_by_database_schema_and_table(engine, session):
    got = rows(
        engine,
        session,
        "SELECT ProcessStatus.dbo.MetaOrders.doc, dbo.MetaOrders.item, MetaOrders.id FROM ProcessStatus.dbo.MetaOrders",
    )
    assert got == [("1", "10    ", 100)]


# ---- catalog views ----


def test_constraints_are_objects_whose_parent_is_the_table(engine, session):
    got = rows(
        engine,
        session,
        "SELECT o.name, o.type, o.type_desc FROM sys.objects o "
        "WHERE o.parent_object_id = OBJECT_ID('dbo.MetaOrders') ORDER BY o.type",
    )
    assert len(got) == 2
    (default_name, default_type, default_desc), key = got
    assert (default_type, default_desc) == ("D ", "DEFAULT_CONSTRAINT")
    assert default_name.startswith(
        "DF__MetaOrder__statu__"
    )  # nine characters of the table, five of the column
    assert key == ("PK_MetaOrders", "PK", "PRIMARY_KEY_CONSTRAINT")


def test_sys_key_constraints_points_at_the_clustered_key_index(engine, session):
    got = rows(
        engine,
        session,
        "SELECT k.name, k.type, k.is_system_named, i.name, i.type_desc, i.is_primary_key "
        "FROM sys.key_constraints k JOIN sys.indexes i "
        "ON i.object_id = k.parent_object_id AND i.index_id = k.unique_index_id",
    )
    assert got == [("PK_MetaOrders", "PK", False, "PK_MetaOrders", "CLUSTERED", True)]


def test_sys_default_constraints_joins_sys_columns(engine, session):
    got = rows(
        engine,
        session,
        "SELECT c.name, d.definition, d.is_system_named FROM sys.columns c "
        "JOIN sys.default_constraints d ON d.object_id = c.default_object_id AND d.parent_column_id = c.column_id",
    )
    assert got == [("status", "('A')", True)]


def test_sys_identity_columns(engine, session):
    got = rows(
        engine, session, "SELECT name, column_id, seed_value, increment_value FROM sys.identity_columns"
    )
    assert got == [("id", 1, 100, 5)]
    assert one(engine, session, "SELECT id FROM dbo.MetaOrders") == 100  # numbering starts at the seed


def test_identity_seed_and_increment_number_the_rows(engine, session):
    list(
        engine.execute_batch(
            session,
            "CREATE TABLE dbo.MetaCounted (down int IDENTITY(10,-5) NOT NULL, v int) "
            "CREATE TABLE dbo.MetaPlain (up bigint IDENTITY NOT NULL, v int) "
            "INSERT INTO dbo.MetaCounted (v) VALUES (1), (2) INSERT INTO dbo.MetaPlain (v) VALUES (1), (2)",
        )
    )
    assert rows(engine, session, "SELECT down FROM dbo.MetaCounted ORDER BY v") == [(10,), (5,)]
    assert rows(engine, session, "SELECT up FROM dbo.MetaPlain ORDER BY v") == [(1,), (2,)]
    assert rows(
        engine,
        session,
        "SELECT name, seed_value, increment_value FROM sys.identity_columns WHERE name IN ('down', 'up') "
        "ORDER BY name",
    ) == [("down", 10, -5), ("up", 1, 1)]
    list(engine.execute_batch(session, "DROP TABLE dbo.MetaCounted DROP TABLE dbo.MetaPlain"))


def test_every_column_type_is_a_row_of_sys_types(engine, session):
    got = rows(
        engine,
        session,
        "SELECT c.name, t.name FROM sys.columns c JOIN sys.types t ON t.user_type_id = c.user_type_id "
        "WHERE c.object_id = OBJECT_ID('dbo.MetaOrders') ORDER BY c.column_id",
    )
    assert got == [
        ("id", "int"), ("doc", "nvarchar"), ("item", "nchar"), ("status", "varchar"), ("code", "nvarchar"),
        ("amount", "decimal"),
    ]  # fmt: skip


def test_sys_types_sysname_is_a_not_null_nvarchar_128(engine, session):
    got = rows(
        engine,
        session,
        "SELECT t.max_length, t.is_nullable, b.name FROM sys.types t "
        "JOIN sys.types b ON b.user_type_id = t.system_type_id WHERE t.name = 'sysname'",
    )
    assert got == [(256, False, "nvarchar")]
    assert one(engine, session, "SELECT count(*) FROM sys.types WHERE is_user_defined = 0") == 34


def test_sys_tables_and_sys_views(engine, session):
    assert rows(engine, session, "SELECT name, type FROM sys.tables") == [("MetaOrders", "U ")]
    assert rows(engine, session, "SELECT name, type FROM sys.views") == [("vwMetaOrders", "V ")]
    definition = one(
        engine,
        session,
        "SELECT m.definition FROM sys.sql_modules m JOIN sys.views v ON v.object_id = m.object_id",
    )
    assert definition == VIEW


def test_views_of_what_the_emulator_lacks_are_empty(engine, session):
    for view in (
        "sys.computed_columns",
        "sys.extended_properties",
        "INFORMATION_SCHEMA.REFERENTIAL_CONSTRAINTS",
    ):
        assert one(engine, session, f"SELECT count(*) FROM {view}") == 0, view


def test_information_schema_table_constraints_and_constraint_column_usage(engine, session):
    assert rows(
        engine,
        session,
        "SELECT CONSTRAINT_NAME, TABLE_NAME, CONSTRAINT_TYPE, IS_DEFERRABLE, INITIALLY_DEFERRED "
        "FROM INFORMATION_SCHEMA.TABLE_CONSTRAINTS",
    ) == [("PK_MetaOrders", "MetaOrders", "PRIMARY KEY", "NO", "NO")]
    assert rows(
        engine,
        session,
        "SELECT TABLE_NAME, COLUMN_NAME, CONSTRAINT_NAME FROM INFORMATION_SCHEMA.CONSTRAINT_COLUMN_USAGE "
        "ORDER BY COLUMN_NAME",
    ) == [("MetaOrders", "doc", "PK_MetaOrders"), ("MetaOrders", "item", "PK_MetaOrders")]


def test_collation_names_of_text_columns(engine, session):
    expected = [
        ("id", None), ("doc", "SQL_Latin1_General_CP1_CI_AS"), ("item", "SQL_Latin1_General_CP1_CI_AS"),
        ("status", "SQL_Latin1_General_CP1_CI_AS"), ("code", "Latin1_General_CS_AS"), ("amount", None),
    ]  # fmt: skip
    assert (
        rows(
            engine,
            session,
            "SELECT name, collation_name FROM sys.columns WHERE object_id = OBJECT_ID('dbo.MetaOrders') "
            "ORDER BY column_id",
        )
        == expected
    )
    assert (
        rows(
            engine,
            session,
            "SELECT COLUMN_NAME, COLLATION_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'MetaOrders' "
            "ORDER BY ORDINAL_POSITION",
        )
        == expected
    )


def test_drop_removes_every_catalog_row(engine, session):
    list(
        engine.execute_batch(
            session,
            "CREATE TABLE dbo.MetaGone (a int NOT NULL PRIMARY KEY, b int DEFAULT 0, c int IDENTITY(1,1))",
        )
    )
    table_id = one(engine, session, "SELECT OBJECT_ID('dbo.MetaGone')")
    list(engine.execute_batch(session, "DROP TABLE dbo.MetaGone"))
    for view, column in (
        ("sys.objects", "object_id"), ("sys.objects", "parent_object_id"), ("sys.columns", "object_id"),
        ("sys.tables", "object_id"), ("sys.key_constraints", "parent_object_id"),
        ("sys.default_constraints", "parent_object_id"), ("sys.identity_columns", "object_id"),
        ("sys.indexes", "object_id"),
    ):  # fmt: skip
        assert one(engine, session, f"SELECT count(*) FROM {view} WHERE {column} = {table_id}") == 0, view
    for view in ("TABLE_CONSTRAINTS", "CONSTRAINT_COLUMN_USAGE", "KEY_COLUMN_USAGE"):
        count = one(
            engine, session, f"SELECT count(*) FROM INFORMATION_SCHEMA.{view} WHERE TABLE_NAME = 'MetaGone'"
        )
        assert count == 0, view


# ---- sp_datatype_info ----


def test_sp_datatype_info_100_for_varchar_as_freetds_odbc_asks(engine, session):
    (result,) = results(engine, session, "sp_datatype_info_100 12,3")
    names = [c.name for c in result.columns]
    assert names[:6] == [
        "TYPE_NAME",
        "DATA_TYPE",
        "PRECISION",
        "LITERAL_PREFIX",
        "LITERAL_SUFFIX",
        "CREATE_PARAMS",
    ]
    assert len(names) == 20 and names[-1] == "USERTYPE"
    assert [r[:6] for r in result.rows] == [("varchar", 12, 8000, "'", "'", "max length")]


def test_sp_datatype_info_codes_datetime_by_odbc_version(engine, session):
    odbc3 = rows(engine, session, "EXEC sp_datatype_info 93, @ODBCVer = 3")
    assert {r[0] for r in odbc3} == {"datetime", "datetime2", "smalldatetime"}
    assert {(r[15], r[16]) for r in odbc3} == {(9, 3)}  # SQL_DATETIME, SQL_CODE_TIMESTAMP
    odbc2 = rows(engine, session, "EXEC sp_datatype_info 11")  # @ODBCVer defaults to 2
    assert {r[0] for r in odbc2} == {"datetime", "datetime2", "smalldatetime"}


def test_sp_datatype_info_without_arguments_lists_every_type(engine, session):
    names = [r[0] for r in rows(engine, session, "EXEC sp_datatype_info")]
    assert {"int", "bigint", "nvarchar", "nchar", "decimal", "date", "datetime2", "uniqueidentifier"} <= set(
        names
    )
