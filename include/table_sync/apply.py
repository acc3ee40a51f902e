"""Make the live table equal the snapshot, in one PostgreSQL transaction.

Set-based: delete keys the snapshot no longer has (read from the staged keys, every key of the
source), update rows whose values changed and insert new keys (from the converted rows, which
are all rows on a first load and the new, changed and repaired ones on a re-sync). Surviving
keys keep ``id`` and ``created_at``; ``updated_at`` moves only on changed rows, so an unchanged
snapshot writes nothing. The row state (row_state.py) follows in the same transaction. Only row
locks are taken (no TRUNCATE, no table lock): readers keep reading the old rows until the
commit makes the new ones visible at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from include.table_sync.mapping import SyncMapping
from include.table_sync.row_state import forget_vanished_statement, remember_converted_statement
from include.table_sync.target import lock_timeout_statement, table_identifier


@dataclass(frozen=True)
class ApplyCounts:
    inserted: int
    updated: int
    deleted: int
    unchanged: int
    rows_in_table: int

    def summary(self) -> str:
        return f"+{self.inserted} ~{self.updated} -{self.deleted} ={self.unchanged}"


_NOW_UTC = sql.SQL("(now() AT TIME ZONE 'UTC')")


def _key_match(mapping: SyncMapping) -> sql.Composable:
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier("l", c.target), sql.Identifier("s", c.target))
        for c in mapping.key_columns
    )


def _live_and_snapshot(
    template: str, mapping: SyncMapping, snapshot: sql.Identifier, **parts
) -> sql.Composed:
    """Fill ``template``'s {live}, {snapshot}, {now} and {match} (``l`` live, ``s`` snapshot)."""
    return sql.SQL(template).format(
        live=table_identifier(mapping), snapshot=snapshot, now=_NOW_UTC, match=_key_match(mapping), **parts
    )


def delete_vanished_statement(mapping: SyncMapping, keys: sql.Identifier) -> sql.Composed:
    """Delete live rows whose key is not among ``keys`` (every key of the snapshot)."""
    return _live_and_snapshot(
        "DELETE FROM {live} AS l WHERE NOT EXISTS (SELECT 1 FROM {snapshot} AS s WHERE {match})",
        mapping,
        keys,
    )


def update_changed_statement(mapping: SyncMapping, snapshot: sql.Identifier) -> sql.Composed:
    values = [c for c in mapping.columns if not c.key]
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(c.target), sql.Identifier("s", c.target)) for c in values
    )
    return _live_and_snapshot(
        "UPDATE {live} AS l SET {assignments}, updated_at = {now} FROM {snapshot} AS s "
        "WHERE {match} AND ({live_row}) IS DISTINCT FROM ({snapshot_row})",
        mapping,
        snapshot,
        assignments=assignments,
        live_row=sql.SQL(", ").join(sql.Identifier("l", c.target) for c in values),
        snapshot_row=sql.SQL(", ").join(sql.Identifier("s", c.target) for c in values),
    )


def insert_new_statement(mapping: SyncMapping, snapshot: sql.Identifier) -> sql.Composed:
    return _live_and_snapshot(
        "INSERT INTO {live} ({columns}, created_at, updated_at) "
        "SELECT {selected}, {now}, {now} FROM {snapshot} AS s "
        "WHERE NOT EXISTS (SELECT 1 FROM {live} AS l WHERE {match})",
        mapping,
        snapshot,
        columns=sql.SQL(", ").join(sql.Identifier(c.target) for c in mapping.columns),
        selected=sql.SQL(", ").join(sql.Identifier("s", c.target) for c in mapping.columns),
    )


def lock_for_apply(conn: psycopg.Connection, mapping: SyncMapping) -> None:
    """Inside the apply transaction: bounded lock waits, and one apply per target at a time.

    The advisory lock is taken whoever started the sync (scheduler or a manual test).
    """
    conn.execute(lock_timeout_statement(mapping.thresholds.lock_timeout_ms, local=True))
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('table_sync:apply:' || %s))", (mapping.target.qualified_name,)
    )


def apply_snapshot(
    conn: psycopg.Connection,
    mapping: SyncMapping,
    snapshot: sql.Identifier,
    keys: sql.Identifier,
    snapshot_rows: int,
) -> ApplyCounts:
    """Run the three statements and record the row state; the caller owns the transaction.

    ``snapshot`` holds the converted rows, ``keys`` every key of the snapshot. The caller
    commits with the status record.
    """
    deleted = conn.execute(delete_vanished_statement(mapping, keys)).rowcount
    updated = conn.execute(update_changed_statement(mapping, snapshot)).rowcount
    inserted = conn.execute(insert_new_statement(mapping, snapshot)).rowcount
    conn.execute(forget_vanished_statement(mapping, keys))
    conn.execute(remember_converted_statement(mapping, keys))
    return ApplyCounts(
        inserted=inserted,
        updated=updated,
        deleted=deleted,
        unchanged=snapshot_rows - inserted - updated,
        rows_in_table=snapshot_rows,
    )
