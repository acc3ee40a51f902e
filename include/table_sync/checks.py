"""Gates on the staged snapshot, run before the live table is touched.

Each check returns a CheckResult; all of them run (an operator wants the whole picture), then
any failure rejects the snapshot with a ValidationError listing the failed checks.

The key checks, ``min_rows`` and the shrink guard read the staged keys, which hold every row of
the source. The NOT NULL check and the mapping's SQL checks are row gates: they read the rows
converted this run (all of them on a first load or after a mapping change); a row left
unconverted is the same raw row, under the same mapping and checks, that passed them before
(staging, row_state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from include.table_sync.errors import SyncError
from include.table_sync.mapping import SqlCheck, SyncMapping
from include.table_sync.target import table_identifier


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


class ValidationError(SyncError):
    """The snapshot failed a gate; the live table was not touched."""

    def __init__(self, target: str, results: list[CheckResult]):
        self.target = target
        self.results = results
        failed = [r for r in results if not r.passed]
        super().__init__(
            f"snapshot for {target} rejected: " + "; ".join(f"{r.name}: {r.detail}" for r in failed)
        )


def _count(conn: psycopg.Connection, statement: sql.Composable) -> int:
    return conn.execute(statement).fetchone()[0]


def check_key_present(conn, mapping: SyncMapping, snapshot: sql.Identifier) -> CheckResult:
    where = sql.SQL(" OR ").join(
        sql.SQL("{} IS NULL").format(sql.Identifier(c.target)) for c in mapping.key_columns
    )
    missing = _count(conn, sql.SQL("SELECT count(*) FROM {} WHERE {}").format(snapshot, where))
    return CheckResult("key_present", missing == 0, f"{missing} row(s) with a NULL key")


def check_key_unique(conn, mapping: SyncMapping, snapshot: sql.Identifier) -> CheckResult:
    key = sql.SQL(", ").join(sql.Identifier(c.target) for c in mapping.key_columns)
    rows = conn.execute(
        sql.SQL(
            "SELECT {key}, count(*) FROM {snapshot} GROUP BY {key} HAVING count(*) > 1 ORDER BY {key} LIMIT 6"
        ).format(key=key, snapshot=snapshot)
    ).fetchall()
    if not rows:
        return CheckResult("key_unique", True, "every key appears once")
    examples = ", ".join("/".join(str(v) for v in row[:-1]) + f" (x{row[-1]})" for row in rows[:5])
    return CheckResult("key_unique", False, f"duplicate key(s): {examples}")


def check_not_null(conn, mapping: SyncMapping, snapshot: sql.Identifier) -> CheckResult:
    required = [c for c in mapping.columns if not c.nullable and not c.key]
    if not required:
        return CheckResult("not_null", True, "no NOT NULL columns besides the key")
    counts = conn.execute(
        sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(
                sql.SQL("count(*) FILTER (WHERE {} IS NULL)").format(sql.Identifier(c.target))
                for c in required
            ),
            snapshot,
        )
    ).fetchone()
    bad = [f"{c.target}: {n}" for c, n in zip(required, counts, strict=True) if n]
    return CheckResult("not_null", not bad, "; ".join(bad) or "no NULLs in NOT NULL columns")


def check_min_rows(snapshot_rows: int, mapping: SyncMapping, allow_empty: bool) -> CheckResult:
    minimum = 0 if allow_empty else mapping.thresholds.min_rows
    return CheckResult(
        "min_rows",
        snapshot_rows >= minimum,
        f"{snapshot_rows} row(s), minimum {minimum}" + (" (allow_empty)" if allow_empty else ""),
    )


def check_shrink_guard(
    snapshot_rows: int, live_rows: int, mapping: SyncMapping, max_shrink: float | None
) -> CheckResult:
    """``max_shrink`` overrides the mapping's threshold for this run when it is not None."""
    max_shrink = mapping.thresholds.max_shrink if max_shrink is None else max_shrink
    floor = live_rows * (1 - max_shrink)
    passed = live_rows == 0 or snapshot_rows >= floor
    return CheckResult(
        "shrink_guard",
        passed,
        f"{snapshot_rows} row(s) against {live_rows} live; may shrink by at most "
        f"{max_shrink:.0%} (to {floor:.0f})",
    )


def sql_check_statement(check: SqlCheck, snapshot: sql.Identifier) -> sql.Composed:
    """The user's SQL with every ``{snapshot}`` replaced by the staged table, the rest as written.

    Split, not formatted: a format string would read the braces of a regular expression
    (``'^[0-9]{6}$'``) as placeholders.
    """
    pieces = check.sql.split("{snapshot}")
    parts: list[sql.Composable] = [sql.SQL(pieces[0])]
    for piece in pieces[1:]:
        parts += [snapshot, sql.SQL(piece)]
    return sql.Composed(parts)


def run_sql_checks(conn, mapping: SyncMapping, snapshot: sql.Identifier) -> list[CheckResult]:
    results = []
    for check in mapping.checks:
        offending = _count(conn, sql_check_statement(check, snapshot))
        results.append(CheckResult(check.name, offending == 0, f"{offending} offending row(s)"))
    return results


def validate_snapshot(
    conn: psycopg.Connection,
    mapping: SyncMapping,
    snapshot: sql.Identifier,
    keys: sql.Identifier,
    *,
    allow_empty: bool = False,
    max_shrink: float | None = None,
) -> list[CheckResult]:
    """Run every gate; raise ValidationError if any failed, else return the results.

    ``keys`` holds every key of the snapshot, ``snapshot`` the rows converted this run.
    """
    snapshot_rows = _count(conn, sql.SQL("SELECT count(*) FROM {}").format(keys))
    live_rows = _count(conn, sql.SQL("SELECT count(*) FROM {}").format(table_identifier(mapping)))
    results = [
        check_key_present(conn, mapping, keys),
        check_key_unique(conn, mapping, keys),
        check_not_null(conn, mapping, snapshot),
        check_min_rows(snapshot_rows, mapping, allow_empty),
        check_shrink_guard(snapshot_rows, live_rows, mapping, max_shrink),
        *run_sql_checks(conn, mapping, snapshot),
    ]
    if not all(result.passed for result in results):
        raise ValidationError(mapping.target.qualified_name, results)
    return results
