"""Two syncs of the same table at once: the second stops cleanly, they never interleave.

The first sync is held mid-extract: when its schema check has passed (its log line), an
emulator fault is armed so its row stream pauses after a few rows. The second sync starts
while the first holds its attempt: it must raise ``ConcurrentSyncError`` without touching the
table or the history; the first then finishes and the table equals its snapshot exactly.
Beside a held sync, ``airflow dags test`` is refused the same way, retries (the error is
transient) and completes once the table is free.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import psycopg
import pytest

from devtools.demo_source.generate import apply_changes, create_source, seed_source
from include.table_sync.errors import ConcurrentSyncError
from include.table_sync.history import ensure_status_objects, start_attempt
from include.table_sync.pipeline import sync_once
from tests.sync.support import (
    expected_target_row,
    history,
    make_context,
    open_orders_mapping,
    source_connection,
    source_rows_as_text,
    staging_tables,
    table_checksum,
    target_rows,
)

SEED_ROWS = 400
STALL_MS = 6_000


class StallRowsAfterSchemaCheck(logging.Handler):
    """Arms ``stall_after_rows`` the moment the held sync logs that its schema check passed.

    The handler runs in the sync's own thread before it sends its SELECT, so the fault is
    armed for exactly that result set.
    """

    def __init__(self, mssql, stall_ms: int = STALL_MS):
        super().__init__(logging.INFO)
        self.mssql = mssql
        self.stall_ms = stall_ms
        self.armed = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("schema check passed") and not self.armed.is_set():
            with contextlib.closing(source_connection(self.mssql)) as conn:
                conn.cursor().execute(
                    f"EXEC emulator.inject_fault @kind = N'stall_after_rows', @rows = 50, @ms = {self.stall_ms}"
                )
            self.armed.set()


@pytest.fixture
def source(mssql):
    conn = source_connection(mssql)
    conn.autocommit(False)
    create_source(conn)
    seed_source(conn, SEED_ROWS, seed=31)
    yield conn
    conn.close()


def raw_staging_exists(dsn: str) -> bool:
    return any(name.endswith("_raw") for name in staging_tables(dsn))


def test_a_second_sync_beside_a_held_one_stops_cleanly(mssql, source, orders_db):
    mapping = open_orders_mapping()
    sync_once(make_context(mapping, mssql, orders_db, run_id="initial"))
    before = table_checksum(orders_db)
    changes = apply_changes(source, seed=41, inserts=7, updates=11, deletes=5)

    stall = StallRowsAfterSchemaCheck(mssql)
    held_log = logging.getLogger("table_sync.held_sync")
    held_log.setLevel(logging.INFO)
    held_log.addHandler(stall)
    outcome: dict = {}

    def held_sync() -> None:
        started = time.monotonic()
        try:
            outcome["result"] = sync_once(
                make_context(mapping, mssql, orders_db, run_id="held", log=held_log)
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=held_sync)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not (stall.armed.is_set() and raw_staging_exists(orders_db)):
            assert thread.is_alive() and time.monotonic() < deadline, (
                f"the held sync never got mid-extract: {outcome}"
            )
            time.sleep(0.05)

        # The held sync is streaming rows into its staging table: a second one must not start.
        with pytest.raises(ConcurrentSyncError) as refused:
            sync_once(make_context(mapping, mssql, orders_db, run_id="second"))
        assert thread.is_alive(), (
            "the held sync finished before the second one was refused: the test proves nothing"
        )
        assert table_checksum(orders_db) == before
    finally:
        thread.join(timeout=120)
        held_log.removeHandler(stall)

    message = str(refused.value)
    assert "another sync of public.open_orders is in progress (run held" in message
    assert "this one stops without touching the table" in message
    assert "error" not in outcome, outcome.get("error")
    counts = outcome["result"].counts
    assert (counts.inserted, counts.updated, counts.deleted) == (
        len(changes.inserted),
        len(changes.updated),
        len(changes.deleted),
    )
    assert outcome["seconds"] >= STALL_MS / 1000, "the held sync was not held by the stall"

    # The table is the held sync's snapshot, whole: exactly the source now.
    expected = {
        key: expected_target_row(mapping, raw) for key, raw in source_rows_as_text(mssql, mapping).items()
    }
    assert target_rows(orders_db, mapping) == expected
    attempts = [(row["run_id"], row["status"]) for row in history(orders_db)]
    assert attempts == [("initial", "success"), ("held", "success")], "the refused sync must leave no attempt"
    assert staging_tables(orders_db) == []

    # Once the held sync is done, a sync waits for nobody and finds nothing left to do.
    again = sync_once(make_context(mapping, mssql, orders_db, run_id="after"))
    assert (again.counts.inserted, again.counts.updated, again.counts.deleted) == (0, 0, 0)


def test_two_syncs_started_together_never_interleave(mssql, source, orders_db):
    """Released at the same instant: one applies, the other refuses or applies nothing new."""
    mapping = open_orders_mapping()
    sync_once(make_context(mapping, mssql, orders_db, run_id="initial"))
    apply_changes(source, seed=43, inserts=6, updates=9, deletes=4)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def run(run_id: str) -> None:
        barrier.wait()
        try:
            results[run_id] = sync_once(make_context(mapping, mssql, orders_db, run_id=run_id))
        except ConcurrentSyncError as exc:
            results[run_id] = exc
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
            results[run_id] = exc

    threads = [threading.Thread(target=run, args=(run_id,)) for run_id in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    applied = {run_id: r for run_id, r in results.items() if not isinstance(r, BaseException)}
    refused = {run_id: r for run_id, r in results.items() if isinstance(r, ConcurrentSyncError)}
    assert len(applied) + len(refused) == 2, results
    assert applied, results
    # Whoever applied first carried the changes; a second apply (if the two did not overlap)
    # found the table already equal to the source.
    changed = sorted((r.counts.inserted, r.counts.updated, r.counts.deleted) for r in applied.values())
    assert changed[-1] == (6, 9, 4), changed
    assert all(counts == (0, 0, 0) for counts in changed[:-1]), changed
    expected = {
        key: expected_target_row(mapping, raw) for key, raw in source_rows_as_text(mssql, mapping).items()
    }
    assert target_rows(orders_db, mapping) == expected
    successes = sorted(
        (row["started_at"], row["finished_at"], row["run_id"])
        for row in history(orders_db)
        if row["status"] == "success"
    )
    for (_, earlier_end, earlier), (later_start, _, later) in zip(successes, successes[1:], strict=False):
        assert later_start >= earlier_end, f"attempts {earlier} and {later} were syncing at the same time"
    with psycopg.connect(orders_db) as conn:
        running = conn.execute("SELECT count(*) FROM table_sync.history WHERE status = 'running'").fetchone()[
            0
        ]
    assert running == 0


def test_an_attempt_is_alive_from_the_moment_it_is_recorded(orders_db):
    """No gap between recording an attempt and holding its liveness lock.

    Were there one, a second sync starting right then would find the first attempt's lock
    free, mark it abandoned and run beside it.
    """
    mapping = open_orders_mapping()
    with (
        psycopg.connect(orders_db, autocommit=True) as first,
        psycopg.connect(orders_db, autocommit=True) as second,
    ):
        ensure_status_objects(first, mapping)
        attempt_id = start_attempt(first, mapping, "first")
        # The first sync has not called hold_attempt_lock itself yet.
        with pytest.raises(ConcurrentSyncError, match="run first"):
            start_attempt(second, mapping, "second")
    assert [(row["run_id"], row["status"]) for row in history(orders_db)] == [("first", "running")]
    assert history(orders_db)[0]["id"] == attempt_id


def test_airflow_dags_test_beside_a_held_sync_waits_its_turn(stack):
    """An ``airflow dags test`` started while a sync holds the table retries until it is free."""
    stack.seed_source(SEED_ROWS, seed=51)
    with psycopg.connect(stack.orders_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.open_orders")
        conn.execute("DROP SCHEMA IF EXISTS table_sync CASCADE")
    mapping = open_orders_mapping()
    stall = StallRowsAfterSchemaCheck(stack.mssql, stall_ms=30_000)
    held_log = logging.getLogger("table_sync.held_beside_airflow")
    held_log.setLevel(logging.INFO)
    held_log.addHandler(stall)
    outcome: dict = {}

    def held_sync() -> None:
        try:
            outcome["result"] = sync_once(
                make_context(
                    mapping,
                    stack.mssql,
                    stack.orders_dsn,
                    run_id="held",
                    log=held_log,
                    # The stall must end before the query timeout does (30 s by default in tests).
                    source_overrides={"timeout": 120},
                )
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
            outcome["error"] = exc

    thread = threading.Thread(target=held_sync)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not (stall.armed.is_set() and raw_staging_exists(stack.orders_dsn)):
            assert thread.is_alive() and time.monotonic() < deadline, (
                f"the held sync never got mid-extract: {outcome}"
            )
            time.sleep(0.05)
        airflow_run = stack.airflow("dags", "test", "sync_open_orders", quiet=True, check=False, timeout=300)
    finally:
        thread.join(timeout=120)
        held_log.removeHandler(stall)

    output = airflow_run.stdout + airflow_run.stderr
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].counts.inserted == SEED_ROWS
    # Refused while the held sync ran (a transient error: retried), then found nothing to do.
    assert "another sync of public.open_orders is in progress (run held" in output, output[-3000:]
    assert airflow_run.returncode == 0, output[-3000:]
    assert f"applied +0 ~0 -0 ={SEED_ROWS} to public.open_orders" in output, output[-3000:]
    expected = {
        key: expected_target_row(mapping, raw)
        for key, raw in source_rows_as_text(stack.mssql, mapping).items()
    }
    assert target_rows(stack.orders_dsn, mapping) == expected
    statuses = [(row["run_id"] == "held", row["status"]) for row in history(stack.orders_dsn)]
    assert statuses == [(True, "success"), (False, "success")], "the refused tries must leave no attempt"
