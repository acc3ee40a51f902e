"""Read what the status page shows: one :class:`TableStatus` per synced table.

Plain psycopg, no Airflow: the caller hands in an open connection to the target database. The
freshness word comes from the table's status view (``public.open_orders_sync_status``), so the
page, the JSON endpoint and the Rails app all agree on one definition; the run chart reads the
last attempts from ``table_sync.history``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import psycopg
from psycopg import sql

from include.table_sync.history import HISTORY, status_view_identifier, status_view_name
from include.table_sync.mapping import TargetConfig, load_mapping
from include.table_sync.target import SYNC_SCHEMA, relation_exists

CHART_RUNS = 50


@dataclass(frozen=True)
class RunPoint:
    """One attempt, as the run chart draws it."""

    started_at: dt.datetime
    status: str
    duration_seconds: float | None
    rows: int | None
    error_class: str | None


@dataclass(frozen=True)
class TableStatus:
    table_name: str
    freshness: str  # 'synced', 'stale', 'error' or 'never', as the status view computes it
    checked_at: dt.datetime  # the database's now(), which "minutes ago" is measured from
    last_success_at: dt.datetime | None = None
    minutes_since_success: int | None = None
    rows_in_table: int | None = None
    last_rows_inserted: int | None = None
    last_rows_updated: int | None = None
    last_rows_deleted: int | None = None
    last_attempt_at: dt.datetime | None = None
    last_attempt_finished_at: dt.datetime | None = None
    last_attempt_status: str | None = None
    last_error_class: str | None = None
    last_error: str | None = None
    runs: tuple[RunPoint, ...] = field(default_factory=tuple)

    @property
    def minutes_since_attempt(self) -> int | None:
        if self.last_attempt_at is None:
            return None
        return int((self.checked_at - self.last_attempt_at).total_seconds() // 60)

    def as_json(self) -> dict:
        """A JSON-ready dict: timestamps as ISO 8601 UTC strings."""
        return _jsonable(asdict(self))


def mapping_targets(mappings_dir: Path) -> list[TargetConfig]:
    """The targets named by the mapping files (``*.yaml``), in file-name order."""
    targets = []
    for path in sorted(mappings_dir.glob("*.yaml")):
        targets.append(load_mapping(path).target)
    return targets


def history_targets(conn: psycopg.Connection) -> list[str]:
    """Qualified names of every table with an attempt in ``table_sync.history``."""
    if not relation_exists(conn, SYNC_SCHEMA, "history"):
        return []
    rows = conn.execute(sql.SQL("SELECT DISTINCT target_table FROM {} ORDER BY 1").format(HISTORY))
    return [name for (name,) in rows]


def read_table_status(conn: psycopg.Connection, schema: str, table: str) -> TableStatus:
    """The status of one target; 'never' while its status view does not exist yet."""
    checked_at = conn.execute("SELECT now()").fetchone()[0]
    if not relation_exists(conn, schema, status_view_name(table)):
        return TableStatus(table_name=f"{schema}.{table}", freshness="never", checked_at=checked_at)
    cursor = conn.execute(sql.SQL("SELECT * FROM {}").format(status_view_identifier(schema, table)))
    names = [column.name for column in cursor.description]
    # Only the columns this page knows: a column added to the view later must not break it.
    known = {item.name for item in fields(TableStatus)}
    row = {name: value for name, value in zip(names, cursor.fetchone(), strict=True) if name in known}
    return TableStatus(checked_at=checked_at, runs=_recent_runs(conn, f"{schema}.{table}"), **row)


def read_statuses(conn: psycopg.Connection, targets: list[TargetConfig]) -> list[TableStatus]:
    """Statuses of the given targets plus any other table this database's history knows."""
    names = [target.qualified_name for target in targets]
    names += [name for name in history_targets(conn) if name not in names]
    statuses = []
    for name in names:
        schema, table = name.split(".", 1)
        statuses.append(read_table_status(conn, schema, table))
    return statuses


def _recent_runs(conn: psycopg.Connection, qualified_name: str) -> tuple[RunPoint, ...]:
    rows = conn.execute(
        sql.SQL(
            """
            SELECT started_at, status,
                   extract(epoch FROM finished_at - started_at)::float8,
                   CASE WHEN status = 'success' THEN rows_in_table ELSE rows_fetched END,
                   error_class
            FROM {} WHERE target_table = %s
            ORDER BY started_at DESC, id DESC LIMIT %s
            """
        ).format(HISTORY),
        (qualified_name, CHART_RUNS),
    ).fetchall()
    return tuple(RunPoint(*row) for row in reversed(rows))  # oldest first, as a chart reads


def _jsonable(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
