"""``source.isolation: snapshot`` against the emulator, whose sys.databases reports
snapshot_isolation_state_desc = ON (its transactions are snapshots; its README, "Transactions and
sessions"). The refusal of a database that does not allow it is tests/unit/test_source_session.py's.
"""

from __future__ import annotations

import pymssql

from include.table_sync.pipeline import sync_once
from tests.sync.edge_rows import create_edge_view, edge_mapping, expected_rows, landed_rows
from tests.sync.support import history, make_context, source_connection


def test_a_snapshot_read_lands_every_value(mssql, orders_db, tmp_path):
    with source_connection(mssql) as conn:
        keys = create_edge_view(conn)
        cursor = conn.cursor()
        cursor.execute(
            "SELECT snapshot_isolation_state_desc FROM sys.databases WHERE name = N'ProcessStatus'"
        )
        assert cursor.fetchone() == ("ON",)
    for read_path in ("csv_line", "columns"):
        mapping = edge_mapping(tmp_path, read_path, ", isolation: snapshot")
        # pymssql without autocommit, as MsSqlHook connects: the switch to SNAPSHOT must not
        # meet a transaction begun under the old level.
        context = make_context(mapping, mssql, orders_db, run_id=f"snapshot-{read_path}")
        context.connect_source = lambda: pymssql.connect(**mssql.connect_kwargs(login_timeout=5, timeout=30))
        sync_once(context)
        assert history(orders_db)[-1]["status"] == "success"
    assert landed_rows(orders_db) == expected_rows(keys)
