"""Helpers for sync tests: contexts over real connections, table checksums, the contract in Python.

``expected_target_row`` applies the contract's conversions as ``tests_manual/contract.py``
writes them in Python (the one oracle of both test suites), so tests compare what PostgreSQL
holds with what the contract says it must hold.
"""

from __future__ import annotations

import contextlib
import logging

import psycopg
import pymssql

from devtools.demo_source.generate import create_source, seed_source
from include.table_sync.mapping import SyncMapping, load_mapping
from include.table_sync.pipeline import SyncContext
from include.table_sync.row_state import ROW_STATE_SUFFIX
from tests.conftest import REPO_ROOT
from tests_manual.contract import expected_value

OPEN_ORDERS_MAPPING = REPO_ROOT / "include" / "mappings" / "open_orders.yaml"


def open_orders_mapping() -> SyncMapping:
    return load_mapping(OPEN_ORDERS_MAPPING)


def source_connection(mssql, **overrides):
    kwargs = mssql.connect_kwargs(login_timeout=5, timeout=30)
    kwargs.update(overrides)
    conn = pymssql.connect(**kwargs)
    conn.autocommit(True)
    return conn


@contextlib.contextmanager
def seeded_demo_source(mssql, rows: int, seed: int):
    """The demo view, recreated and seeded with ``rows`` deterministic rows; yields the connection.

    The seed is one transaction; the connection is in autocommit afterwards, so a test's own
    ``apply_changes`` is visible to the sync at once.
    """
    conn = source_connection(mssql)
    conn.autocommit(False)
    create_source(conn)
    seed_source(conn, rows, seed=seed)
    conn.autocommit(True)
    try:
        yield conn
    finally:
        conn.close()


def make_context(mapping, mssql, dsn, run_id="run-1", source_overrides=None, log=None) -> SyncContext:
    return SyncContext(
        mapping=mapping,
        run_id=run_id,
        connect_source=lambda: source_connection(mssql, **(source_overrides or {})),
        connect_target=lambda: psycopg.connect(dsn),
        secrets=(mssql.password,),
        log=log or logging.getLogger("table_sync"),
    )


def table_checksum(dsn: str, table: str = "public.open_orders") -> tuple[int, str]:
    """Row count and an md5 over every column of every row, in id order."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '') FROM {table} t"
        ).fetchone()


def last_success_at(dsn: str, view: str = "public.open_orders_sync_status"):
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT last_success_at FROM {view}").fetchone()[0]


def history(dsn: str) -> list[dict]:
    with psycopg.connect(dsn, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT * FROM table_sync.history ORDER BY id").fetchall()


def staging_tables(dsn: str) -> list[str]:
    """Per-attempt tables left in ``table_sync`` (the history and the row state are kept)."""
    with psycopg.connect(dsn) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'table_sync' AND tablename <> 'history' "
                "AND NOT tablename LIKE %s",
                ("%" + ROW_STATE_SUFFIX,),
            )
        ]


def source_rows_as_text(mssql, mapping: SyncMapping) -> dict[tuple, tuple]:
    """Read the view independently (pymssql, datetime2 as text) keyed by the raw key."""
    select = ", ".join(
        f"CONVERT(varchar(27), [{c.source}], 121)" if c.source_type.name == "datetime2" else f"[{c.source}]"
        for c in mapping.columns
    )
    with source_connection(mssql) as conn:
        cursor = conn.cursor()
        cursor.execute(f"SELECT {select} FROM ProcessStatus.dbo.vwZSDOrder_Advanced")
        rows = cursor.fetchall()
    return {(row[0].rstrip(" "), row[1].rstrip(" ")): row for row in rows}


def expected_target_row(mapping: SyncMapping, raw_row: tuple) -> tuple:
    return tuple(
        expected_value(c.conversion, value) for c, value in zip(mapping.columns, raw_row, strict=True)
    )


def target_rows(dsn: str, mapping: SyncMapping) -> dict[tuple, tuple]:
    columns = ", ".join(f'"{c.target}"' for c in mapping.columns)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT {columns} FROM public.open_orders").fetchall()
    return {(row[0], row[1]): row for row in rows}
