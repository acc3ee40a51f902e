"""Read-only looks at both databases: the evidence the checks print and compare."""

from __future__ import annotations

import contextlib
from typing import Any

from psycopg.rows import dict_row

from tests_manual.environment import Environment


def table_checksum(env: Environment) -> tuple[int, str]:
    """Row count and an md5 over every column of every row of the target, in id order."""
    table = env.mapping.target.qualified_name
    with contextlib.closing(env.target_connection()) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
        if not exists:
            return 0, ""
        return tuple(
            conn.execute(
                f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '') FROM {table} t"
            ).fetchone()
        )


def sync_status(env: Environment) -> dict[str, Any] | None:
    """The row of ``<schema>.<table>_sync_status`` (None before the first sync created it)."""
    view = f"{env.mapping.target.schema}.{env.mapping.target.table}_sync_status"
    with contextlib.closing(env.target_connection()) as conn:
        if not conn.execute("SELECT to_regclass(%s) IS NOT NULL", (view,)).fetchone()[0]:
            return None
        conn.row_factory = dict_row
        return conn.execute(f"SELECT * FROM {view}").fetchone()


def last_attempt(env: Environment) -> dict[str, Any] | None:
    """The newest row of ``table_sync.history`` for the target."""
    with contextlib.closing(env.target_connection()) as conn:
        conn.row_factory = dict_row
        return conn.execute(
            "SELECT * FROM table_sync.history WHERE target_table = %s ORDER BY id DESC LIMIT 1",
            (env.mapping.target.qualified_name,),
        ).fetchone()


def attempt(env: Environment, attempt_id: int) -> dict[str, Any]:
    with contextlib.closing(env.target_connection()) as conn:
        conn.row_factory = dict_row
        return conn.execute("SELECT * FROM table_sync.history WHERE id = %s", (attempt_id,)).fetchone()


def staging_tables(env: Environment) -> list[str]:
    """Staging tables left in the ``table_sync`` schema (a finished sync leaves none)."""
    prefix = env.mapping.target.table[:40] + "_a"
    with contextlib.closing(env.target_connection()) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'table_sync' AND starts_with(tablename, %s)",
            (prefix,),
        ).fetchall()
    return [row[0] for row in rows]


def source_row_count(env: Environment) -> int:
    source = env.mapping.source
    name = ".".join(f"[{part}]" for part in (source.database, source.schema, source.object))
    with contextlib.closing(env.source_connection()) as conn:
        cursor = conn.cursor()
        cursor.execute(f"SELECT count(*) FROM {name}")
        return cursor.fetchone()[0]


def describe_attempt(attempt: dict[str, Any] | None) -> str:
    if attempt is None:
        return "no attempt recorded"
    text = f"attempt {attempt['id']} ({attempt['run_id']}): {attempt['status']} at stage {attempt['stage']}"
    if attempt.get("error_class"):
        text += f", {attempt['error_class']}: {str(attempt['error_message']).splitlines()[0]}"
    return text
