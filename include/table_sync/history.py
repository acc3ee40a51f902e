"""The attempt history (one row per attempt, its whole life) and the status view read from it.

``table_sync.history`` keeps every attempt of every synced table. For each target the view
``<schema>.<table>_sync_status`` (``public.open_orders_sync_status``) answers the contract's
questions: last success, last attempt and its error, row counts, and a freshness word.

Success is written inside the apply transaction, so ``last_success_at`` moves if and only if the
new data committed. Failures are written on a separate autocommit connection, after the failed
transaction rolled back.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from include.table_sync.errors import ConcurrentSyncError
from include.table_sync.mapping import SyncMapping
from include.table_sync.redaction import redact
from include.table_sync.target import SYNC_SCHEMA

if TYPE_CHECKING:
    from include.table_sync.apply import ApplyCounts

HISTORY = sql.Identifier(SYNC_SCHEMA, "history")

# Freshness thresholds of the contract, in minutes.
SYNCED_UNDER_MINUTES = 10
STALE_UNDER_MINUTES = 30

_HISTORY_DDL = sql.SQL("""
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {history} (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_table    text        NOT NULL,
    source          text        NOT NULL,
    run_id          text        NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at     timestamptz,
    status          text        NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'success', 'failed', 'rejected', 'abandoned', 'dry_run')),
    stage           text        NOT NULL DEFAULT 'extract',
    rows_fetched    bigint,
    rows_in_table   bigint,
    rows_inserted   bigint,
    rows_updated    bigint,
    rows_deleted    bigint,
    rows_unchanged  bigint,
    checks          jsonb,
    error_class     text,
    error_message   text
);
CREATE INDEX IF NOT EXISTS history_target_started_idx ON {history} (target_table, started_at DESC);
-- Added after the first release: a history table created earlier gains them here.
ALTER TABLE {history} ADD COLUMN IF NOT EXISTS read_path text;
ALTER TABLE {history} ADD COLUMN IF NOT EXISTS read_path_reason text;
-- Rows extract converted: all on a first load, the new, changed and repaired ones on a re-sync.
ALTER TABLE {history} ADD COLUMN IF NOT EXISTS rows_converted bigint;
""")

_STATUS_VIEW = sql.SQL("""
CREATE OR REPLACE VIEW {view} AS
WITH attempts AS (
    SELECT * FROM {history} WHERE target_table = {target}
), last_success AS (
    SELECT * FROM attempts WHERE status = 'success' ORDER BY finished_at DESC LIMIT 1
), last_attempt AS (
    SELECT * FROM attempts ORDER BY started_at DESC, id DESC LIMIT 1
)
SELECT
    {target}::text                                           AS table_name,
    CASE
        WHEN s.finished_at IS NULL THEN 'never'
        WHEN now() - s.finished_at < make_interval(mins => {synced}) THEN 'synced'
        WHEN now() - s.finished_at < make_interval(mins => {stale}) THEN 'stale'
        ELSE 'error'
    END                                                      AS freshness,
    s.finished_at                                            AS last_success_at,
    floor(extract(epoch FROM now() - s.finished_at) / 60)::int AS minutes_since_success,
    s.rows_in_table                                          AS rows_in_table,
    s.rows_inserted                                          AS last_rows_inserted,
    s.rows_updated                                           AS last_rows_updated,
    s.rows_deleted                                           AS last_rows_deleted,
    a.started_at                                             AS last_attempt_at,
    a.finished_at                                            AS last_attempt_finished_at,
    a.status                                                 AS last_attempt_status,
    a.error_class                                            AS last_error_class,
    a.error_message                                          AS last_error
FROM (SELECT 1) AS one
LEFT JOIN last_success s ON true
LEFT JOIN last_attempt a ON true
""")


def status_view_name(table: str) -> str:
    """The status view of target ``table``, in the target's schema: ``open_orders_sync_status``."""
    return f"{table}_sync_status"


def status_view_identifier(schema: str, table: str) -> sql.Identifier:
    return sql.Identifier(schema, status_view_name(table))


def ensure_status_objects(conn: psycopg.Connection, mapping: SyncMapping) -> None:
    """Create the history table and this target's status view (idempotent)."""
    with conn.transaction():
        # Serialise concurrent first runs: CREATE ... IF NOT EXISTS is not race-free.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('table_sync:ddl'))")
        conn.execute(_HISTORY_DDL.format(schema=sql.Identifier(SYNC_SCHEMA), history=HISTORY))
        conn.execute(
            _STATUS_VIEW.format(
                view=status_view_identifier(mapping.target.schema, mapping.target.table),
                history=HISTORY,
                target=sql.Literal(mapping.target.qualified_name),
                synced=sql.Literal(SYNCED_UNDER_MINUTES),
                stale=sql.Literal(STALE_UNDER_MINUTES),
            )
        )


# Advisory-lock namespace (first key) for "a task of attempt N is running right now". A task
# holds it on its PostgreSQL session; PostgreSQL releases it when the process dies, however it dies.
ATTEMPT_LOCK_CLASS = 0x7A5C


def hold_attempt_lock(conn: psycopg.Connection, attempt_id: int) -> None:
    """Mark attempt ``attempt_id`` alive for as long as this session lives."""
    conn.execute("SELECT pg_advisory_lock(%s, %s)", (ATTEMPT_LOCK_CLASS, attempt_id % 2**31))


def start_attempt(conn: psycopg.Connection, mapping: SyncMapping, run_id: str) -> int:
    """Record a new attempt, after settling earlier attempts that never recorded an outcome.

    An earlier 'running' attempt whose task still holds its liveness lock is a sync in progress:
    we refuse to start beside it (ConcurrentSyncError). One whose lock is free died (SIGKILL,
    lost worker) or sits between two tasks: it is marked abandoned. Should it be alive after all,
    its own outcome later overwrites the row by id, and its missing staging fails it cleanly.
    """
    target = mapping.target.qualified_name
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('table_sync:start:' || %s))", (target,))
        running = conn.execute(
            sql.SQL("SELECT id, run_id FROM {} WHERE target_table = %s AND status = 'running'").format(
                HISTORY
            ),
            (target,),
        ).fetchall()
        for attempt_id, other_run in running:
            free = conn.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (ATTEMPT_LOCK_CLASS, attempt_id % 2**31)
            ).fetchone()[0]
            if not free:
                raise ConcurrentSyncError(
                    f"another sync of {target} is in progress (run {other_run}, attempt {attempt_id}); "
                    "this one stops without touching the table"
                )
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (ATTEMPT_LOCK_CLASS, attempt_id % 2**31))
            conn.execute(
                sql.SQL(
                    "UPDATE {} SET status = 'abandoned', finished_at = clock_timestamp(), "
                    "error_class = 'Abandoned', error_message = %s WHERE id = %s AND status = 'running'"
                ).format(HISTORY),
                ("the attempt ended without recording an outcome (task process killed or lost)", attempt_id),
            )
        row = conn.execute(
            sql.SQL("INSERT INTO {} (target_table, source, run_id) VALUES (%s, %s, %s) RETURNING id").format(
                HISTORY
            ),
            (target, mapping.source.qualified_name, run_id),
        ).fetchone()
        # Alive before the row is visible: a session lock outlives this transaction, so a sync
        # starting right after our commit cannot find the new attempt's lock free.
        hold_attempt_lock(conn, row[0])
    return row[0]


def update_attempt(conn: psycopg.Connection, attempt_id: int, **fields: Any) -> None:
    """Set columns of an attempt row (stage, rows_fetched, checks...)."""
    if "checks" in fields and fields["checks"] is not None:
        fields["checks"] = json.dumps([r if isinstance(r, dict) else r.as_dict() for r in fields["checks"]])
    assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(name)) for name in fields)
    conn.execute(
        sql.SQL("UPDATE {} SET {} WHERE id = %s").format(HISTORY, assignments),
        (*fields.values(), attempt_id),
    )


def record_success(conn: psycopg.Connection, attempt_id: int, counts: ApplyCounts) -> None:
    """Mark the attempt successful; call inside the apply transaction."""
    update_attempt(
        conn,
        attempt_id,
        status="success",
        stage="replace",
        rows_inserted=counts.inserted,
        rows_updated=counts.updated,
        rows_deleted=counts.deleted,
        rows_unchanged=counts.unchanged,
        rows_in_table=counts.rows_in_table,
        error_class=None,
        error_message=None,
    )
    conn.execute(
        sql.SQL("UPDATE {} SET finished_at = clock_timestamp() WHERE id = %s").format(HISTORY), (attempt_id,)
    )


def record_failure(
    conn: psycopg.Connection,
    attempt_id: int,
    stage: str,
    error: BaseException,
    secrets: tuple[str, ...] = (),
    status: str = "failed",
) -> None:
    """Mark the attempt failed or rejected, with the error's class and a redacted message."""
    message = redact(str(error), secrets)[:4000]
    conn.execute(
        sql.SQL(
            "UPDATE {} SET status = %s, stage = %s, finished_at = clock_timestamp(), "
            "error_class = %s, error_message = %s WHERE id = %s"
        ).format(HISTORY),
        (status, stage, type(error).__name__, message, attempt_id),
    )


def record_dry_run(conn: psycopg.Connection, attempt_id: int) -> None:
    """A dry run ends after validate, leaving the table and the last success alone."""
    conn.execute(
        sql.SQL(
            "UPDATE {} SET status = 'dry_run', stage = 'validate', finished_at = clock_timestamp() WHERE id = %s"
        ).format(HISTORY),
        (attempt_id,),
    )


def attempt_seconds(conn: psycopg.Connection, attempt_id: int) -> float:
    """Seconds from the attempt's start to its finish (its commit, for a success)."""
    return conn.execute(
        sql.SQL("SELECT extract(epoch FROM finished_at - started_at) FROM {} WHERE id = %s").format(HISTORY),
        (attempt_id,),
    ).fetchone()[0]
