"""SQLAlchemy's MSSQL dialect (``mssql+pymssql``) reflects the emulator's objects as SQL Server's.

SQLAlchemy is the version Airflow pins (constraints.txt: sqlalchemy 2.1.9); no separate install.
Its reflection is its own SQL, not ours: ``get_columns`` joins sys.columns, sys.types (twice, for
the base type), sys.default_constraints, sys.computed_columns, sys.identity_columns and
sys.extended_properties with three-part column names (``sys.objects.name``);
``get_pk_constraint`` reads sys.key_constraints ``WITH (READPAST)``; ``get_table_names`` reads
INFORMATION_SCHEMA.TABLES. The expected column types of the demo view are the data contract's
(``shared/contract/vwZSDOrder_Advanced.csv``), not the emulator's.
"""

from __future__ import annotations

import contextlib
import csv
import re
import subprocess
import sys

import pymssql
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.pool import NullPool

from devtools.demo_source.generate import create_source
from tests.conftest import CONTRACT_DIR
from tests.emulator.test_clients import (
    BAD_LOGIN,
    EVERY_TYPE_QUERY,
    MISSING_OBJECT,
    MISSING_OBJECT_QUERY,
    SYNTAX_ERROR,
    SYNTAX_ERROR_QUERY,
    assert_every_type,
)

VIEW = "vwZSDOrder_Advanced"
KEYED = "SaReflectKeyed"
KEYED_DDL = f"""
CREATE TABLE dbo.{KEYED} (
    id int IDENTITY(1,1) NOT NULL,
    doc nvarchar(10) NOT NULL,
    item nchar(6) NOT NULL,
    note varchar(20) NULL DEFAULT 'none',
    amount decimal(15,3) NULL,
    changed datetime2(7) NULL,
    CONSTRAINT PK_{KEYED} PRIMARY KEY (doc, item)
)
"""


def make_engine(emulator) -> sa.Engine:
    url = sa.URL.create(
        "mssql+pymssql",
        username=emulator.user,
        password=emulator.password,
        host=emulator.host,
        port=emulator.port,
        database=emulator.database,
    )
    connect_args = {"tds_version": "7.4", "login_timeout": 10, "timeout": 60}
    return sa.create_engine(url, connect_args=connect_args, poolclass=NullPool)


@pytest.fixture(scope="module")
def engine(emulator):
    """The demo view (created if missing, never replaced) and a keyed table in ProcessStatus."""
    kwargs = emulator.connect_kwargs(login_timeout=10, timeout=60)
    with contextlib.closing(pymssql.connect(**kwargs)) as conn:
        cursor = conn.cursor()
        cursor.execute(f"SELECT OBJECT_ID('dbo.{VIEW}', 'V')")
        if cursor.fetchone()[0] is None:
            create_source(conn)
        cursor.execute(f"IF OBJECT_ID('dbo.{KEYED}', 'U') IS NOT NULL DROP TABLE dbo.{KEYED}")
        cursor.execute(KEYED_DDL)
        conn.commit()
    engine = make_engine(emulator)
    yield engine
    engine.dispose()


def type_text(sql_type) -> str:
    """A reflected type as the contract writes it: nvarchar(10), decimal(15,3), int."""
    compiled = sql_type.compile(dialect=mssql.dialect()).lower()
    compiled = re.sub(r"\s+collate\s+\S+", "", compiled).replace(" ", "")
    return {"integer": "int"}.get(compiled, compiled)


def contract_columns() -> list[tuple[str, str]]:
    """The contract's (column, type); datetime2 without its scale, which SQLAlchemy's reflection
    leaves out for any server (its _parse_column_info gives precision to numeric types only)."""
    with (CONTRACT_DIR / "vwZSDOrder_Advanced.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [
        (row["source_column"], re.sub(r"^datetime2\(\d\)$", "datetime2", row["sqlserver_type"]))
        for row in rows
    ]


def test_get_columns_of_the_demo_view_are_the_contracts(engine):
    columns = sa.inspect(engine).get_columns(VIEW, schema="dbo")
    assert [(c["name"], type_text(c["type"])) for c in columns] == contract_columns()
    # A view over nullable columns has nullable columns; none is an identity.
    assert all(c["nullable"] and not c["autoincrement"] for c in columns)
    texts = [c for c in columns if isinstance(c["type"], sa.String)]
    assert texts and {c["type"].collation for c in texts} == {"SQL_Latin1_General_CP1_CI_AS"}


def test_get_columns_of_a_table_with_identity_default_and_key(engine):
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns(KEYED, schema="dbo")}
    assert list(columns) == ["id", "doc", "item", "note", "amount", "changed"]
    assert columns["id"]["autoincrement"] is True
    assert columns["id"]["identity"] == {"start": 1, "increment": 1}
    assert columns["note"]["default"] == "('none')"
    assert [columns[n]["nullable"] for n in columns] == [False, False, False, True, True, True]
    assert type_text(columns["item"]["type"]) == "nchar(6)"
    assert type_text(columns["amount"]["type"]) == "decimal(15,3)"
    assert type_text(columns["changed"]["type"]) == "datetime2"  # no scale: see contract_columns


def test_get_pk_constraint_of_a_table(engine):
    key = sa.inspect(engine).get_pk_constraint(KEYED, schema="dbo")
    assert key == {
        "constrained_columns": ["doc", "item"],
        "name": f"PK_{KEYED}",
        "dialect_options": {"mssql_clustered": True},
    }


def test_get_table_names_lists_tables_and_not_views(engine):
    inspector = sa.inspect(engine)
    tables = inspector.get_table_names(schema="dbo")
    assert KEYED in tables and "ZSDOrderItem" in tables
    assert VIEW not in tables
    assert VIEW in inspector.get_view_names(schema="dbo")
    assert inspector.has_table(KEYED, schema="dbo") and not inspector.has_table("NoSuchTable", schema="dbo")


def test_reflecting_a_missing_table_raises_no_such_table(engine):
    with pytest.raises(sa.exc.NoSuchTableError):
        sa.Table("NoSuchTable", sa.MetaData(), schema="dbo", autoload_with=engine)


def test_reads_every_type_through_sqlalchemy(engine):
    with engine.connect() as conn:
        result = conn.execute(sa.text(EVERY_TYPE_QUERY))
        columns = list(result.keys())
        rows = result.fetchall()
    assert len(rows) == 1
    assert_every_type(columns, tuple(rows[0]))


# pymssql gives the server's words only for the first failed login of a process (later ones
# carry DB-Library's alone, against any server), and test_clients.py checks those words: the
# bad login runs in a process of its own.
BAD_LOGIN_SCRIPT = """
import sys
import sqlalchemy as sa
user, password, host, port, database = sys.argv[1:6]
url = sa.URL.create("mssql+pymssql", username=user, password=password, host=host, port=int(port), database=database)
engine = sa.create_engine(url, connect_args={"tds_version": "7.4", "login_timeout": 10})
try:
    engine.connect()
except sa.exc.OperationalError as error:
    number, message = error.orig.args[0]
    print(number, message.decode().split(".")[0])
"""


def test_bad_login_is_18456(emulator):
    result = subprocess.run(
        [sys.executable, "-c", BAD_LOGIN_SCRIPT, emulator.user, "not-the-" + "password", emulator.host,
         str(emulator.port), emulator.database],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.stdout.strip() == f"{BAD_LOGIN} Login failed for user 'demo'", result.stderr[-2000:]


@pytest.mark.parametrize(
    ("query", "number"), [(MISSING_OBJECT_QUERY, MISSING_OBJECT), (SYNTAX_ERROR_QUERY, SYNTAX_ERROR)]
)
def test_sees_sql_server_error_numbers(engine, query, number):
    with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as caught:
        conn.execute(sa.text(query))
    assert caught.value.orig.args[0] == number
