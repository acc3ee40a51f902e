"""The sync's steps as plain functions: extract, validate, replace, cleanup (and all in one).

Each step opens its own connections, so the steps may run in different processes or workers;
what passes between them is a small :class:`StagedSnapshot` (attempt id, staging table, counts),
the data itself stays in PostgreSQL. Every step records its outcome in the history table, and
every failure leaves the live table untouched. No SQL here: each step calls the module whose
job it is (source, transfer, staging, checks, apply, history, target).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from include.table_sync.apply import ApplyCounts, apply_snapshot, lock_for_apply
from include.table_sync.checks import CheckResult, ValidationError, validate_snapshot
from include.table_sync.errors import SyncError, raise_classified
from include.table_sync.history import (
    attempt_seconds,
    ensure_status_objects,
    hold_attempt_lock,
    record_dry_run,
    record_failure,
    record_success,
    start_attempt,
    update_attempt,
)
from include.table_sync.mapping import COLUMNS, CSV_LINE, SyncMapping
from include.table_sync.redaction import redact
from include.table_sync.render_probe import ReadPlan, choose_read_path, load_through_postgres, run_probe
from include.table_sync.row_state import ensure_row_state
from include.table_sync.source import (
    check_source_schema,
    classify_source_error,
    is_driver_error,
    open_column_cursor,
    open_line_cursor,
    prepare_session,
    raise_source_error,
    server_facts,
)
from include.table_sync.staging import (
    StagingTables,
    build_snapshot,
    create_raw_table_statement,
    drop_tables,
    require_snapshot,
    sweep_orphans,
)
from include.table_sync.target import (
    SYNC_SCHEMA,
    classify_target_error,
    ensure_target_table,
    raise_target_error,
    relation_exists,
    target_session,
    tuned_transaction,
)
from include.table_sync.transfer import copy_to_raw


@dataclass(frozen=True)
class RunOptions:
    """Per-run overrides (the DAG's params for manual runs)."""

    allow_empty: bool = False
    max_shrink: float | None = None  # None: the mapping's threshold
    dry_run: bool = False


@dataclass
class SyncContext:
    """Everything a step needs: the mapping, the run, and how to reach both databases."""

    mapping: SyncMapping
    run_id: str
    connect_source: Callable[[], Any]
    connect_target: Callable[[], psycopg.Connection]
    secrets: tuple[str, ...] = ()
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("table_sync"))

    def target(self):
        """A target session with the mapping's lock timeout (see target.target_session)."""
        return target_session(self.connect_target, self.mapping.thresholds.lock_timeout_ms, self.secrets)


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


# -- failures -------------------------------------------------------------------------------


def _record_failure(
    ctx: SyncContext, attempt_id: int, stage: str, error: SyncError, status: str = "failed"
) -> None:
    """Write the failure on a fresh connection: the step's own one may be what failed."""
    try:
        with ctx.target() as conn:
            record_failure(conn, attempt_id, stage, error, ctx.secrets, status)
    except Exception as exc:  # noqa: BLE001 - PostgreSQL down: the next run marks it abandoned
        ctx.log.error(
            "could not record the failure of attempt %s: %s", attempt_id, redact(str(exc), ctx.secrets)
        )


def _fail(ctx: SyncContext, attempt_id: int, stage: str, exc: BaseException, classify=classify_target_error):
    """Classify ``exc``, record it as the attempt's outcome, and raise it."""
    error = classify(exc, ctx.secrets)
    status = "rejected" if isinstance(error, ValidationError) else "failed"
    ctx.log.error("%s failed for %s: %s", stage, ctx.mapping.target.qualified_name, error)
    _record_failure(ctx, attempt_id, stage, error, status)
    raise_classified(error, exc, from_driver=isinstance(exc, psycopg.Error) or is_driver_error(exc))


# -- steps ----------------------------------------------------------------------------------


def extract(ctx: SyncContext) -> StagedSnapshot:
    """Read the source with its explicit column list into a converted staging snapshot."""
    mapping, log = ctx.mapping, ctx.log
    started = time.monotonic()
    log.info(
        "extract: %s -> %s (run %s)", mapping.source.qualified_name, mapping.target.qualified_name, ctx.run_id
    )
    with ctx.target() as target:
        try:
            ensure_status_objects(target, mapping)
            ensure_target_table(target, mapping)
            ensure_row_state(target, mapping)
            attempt_id = start_attempt(target, mapping, ctx.run_id)
        except Exception as exc:
            raise_target_error(exc, ctx.secrets)
        hold_attempt_lock(target, attempt_id)
        tables = StagingTables.for_attempt(mapping, attempt_id)
        try:
            swept = sweep_orphans(target, mapping)
            if swept:
                log.info("dropped staging left by earlier attempts: %s", ", ".join(swept))
            rows = _copy_source_to_raw(ctx, target, tables, attempt_id)
            converting = time.monotonic()
            build = build_snapshot(target, mapping, tables)
            log.info(
                "converted %d of %d rows per the mapping's conversions in %.1f s "
                "(%d unchanged since the last sync: neither converted nor compared)",
                build.converted,
                build.rows,
                time.monotonic() - converting,
                build.rows - build.converted,
            )
            update_attempt(
                target, attempt_id, stage="validate", rows_fetched=rows, rows_converted=build.converted
            )
        except Exception as exc:
            from_target = isinstance(exc, psycopg.Error)
            try:
                _fail(
                    ctx,
                    attempt_id,
                    "extract",
                    exc,
                    classify_target_error if from_target else classify_source_error,
                )
            finally:
                with contextlib.suppress(Exception):
                    drop_tables(target, tables)
    log.info(
        "extract done: %d rows staged in %s.%s in %.1f s",
        rows,
        SYNC_SCHEMA,
        tables.snapshot,
        time.monotonic() - started,
    )
    return StagedSnapshot(attempt_id, tables.snapshot, tables.raw, rows)


def _copy_source_to_raw(
    ctx: SyncContext, target: psycopg.Connection, tables: StagingTables, attempt_id: int
) -> int:
    mapping, log = ctx.mapping, ctx.log
    try:
        source_conn = ctx.connect_source()
    except Exception as exc:
        raise_source_error(exc, ctx.secrets)
    with contextlib.closing(source_conn):
        prepare_session(source_conn, mapping)
        plan = _plan_read(ctx, source_conn, target)
        update_attempt(target, attempt_id, read_path=plan.path, read_path_reason=plan.reason)
        # The schema check is the last statement before the read: nothing runs between the
        # check and the query it vouches for (and the failure tests arm their faults on it).
        check_source_schema(source_conn, mapping, log)
        log.info("schema check passed: %d columns as mapped", len(mapping.columns))
        log.info("reading the source by %s: %s", plan.path, plan.reason)
        if plan.path == CSV_LINE:
            cursor = open_line_cursor(source_conn, mapping)
        else:
            cursor = open_column_cursor(source_conn, mapping)
        target.execute(create_raw_table_statement(mapping, tables))
        batches_logged = [0]

        def progress(rows: int, elapsed: float) -> None:
            # One line per batch of the mapping's batch_rows: rows so far and the rate.
            batches = rows // mapping.thresholds.batch_rows
            if batches > batches_logged[0]:
                log.info("fetched %d rows (%.0f rows/s)", rows, rows / max(elapsed, 1e-9))
                batches_logged[0] = batches

        # A reader thread fetches while this thread COPYs (include/table_sync/transfer.py).
        stats = copy_to_raw(cursor, plan.path, target, mapping, tables, on_progress=progress)
        elapsed = max(stats.seconds, 1e-9)
        log.info(
            "fetched %d rows by %s in %.1f s (%.0f rows/s; COPY waited %.1f s for the source)",
            stats.rows,
            plan.path,
            elapsed,
            stats.rows / elapsed,
            stats.copy_waited_seconds,
        )
        return stats.rows


def _plan_read(ctx: SyncContext, source_conn: Any, target: psycopg.Connection) -> ReadPlan:
    """Which path this run reads by (render_probe.choose_read_path), the probe's findings logged."""
    mapping, log = ctx.mapping, ctx.log
    if mapping.source.read_path == COLUMNS:
        return choose_read_path(mapping, None, None)
    facts = server_facts(source_conn)
    log.info(
        "source server: %s (version %s, collation %s)",
        facts.first_line,
        facts.product_version,
        facts.collation,
    )
    report = run_probe(
        source_conn, mapping, lambda cases, line: load_through_postgres(target, cases, line), ctx.secrets
    )
    if report.passed:
        log.info("%s", report.summary())
    else:
        log.warning("%s", report.summary())
    return choose_read_path(mapping, facts, report)


def validate(ctx: SyncContext, staged: StagedSnapshot, options: RunOptions) -> list[CheckResult]:
    """Gate the staged snapshot; the live table is not touched."""
    mapping, log = ctx.mapping, ctx.log
    with ctx.target() as target:
        hold_attempt_lock(target, staged.attempt_id)
        try:
            require_snapshot(target, staged.tables)
            with tuned_transaction(target, mapping):
                results = validate_snapshot(
                    target,
                    mapping,
                    staged.tables.snapshot_id,
                    staged.tables.keys_id,
                    allow_empty=options.allow_empty,
                    max_shrink=options.max_shrink,
                )
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
            _fail(ctx, staged.attempt_id, "validate", exc)
        except Exception as exc:
            _fail(ctx, staged.attempt_id, "validate", exc)
        for result in results:
            log.info("check %s: passed - %s", result.name, result.detail)
        update_attempt(target, staged.attempt_id, checks=results, stage="replace")
    return results


def replace(ctx: SyncContext, staged: StagedSnapshot) -> ApplyCounts:
    """Apply the snapshot to the live table in one transaction, with the success record."""
    mapping, log = ctx.mapping, ctx.log
    started = time.monotonic()
    with ctx.target() as target:
        hold_attempt_lock(target, staged.attempt_id)
        try:
            with tuned_transaction(target, mapping):
                lock_for_apply(target, mapping)
                require_snapshot(target, staged.tables)
                counts = apply_snapshot(
                    target, mapping, staged.tables.snapshot_id, staged.tables.keys_id, staged.rows_fetched
                )
                record_success(target, staged.attempt_id, counts)
            total_seconds = attempt_seconds(target, staged.attempt_id)
        except Exception as exc:
            _fail(ctx, staged.attempt_id, "replace", exc)
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
    with ctx.target() as target:
        record_dry_run(target, staged.attempt_id)
    ctx.log.info(
        "dry run: %d rows validated, %s left unchanged",
        staged.rows_fetched,
        ctx.mapping.target.qualified_name,
    )


def cleanup(ctx: SyncContext, staged: StagedSnapshot | None) -> list[str]:
    """Drop this attempt's staging (or, without one, any orphaned staging of the target)."""
    with ctx.target() as target:
        if staged is not None:
            drop_tables(target, staged.tables)
            dropped = [staged.snapshot_table]
        else:
            history_exists = relation_exists(target, SYNC_SCHEMA, "history")
            dropped = sweep_orphans(target, ctx.mapping) if history_exists else []
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
