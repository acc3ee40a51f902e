"""bench/report.py on a results file: the verdicts and the reasons given for the missed ones."""

from __future__ import annotations

from bench import report


def _m(contender, size, run, seconds, note="", **extra):
    return {
        "contender": contender, "size": size, "run": run, "ok": True, "seconds": seconds,
        "wall_seconds": seconds, "rows": size, "rows_in_table": size, "peak_rss_mb": 70.0,
        "rows_written": 0 if run == "re-sync" else size, "note": note, "reader": None, "error": "", **extra,
    }  # fmt: skip


def _sync_note(transport, extract, apply):
    return (
        f"read by csv_line (auto); read+COPY {transport} s (COPY idle 0.1 s waiting for the source), "
        f"whole extract {extract} s, apply {apply} s"
    )


def _results(resync_seconds: float) -> dict:
    size = 1_000_000
    return {
        "sizes": [size],
        "environment": {},
        "measurements": [
            _m("sync", size, "first load", 30.0, _sync_note(9.0, 20.0, 9.5)),
            _m("sync", size, "re-sync", resync_seconds, _sync_note(8.0, 10.0, 1.0)),
            _m("tds_fdw", size, "re-sync", 20.0),
            _m("fetch_only_lines", size, "read", 4.0),
            _m("copy_only_lines", size, "load", 5.0),
        ],
    }


def test_a_missed_ratio_is_explained_with_the_runs_own_figures():
    results = _results(resync_seconds=14.0)
    verdicts = {name: verdict for name, verdict, _ in report.target_checks(results)}
    assert verdicts["unchanged re-sync at 1,000,000 rows ≤ 0.6 × tds_fdw's full reload"] == "not met"
    text = "\n".join(report.shortfalls(results))
    assert text.startswith("## Why the targets not met are not")
    assert "took 8.00 s of the sync's 14.00 s" in text
    assert "alone, the fetch took 4.00 s and the COPY of the same lines 5.00 s" in text
    assert "0.40 × tds_fdw's whole reload (20.00 s)" in text
    assert "the 0.6 × target allows 12.00 s in all" in text
    assert "**1,000,000 rows, first load.** 30.00 s: extract 20.00 s" in text


def test_no_section_when_every_target_the_run_judges_is_met():
    results = _results(resync_seconds=9.0)
    results["measurements"] = [m for m in results["measurements"] if m["run"] != "first load"]
    assert all(verdict == "met" for _, verdict, _ in report.target_checks(results))
    assert report.shortfalls(results) == []
