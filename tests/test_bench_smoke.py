"""A tiny bench session end to end: the syncs, their transport's limits and every other tool at 2,000 rows.

No timing is asserted (the machine is shared); the tests check that the harness measures what
it claims to: rows read and written, row counts of every tool's table, a peak RSS, WAL, the
reader's latencies, load averages, which runs met a cold source, the report and its chart.
The other tools (tds_fdw from devtools/sysdeps.sh; ingestr, sling and dlt from
bench/requirements-contenders.txt, built once under .run/bench-venv) must install and run:
a tool that cannot is a failed measurement, and fails here.
"""

from __future__ import annotations

import pytest

from bench import report
from bench.contenders import RELOADERS
from bench.harness import cache_mb_for
from tests.bench_support import run_bench_session

ROWS = 2000
CONTENDERS = (
    "fetch_only",
    "fetch_only_lines",
    "copy_only_lines",
    "sync",
    "sync_columns",
    "sync_1pct_changed",
    *RELOADERS,
)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    return run_bench_session(
        tmp_path_factory.mktemp("bench"),
        "--sizes",
        str(ROWS),
        "--contenders",
        ",".join(CONTENDERS),
        "--timeout",
        "300",
        "--reload-timeout",
        "300",
        timeout=1200,
    )


def _runs(results, contender):
    return [m for m in results["measurements"] if m["contender"] == contender]


@pytest.mark.slow
def test_every_measurement_is_complete_and_sane(bench_run):
    _, results = bench_run
    assert results["sizes"] == [ROWS]
    # the warm-up reads are not measurements
    assert {m["contender"] for m in results["measurements"]} == set(CONTENDERS)
    for m in results["measurements"]:
        assert m["ok"], (m["contender"], m["run"], m["error"])
        assert m["rows"] == ROWS, m
        assert m["seconds"] > 0 and m["rows_per_second"] > 0
        assert 10 < m["peak_rss_mb"] < 2000  # a real process's own high-water mark, not the harness's
        assert m["source_cache"] in ("warm", "cold"), m
        assert 0 <= m["load_before"] and 0 <= m["load_after"], m


@pytest.mark.slow
def test_both_read_paths_load_then_resync_without_writing(bench_run):
    _, results = bench_run
    for name in ("sync", "sync_columns"):
        first, resync = _runs(results, name)
        assert (first["run"], resync["run"]) == ("first load", "re-sync")
        assert first["rows_in_table"] == resync["rows_in_table"] == ROWS
        assert first["rows_written"] == ROWS and first["wal_bytes"] > 0
        assert resync["rows_written"] == 0
    # the CSV-line query was warmed before the sync; the typed path's first load read its query cold
    assert [m["source_cache"] for m in _runs(results, "sync")] == ["warm", "warm"]
    assert [m["source_cache"] for m in _runs(results, "sync_columns")] == ["cold", "warm"]
    resync = _runs(results, "sync")[1]
    assert resync["reader"]["queries"] > 0 and resync["reader"]["max_ms"] > 0


@pytest.mark.slow
def test_the_changed_resync_rewrites_only_the_changed_rows(bench_run):
    _, results = bench_run
    (changed,) = _runs(results, "sync_1pct_changed")
    assert changed["run"] == "re-sync, 1% changed"
    assert changed["rows_in_table"] == ROWS
    assert 0 < changed["rows_changed"] < ROWS // 20  # the items of one document in a hundred
    assert changed["rows_written"] == changed["rows_changed"]


@pytest.mark.slow
def test_every_other_tool_reloads_twice_cold_then_warm_and_fills_its_table(bench_run):
    _, results = bench_run
    for name in RELOADERS:
        runs = _runs(results, name)
        assert [(m["run"], m["source_cache"]) for m in runs] == [("first load", "cold"), ("re-sync", "warm")]
        for m in runs:
            assert m["rows_in_table"] == ROWS, (name, m)
            assert m["wal_bytes"] > 0, (name, m)
    environment = results["environment"]
    assert environment["ingestr"] == "1.1.22" and environment["sling-linux-amd64"] == "1.4.11"
    assert environment["tds_fdw"] != "not installed"
    assert environment["emulator result cache"] == f"{cache_mb_for(ROWS):,} MiB"


@pytest.mark.slow
def test_report_and_chart_are_written(bench_run):
    paths, results = bench_run
    text = paths["report"].read_text()
    assert "| target | verdict | figures |" in text
    assert "an unchanged re-sync writes 0 rows of `open_orders` | met" in text
    for target in (
        "≤ 0.6 × tds_fdw's full reload",
        "≤ 2.5 × the CSV-line fetch-only limit",
        "1% of rows changed at 2,000 rows (stands in for 1,000,000: not in this run): within 20%",
    ):
        line = next((row for row in text.splitlines() if target in row), None)
        assert line is not None, target
        assert line.split("|")[2].strip() in ("met", "not met"), line
    for name in ("tds_fdw", "ingestr", "sling", "dlt"):
        assert report.LABELS[name] in text
    assert "Cold runs in this report:" in text and "## Machine load" in text
    assert f"- {ROWS:,} rows: CSV lines " in text and ", columns " in text
    assert "images/bench-rows-per-second.png" in text
    assert results["environment"]["postgresql"] in text
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _m(contender, size, run, seconds, **extra):
    return {
        "contender": contender,
        "size": size,
        "run": run,
        "ok": True,
        "seconds": seconds,
        "rows_per_second": size / seconds,
        "peak_rss_mb": extra.pop("rss", 60.0),
        "rows_written": extra.pop("written", 0),
        "reader": extra.pop("reader", None),
        "error": "",
        "note": "",
        **extra,
    }


def test_targets_are_ratios_of_the_runs_figures():
    big, medium = 1_000_000, 100_000
    results = {
        "measurements": [
            _m("sync", 10_000, "re-sync", 0.4, rss=55.0),
            _m("sync_columns", 10_000, "re-sync", 0.5, rss=70.0),
            _m("sync", big, "first load", 15.0, rss=60.0, written=big),
            _m("sync", big, "re-sync", 9.0, rss=58.0, reader={"max_ms": 12.5}),
            _m("sync_columns", big, "re-sync", 60.0, rss=130.0),  # +60 MB: not met
            _m("sync_1pct_changed", big, "re-sync, 1% changed", 10.0, written=10_000),
            _m("tds_fdw", big, "first load", 30.0),
            _m("tds_fdw", big, "re-sync", 16.0),  # 9 / 16 = 0.56: met
            _m("fetch_only_lines", big, "read", 4.0),  # 9 / 4 = 2.25: met
            _m("ingestr", big, "re-sync", 24.0),
            _m("sync", medium, "first load", 1.5),
            _m("sync", medium, "re-sync", 1.3),
            _m("tds_fdw", medium, "re-sync", 1.8),  # 1.8 / 1.3 = 1.38 < 1.5: not met
            _m("sync", 5_000, "re-sync", 0.35),  # over 0.3 s: not met
        ]
    }
    verdicts = {name: (verdict, figures) for name, verdict, figures in report.target_checks(results)}
    assert verdicts["unchanged re-sync at 1,000,000 rows ≤ 0.6 × tds_fdw's full reload"] == (
        "met",
        "0.56 × (9.00 s vs 16.00 s)",
    )
    assert verdicts["unchanged re-sync at 1,000,000 rows ≤ 2.5 × the CSV-line fetch-only limit"][0] == "met"
    assert verdicts["1% of rows changed at 1,000,000 rows: within 20% of the unchanged re-sync"][0] == "met"
    assert verdicts["first load at 1,000,000 rows: faster than every other contender"][0] == "met"
    assert verdicts["first load at 100,000 rows: faster than every other contender"][0] == "met"
    resync = verdicts["re-sync at 100,000 rows: faster than every other contender by ≥ 1.5×"]
    assert resync[0] == "not met" and "1.38 ×" in resync[1]
    assert (
        verdicts["peak RSS at 1,000,000 rows within 50 MB of the 10,000-row run, read path CSV lines"][0]
        == "met"
    )
    assert verdicts["peak RSS at 1,000,000 rows within 50 MB of the 10,000-row run, read path columns"] == (
        "not met",
        "130 MB vs 70 MB (+60 MB)",
    )
    assert verdicts["reader max latency during an apply at 1,000,000 rows reported"][1].endswith("12.5 ms")
    assert verdicts["5,000 rows: engine sync ≤ 0.3 s"][0] == "not met"


def test_the_emulator_cache_holds_the_largest_runs_queries():
    assert cache_mb_for(2_000) == 512  # never below the emulator's own default
    # the CSV lines, the typed rows and the four other tools' queries of a million rows
    assert cache_mb_for(1_000_000) * 2**20 >= 1_000_000 * (1_200 + 800 + 4 * 800)
