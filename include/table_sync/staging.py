"""Per-attempt staging tables in PostgreSQL: names, creation, conversion into the snapshot, removal.

Each attempt owns UNLOGGED tables in the ``table_sync`` schema, named after the target and the
attempt id:

* ``<table>_a<id>_raw``: source values exactly as the server rendered them, plus each row's
  hash (row_state.row_hash_expression), computed by COPY while it waits for the reader;
* ``<table>_a<id>_keys``: every key of the snapshot (converted), its hash, the ``xmin`` of the
  live row then, and whether the row must be converted (row_state: new, changed, edited behind
  the sync's back, or a new mapping); the key checks, the shrink guard and the apply's delete
  read it, so they see the whole snapshot;
* ``<table>_a<id>``: the converted rows that must be converted (every row on a first load),
  typed exactly like the target columns; the remaining checks run on it and replace applies it.

They are ordinary tables (not TEMP) so that the three tasks may run in different processes or
workers. The functions returning statements are pure, so tests can read exactly what will run.
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
from include.table_sync.mapping import ColumnMapping, SyncMapping
from include.table_sync.row_state import row_hash_expression, row_state_identifier
from include.table_sync.target import SYNC_SCHEMA, relation_exists, table_identifier, tuned_transaction

# The raw table's generated column: the row's hash (row_state.row_hash_expression).
RAW_ROW_HASH = "_sync_row_hash"
# A flag of the fused conversion: the row holds a value its conversion cannot load.
BAD_ROW = "_sync_bad"


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
    def keys(self) -> str:
        return f"{self.snapshot}_keys"

    @property
    def snapshot_id(self) -> sql.Identifier:
        return sql.Identifier(SYNC_SCHEMA, self.snapshot)

    @property
    def raw_id(self) -> sql.Identifier:
        return sql.Identifier(SYNC_SCHEMA, self.raw)

    @property
    def keys_id(self) -> sql.Identifier:
        return sql.Identifier(SYNC_SCHEMA, self.keys)


@dataclass(frozen=True)
class SnapshotBuild:
    """What build_snapshot did: rows in the snapshot, and how many of them it converted."""

    rows: int
    converted: int


def create_raw_table_statement(mapping: SyncMapping, tables: StagingTables) -> sql.Composed:
    columns = [
        sql.SQL("{} {}").format(sql.Identifier(c.source), sql.SQL(raw_type(c.source_type)))
        for c in mapping.columns
    ]
    columns.append(
        sql.SQL("{} bigint GENERATED ALWAYS AS ({}) STORED").format(
            sql.Identifier(RAW_ROW_HASH), row_hash_expression(mapping)
        )
    )
    return sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(tables.raw_id, sql.SQL(", ").join(columns))


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


def _converted(column: ColumnMapping, bad: sql.Composable | None) -> sql.Composable:
    """The column's conversion, or a NULL of the target type where ``bad`` (a flag) is true.

    The typed NULL keeps the column's exact type (a bare NULL would lose varchar's length).
    """
    convert = CONVERSIONS[column.conversion].convert(_raw(column), column.target_type)
    if bad is None:
        return convert
    return sql.SQL("CASE WHEN {} THEN NULL::{} ELSE {} END").format(bad, sql.SQL(column.target_type), convert)


def create_keys_statement(mapping: SyncMapping, tables: StagingTables) -> sql.Composed:
    """Every raw row's converted key and hash, and whether it must be converted this run.

    A row is left out of the conversion only when the row state holds its key with the same
    hash and the live row is still the version the sync left (row_state). A key that cannot
    be converted becomes NULL here and is converted (and named) with the changed rows.
    """
    predicates = dict(invalid_predicates(mapping))
    keys = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(_converted(c, predicates.get(c.source)), sql.Identifier(c.target))
        for c in mapping.key_columns
    )

    def match(alias: str) -> sql.Composable:
        return sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier(alias, c.target), sql.Identifier("r", c.target))
            for c in mapping.key_columns
        )

    return sql.SQL(
        "CREATE UNLOGGED TABLE {keys_table} AS "
        "SELECT r.*, l.xmin AS _live_xmin, "
        "(st.row_hash IS NULL OR st.row_hash <> r._row_hash OR st.live_xmin IS NULL "
        "OR l.xmin IS NULL OR l.xmin <> st.live_xmin) AS _changed "
        "FROM (SELECT ctid AS _raw_row, {keys}, {hash} AS _row_hash FROM {raw}) AS r "
        "LEFT JOIN {state} AS st ON {state_match} "
        "LEFT JOIN {live} AS l ON {live_match}"
    ).format(
        keys_table=tables.keys_id,
        keys=keys,
        hash=sql.Identifier(RAW_ROW_HASH),
        raw=tables.raw_id,
        state=row_state_identifier(mapping),
        state_match=match("st"),
        live=table_identifier(mapping),
        live_match=match("l"),
    )


def count_keys_statement(tables: StagingTables) -> sql.Composed:
    return sql.SQL("SELECT count(*), count(*) FILTER (WHERE _changed) FROM {}").format(tables.keys_id)


def create_snapshot_statement(
    mapping: SyncMapping, tables: StagingTables, changed_only: bool = False
) -> sql.Composed:
    """Convert the raw rows into the snapshot table, typed exactly like the target columns.

    One pass does the bad-value scan and the conversion: the inner query evaluates each
    invalid-value predicate once (``OFFSET 0`` keeps PostgreSQL from inlining it twice), a
    flagged value converts to NULL instead of raising, and ``_sync_bad`` marks its row for
    find_bad_values. ``changed_only`` converts only the rows the keys table marks.
    """
    predicates = invalid_predicates(mapping)
    flags = {name: sql.Identifier(f"_sync_bad_{index}") for index, (name, _) in enumerate(predicates)}
    inner = [_raw(c) for c in mapping.columns]
    inner += [sql.SQL("{} AS {}").format(predicate, flags[name]) for name, predicate in predicates]
    outer = [
        sql.SQL("{} AS {}").format(_converted(c, flags.get(c.source)), sql.Identifier(c.target))
        for c in mapping.columns
    ]
    any_bad = sql.SQL("({})").format(sql.SQL(" OR ").join(flags.values())) if flags else sql.SQL("false")
    outer.append(sql.SQL("{} AS {}").format(any_bad, sql.Identifier(BAD_ROW)))
    where = (
        sql.SQL(" WHERE ctid IN (SELECT _raw_row FROM {} WHERE _changed)").format(tables.keys_id)
        if changed_only
        else sql.SQL("")
    )
    return sql.SQL("CREATE UNLOGGED TABLE {} AS SELECT {} FROM (SELECT {} FROM {}{} OFFSET 0) AS r").format(
        tables.snapshot_id, sql.SQL(", ").join(outer), sql.SQL(", ").join(inner), tables.raw_id, where
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


def build_snapshot(conn: psycopg.Connection, mapping: SyncMapping, tables: StagingTables) -> SnapshotBuild:
    """Classify the raw rows, convert those that need it (naming any bad value), drop the raw rows.

    One transaction with the mapping's work_mem and parallel workers (target.tuned_transaction):
    a bad value rolls the keys and the snapshot back; the caller drops the raw table.
    """
    with tuned_transaction(conn, mapping):
        conn.execute(create_keys_statement(mapping, tables))
        rows, converted = conn.execute(count_keys_statement(tables)).fetchone()
        conn.execute(analyze_keys_statement(mapping, tables))
        conn.execute(create_snapshot_statement(mapping, tables, changed_only=converted < rows))
        bad = conn.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {})").format(
                tables.snapshot_id, sql.Identifier(BAD_ROW)
            )
        ).fetchone()[0]
        if bad:
            # Rare and already failing: the raw rows are scanned again for the examples and the count.
            find_bad_values(conn, mapping, tables)
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(tables.snapshot_id, sql.Identifier(BAD_ROW))
        )
        conn.execute(analyze_key_statement(mapping, tables))
        conn.execute(sql.SQL("DROP TABLE {}").format(tables.raw_id))
    return SnapshotBuild(rows=rows, converted=converted)


def analyze_key_statement(mapping: SyncMapping, tables: StagingTables) -> sql.Composed:
    # Statistics of the key are what the checks' GROUP BY and the apply's joins need; all 67
    # columns would cost more than the rest of the validation.
    key = sql.SQL(", ").join(sql.Identifier(c.target) for c in mapping.key_columns)
    return sql.SQL("ANALYZE {} ({})").format(tables.snapshot_id, key)


def analyze_keys_statement(mapping: SyncMapping, tables: StagingTables) -> sql.Composed:
    # The flag's statistics let the planner pick how to fetch the rows to convert (few or all).
    key = sql.SQL(", ").join(sql.Identifier(c.target) for c in mapping.key_columns)
    return sql.SQL("ANALYZE {} ({}, _changed)").format(tables.keys_id, key)


def require_snapshot(conn: psycopg.Connection, tables: StagingTables) -> None:
    """Raise StagingMissingError when the staged snapshot is gone (dropped between tasks)."""
    for name in (tables.snapshot, tables.keys):
        if not relation_exists(conn, SYNC_SCHEMA, name):
            raise StagingMissingError(
                f"staged snapshot {SYNC_SCHEMA}.{name} is gone; "
                "nothing was applied (run again to take a fresh snapshot)"
            )


def drop_tables(conn: psycopg.Connection, tables: StagingTables) -> None:
    conn.execute(
        sql.SQL("DROP TABLE IF EXISTS {}, {}, {}").format(tables.raw_id, tables.keys_id, tables.snapshot_id)
    )


def sweep_orphans(conn: psycopg.Connection, mapping: SyncMapping) -> list[str]:
    """Drop staging tables of this target whose attempt is no longer running."""
    pattern = re.compile(rf"^{re.escape(mapping.target.table[:40])}_a(\d+)(_raw|_keys)?$")
    rows = conn.execute(
        sql.SQL(
            "SELECT c.relname, h.status FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN {} h ON h.id = substring(c.relname from '_a([0-9]+)(_raw|_keys)?$')::bigint "
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
