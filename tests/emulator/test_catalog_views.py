"""SQL Server's metadata functions and catalog views that migration tools (pgloader) query.

Engine-level tests check each function and view against what SQL Server returns for the same
objects; the pymssql tests run pgloader's own catalog queries over TDS.
"""

from __future__ import annotations

import time

import pytest

from devtools.mssql_emulator.engine import Engine
from devtools.mssql_emulator.results import ResultSet, Session

ORDERS = """
CREATE TABLE dbo.CatOrders (
    id int IDENTITY(1,1) NOT NULL,
    doc nvarchar(10) NOT NULL,
    item nchar(6) NOT NULL,
    amount decimal(15,2) NULL,
    created datetime2(3) NULL,
    CONSTRAINT PK_CatOrders PRIMARY KEY (doc, item)
)
"""
NOTES = "CREATE TABLE dbo.CatNotes (note varchar(30) NULL, flag bit NULL)"
VIEW = "CREATE VIEW dbo.vwCatOrders AS SELECT doc, item, amount FROM dbo.CatOrders"

# pgloader's list-all-indexes.sql with its INCLUDING filter filled in (3.6.x).
PGLOADER_INDEXES = """
    select schema_name(schema_id) as SchemaName, o.name as TableName,
           REPLACE(i.name, '.', '_') as IndexName, co.[name] as ColumnName,
           i.is_unique, i.is_primary_key, i.filter_definition
    from sys.indexes i
         join sys.objects o on i.object_id = o.object_id
         join sys.index_columns ic on ic.object_id = i.object_id and ic.index_id = i.index_id
         join sys.columns co on co.object_id = i.object_id and co.column_id = ic.column_id
   where schema_name(schema_id) not in ('dto', 'sys')
         and ((schema_name(schema_id) = 'dbo' and o.name LIKE '{table}'))
order by SchemaName, o.[name], i.[name], ic.is_included_column, ic.key_ordinal;
"""
# pgloader's list-all-columns.sql, shortened to the columns that need the new functions.
PGLOADER_COLUMNS = """
  select c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, c.IS_NULLABLE,
         COLUMNPROPERTY(object_id(c.TABLE_NAME), c.COLUMN_NAME, 'IsIdentity')
    from INFORMATION_SCHEMA.COLUMNS c
         join INFORMATION_SCHEMA.TABLES t
              on c.TABLE_SCHEMA = t.TABLE_SCHEMA and c.TABLE_NAME = t.TABLE_NAME
   where c.TABLE_CATALOG = 'ProcessStatus' and t.TABLE_TYPE = '{kind}'
         and ((c.table_schema = 'dbo' and c.table_name LIKE '{table}'))
order by c.table_schema, c.table_name, c.ordinal_position;
"""
# pgloader's list-all-fkeys.sql (join and filters kept, select list shortened).
PGLOADER_FKEYS = """
   SELECT REPLACE(KCU1.CONSTRAINT_NAME, '.', '_') AS 'CONSTRAINT_NAME', KCU1.TABLE_NAME,
          KCU1.COLUMN_NAME, KCU2.TABLE_NAME AS 'UNIQUE_TABLE_NAME', RC.UPDATE_RULE, RC.DELETE_RULE
    FROM INFORMATION_SCHEMA.REFERENTIAL_CONSTRAINTS RC
         JOIN INFORMATION_SCHEMA.KEY_COLUMN_USAGE KCU1
              ON KCU1.CONSTRAINT_CATALOG = RC.CONSTRAINT_CATALOG
                 AND KCU1.CONSTRAINT_SCHEMA = RC.CONSTRAINT_SCHEMA
                 AND KCU1.CONSTRAINT_NAME = RC.CONSTRAINT_NAME
         JOIN INFORMATION_SCHEMA.KEY_COLUMN_USAGE KCU2
              ON KCU2.CONSTRAINT_CATALOG = RC.UNIQUE_CONSTRAINT_CATALOG
                 AND KCU2.CONSTRAINT_SCHEMA = RC.UNIQUE_CONSTRAINT_SCHEMA
                 AND KCU2.CONSTRAINT_NAME = RC.UNIQUE_CONSTRAINT_NAME
   WHERE KCU1.ORDINAL_POSITION = KCU2.ORDINAL_POSITION
         AND KCU1.TABLE_CATALOG = 'ProcessStatus'
         AND KCU1.TABLE_SCHEMA NOT IN ('dto', 'sys')
ORDER BY KCU1.CONSTRAINT_NAME, KCU1.ORDINAL_POSITION;
"""


@pytest.fixture(scope="module")
def engine():
    engine = Engine()
    session = Session(user="demo", database="ProcessStatus", spid=60)
    for statement in (ORDERS, NOTES, VIEW):
        list(engine.execute_batch(session, statement))
    return engine


@pytest.fixture
def session():
    return Session(user="demo", database="ProcessStatus", spid=61)


def rows(engine, session, sql) -> list[tuple]:
    results = [o for o in engine.execute_batch(session, sql) if isinstance(o, ResultSet)]
    assert len(results) == 1
    return list(results[0].rows)


def one(engine, session, sql):
    (row,) = rows(engine, session, sql)
    return row[0] if len(row) == 1 else row


# ---- COLUMNPROPERTY and the functions pgloader feeds it ----


@pytest.mark.parametrize(
    ("column", "prop", "expected"),
    [
        ("id", "IsIdentity", 1),
        ("doc", "IsIdentity", 0),
        ("DOC", "IsIdentity", 0),  # column names follow the case-insensitive collation
        ("amount", "AllowsNull", 1),
        ("doc", "AllowsNull", 0),
        ("item", "ColumnId", 3),
        ("amount", "IsComputed", 0),
        ("no_such_column", "IsIdentity", None),
        ("doc", "NoSuchProperty", None),
    ],
)
def test_columnproperty_answers_as_sql_server(engine, session, column, prop, expected):
    sql = f"SELECT COLUMNPROPERTY(OBJECT_ID('dbo.CatOrders'), '{column}', '{prop}')"
    assert one(engine, session, sql) == expected


def test_columnproperty_of_a_view_column_is_not_identity(engine, session):
    assert one(engine, session, "SELECT COLUMNPROPERTY(OBJECT_ID('vwCatOrders'), 'doc', 'IsIdentity')") == 0


def test_columnproperty_of_an_unknown_object_is_null(engine, session):
    assert one(engine, session, "SELECT COLUMNPROPERTY(12345, 'doc', 'IsIdentity')") is None


def test_columnproperty_result_is_int(engine, session):
    (result,) = [
        o
        for o in engine.execute_batch(
            session, "SELECT COLUMNPROPERTY(OBJECT_ID('CatOrders'), 'id', 'IsIdentity')"
        )
        if isinstance(o, ResultSet)
    ]
    assert result.columns[0].sql_type == "int"


def test_object_id_of_a_column_matches_object_id_of_a_literal(engine, session):
    by_column = rows(
        engine,
        session,
        "SELECT TABLE_NAME, OBJECT_ID(TABLE_NAME), OBJECT_ID(TABLE_SCHEMA + '.' + TABLE_NAME), "
        "OBJECT_ID('[' + TABLE_SCHEMA + '].[' + TABLE_NAME + ']') FROM INFORMATION_SCHEMA.TABLES "
        "WHERE TABLE_NAME LIKE '%Cat%' ORDER BY TABLE_NAME",
    )
    assert [r[0] for r in by_column] == ["CatNotes", "CatOrders", "vwCatOrders"]
    for name, one_part, two_part, bracketed in by_column:
        expected = one(engine, session, f"SELECT OBJECT_ID('dbo.{name}')")
        assert expected is not None
        assert one_part == two_part == bracketed == expected


def test_object_id_of_a_column_honours_the_type_and_unknown_names(engine, session):
    got = rows(
        engine,
        session,
        "SELECT OBJECT_ID(n, 'V') FROM (VALUES ('vwCatOrders'), ('CatOrders'), ('nothing')) AS v(n)",
    )
    assert got[0][0] == one(engine, session, "SELECT OBJECT_ID('vwCatOrders')")
    assert got[1][0] is None and got[2][0] is None


def test_pgloader_column_query_flags_identity(engine, session):
    got = rows(engine, session, PGLOADER_COLUMNS.format(kind="BASE TABLE", table="CatOrders"))
    assert [(r[2], r[5]) for r in got] == [("id", 1), ("doc", 0), ("item", 0), ("amount", 0), ("created", 0)]
    view = rows(engine, session, PGLOADER_COLUMNS.format(kind="VIEW", table="vwCatOrders"))
    assert [(r[2], r[5]) for r in view] == [("doc", 0), ("item", 0), ("amount", 0)]


# ---- schemas ----


def test_schema_ids_are_sql_servers(engine, session):
    got = one(
        engine, session, "SELECT SCHEMA_ID('dbo'), SCHEMA_ID('guest'), SCHEMA_ID('sys'), SCHEMA_ID('nope')"
    )
    assert got == (1, 2, 4, None)
    assert one(
        engine, session, "SELECT SCHEMA_NAME(1), SCHEMA_NAME(3), SCHEMA_NAME(4), SCHEMA_NAME(999)"
    ) == (
        "dbo",
        "INFORMATION_SCHEMA",
        "sys",
        None,
    )
    assert one(engine, session, "SELECT SCHEMA_NAME()") == "dbo"


def test_user_schemas_get_ids_from_5_and_appear_in_sys_schemas(session):
    engine = Engine()
    list(engine.execute_batch(session, "CREATE SCHEMA stage"))
    list(engine.execute_batch(session, "CREATE TABLE stage.t (a int)"))
    assert one(engine, session, "SELECT SCHEMA_ID('stage')") == 5
    assert rows(
        engine, session, "SELECT name, schema_id FROM sys.schemas WHERE schema_id < 16384 ORDER BY 2"
    ) == [
        ("dbo", 1),
        ("guest", 2),
        ("INFORMATION_SCHEMA", 3),
        ("sys", 4),
        ("stage", 5),
    ]
    assert one(engine, session, "SELECT SCHEMA_NAME(schema_id) FROM sys.objects WHERE name = 't'") == "stage"


def test_sys_schemas_lists_the_fixed_role_schemas_owned_by_themselves(engine, session):
    got = rows(
        engine, session, "SELECT name, schema_id, principal_id FROM sys.schemas WHERE schema_id >= 16384"
    )
    assert ("db_owner", 16384, 16384) in got and ("db_denydatawriter", 16393, 16393) in got
    assert len(got) == 9
    assert one(engine, session, "SELECT SCHEMA_NAME(16390)") == "db_datareader"


# ---- sys.objects, sys.columns ----


def test_sys_objects_types(engine, session):
    got = rows(
        engine,
        session,
        "SELECT name, type, type_desc, schema_id, parent_object_id, is_ms_shipped FROM sys.objects "
        "WHERE name LIKE '%Cat%' ORDER BY name",
    )
    # A primary key is an object of its own, its table the parent (as on SQL Server).
    orders_id = one(engine, session, "SELECT OBJECT_ID('CatOrders')")
    assert got == [
        ("CatNotes", "U ", "USER_TABLE", 1, 0, False),
        ("CatOrders", "U ", "USER_TABLE", 1, 0, False),
        ("PK_CatOrders", "PK", "PRIMARY_KEY_CONSTRAINT", 1, orders_id, False),
        ("vwCatOrders", "V ", "VIEW", 1, 0, False),
    ]
    assert one(engine, session, "SELECT object_id FROM sys.objects WHERE name = 'CatOrders'") == one(
        engine, session, "SELECT OBJECT_ID('CatOrders')"
    )


def test_sys_columns_types_and_lengths(engine, session):
    got = rows(
        engine,
        session,
        "SELECT c.name, c.column_id, c.system_type_id, c.max_length, c.precision, c.scale, "
        "c.is_nullable, c.is_identity, c.collation_name FROM sys.columns c "
        "JOIN sys.objects o ON o.object_id = c.object_id WHERE o.name = 'CatOrders' ORDER BY c.column_id",
    )
    collation = "SQL_Latin1_General_CP1_CI_AS"
    assert got == [
        ("id", 1, 56, 4, 10, 0, False, True, None),
        ("doc", 2, 231, 20, 0, 0, False, False, collation),
        ("item", 3, 239, 12, 0, 0, False, False, collation),
        ("amount", 4, 106, 9, 15, 2, True, False, None),
        ("created", 5, 42, 7, 23, 3, True, False, None),
    ]
    notes = rows(
        engine,
        session,
        "SELECT name, system_type_id, max_length, precision FROM sys.columns "
        "WHERE object_id = OBJECT_ID('CatNotes') ORDER BY column_id",
    )
    assert notes == [("note", 167, 30, 0), ("flag", 104, 1, 1)]


# ---- sys.indexes, sys.index_columns, INFORMATION_SCHEMA key views ----


def test_primary_key_is_a_clustered_unique_index(engine, session):
    got = rows(
        engine,
        session,
        "SELECT i.name, i.index_id, i.type, i.type_desc, i.is_unique, i.is_primary_key, i.has_filter "
        "FROM sys.indexes i WHERE i.object_id = OBJECT_ID('CatOrders')",
    )
    assert got == [("PK_CatOrders", 1, 1, "CLUSTERED", True, True, False)]
    key = rows(
        engine,
        session,
        "SELECT key_ordinal, column_id, is_included_column FROM sys.index_columns "
        "WHERE object_id = OBJECT_ID('CatOrders') ORDER BY key_ordinal",
    )
    assert key == [(1, 2, False), (2, 3, False)]


def test_table_without_key_is_a_heap_and_a_view_has_no_index(engine, session):
    assert rows(
        engine,
        session,
        "SELECT name, index_id, type_desc FROM sys.indexes WHERE object_id = OBJECT_ID('CatNotes')",
    ) == [(None, 0, "HEAP")]
    assert rows(engine, session, "SELECT * FROM sys.indexes WHERE object_id = OBJECT_ID('vwCatOrders')") == []


def test_pgloader_index_query(engine, session):
    got = rows(engine, session, PGLOADER_INDEXES.format(table="CatOrders"))
    assert got == [
        ("dbo", "CatOrders", "PK_CatOrders", "doc", True, True, None),
        ("dbo", "CatOrders", "PK_CatOrders", "item", True, True, None),
    ]
    assert rows(engine, session, PGLOADER_INDEXES.format(table="vwCatOrders")) == []


def test_key_column_usage_lists_primary_key_columns(engine, session):
    got = rows(
        engine,
        session,
        "SELECT CONSTRAINT_CATALOG, CONSTRAINT_SCHEMA, CONSTRAINT_NAME, TABLE_NAME, COLUMN_NAME, "
        "ORDINAL_POSITION FROM INFORMATION_SCHEMA.KEY_COLUMN_USAGE WHERE TABLE_NAME = 'CatOrders' "
        "ORDER BY ORDINAL_POSITION",
    )
    assert got == [
        ("ProcessStatus", "dbo", "PK_CatOrders", "CatOrders", "doc", 1),
        ("ProcessStatus", "dbo", "PK_CatOrders", "CatOrders", "item", 2),
    ]


def test_pgloader_foreign_key_query_is_empty_without_foreign_keys(engine, session):
    assert rows(engine, session, PGLOADER_FKEYS) == []


def test_dropping_a_table_removes_its_catalog_rows(session):
    engine = Engine()
    list(engine.execute_batch(session, "CREATE TABLE dbo.gone (a int PRIMARY KEY, b nvarchar(5))"))
    object_id = one(engine, session, "SELECT OBJECT_ID('gone')")
    list(engine.execute_batch(session, "DROP TABLE dbo.gone"))
    for view in ("sys.objects", "sys.columns", "sys.indexes", "sys.index_columns"):
        assert rows(engine, session, f"SELECT * FROM {view} WHERE object_id = {object_id}") == []
    assert (
        rows(engine, session, "SELECT * FROM INFORMATION_SCHEMA.KEY_COLUMN_USAGE WHERE TABLE_NAME = 'gone'")
        == []
    )


# ---- over TDS with pymssql ----


@pytest.fixture
def catalog_objects(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    cursor = conn.cursor()
    for name, kind in (("vwCatOrders", "VIEW"), ("CatOrders", "TABLE")):
        cursor.execute(f"IF OBJECT_ID('dbo.{name}') IS NOT NULL DROP {kind} dbo.{name}")
    cursor.execute(ORDERS)
    cursor.execute(VIEW)
    yield cursor
    cursor.execute("DROP VIEW dbo.vwCatOrders")
    cursor.execute("DROP TABLE dbo.CatOrders")


def test_pymssql_runs_pgloaders_column_query(catalog_objects):
    catalog_objects.execute(PGLOADER_COLUMNS.format(kind="BASE TABLE", table="CatOrders"))
    got = catalog_objects.fetchall()
    assert [(r[2], r[3], r[4], r[5]) for r in got] == [
        ("id", "int", "NO", 1),
        ("doc", "nvarchar", "NO", 0),
        ("item", "nchar", "NO", 0),
        ("amount", "decimal", "YES", 0),
        ("created", "datetime2", "YES", 0),
    ]


def test_pymssql_runs_pgloaders_index_query(catalog_objects):
    catalog_objects.execute(PGLOADER_INDEXES.format(table="CatOrders"))
    assert catalog_objects.fetchall() == [
        ("dbo", "CatOrders", "PK_CatOrders", "doc", True, True, None),
        ("dbo", "CatOrders", "PK_CatOrders", "item", True, True, None),
    ]


def test_pymssql_runs_pgloaders_foreign_key_query(catalog_objects):
    catalog_objects.execute(PGLOADER_FKEYS)
    assert catalog_objects.fetchall() == []


def test_pymssql_reads_sys_views(catalog_objects):
    catalog_objects.execute(
        "SELECT o.type, o.type_desc, COUNT(c.column_id) FROM sys.objects o "
        "JOIN sys.columns c ON c.object_id = o.object_id WHERE o.name = 'vwCatOrders' GROUP BY o.type, o.type_desc"
    )
    assert catalog_objects.fetchall() == [("V ", "VIEW", 3)]
    catalog_objects.execute("SELECT SCHEMA_NAME(schema_id), name FROM sys.schemas WHERE schema_id = 1")
    assert catalog_objects.fetchall() == [("dbo", "dbo")]


# ---- CONVERT(varchar, <datetime/date>, 126): how pgloader reads dates ----


@pytest.mark.parametrize(
    ("value", "kind", "style", "expected"),
    [
        ("2027-02-15 23:59:59.997", "datetime", 126, "2027-02-15T23:59:59.997"),  # tick .996667 shows .997
        ("2026-12-11 10:00:00.003", "datetime", 126, "2026-12-11T10:00:00.003"),
        ("2026-12-11 00:00:00", "datetime", 126, "2026-12-11T00:00:00"),  # 126 drops a zero fraction
        ("2026-12-11 00:00:00", "datetime", 121, "2026-12-11 00:00:00.000"),  # 121 keeps it
        ("9999-12-31 23:59:59.997", "datetime", 121, "9999-12-31 23:59:59.997"),
        ("2026-12-11", "date", 126, "2026-12-11"),  # a date has no time part to show
        ("2026-12-11", "date", 121, "2026-12-11"),
    ],
)
def test_convert_datetime_and_date_styles(engine, session, value, kind, style, expected):
    sql = f"SELECT CONVERT(varchar(30), CAST('{value}' AS {kind}), {style})"
    assert one(engine, session, sql) == expected


def test_pymssql_convert_datetime_column_style_126(pymssql_connect):
    cursor = pymssql_connect(autocommit=True).cursor()
    cursor.execute(
        "SELECT CONVERT(varchar(30), d, 126) FROM (SELECT CAST('2027-02-15 23:59:59.997' AS datetime) AS d "
        "UNION ALL SELECT CAST('2026-12-11' AS datetime)) AS v ORDER BY 1"
    )
    assert cursor.fetchall() == [("2026-12-11T00:00:00",), ("2027-02-15T23:59:59.997",)]


# sys.dm_exec_sessions: https://learn.microsoft.com/en-us/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql
def _one(cursor, sql: str) -> tuple:
    cursor.execute(sql)
    return cursor.fetchone()


def test_dm_exec_sessions_lists_each_live_session_with_its_settings(pymssql_connect):
    asker, other = pymssql_connect(autocommit=True).cursor(), pymssql_connect(autocommit=True)
    other_cursor = other.cursor()
    other_cursor.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    other_cursor.execute("SET LOCK_TIMEOUT 1500")
    (other_spid,) = _one(other_cursor, "SELECT @@SPID")
    asker_spid, database_id, login = _one(asker, "SELECT @@SPID, DB_ID(), SUSER_SNAME()")
    # A session starts at READ COMMITTED (2), waits for locks forever (-1), has no transaction.
    assert _one(
        asker,
        "SELECT status, transaction_isolation_level, lock_timeout, open_transaction_count,"
        " database_id, login_name, is_user_process FROM sys.dm_exec_sessions WHERE session_id = @@SPID",
    ) == ("running", 2, -1, 0, database_id, login, True)
    assert _one(
        asker,
        "SELECT status, transaction_isolation_level, lock_timeout FROM sys.dm_exec_sessions"
        f" WHERE session_id = {other_spid}",
    ) == ("sleeping", 4, 1500)
    assert _one(
        asker,
        f"SELECT COUNT(*) FROM master.sys.dm_exec_sessions WHERE session_id IN ({asker_spid}, {other_spid})",
    ) == (2,)
    other.close()
    deadline = time.monotonic() + 5
    while _one(asker, f"SELECT COUNT(*) FROM sys.dm_exec_sessions WHERE session_id = {other_spid}") != (0,):
        assert time.monotonic() < deadline, "a closed session stays in sys.dm_exec_sessions"
        time.sleep(0.05)


def test_dm_exec_sessions_shows_python_tds_isolation_levels(pytds_connect):
    # python-tds sets a level through TM_BEGIN_XACT's IsolationLevel ([MS-TDS] 2.2.6.9); its own
    # suite reads it back from this view (transaction_test.py, test_isolation_level).
    conn = pytds_connect(autocommit=False)
    with conn.cursor() as cursor:
        for level in (4, 5, 2, 1, 3):
            conn.isolation_level = level
            cursor.execute(
                "SELECT transaction_isolation_level FROM sys.dm_exec_sessions WHERE session_id = @@SPID"
            )
            assert cursor.fetchone() == (level,)


def test_sys_system_views_lists_dm_exec_sessions(pymssql_connect):
    # SQLAlchemy's get_isolation_level looks the view up here before reading it.
    cursor = pymssql_connect().cursor()
    cursor.execute(
        "SELECT name FROM sys.system_views WHERE name IN ('dm_exec_sessions', 'dm_pdw_nodes_exec_sessions')"
    )
    assert cursor.fetchall() == [("dm_exec_sessions",)]


@pytest.mark.parametrize(
    "call",
    [
        "fn_listextendedproperty(default, default, default, default, default, default, default)",
        "sys.fn_listextendedproperty(N'MS_Description', N'schema', N'dbo', N'table', N'CatNotes', NULL, NULL) AS p",
    ],
)
def test_fn_listextendedproperty_returns_no_rows(pymssql_connect, call):
    # https://learn.microsoft.com/en-us/sql/relational-databases/system-functions/sys-fn-listextendedproperty-transact-sql:
    # the emulator has no extended properties, so every call lists none (it was 208).
    cursor = pymssql_connect().cursor()
    cursor.execute(f"SELECT objtype, objname, name, value FROM {call}")
    assert [d[0] for d in cursor.description] == ["objtype", "objname", "name", "value"]
    assert cursor.fetchall() == []
