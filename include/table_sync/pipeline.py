"""The sync's steps as plain functions: extract, validate, replace, cleanup (and all in one).

Each step opens its own connections, so the steps may run in different processes or workers;
what passes between them is a small :class:`StagedSnapshot` (attempt id, staging table, counts),
the data itself stays in PostgreSQL. Every step records its outcome in the history table, and
every failure leaves the live table untouched.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn

import psycopg
from psycopg import sql

from include.table_sync import source as sqlserver
from include.table_sync.apply import apply_snapshot
from include.table_sync.checks import RunOptions, validate_snapshot
from include.table_sync.errors import (
    CheckResult,
    LockTimeoutError,
    StagingMissingError,
    SyncError,
    TargetUnavailableError,
    ValidationError,
)
from include.table_sync.mapping import SyncMapping
from include.table_sync.redaction import redact
from include.table_sync.staging import (
    StagingTables,
    copy_raw_statement,
    create_raw_table_statement,
    create_snapshot_statement,
    drop_tables,
    find_bad_values,
    sweep_orphans,
    table_exists,
)
from include.table_sync.status import (
    HISTORY_SCHEMA,
    ApplyCounts,
    ensure_status_objects,
    hold_attempt_lock,
    record_failure,
    record_success,
    start_attempt,
    update_attempt,
)
from include.table_sync.target_table import ensure_target_table
from include.table_sync.transfer import copy_lines


@dataclass
class SyncContext:
    """Everything a step needs: the mapping, the run, and how to reach both databases."""

    mapping: SyncMapping
    run_id: str
    connect_source: Callable[[], Any]
    connect_target: Callable[[], psycopg.Connection]
    secrets: tuple[str, ...] = ()
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("table_sync"))


@dataclass(frozen=True)
class StagedSnapshot:
    """What extract hands to the next steps (small enough for XCom)."""

    attempt_id: int
    snapshot_table: str
    raw_table: str
    rows_fetched: int

    @property
    def tables(self) -> StagingTables:
        return StagingTables(snapshot=self.snapshot_table, raw=self.raw_table)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StagedSnapshot:
        return cls(**values)


# -- connections ----------------------------------------------------------------------------


def classify_target_error(error: BaseException, secrets: tuple[str, ...] = ()) -> SyncError:
    if isinstance(error, SyncError):
        return error
    message = redact(str(error).strip(), secrets)
    if isinstance(error, psycopg.errors.LockNotAvailable):
        return LockTimeoutError(f"lock timeout on the target (a reader holds a conflicting lock): {message}")
    if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)):
        return TargetUnavailableError(f"PostgreSQL unavailable: {message}")
    if isinstance(error, psycopg.Error):
        return SyncError(f"PostgreSQL error: {message}")
    return SyncError(f"{type(error).__name__}: {redact(str(error), secrets)}")


def _raise(error: SyncError, exc: BaseException) -> NoReturn:
    """Raise the classified ``error`` for ``exc``.

    A driver's exception is dropped: its text, redacted, is in the message, and its own args
    could hold what redaction removed. Anything else is a bug, and keeps its traceback as the cause.
    """
    if error is exc:
        raise error
    if isinstance(exc, psycopg.Error) or sqlserver.is_driver_error(exc):
        raise error from None
    raise error from exc


@contextlib.contextmanager
def _target(ctx: SyncContext):
    try:
        conn = ctx.connect_target()
    except Exception as exc:  # noqa: BLE001 - every connect failure is reported the same way
        _raise(classify_target_error(exc, ctx.secrets), exc)
    conn.autocommit = True
    try:
        # No step waits on a lock forever: a session holding open_orders (a migration, a long
        # LOCK TABLE) fails the step with LockTimeoutError (retried) instead of hanging it.
        timeout = sql.Literal(f"{ctx.mapping.thresholds.lock_timeout_ms}ms")
        conn.execute(sql.SQL("SET lock_timeout = {}").format(timeout))
        yield conn
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def _record_failure(
    ctx: SyncContext, attempt_id: int, stage: str, error: SyncError, status: str = "failed"
) -> None:
    """Write the failure on a fresh connection: the step's own one may be what failed."""
    try:
        with _target(ctx) as conn:
            record_failure(conn, attempt_id, stage, error, ctx.secrets, status)
    except Exception as exc:  # noqa: BLE001 - PostgreSQL down: the next run marks it abandoned
        ctx.log.error(
            "could not record the failure of attempt %s: %s", attempt_id, redact(str(exc), ctx.secrets)
        )


def _fail(ctx: SyncContext, attempt_id: int, stage: str, exc: BaseException, classify) -> SyncError:
    error = classify(exc, ctx.secrets)
    status = "rejected" if isinstance(error, ValidationError) else "failed"
    ctx.log.error("%s failed for %s: %s", stage, ctx.mapping.target.qualified_name, error)
    _record_failure(ctx, attempt_id, stage, error, status)
    return error


# -- steps ----------------------------------------------------------------------------------


def extract(ctx: SyncContext) -> StagedSnapshot:
    """Read the source with its explicit column list into a converted staging snapshot."""
    mapping, log = ctx.mapping, ctx.log
    started = time.monotonic()
    log.info(
        "extract: %s -> %s (run %s)", mapping.source.qualified_name, mapping.target.qualified_name, ctx.run_id
    )
    with _target(ctx) as target:
        try:
            ensure_status_objects(target, mapping)
            ensure_target_table(target, mapping)
            attempt_id = start_attempt(target, mapping, ctx.run_id)
        except Exception as exc:
            _raise(classify_target_error(exc, ctx.secrets), exc)
        hold_attempt_lock(target, attempt_id)
        tables = StagingTables.for_attempt(mapping, attempt_id)
        try:
            swept = sweep_orphans(target, mapping)
            if swept:
                log.info("dropped staging left by earlier attempts: %s", ", ".join(swept))
            rows = _copy_source_to_raw(ctx, target, tables)
            log.info("converting %d rows per the mapping's conversions", rows)
            find_bad_values(target, mapping, tables)
            target.execute(create_snapshot_statement(mapping, tables))
            # Statistics of the key are what the checks' GROUP BY and the apply's joins need;
            # all 67 columns would cost more than the rest of the validation.
            key = sql.SQL(", ").join(sql.Identifier(c.target) for c in mapping.key_columns)
            target.execute(sql.SQL("ANALYZE {} ({})").format(tables.snapshot_id, key))
            target.execute(sql.SQL("DROP TABLE {}").format(tables.raw_id))
            update_attempt(target, attempt_id, stage="validate", rows_fetched=rows)
        except Exception as exc:
            classify = (
                classify_target_error if isinstance(exc, psycopg.Error) else sqlserver.classify_source_error
            )
            error = _fail(ctx, attempt_id, "extract", exc, classify)
            with contextlib.suppress(Exception):
                drop_tables(target, tables)
            _raise(error, exc)
    log.info(
        "extract done: %d rows staged in %s.%s in %.1f s",
        rows,
        HISTORY_SCHEMA,
        tables.snapshot,
        time.monotonic() - started,
    )
    return StagedSnapshot(attempt_id, tables.snapshot, tables.raw, rows)


def _copy_source_to_raw(ctx: SyncContext, target: psycopg.Connection, tables: StagingTables) -> int:
    mapping, log = ctx.mapping, ctx.log
    try:
        source_conn = ctx.connect_source()
    except Exception as exc:
        _raise(sqlserver.classify_source_error(exc, ctx.secrets), exc)
    with contextlib.closing(source_conn):
        sqlserver.check_source_schema(source_conn, mapping, log)
        log.info("schema check passed: %d columns as mapped", len(mapping.columns))
        cursor = source_conn.cursor()
        cursor.execute(sqlserver.csv_line_statement(mapping))
        sqlserver.check_line_result(cursor.description)
        target.execute(create_raw_table_statement(mapping, tables))
        batches_logged = [0]

        def progress(rows: int, elapsed: float) -> None:
            # One line per batch of the mapping's batch_rows: rows so far and the rate.
            batches = rows // mapping.thresholds.batch_rows
            if batches > batches_logged[0]:
                log.info("fetched %d rows (%.0f rows/s)", rows, rows / max(elapsed, 1e-9))
                batches_logged[0] = batches

        # A reader thread fetches while this thread COPYs (include/table_sync/transfer.py).
        with target.cursor() as copy_cursor, copy_cursor.copy(copy_raw_statement(mapping, tables)) as copy:
            stats = copy_lines(cursor, copy, mapping.thresholds.batch_rows, on_progress=progress)
        elapsed = max(stats.seconds, 1e-9)
        log.info(
            "fetched %d rows in %.1f s (%.0f rows/s; COPY waited %.1f s for the source)",
            stats.rows,
            elapsed,
            stats.rows / elapsed,
            stats.copy_waited_seconds,
        )
        return stats.rows


def validate(ctx: SyncContext, staged: StagedSnapshot, options: RunOptions) -> list[CheckResult]:
    """Gate the staged snapshot; the live table is not touched."""
    mapping, log = ctx.mapping, ctx.log
    with _target(ctx) as target:
        hold_attempt_lock(target, staged.attempt_id)
        try:
            if not table_exists(target, HISTORY_SCHEMA, staged.snapshot_table):
                raise StagingMissingError(
                    f"staged snapshot {HISTORY_SCHEMA}.{staged.snapshot_table} is gone; "
                    "nothing was applied (run again to take a fresh snapshot)"
                )
            results = validate_snapshot(target, mapping, staged.tables.snapshot_id, options)
        except ValidationError as exc:
            for result in exc.results:
                log.log(
                    logging.INFO if result.passed else logging.ERROR,
                    "check %s: %s - %s",
                    result.name,
                    "passed" if result.passed else "FAILED",
                    result.detail,
                )
            with contextlib.suppress(Exception):
                update_attempt(target, staged.attempt_id, checks=exc.results)
            _raise(_fail(ctx, staged.attempt_id, "validate", exc, classify_target_error), exc)
        except Exception as exc:
            _raise(_fail(ctx, staged.attempt_id, "validate", exc, classify_target_error), exc)
        for result in results:
            log.info("check %s: passed - %s", result.name, result.detail)
        update_attempt(target, staged.attempt_id, checks=results, stage="replace")
    return results


def replace(ctx: SyncContext, staged: StagedSnapshot) -> ApplyCounts:
    """Apply the snapshot to the live table in one transaction, with the success record."""
    mapping, log = ctx.mapping, ctx.log
    started = time.monotonic()
    with _target(ctx) as target:
        hold_attempt_lock(target, staged.attempt_id)
        try:
            with target.transaction():
                target.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(
                        sql.Literal(f"{mapping.thresholds.lock_timeout_ms}ms")
                    )
                )
                # One apply per target at a time, whoever started it (scheduler or a manual test).
                target.execute(
                    "SELECT pg_advisory_xact_lock(hashtext('table_sync:apply:' || %s))",
                    (mapping.target.qualified_name,),
                )
                if not table_exists(target, HISTORY_SCHEMA, staged.snapshot_table):
                    raise StagingMissingError(
                        f"staged snapshot {HISTORY_SCHEMA}.{staged.snapshot_table} is gone; "
                        "nothing was applied (run again to take a fresh snapshot)"
                    )
                counts = apply_snapshot(target, mapping, staged.tables.snapshot_id, staged.rows_fetched)
                record_success(target, staged.attempt_id, counts)
            total_seconds = target.execute(
                "SELECT extract(epoch FROM finished_at - started_at) FROM table_sync.history WHERE id = %s",
                (staged.attempt_id,),
            ).fetchone()[0]
        except Exception as exc:
            _raise(_fail(ctx, staged.attempt_id, "replace", exc, classify_target_error), exc)
    log.info(
        "applied %s to %s in %.2f s (%d rows in table)",
        counts.summary(),
        mapping.target.qualified_name,
        time.monotonic() - started,
        counts.rows_in_table,
    )
    log.info(
        "sync of %s took %.1f s from extract start to commit", mapping.target.qualified_name, total_seconds
    )
    return counts


def mark_dry_run(ctx: SyncContext, staged: StagedSnapshot) -> None:
    """A dry run ends after validate: record it without touching the table or last success."""
    with _target(ctx) as target:
        update_attempt(target, staged.attempt_id, status="dry_run", stage="validate")
        target.execute(
            "UPDATE table_sync.history SET finished_at = clock_timestamp() WHERE id = %s",
            (staged.attempt_id,),
        )
    ctx.log.info(
        "dry run: %d rows validated, %s left unchanged",
        staged.rows_fetched,
        ctx.mapping.target.qualified_name,
    )


def cleanup(ctx: SyncContext, staged: StagedSnapshot | None) -> list[str]:
    """Drop this attempt's staging (or, without one, any orphaned staging of the target)."""
    with _target(ctx) as target:
        if staged is not None:
            drop_tables(target, staged.tables)
            dropped = [staged.snapshot_table]
        else:
            dropped = (
                sweep_orphans(target, ctx.mapping) if table_exists(target, HISTORY_SCHEMA, "history") else []
            )
    ctx.log.info("cleanup: dropped %s", ", ".join(dropped) or "nothing")
    return dropped


@dataclass(frozen=True)
class SyncOutcome:
    staged: StagedSnapshot
    checks: list[CheckResult]
    counts: ApplyCounts | None


def sync_once(ctx: SyncContext, options: RunOptions = RunOptions()) -> SyncOutcome:
    """All steps in one process (engine-level tests, benchmarks, scripts)."""
    staged = None
    try:
        staged = extract(ctx)
        checks = validate(ctx, staged, options)
        if options.dry_run:
            mark_dry_run(ctx, staged)
            return SyncOutcome(staged, checks, None)
        counts = replace(ctx, staged)
        return SyncOutcome(staged, checks, counts)
    finally:
        with contextlib.suppress(SyncError):
            cleanup(ctx, staged)
