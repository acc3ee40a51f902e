"""The sync reads whole lines whatever TEXTSIZE the Airflow connection leaves the session at.

SQL Server cuts every nvarchar(max) value a SELECT returns at the session's TEXTSIZE, silently
(set-textsize-transact-sql). pymssql sets TEXTSIZE in its default conn_properties, but an Airflow
connection extra ``conn_properties`` replaces them all; the emulator cuts as SQL Server does
(tests/emulator/test_textsize.py), so a line longer than the connection's TEXTSIZE arrives whole
only because the sync sends ``tsql.TEXTSIZE_STATEMENT`` itself before reading.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json

import psycopg
import pytest

from devtools.stack import mssql_connection
from include.sync_dag import source_hook
from include.table_sync.mapping import load_mapping
from include.table_sync.pipeline import sync_once
from tests.sync.support import history, make_context, source_connection

CONN_ID = "mssql_small_textsize"
SMALL_TEXTSIZE = 64
# A few KB of CSV line: quotes are doubled in it, and a supplementary character is 4 bytes.
LONG_NOTE = ('say "hi", then ' + "é" * 40 + " 😀 ") * 60


def _airflow_connection(monkeypatch, mssql) -> None:
    """The documented connection (devtools.stack.mssql_connection) with a conn_properties extra."""
    connection = mssql_connection(mssql, timeout=60)
    connection["extra"]["conn_properties"] = f"SET TEXTSIZE {SMALL_TEXTSIZE}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))


def _long_view(mssql) -> None:
    with contextlib.closing(source_connection(mssql)) as conn:
        cursor = conn.cursor()
        cursor.execute("IF OBJECT_ID(N'dbo.vwTextsizeLong', N'V') IS NOT NULL DROP VIEW dbo.vwTextsizeLong")
        cursor.execute("IF OBJECT_ID(N'dbo.TextsizeLong', N'U') IS NOT NULL DROP TABLE dbo.TextsizeLong")
        cursor.execute("CREATE TABLE dbo.TextsizeLong (Id nvarchar(4) NOT NULL, Note nvarchar(max))")
        cursor.execute("CREATE VIEW dbo.vwTextsizeLong AS SELECT Id, Note FROM dbo.TextsizeLong")
        cursor.execute("INSERT INTO dbo.TextsizeLong VALUES (%s, %s)", ("T1", LONG_NOTE))


@pytest.mark.parametrize("read_path", ["csv_line", "columns"])  # the typed read's values are cut too
def test_a_long_line_arrives_whole_through_a_connection_with_a_small_textsize(
    monkeypatch, mssql, orders_db, tmp_path, read_path
):
    _long_view(mssql)
    _airflow_connection(monkeypatch, mssql)
    # The control: this connection alone cuts the value to SMALL_TEXTSIZE bytes (32 characters).
    with contextlib.closing(source_hook(CONN_ID).get_conn()) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT @@TEXTSIZE, Note FROM dbo.vwTextsizeLong")
        textsize, cut = cursor.fetchone()
    assert (textsize, cut) == (SMALL_TEXTSIZE, LONG_NOTE[:32])
    path = tmp_path / "textsize_long.yaml"
    path.write_text(
        "name: textsize_long\n"
        f"source: {{conn_id: {CONN_ID}, database: ProcessStatus, schema: dbo, object: vwTextsizeLong, "
        f"read_path: {read_path}}}\n"
        "target: {conn_id: postgres_orders, schema: public, table: textsize_long}\n"
        "key: [Id]\n"
        "columns:\n"
        "  - {source: Id, source_type: nvarchar(4), target: id_text, target_type: varchar(4), "
        "conversion: trim, nullable: false}\n"
        "  - {source: Note, source_type: nvarchar(max), target: note, target_type: text, "
        "conversion: none, nullable: true}\n"
    )
    context = make_context(load_mapping(path), mssql, orders_db, run_id=f"textsize-{read_path}")
    context = dataclasses.replace(context, connect_source=source_hook(CONN_ID).get_conn)

    sync_once(context)

    with psycopg.connect(orders_db) as conn:
        assert conn.execute("SELECT id_text, note FROM public.textsize_long").fetchall() == [
            ("T1", LONG_NOTE)
        ]
    assert history(orders_db)[-1]["read_path"] == read_path
