"""Readers never see a half-applied sync: every read is one complete snapshot, and reads stay fast.

A separate process (``table_reader``) reads ``open_orders`` in a loop while the writer applies
SYNCS changing snapshots (inserts, updates and deletes each time). The writer notes the
table's (count, md5) after each sync; every read must equal one of those, in order.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import time

import pytest

from devtools.demo_source.generate import apply_changes
from include.table_sync.pipeline import sync_once
from tests.conftest import REPO_ROOT
from tests.sync.support import (
    make_context,
    open_orders_mapping,
    seeded_demo_source,
    table_checksum,
)

SEED_ROWS = 1000
# Enough applies for the reader to land inside many of them (it sees at least half the snapshots)
# while keeping make test short: each sync of 1,000 rows costs about two seconds here.
SYNCS = 20
CHANGES = {"inserts": 15, "updates": 25, "deletes": 10}

# Target for a read's latency while an apply runs; reported, not asserted (shared 2-core machines).
TARGET_LATENCY_MS = 50
# Only a sanity bound is asserted: a read blocked by the apply would wait for its whole transaction.
SANITY_LATENCY_MS = 2000


class ApplyWindows(logging.Handler):
    """Collects [start, end] wall-clock windows of each replace transaction from the engine's log."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.windows: list[tuple[float, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        # "applied %s to %s in %.2f s (%d rows in table)": the third argument is the duration.
        if record.msg.startswith("applied ") and record.args:
            self.windows.append((record.created - float(record.args[2]), record.created))


def percentile_ms(seconds: list[float], percent: int) -> float:
    if not seconds:
        return 0.0
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, len(ordered) * percent // 100)] * 1000


@pytest.fixture
def source(mssql):
    with seeded_demo_source(mssql, SEED_ROWS, seed=21) as conn:
        yield conn


@contextlib.contextmanager
def reader_process(dsn: str):
    """Run the reader beside the block; yields a function that stops it and returns its reads."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.table_reader", dsn],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def stop() -> list[tuple[float, float, int, str]]:
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        return [tuple(observation) for observation in json.loads(stdout)]

    try:
        assert process.stderr.readline().strip() == "ready", "the reader did not start"
        yield stop
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_every_read_sees_one_complete_snapshot(mssql, source, orders_db, capsys, record_property):
    mapping = open_orders_mapping()
    windows = ApplyWindows()
    log = logging.getLogger("table_sync.concurrent_readers_test")
    log.setLevel(logging.INFO)
    log.addHandler(windows)
    try:
        # The table exists and holds the first snapshot before the reader starts.
        sync_once(make_context(mapping, mssql, orders_db, run_id="initial", log=log))
        snapshots = [table_checksum(orders_db)]
        with reader_process(orders_db) as stop_reader:
            started = time.monotonic()
            for number in range(1, SYNCS + 1):
                apply_changes(source, seed=1000 + number, **CHANGES)
                outcome = sync_once(make_context(mapping, mssql, orders_db, run_id=f"run-{number}", log=log))
                assert (outcome.counts.inserted, outcome.counts.updated, outcome.counts.deleted) == (
                    CHANGES["inserts"],
                    CHANGES["updates"],
                    CHANGES["deletes"],
                )
                snapshots.append(table_checksum(orders_db))
            writer_seconds = time.monotonic() - started
            observations = stop_reader()
    finally:
        log.removeHandler(windows)

    assert len(set(snapshots)) == SYNCS + 1, "each sync must change the table"
    assert len(windows.windows) == SYNCS + 1, "one apply window per sync, from the engine's log"
    position = {snapshot: index for index, snapshot in enumerate(snapshots)}
    seen = []
    for started_at, _, count, checksum in observations:
        assert count > 0, f"a reader saw an empty table at {started_at:.3f}"
        assert (count, checksum) in position, (
            f"a reader saw a table that is no applied snapshot ({count} rows) at {started_at:.3f}"
        )
        seen.append(position[(count, checksum)])
    assert seen == sorted(seen), "a reader saw an older snapshot after a newer one"
    # The reader really ran beside the writer: it saw most snapshots, and reads inside applies.
    assert len(set(seen)) >= SYNCS // 2, f"the reader saw only {len(set(seen))} of {SYNCS + 1} snapshots"
    during_apply, outside_apply = [], []
    for started_at, ended_at, _, _ in observations:
        overlaps = any(started_at < end and ended_at > start for start, end in windows.windows)
        (during_apply if overlaps else outside_apply).append(ended_at - started_at)
    assert during_apply, "no read overlapped an apply: the test proves nothing"

    max_during_apply_ms = max(during_apply) * 1000
    # Percentiles beside the maxima: on a busy machine the maxima are scheduling noise, and
    # the same reads outside applies show how much (if anything) an apply adds.
    summary = (
        f"concurrent readers: {len(observations)} reads ({len(during_apply)} during an apply) over "
        f"{SYNCS} syncs in {writer_seconds:.1f} s; {len(set(seen))} of {SYNCS + 1} snapshots seen; "
        f"read latency during applies: max {max_during_apply_ms:.1f} ms (target < {TARGET_LATENCY_MS} ms), "
        f"p95 {percentile_ms(during_apply, 95):.1f} ms, median {percentile_ms(during_apply, 50):.1f} ms; "
        f"outside applies: max {percentile_ms(outside_apply, 100):.1f} ms, "
        f"p95 {percentile_ms(outside_apply, 95):.1f} ms, median {percentile_ms(outside_apply, 50):.1f} ms"
    )
    record_property("max_reader_latency_during_apply_ms", round(max_during_apply_ms, 1))
    with capsys.disabled():
        print(f"\n{summary}")
    assert max_during_apply_ms < SANITY_LATENCY_MS, summary
