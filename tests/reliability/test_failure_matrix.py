"""The failure matrix: every scenario of ``scenarios.py`` against a populated ``open_orders``.

Each test runs a good sync, breaks one thing, runs the sync into the failure, and asserts what
the scenario promises: the error class, the live table's checksum and ``last_success_at`` unchanged,
the attempt's history row, a log that names the cause and holds no password; then it repairs
the break and asserts that the next normal run succeeds and leaves no staging behind.
Process scenarios run the sync in a child process and SIGKILL it at the chosen moment.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from devtools.demo_source.generate import apply_changes
from devtools.embedded_postgres import EmbeddedPostgres, free_port
from devtools.failure_matrix_doc import render
from include.table_sync.errors import ConcurrentSyncError, SyncError
from include.table_sync.history import ATTEMPT_LOCK_CLASS
from include.table_sync.mapping import SyncMapping
from include.table_sync.pipeline import (
    RunOptions,
    SyncContext,
    cleanup,
    extract,
    replace,
    sync_once,
    validate,
)
from tests.conftest import REPO_ROOT
from tests.reliability.conftest import SEED_ROWS, reseed
from tests.reliability.scenarios import SCENARIOS, Scenario
from tests.reliability.variants import (
    VALIDATE_GATE_KEY,
    ArmFaultBeforeSelect,
    altered_view,
    view_body,
    with_query,
    with_thresholds,
)
from tests.sync.support import (
    history,
    last_success_at,
    make_context,
    open_orders_mapping,
    source_connection,
    staging_tables,
    table_checksum,
)

WRONG_PASSWORD = "not-the-password"
KEY = ("0000010000", "000010")  # the generator's first item, present for every seed
APPLY_LOCK = "SELECT pg_advisory_lock(hashtext('table_sync:apply:' || 'public.open_orders'))"


@dataclass
class Matrix:
    """One scenario's world: the seeded source, the target database, and ways to break them."""

    mssql: Any
    source: Any  # autocommit pymssql connection to the emulator
    dsn: str
    mapping: SyncMapping
    postgres: EmbeddedPostgres | None = None
    source_changed: bool = False
    updated_key: tuple[str, str] | None = None  # a source row the process scenarios changed
    undo: list[Callable[[], None]] = field(default_factory=list)

    def context(
        self, run_id: str = "bad-run", mapping: SyncMapping | None = None, **source_overrides
    ) -> SyncContext:
        return make_context(
            mapping or self.mapping, self.mssql, self.dsn, run_id=run_id, source_overrides=source_overrides
        )

    def on_source(self, statement: str) -> int:
        cursor = self.source.cursor()
        cursor.execute(statement)
        self.source_changed = True
        return cursor.rowcount

    def arm(self, kind: str, **params) -> None:
        arguments = "".join(f", @{name} = {value}" for name, value in params.items())
        self.source.cursor().execute(f"EXEC emulator.inject_fault @kind = N'{kind}'{arguments}")

    def arm_before_select(self, kind: str, query_timeout: int = 30, **params) -> None:
        # pymssql's query timeout is process-wide (FreeTDS dbsettime): the arming connection
        # must ask for the same one as the sync, or it changes the sync's.
        handler = ArmFaultBeforeSelect(
            lambda: source_connection(self.mssql, timeout=query_timeout), kind, **params
        )
        logger = logging.getLogger("table_sync")
        logger.addHandler(handler)
        self.undo.append(lambda: logger.removeHandler(handler))

    def target(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn, autocommit=True)


def run_steps(ctx: SyncContext, before: dict[str, Callable[[], None]] | None = None):
    """extract, validate, replace as the DAG runs them, cleanup as the teardown; ``before[step]`` runs first."""
    before = before or {}
    staged = None
    try:
        before.get("extract", lambda: None)()
        staged = extract(ctx)
        before.get("validate", lambda: None)()
        validate(ctx, staged, RunOptions())
        before.get("replace", lambda: None)()
        return replace(ctx, staged)
    finally:
        with contextlib.suppress(SyncError):
            cleanup(ctx, staged)


def terminate_backend_when(dsn: str, query_like: str, seconds: float = 30) -> dict:
    """In a thread: terminate the first other backend running ``query_like``; returns what it did."""
    outcome: dict = {}

    def watch() -> None:
        deadline = time.monotonic() + seconds
        with psycopg.connect(dsn, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE %s",
                    (query_like,),
                ).fetchone()
                if row:
                    outcome["terminated"] = conn.execute("SELECT pg_terminate_backend(%s)", row).fetchone()[0]
                    return
                time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    outcome["thread"] = thread
    return outcome


# -- the source and target failures, each breaking one thing and running into it ----------------


@dataclass(frozen=True)
class Failure:
    provoke: Callable[[Matrix], Any]
    own_postgres: bool = False
    max_seconds: float = 60


FAILURES: dict[str, Failure] = {}


def failure(name: str, **options):
    def register(provoke):
        FAILURES[name] = Failure(provoke, **options)
        return provoke

    return register


@failure("connection_refused", max_seconds=15)
def _connection_refused(m: Matrix):
    sync_once(m.context(port=free_port(), login_timeout=2))


@failure("login_delayed", max_seconds=6)
def _login_delayed(m: Matrix):
    m.arm("delay_login", ms=8000)
    sync_once(m.context(login_timeout=2))


@failure("wrong_password")
def _wrong_password(m: Matrix):
    sync_once(m.context(password=WRONG_PASSWORD))


@failure("unknown_database")
def _unknown_database(m: Matrix):
    sync_once(m.context(database="NoSuchDatabase"))


@failure("missing_view")
def _missing_view(m: Matrix):
    m.on_source("DROP VIEW dbo.vwZSDOrder_Advanced")
    sync_once(m.context())


@failure("query_syntax_error")
def _query_syntax_error(m: Matrix):
    sync_once(m.context(mapping=with_query(m.mapping, "SELECT * FROM dbo.vwZSDOrder_Advanced WHERE")))


@failure("disconnect_mid_stream")
def _disconnect_mid_stream(m: Matrix):
    m.arm_before_select("disconnect_after_rows", rows=50)
    sync_once(m.context())


@failure("stall_mid_stream", max_seconds=10)
def _stall_mid_stream(m: Matrix):
    m.arm_before_select("stall_after_rows", query_timeout=3, rows=50, ms=600_000)
    sync_once(m.context(timeout=3))


@failure("column_removed")
def _column_removed(m: Matrix):
    m.on_source(altered_view("    NetPrice,\n", ""))
    sync_once(m.context())


@failure("column_renamed")
def _column_renamed(m: Matrix):
    m.on_source(altered_view("    NetPrice,\n", "    NetPrice AS NetPriceEur,\n"))
    sync_once(m.context())


@failure("column_retyped")
def _column_retyped(m: Matrix):
    m.on_source(
        altered_view("    OrderQuantity,\n", "    CAST(OrderQuantity AS decimal(28,3)) AS OrderQuantity,\n")
    )
    sync_once(m.context())


def _set_value(m: Matrix, column: str, value: str) -> None:
    literal = "NULL" if value is None else f"N'{value}'"
    changed = m.on_source(
        f"UPDATE dbo.ZSDOrderItem SET {column} = {literal} "
        f"WHERE SalesDocument = N'{KEY[0]}' AND SalesDocumentItem = N'{KEY[1]}'"
    )
    assert changed == 1


@failure("bad_dats_value")
def _bad_dats_value(m: Matrix):
    _set_value(m, "CustomerPODate", "2026ABCD")
    sync_once(m.context())


@failure("bad_flag")
def _bad_flag(m: Matrix):
    _set_value(m, "CompleteDeliveryFlag", "Y")
    sync_once(m.context())


@failure("decimal_out_of_range")
def _decimal_out_of_range(m: Matrix):
    # A custom query has no catalog entry to check, so the widened value reaches staging.
    widened = (
        f"    CASE WHEN SalesDocument = N'{KEY[0]}' AND SalesDocumentItem = N'{KEY[1]}' "
        "THEN CAST(1234567890123.5 AS decimal(28,3)) ELSE CAST(OrderQuantity AS decimal(28,3)) END "
        "AS OrderQuantity,\n"
    )
    query = view_body().replace("    OrderQuantity,\n", widened, 1)
    sync_once(m.context(mapping=with_query(m.mapping, query)))


@failure("null_key")
def _null_key(m: Matrix):
    _set_value(m, "SalesDocumentItem", None)
    sync_once(m.context())


@failure("duplicate_key")
def _duplicate_key(m: Matrix):
    m.on_source(
        "INSERT INTO dbo.ZSDOrderItem SELECT * FROM dbo.ZSDOrderItem "
        f"WHERE SalesDocument = N'{KEY[0]}' AND SalesDocumentItem = N'{KEY[1]}'"
    )
    sync_once(m.context())


@failure("empty_result")
def _empty_result(m: Matrix):
    m.on_source("DELETE FROM dbo.ZSDOrderItem")
    sync_once(m.context())


@failure("shrunk_below_guard")
def _shrunk_below_guard(m: Matrix):
    m.on_source("DELETE FROM dbo.ZSDOrderItem WHERE SalesDocumentItem <> N'000010'")
    sync_once(m.context())


@failure("postgres_down_at_extract", own_postgres=True)
def _postgres_down_at_extract(m: Matrix):
    m.postgres.stop()
    try:
        sync_once(m.context())
    finally:
        m.postgres.start()


@failure("postgres_down_at_replace", own_postgres=True)
def _postgres_down_at_replace(m: Matrix):
    ctx = m.context()
    staged = extract(ctx)
    validate(ctx, staged, RunOptions())
    m.postgres.stop()
    try:
        replace(ctx, staged)
    finally:
        m.postgres.start()  # no cleanup here: the next run must sweep this attempt's staging


@failure("backend_killed_mid_copy")
def _backend_killed_mid_copy(m: Matrix):
    m.arm_before_select("stall_after_rows", rows=50, ms=3000)
    killer = terminate_backend_when(m.dsn, "COPY %")
    try:
        sync_once(m.context())
    finally:
        killer["thread"].join()
        assert killer.get("terminated"), "the COPY backend was never seen"


@failure("reader_holds_lock")
def _reader_holds_lock(m: Matrix):
    reader = m.target()
    m.undo.append(reader.close)

    def lock() -> None:
        reader.execute("BEGIN")
        reader.execute("LOCK TABLE open_orders IN ACCESS EXCLUSIVE MODE")

    run_steps(m.context(mapping=with_thresholds(m.mapping, lock_timeout_ms=1000)), before={"replace": lock})


@failure("lock_held_before_run", max_seconds=15)
def _lock_held_before_run(m: Matrix):
    with m.target() as migration:
        migration.execute("BEGIN")
        migration.execute("LOCK TABLE open_orders IN ACCESS EXCLUSIVE MODE")
        sync_once(m.context(mapping=with_thresholds(m.mapping, lock_timeout_ms=1000)))


@failure("staging_dropped")
def _staging_dropped(m: Matrix):
    ctx = m.context()
    staged = extract(ctx)
    with m.target() as conn:
        conn.execute(f"DROP TABLE table_sync.{staged.snapshot_table}")
    try:
        validate(ctx, staged, RunOptions())
    finally:
        cleanup(ctx, staged)


IN_PROCESS = [s for s in SCENARIOS if s.layer != "process"]


def assert_no_password(*texts: str) -> None:
    for text in texts:
        for secret in ("demo-password", WRONG_PASSWORD):
            assert secret not in text, f"a password leaked into: {text[:300]}"


def assert_recovers(m: Matrix, caplog) -> None:
    """The next normal run succeeds on the repaired source and leaves no staging behind."""
    outcome = sync_once(m.context(run_id="next-run"))
    assert outcome.counts is not None
    assert history(m.dsn)[-1]["status"] == "success"
    assert staging_tables(m.dsn) == []
    assert_no_password(caplog.text)


@pytest.mark.parametrize("scenario", IN_PROCESS, ids=lambda s: s.name)
def test_failure_leaves_the_table_alone_and_the_next_run_recovers(
    scenario: Scenario, request, mssql, source, orders_db, caplog
):
    plan = FAILURES[scenario.name]
    own = request.getfixturevalue("own_postgres") if plan.own_postgres else None
    m = Matrix(mssql, source, own.dsn("orders") if own else orders_db, open_orders_mapping(), own)
    sync_once(m.context(run_id="good-run"))
    checksum, success = table_checksum(m.dsn), last_success_at(m.dsn)
    assert checksum[0] == SEED_ROWS

    caplog.set_level(logging.INFO, logger="table_sync")
    started = time.monotonic()
    try:
        with pytest.raises(SyncError) as caught:
            plan.provoke(m)
    finally:
        for undo in m.undo:
            undo()
    elapsed = time.monotonic() - started

    error = caught.value
    assert type(error).__name__ == scenario.raises
    assert elapsed < plan.max_seconds, f"the failure took {elapsed:.1f} s"
    # What the task log shows: the engine's lines, then the error Airflow prints.
    task_log = caplog.text + "\n" + str(error)
    assert scenario.log_says in task_log
    assert_no_password(task_log)
    if scenario.history_status in {"failed", "rejected"}:
        # The engine's own line names the step, the table and the cause.
        assert f"failed for public.open_orders: {str(error).splitlines()[0]}" in caplog.text
    assert table_checksum(m.dsn) == checksum
    assert last_success_at(m.dsn) == success

    if m.source_changed:
        reseed(source)
    caplog.clear()
    assert_recovers(m, caplog)
    assert table_checksum(m.dsn) == checksum, "the repaired source holds the same rows"

    attempts = [row for row in history(m.dsn) if row["run_id"] == "bad-run"]
    if scenario.history_status == "none":
        assert attempts == [], "PostgreSQL was down: no attempt could be recorded"
        return
    (attempt,) = attempts
    assert (attempt["status"], attempt["error_class"]) == (
        scenario.history_status,
        scenario.history_error_class,
    )
    if scenario.history_status == "abandoned":
        assert "killed or lost" in attempt["error_message"]
    else:
        assert attempt["error_message"] == str(error)
    assert_no_password(attempt["error_message"])


# -- killed task processes ----------------------------------------------------------------------


class Child:
    """``python -m tests.reliability.sync_child`` against the matrix's servers."""

    def __init__(self, m: Matrix, log_path, run_id: str = "killed-run", **settings):
        mssql_kwargs = m.mssql.connect_kwargs(login_timeout=5, timeout=120)
        mssql_kwargs.pop("password")
        payload = {"dsn": m.dsn, "mssql": mssql_kwargs, "run_id": run_id, **settings}
        self.log_path = log_path
        self.dsn = m.dsn
        self._log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.sync_child", json.dumps(payload)],
            cwd=REPO_ROOT,
            env={**os.environ, "MSSQL_PASSWORD": m.mssql.password, "PYTHONPATH": str(REPO_ROOT)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.process.poll() is None, f"the child ended before the kill:\n{self.output()}"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.returncode == -signal.SIGKILL

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


def wait_for(what: str, probe: Callable[[], Any], child: Child, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        assert child.process.poll() is None, f"the child ended while waiting for {what}:\n{child.output()}"
        time.sleep(0.05)
    with psycopg.connect(child.dsn, autocommit=True) as conn:
        sessions = conn.execute(
            "SELECT state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    raise AssertionError(f"timed out waiting for {what}; sessions: {sessions}\n{child.output()}")


def backend_waiting(conn: psycopg.Connection, query_like: str, wait_type: str | None = None):
    return conn.execute(
        "SELECT pid, backend_xid IS NOT NULL FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE %s "
        "AND (%s::text IS NULL OR wait_event_type = %s)",
        (query_like, wait_type, wait_type),
    ).fetchone()


def attempt_row(dsn: str, run_id: str) -> dict | None:
    return next((row for row in reversed(history(dsn)) if row["run_id"] == run_id), None)


def kill_during_extract(m: Matrix, child_log) -> Child:
    child = Child(
        m, child_log, fault_on_select={"kind": "stall_after_rows", "params": {"rows": 50, "ms": 20_000}}
    )
    with m.target() as conn:
        wait_for("the COPY into staging", lambda: backend_waiting(conn, "COPY %"), child)
    child.kill()
    return child


def kill_during_validate(m: Matrix, child_log) -> Child:
    with m.target() as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (VALIDATE_GATE_KEY,))
        child = Child(m, child_log, variants=["gate_check"])
        wait_for("validate parked on the gate", lambda: backend_waiting(gate, "%gate%", "Lock"), child)
        child.kill()
        # The dead task's PostgreSQL session still runs its check and holds the attempt's
        # liveness lock: a new run must stand back rather than run beside it.
        with pytest.raises(ConcurrentSyncError):
            sync_once(m.context(run_id="too-early-run"))
    return child


def kill_inside_replace(m: Matrix, child_log) -> Child:
    # Probe from a session of its own: inside a transaction pg_stat_activity is a frozen snapshot.
    with m.target() as reader, m.target() as probe:
        reader.execute("BEGIN")
        reader.execute(
            "SELECT 1 FROM open_orders WHERE (sales_document, sales_document_item) = (%s, %s) FOR UPDATE",
            m.updated_key,
        )
        child = Child(m, child_log, variants=["long_lock_timeout"])
        pid, wrote = wait_for(
            "the apply's UPDATE waiting on a row", lambda: backend_waiting(probe, "UPDATE %", "Lock"), child
        )
        assert wrote, "the apply transaction has not written yet (its DELETE should have run)"
        child.kill()
        reader.execute("ROLLBACK")
    return child


def kill_after_commit(m: Matrix, child_log) -> Child:
    with m.target() as gate, m.target() as holder:
        gate.execute(APPLY_LOCK)
        child = Child(m, child_log, variants=["long_lock_timeout"])
        wait_for(
            "the apply waiting for its lock",
            lambda: backend_waiting(gate, "%table_sync:apply%", "Lock"),
            child,
        )
        attempt = attempt_row(m.dsn, "killed-run")
        # Hold the staged snapshot so the child's cleanup cannot drop it: the kill lands between
        # the commit and the end of cleanup.
        holder.execute("BEGIN")
        holder.execute(f"LOCK TABLE table_sync.open_orders_a{attempt['id']} IN ACCESS SHARE MODE")
        gate.execute("SELECT pg_advisory_unlock_all()")
        wait_for("the success record", lambda: attempt_row(m.dsn, "killed-run")["status"] == "success", child)
        child.kill()
        # If the dead task's session already waits to DROP the snapshot, end it, as if the kill
        # had come before cleanup started: the staging stays for the next run to sweep.
        with m.target() as probe:
            dropping = backend_waiting(probe, "DROP TABLE %", "Lock")
            if dropping:
                probe.execute("SELECT pg_terminate_backend(%s)", (dropping[0],))
        holder.execute("ROLLBACK")
    return child


KILLS = {
    "killed_during_extract": kill_during_extract,
    "killed_during_validate": kill_during_validate,
    "killed_inside_replace": kill_inside_replace,
    "killed_after_commit": kill_after_commit,
}
PROCESS = [s for s in SCENARIOS if s.layer == "process"]


def wait_until_backends_gone(dsn: str, seconds: float = 30) -> None:
    """PostgreSQL ends a killed client's session (and frees its locks) when it next talks to it."""
    deadline = time.monotonic() + seconds
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            others = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]
            held = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s",
                (ATTEMPT_LOCK_CLASS,),
            ).fetchone()[0]
            if others == 0 and held == 0:
                return
            time.sleep(0.1)
    raise AssertionError("the killed task's PostgreSQL sessions did not end")


@pytest.mark.parametrize("scenario", PROCESS, ids=lambda s: s.name)
def test_killed_task_leaves_the_table_consistent_and_the_next_run_settles_it(
    scenario: Scenario, mssql, source, orders_db, tmp_path, caplog
):
    m = Matrix(mssql, source, orders_db, open_orders_mapping())
    sync_once(m.context(run_id="good-run"))
    checksum, success = table_checksum(m.dsn), last_success_at(m.dsn)
    changes = apply_changes(source, seed=7, inserts=5, updates=5, deletes=5)
    m.updated_key = changes.updated[0]

    child = KILLS[scenario.name](m, tmp_path / "child.log")
    try:
        wait_until_backends_gone(m.dsn)
        child_log = child.output()
    finally:
        child.close()
    assert "extract: ProcessStatus.dbo.vwZSDOrder_Advanced -> public.open_orders" in child_log
    assert_no_password(child_log)

    committed = scenario.name == "killed_after_commit"
    if committed:
        assert table_checksum(m.dsn) != checksum
        assert last_success_at(m.dsn) > success
    else:
        assert table_checksum(m.dsn) == checksum
        assert last_success_at(m.dsn) == success
        assert attempt_row(m.dsn, "killed-run")["status"] == "running", "a killed task records nothing"
    assert staging_tables(m.dsn), "the killed attempt left its staging behind"

    caplog.set_level(logging.INFO, logger="table_sync")
    after_kill = table_checksum(m.dsn)
    outcome = sync_once(m.context(run_id="next-run"))
    assert staging_tables(m.dsn) == []
    assert_no_password(caplog.text)
    assert "dropped staging left by earlier attempts" in caplog.text
    if committed:
        assert (outcome.counts.inserted, outcome.counts.updated, outcome.counts.deleted) == (0, 0, 0)
        assert table_checksum(m.dsn) == after_kill
    else:
        assert (outcome.counts.inserted, outcome.counts.updated, outcome.counts.deleted) == (5, 5, 5)

    attempt = attempt_row(m.dsn, "killed-run")
    assert (attempt["status"], attempt["error_class"]) == (
        scenario.history_status,
        scenario.history_error_class,
    )
    if scenario.log_says:
        assert scenario.log_says in attempt["error_message"]


# -- the written matrix ---------------------------------------------------------------------------


def test_every_scenario_has_a_test():
    assert set(FAILURES) | set(KILLS) == {s.name for s in SCENARIOS}
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)


def test_written_failure_matrix_matches_the_scenarios():
    written = (REPO_ROOT / "docs" / "failure-matrix.md").read_text(encoding="utf-8")
    assert written == render(), "docs/failure-matrix.md is stale: run python -m devtools.failure_matrix_doc"
