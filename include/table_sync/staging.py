"""Per-attempt staging tables in PostgreSQL: names, creation, conversion into the snapshot, removal.

Each attempt owns two UNLOGGED tables in the ``table_sync`` schema, named after the target and
the attempt id: ``<table>_a<id>_raw`` holds source values exactly as the server rendered them,
``<table>_a<id>`` the converted snapshot that validate checks and replace applies. They are
ordinary tables (not TEMP) so that the three tasks may run in different processes or workers.
The functions returning statements are pure, so tests can read exactly what will run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from include.table_sync.conversions import CONVERSIONS, raw_type
from include.table_sync.errors import StagingMissingError, SyncError
from include.table_sync.history import HISTORY
from include.table_sync.mapping import SyncMapping
from include.table_sync.target import SYNC_SCHEMA, relation_exists


@dataclass(frozen=True)
class BadValue:
    key: tuple[Any, ...]
    column: str
    value: Any
    reason: str


class ConversionError(SyncError):
    """Values that the contract's conversions cannot load; nothing was loaded."""

    def __init__(self, source: str, examples: list[BadValue], total: int):
        self.source = source
        self.examples = examples
        self.total = total
        lines = [f"{total} value(s) in {source} failed conversion; nothing was loaded. Examples:"]
        for bad in examples:
            key = "/".join(str(part) for part in bad.key)
            lines.append(f"  key {key}: column {bad.column} = {bad.value!r} ({bad.reason})")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class StagingTables:
    snapshot: str
    raw: str

    @classmethod
    def for_attempt(cls, mapping: SyncMapping, attempt_id: int) -> StagingTables:
        base = f"{mapping.target.table[:40]}_a{attempt_id}"
        return cls(snapshot=base, raw=f"{base}_raw")

    @property
    def snapshot_id(self) -> sql.Identifier:
        return sql.Identifier(SYNC_SCHEMA, self.snapshot)

    @property
    def raw_id(self) -> sql.Identifier:
        return sql.Identifier(SYNC_SCHEMA, self.raw)


def create_raw_table_statement(mapping: SyncMapping, tables: StagingTables) -> sql.Composed:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.source), sql.SQL(raw_type(c.source_type)))
        for c in mapping.columns
    )
    return sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(tables.raw_id, columns)


def copy_raw_statement(mapping: SyncMapping, tables: StagingTables) -> sql.Composed:
    """COPY of the lines tsql.csv_line_statement renders: CSV, columns in mapping order."""
    columns = sql.SQL(", ").join(sql.Identifier(c.source) for c in mapping.columns)
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(tables.raw_id, columns)


def copy_raw_rows_statement(mapping: SyncMapping, tables: StagingTables) -> sql.Composed:
    """COPY of typed rows (tsql.select_statement) in COPY's text format, written row by row."""
    columns = sql.SQL(", ").join(sql.Identifier(c.source) for c in mapping.columns)
    return sql.SQL("COPY {} ({}) FROM STDIN").format(tables.raw_id, columns)


def _raw(column) -> sql.Identifier:
    return sql.Identifier(column.source)


def invalid_predicates(mapping: SyncMapping) -> list[tuple[str, sql.Composable]]:
    """(source column, predicate true for values its conversion cannot load).

    Checks that no value of the declared source type can fail are left out; a custom query's
    types are not verified against the catalog, so all of its checks run.
    """
    predicates = []
    for column in mapping.columns:
        declared = column.source_type if mapping.source.query is None else None
        predicate = CONVERSIONS[column.conversion].invalid(_raw(column), column.target_type, declared)
        if predicate is not None:
            predicates.append((column.source, predicate))
    return predicates


def bad_values_statement(mapping: SyncMapping, tables: StagingTables, limit: int) -> sql.Composed:
    """One scan of the raw table returning up to ``limit`` rows holding unconvertible values."""
    predicates = invalid_predicates(mapping)
    select = [sql.SQL("{}::text").format(_raw(c)) for c in mapping.key_columns]
    for name, predicate in predicates:
        select.append(sql.SQL("{}").format(predicate))
        select.append(sql.SQL("{}::text").format(sql.Identifier(name)))
    where = sql.SQL(" OR ").join(predicate for _, predicate in predicates) if predicates else sql.SQL("false")
    return sql.SQL("SELECT {} FROM {} WHERE {} LIMIT {}").format(
        sql.SQL(", ").join(select), tables.raw_id, where, sql.Literal(limit)
    )


def count_bad_rows_statement(mapping: SyncMapping, tables: StagingTables) -> sql.Composed:
    predicates = invalid_predicates(mapping)
    where = sql.SQL(" OR ").join(p for _, p in predicates) if predicates else sql.SQL("false")
    return sql.SQL("SELECT count(*) FROM {} WHERE {}").format(tables.raw_id, where)


def create_snapshot_statement(mapping: SyncMapping, tables: StagingTables) -> sql.Composed:
    """Convert the raw rows into the snapshot table, typed exactly like the target columns."""
    select = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(
            CONVERSIONS[c.conversion].convert(_raw(c), c.target_type), sql.Identifier(c.target)
        )
        for c in mapping.columns
    )
    return sql.SQL("CREATE UNLOGGED TABLE {} AS SELECT {} FROM {}").format(
        tables.snapshot_id, select, tables.raw_id
    )


def find_bad_values(conn: psycopg.Connection, mapping: SyncMapping, tables: StagingTables) -> None:
    """Raise ConversionError naming key, column and raw value of every (up to N) bad value."""
    limit = mapping.thresholds.max_error_examples
    rows = conn.execute(bad_values_statement(mapping, tables, limit)).fetchall()
    if not rows:
        return
    key_width = len(mapping.key_columns)
    predicates = invalid_predicates(mapping)
    examples: list[BadValue] = []
    for row in rows:
        key = tuple(row[:key_width])
        flags = row[key_width:]
        for index, (name, _) in enumerate(predicates):
            if flags[2 * index]:
                column = mapping.column(name)
                examples.append(
                    BadValue(key, name, flags[2 * index + 1], CONVERSIONS[column.conversion].reason)
                )
    total = conn.execute(count_bad_rows_statement(mapping, tables)).fetchone()[0]
    raise ConversionError(mapping.source.qualified_name, examples[:limit], total)


def build_snapshot(conn: psycopg.Connection, mapping: SyncMapping, tables: StagingTables) -> None:
    """Convert the raw rows into the snapshot (after naming any bad value), then drop them."""
    find_bad_values(conn, mapping, tables)
    conn.execute(create_snapshot_statement(mapping, tables))
    conn.execute(analyze_key_statement(mapping, tables))
    conn.execute(sql.SQL("DROP TABLE {}").format(tables.raw_id))


def analyze_key_statement(mapping: SyncMapping, tables: StagingTables) -> sql.Composed:
    # Statistics of the key are what the checks' GROUP BY and the apply's joins need; all 67
    # columns would cost more than the rest of the validation.
    key = sql.SQL(", ").join(sql.Identifier(c.target) for c in mapping.key_columns)
    return sql.SQL("ANALYZE {} ({})").format(tables.snapshot_id, key)


def require_snapshot(conn: psycopg.Connection, tables: StagingTables) -> None:
    """Raise StagingMissingError when the staged snapshot is gone (dropped between tasks)."""
    if not relation_exists(conn, SYNC_SCHEMA, tables.snapshot):
        raise StagingMissingError(
            f"staged snapshot {SYNC_SCHEMA}.{tables.snapshot} is gone; "
            "nothing was applied (run again to take a fresh snapshot)"
        )


def drop_tables(conn: psycopg.Connection, tables: StagingTables) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}, {}").format(tables.raw_id, tables.snapshot_id))


def sweep_orphans(conn: psycopg.Connection, mapping: SyncMapping) -> list[str]:
    """Drop staging tables of this target whose attempt is no longer running."""
    pattern = re.compile(rf"^{re.escape(mapping.target.table[:40])}_a(\d+)(_raw)?$")
    rows = conn.execute(
        sql.SQL(
            "SELECT c.relname, h.status FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN {} h ON h.id = substring(c.relname from '_a([0-9]+)(_raw)?$')::bigint "
            "WHERE n.nspname = %s AND c.relkind = 'r'"
        ).format(HISTORY),
        (SYNC_SCHEMA,),
    ).fetchall()
    dropped = []
    for relname, status in rows:
        if pattern.match(relname) and status != "running":
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SYNC_SCHEMA, relname)))
            dropped.append(relname)
    return dropped
