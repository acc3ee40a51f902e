"""What the sync remembers about each live row, so that a re-sync costs what changed.

For every key it wrote, the sync keeps in ``table_sync.<table>_row_state`` (never in the Rails
app's table) two facts: a 64-bit hash of the row's raw source values, salted with the mapping's
fingerprint, and the ``xmin`` of the live row version the sync left behind. A later run
converts, checks and applies a source row only when one of them no longer holds:

* the raw values changed (the hash differs), or the mapping changed (every hash differs, as the
  salt is a digest of the conversions' SQL, the target types, the key and the checks), or the
  key is new;
* the live row is not the version the sync left (its ``xmin`` differs, or it is gone): someone
  edited or deleted it behind the sync's back, and this run puts it right.

Why ``xmin`` rather than a periodic full comparison: every ``INSERT`` or ``UPDATE`` of a row,
by anyone, gives the new version the writing transaction's id, so a changed ``xmin`` catches
every edit on the very next run, and reading it costs one scan of the live table's key and
system columns. Freezing keeps the stored ``xmin`` (PostgreSQL 9.4 and later set a flag bit);
a rewrite of the table (``VACUUM FULL`` is fine, ``ALTER COLUMN ... TYPE``, a restore) gives
rows new ones, which only costs one full comparison. A full comparison every N runs would let
an edit stand until the Nth run, against the contract.

The table is UNLOGGED: it is a cache. A crash empties it, and the next run compares every row.
Its rows change only inside the apply transaction, so a failed run leaves it as it was.
"""

from __future__ import annotations

import hashlib
import json

import psycopg
from psycopg import sql

from include.table_sync.conversions import CONVERSIONS, raw_type
from include.table_sync.mapping import SyncMapping
from include.table_sync.target import SYNC_SCHEMA, table_identifier

ROW_STATE_SUFFIX = "_row_state"
# Bump when the meaning of the stored hash changes in a way the fingerprint cannot see.
ROW_STATE_FORMAT = 1


def row_state_identifier(mapping: SyncMapping) -> sql.Identifier:
    return sql.Identifier(SYNC_SCHEMA, f"{mapping.target.table[:40]}{ROW_STATE_SUFFIX}")


def mapping_fingerprint(mapping: SyncMapping) -> str:
    """A digest of everything that decides what a raw row becomes in the live table.

    The conversions enter as the SQL they generate, so a change to ``conversions.py`` invalidates
    the stored hashes as surely as a change to the mapping file.
    """
    declared = mapping.source.query is None
    columns = []
    for column in mapping.columns:
        conversion = CONVERSIONS[column.conversion]
        invalid = conversion.invalid(
            sql.Identifier(column.source), column.target_type, column.source_type if declared else None
        )
        columns.append(
            {
                "source": column.source,
                "source_type": str(column.source_type),
                "raw_type": raw_type(column.source_type),
                "target": column.target,
                "convert": conversion.convert(sql.Identifier(column.source), column.target_type).as_string(),
                "invalid": None if invalid is None else invalid.as_string(),
                "nullable": column.nullable,
                "key": column.key,
            }
        )
    document = {
        "format": ROW_STATE_FORMAT,
        "query": mapping.source.query,
        "columns": columns,
        "checks": [[check.name, check.sql] for check in mapping.checks],
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def hash_seed(mapping: SyncMapping) -> int:
    """The fingerprint as the signed 64-bit seed of ``hash_record_extended``."""
    return int.from_bytes(bytes.fromhex(mapping_fingerprint(mapping))[:8], "big", signed=True)


def row_hash_expression(mapping: SyncMapping) -> sql.Composed:
    """The raw row's hash: each value hashed by its type, seeded with the fingerprint.

    Values hash alike exactly when PostgreSQL's equality says they are equal, which is also
    how the apply compares a converted row with the live one (``IS DISTINCT FROM``).
    """
    values = sql.SQL(", ").join(sql.Identifier(c.source) for c in mapping.columns)
    return sql.SQL("hash_record_extended(ROW({}), {})").format(values, sql.Literal(hash_seed(mapping)))


def create_row_state_statement(mapping: SyncMapping) -> sql.Composed:
    keys = [
        sql.SQL("{} {} NOT NULL").format(sql.Identifier(c.target), sql.SQL(c.target_type))
        for c in mapping.key_columns
    ]
    return sql.SQL(
        "CREATE UNLOGGED TABLE IF NOT EXISTS {} ({}, row_hash bigint NOT NULL, live_xmin xid, PRIMARY KEY ({}))"
    ).format(
        row_state_identifier(mapping),
        sql.SQL(", ").join(keys),
        sql.SQL(", ").join(sql.Identifier(c.target) for c in mapping.key_columns),
    )


def _key_shape(mapping: SyncMapping) -> str:
    return "key " + ", ".join(f"{c.target} {c.target_type}" for c in mapping.key_columns)


def ensure_row_state(conn: psycopg.Connection, mapping: SyncMapping) -> None:
    """Create the row state if missing; start it afresh when the mapping's key changed shape.

    The table's comment records the key it was made for.
    """
    state = row_state_identifier(mapping)
    with conn.transaction():
        # Serialised like the other DDL (history.ensure_status_objects): two first runs may race.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('table_sync:ddl'))")
        made_for = conn.execute(
            "SELECT obj_description(to_regclass(%s), 'pg_class')", (state.as_string(conn),)
        ).fetchone()[0]
        if made_for != _key_shape(mapping):
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(state))
            conn.execute(create_row_state_statement(mapping))
            conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(state, sql.Literal(_key_shape(mapping))))


def _key_match(mapping: SyncMapping, left: str, right: str) -> sql.Composable:
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(left, c.target), sql.Identifier(right, c.target))
        for c in mapping.key_columns
    )


def forget_vanished_statement(mapping: SyncMapping, keys: sql.Identifier) -> sql.Composed:
    """Drop the state of keys the snapshot no longer has (their live rows were just deleted)."""
    return sql.SQL("DELETE FROM {} AS st WHERE NOT EXISTS (SELECT 1 FROM {} AS k WHERE {})").format(
        row_state_identifier(mapping), keys, _key_match(mapping, "st", "k")
    )


def remember_converted_statement(mapping: SyncMapping, keys: sql.Identifier) -> sql.Composed:
    """Record hash and live ``xmin`` of every key converted this run; inside the apply transaction.

    A row this transaction wrote carries its id as ``xmin``; one it compared and found equal
    keeps the ``xmin`` extract saw, so an edit that slipped in since then still differs next run.
    """
    key_names = [sql.Identifier(c.target) for c in mapping.key_columns]
    return sql.SQL(
        "INSERT INTO {state} AS st ({keys}, row_hash, live_xmin) "
        "SELECT {k_keys}, k._row_hash, "
        "CASE WHEN l.xmin = pg_current_xact_id()::xid THEN l.xmin ELSE k._live_xmin END "
        "FROM {keys_table} AS k JOIN {live} AS l ON {match} WHERE k._changed "
        "ON CONFLICT ({keys}) DO UPDATE SET row_hash = EXCLUDED.row_hash, live_xmin = EXCLUDED.live_xmin"
    ).format(
        state=row_state_identifier(mapping),
        keys=sql.SQL(", ").join(key_names),
        k_keys=sql.SQL(", ").join(sql.Identifier("k", c.target) for c in mapping.key_columns),
        keys_table=keys,
        live=table_identifier(mapping),
        match=_key_match(mapping, "l", "k"),
    )
