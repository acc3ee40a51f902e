"""A tiny bench session end to end: three contenders at 2,000 rows, results JSON and report written.

No timing is asserted (the machine is shared); the test checks that the harness measures what
it claims to: rows read and written, a peak RSS, WAL, the reader's latencies, the chart.
"""

from __future__ import annotations

import pytest

from tests.bench_support import run_bench_session

ROWS = 2000

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    return run_bench_session(
        tmp_path_factory.mktemp("bench"),
        "--sizes",
        str(ROWS),
        "--contenders",
        "fetch_only,fetch_only_lines,sync",
        "--timeout",
        "300",
        timeout=600,
    )


def _runs(results, contender):
    return [m for m in results["measurements"] if m["contender"] == contender]


def test_every_measurement_is_complete_and_sane(bench_run):
    _, results = bench_run
    assert results["sizes"] == [ROWS]
    # the warm-up read before the limits is not a measurement
    assert {m["contender"] for m in results["measurements"]} == {"fetch_only", "fetch_only_lines", "sync"}
    for m in results["measurements"]:
        assert m["ok"], m["error"]
        assert m["rows"] == ROWS
        assert m["seconds"] > 0 and m["rows_per_second"] > 0
        assert 10 < m["peak_rss_mb"] < 2000  # a real process's own high-water mark, not the harness's


def test_sync_loads_then_resyncs_without_writing(bench_run):
    _, results = bench_run
    first, resync = _runs(results, "sync")
    assert (first["run"], resync["run"]) == ("first load", "re-sync")
    assert first["rows_in_table"] == resync["rows_in_table"] == ROWS
    assert first["rows_written"] == ROWS and first["wal_bytes"] > 0
    assert resync["rows_written"] == 0
    assert resync["reader"]["queries"] > 0 and resync["reader"]["max_ms"] > 0


def test_report_and_chart_are_written(bench_run):
    paths, results = bench_run
    report = paths["report"].read_text()
    assert "| target | verdict | figures |" in report
    assert "an unchanged re-sync writes 0 rows | met" in report
    assert "images/bench-rows-per-second.png" in report
    assert results["environment"]["postgresql"] in report
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
