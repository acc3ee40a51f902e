"""docs/benchmarks.md and its chart, written from a session's results (bench/results.json).

python -m bench.report [results.json]   # rewrite the report without re-running the bench
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = REPO_ROOT / "bench" / "results.json"
REPORT_PATH = REPO_ROOT / "docs" / "benchmarks.md"
CHART_PATH = REPO_ROOT / "docs" / "images" / "bench-rows-per-second.png"

LABELS = {
    "sync": "open-orders-sync (engine `sync_once`)",
    "airflow_dags_test": "open-orders-sync (`airflow dags test`)",
    "seed_delete_insert": "seed: fetch all, DELETE, INSERT x500",
    "generic_transfer": "Airflow GenericTransfer + TRUNCATE",
    "pgloader": "pgloader (FreeTDS)",
    "fetch_only": "limit: fetch only (pymssql, iterate)",
    "fetch_only_fetchmany": "limit: fetch only (pymssql, fetchmany)",
    "fetch_only_lines": "fetch only, the sync's CSV-line query (pymssql)",
    "copy_only": "limit: COPY only (psycopg, rows in memory)",
}
# Which run of each contender the chart and the comparisons use: the re-sync a schedule repeats.
CHART_RUN = {"sync": "re-sync", "airflow_dags_test": "re-sync"}
LIMITS = ("fetch_only", "copy_only")


def load(path: Path = RESULTS_PATH) -> dict:
    return json.loads(path.read_text())


def write_report(results: dict, report_path: Path = REPORT_PATH, chart_path: Path = CHART_PATH) -> None:
    chart_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    draw_chart(results, chart_path)
    chart_link = os.path.relpath(chart_path, report_path.parent)
    report_path.write_text(render_markdown(results, chart_link))


def _headline(results: dict) -> list[dict]:
    """One measurement per (contender, size): the re-sync where there is one."""
    chosen: dict[tuple[str, int], dict] = {}
    for m in results["measurements"]:
        key = (m["contender"], m["size"])
        preferred = CHART_RUN.get(m["contender"])
        if key not in chosen or (preferred and m["run"] == preferred):
            chosen[key] = m
    return list(chosen.values())


def draw_chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 5.5), dpi=110)
    by_contender: dict[str, list[tuple[int, float]]] = {}
    for m in _headline(results):
        if m["ok"] and m["rows_per_second"]:
            by_contender.setdefault(m["contender"], []).append((m["size"], m["rows_per_second"]))
    for name, points in sorted(by_contender.items(), key=lambda item: list(LABELS).index(item[0])):
        points.sort()
        style = "--" if name in LIMITS or name.startswith("fetch_only") else "-"
        width = 2.6 if name == "sync" else 1.4
        axes.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            style,
            marker="o",
            linewidth=width,
            label=LABELS.get(name, name),
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("rows in the view")
    axes.set_ylabel("rows per second (higher is better)")
    axes.set_title("Copying the 67-column view into PostgreSQL (re-sync of unchanged data)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _number(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _bytes(value) -> str:
    if value is None:
        return "–"
    if value >= 2**20:
        return f"{value / 2**20:,.1f} MB"
    return f"{value / 2**10:,.0f} kB"


def _table(results: dict) -> list[str]:
    lines = [
        "| rows | contender | run | time (s) | rows/s | peak RSS (MB) | rows written | WAL | reader max (ms) | notes |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    order = list(LABELS)
    for m in sorted(
        results["measurements"],
        key=lambda m: (m["size"], order.index(m["contender"]) if m["contender"] in order else 99),
    ):
        reader = (m.get("reader") or {}).get("max_ms")
        if m["ok"]:
            cells = [_number(m["seconds"], 2), _number(m["rows_per_second"]), _number(m["peak_rss_mb"])]
            notes = m["note"]
        else:
            cells = ["failed", "–", _number(m["peak_rss_mb"])]
            notes = (m["error"].strip().splitlines() or ["?"])[-1].replace("|", "\\|")[:320]
            if m["note"]:
                notes = f"{m['note']}; {notes}"
        lines.append(
            f"| {m['size']:,} | {LABELS.get(m['contender'], m['contender'])} | {m['run']} | "
            + " | ".join(cells)
            + f" | {_number(m['rows_written'])} | {_bytes(m['wal_bytes'])} | {_number(reader, 1)} | {notes} |"
        )
    return lines


def _find(results: dict, contender: str, size: int, run: str | None = None) -> dict | None:
    for m in results["measurements"]:
        if m["contender"] == contender and m["size"] == size and (run is None or m["run"] == run) and m["ok"]:
            return m
    return None


def target_checks(results: dict) -> list[tuple[str, str, str]]:
    """(target, verdict, the figures behind it) for each target the issue sets."""
    checks = []
    sizes = sorted({m["size"] for m in results["measurements"]})
    largest = max(sizes) if sizes else 0
    sync_big = _find(results, "sync", largest, "re-sync")
    limits = [m for m in (_find(results, name, largest) for name in LIMITS) if m]
    if sync_big and len(limits) == 2:
        slower = min(limits, key=lambda m: m["rows_per_second"])
        ratio = sync_big["rows_per_second"] / slower["rows_per_second"]
        checks.append(
            (
                f"sync at {largest:,} rows ≥ 0.7 × the slower limit",
                "met" if ratio >= 0.7 else "not met",
                f"{sync_big['rows_per_second']:,.0f} rows/s = {ratio:.2f} × {LABELS[slower['contender']]} "
                f"({slower['rows_per_second']:,.0f} rows/s)",
            )
        )
    for size in (s for s in sizes if s >= 100_000):
        sync = _find(results, "sync", size, "re-sync")
        others = [
            m
            for m in _headline(results)
            if m["size"] == size
            and m["ok"]
            and m["rows_per_second"]
            and m["contender"] in ("seed_delete_insert", "generic_transfer", "pgloader")
        ]
        if sync and others:
            fastest = max(others, key=lambda m: m["rows_per_second"])
            checks.append(
                (
                    f"faster than every other contender at {size:,} rows",
                    "met" if sync["rows_per_second"] > fastest["rows_per_second"] else "not met",
                    f"sync {sync['rows_per_second']:,.0f} rows/s; fastest other: {LABELS[fastest['contender']]} "
                    f"{fastest['rows_per_second']:,.0f} rows/s" + _timed_out(results, size),
                )
            )
    base = _find(results, "sync", 10_000, "re-sync") or _find(results, "sync", 10_000)
    top = _find(results, "sync", largest, "first load") if largest > 10_000 else None
    if base and top:
        big_rss = max(
            m["peak_rss_mb"]
            for m in results["measurements"]
            if m["contender"] == "sync" and m["size"] == largest and m["ok"]
        )
        growth = big_rss - base["peak_rss_mb"]
        checks.append(
            (
                f"peak RSS at {largest:,} rows within 50 MB of the 10,000-row run",
                "met" if growth <= 50 else "not met",
                f"{big_rss:,.0f} MB vs {base['peak_rss_mb']:,.0f} MB (+{growth:,.0f} MB)",
            )
        )
    resyncs = [
        m
        for m in results["measurements"]
        if m["contender"] in ("sync", "airflow_dags_test") and m["run"] == "re-sync" and m["ok"]
    ]
    if resyncs:
        written = max(m["rows_written"] or 0 for m in resyncs)
        checks.append(
            (
                "an unchanged re-sync writes 0 rows",
                "met" if written == 0 else "not met",
                f"most rows written by a re-sync: {written:,}",
            )
        )
    small = [
        m for m in results["measurements"] if m["contender"] == "sync" and m["size"] == 5_000 and m["ok"]
    ]
    if small:
        worst = max(m["seconds"] for m in small)
        fetch = _find(results, "fetch_only", 5_000)
        floor = (
            f"; reading the 5,000 rows alone (fetch-only limit) took {fetch['seconds']:.2f} s"
            if fetch
            else ""
        )
        checks.append(
            (
                "5,000 rows: engine sync under 1 s",
                "met" if worst < 1 else "not met",
                f"slowest of {len(small)} runs: {worst:.2f} s{floor}",
            )
        )
    dags = [m for m in results["measurements"] if m["contender"] == "airflow_dags_test" and m["ok"]]
    if dags:
        worst = max(m["wall_seconds"] for m in dags)
        checks.append(
            (
                "5,000 rows: whole `airflow dags test` under 15 s",
                "met" if worst < 15 else "not met",
                f"slowest of {len(dags)} runs: {worst:.1f} s",
            )
        )
    return checks


def _timed_out(results: dict, size: int) -> str:
    """'; X timed out after N s (under R rows/s)' for contenders stopped by the timeout."""
    parts = []
    for m in results["measurements"]:
        match = re.search(r"timed out after (\d+) s", m["error"] or "")
        if m["size"] == size and not m["ok"] and match:
            seconds = int(match.group(1))
            parts.append(
                f"{LABELS[m['contender']]} timed out after {seconds} s (under {size / seconds:,.0f} rows/s)"
            )
    return "".join(f"; {part}" for part in parts)


def _read_paths(results: dict) -> list[str]:
    lines = []
    for size in sorted({m["size"] for m in results["measurements"]}):
        iterate, many = _find(results, "fetch_only", size), _find(results, "fetch_only_fetchmany", size)
        if iterate and many:
            lines.append(
                f"- {size:,} rows: iterating the cursor {iterate['rows_per_second']:,.0f} rows/s, "
                f"`fetchmany` {many['rows_per_second']:,.0f} rows/s "
                f"(peak RSS {iterate['peak_rss_mb']:,.0f} vs {many['peak_rss_mb']:,.0f} MB)"
            )
    return lines


def _where_time_goes(results: dict) -> list[str]:
    """The sync's steps against the limits, per size: is the source or the engine the bottleneck?"""
    lines = []
    for size in sorted({m["size"] for m in results["measurements"]}):
        sync = _find(results, "sync", size, "re-sync")
        fetch, copy = _find(results, "fetch_only", size), _find(results, "copy_only", size)
        lines_read = _find(results, "fetch_only_lines", size)
        if not (sync and fetch and copy):
            continue
        line = (
            f"- {size:,} rows: pymssql reads the view column by column at {fetch['rows_per_second']:,.0f} "
            f"rows/s (fetch only) while COPY of rows in memory takes {copy['rows_per_second']:,.0f} rows/s"
        )
        if lines_read:
            line += (
                f"; the sync's own query, one CSV line per row, reads at "
                f"{lines_read['rows_per_second']:,.0f} rows/s ({lines_read['seconds']:.1f} s)"
            )
        line += f". The whole sync took {sync['seconds']:.1f} s"
        if sync.get("note", "").startswith("read+COPY"):
            line += f": {sync['note']}"
        lines.append(line + ".")
    if lines:
        lines += [
            "",
            "Read column by column, pymssql's decoding of 67 values per row is the ceiling of any "
            "tool that reads the view that way (the fetch-only limit). The sync asks SQL Server to "
            "render each row as one CSV line (docs/architecture.md), so its read is several times "
            "faster than that limit and the rest of its time is PostgreSQL's work: COPY, the "
            "set-based conversion and checks of the staged rows (the extract), and the diff (the "
            "apply). COPY idle time is how long the COPY side waited for the reader thread.",
        ]
    return lines


def _failures(results: dict) -> list[str]:
    lines, seen = [], set()
    for m in results["measurements"]:
        if not m["ok"] and m["error"] and (m["contender"], m["error"]) not in seen:
            seen.add((m["contender"], m["error"]))
            lines += [
                f"**{LABELS.get(m['contender'], m['contender'])}** at {m['size']:,} rows:",
                "",
                "```",
                m["error"].strip(),
                "```",
                "",
            ]
    return lines


def render_markdown(results: dict, chart_link: str) -> str:
    env = results["environment"]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `make bench` (python -m bench); edit bench/report.py, not this file. -->",
        "",
        f"Run of {env.get('started_at', '?')} ({'quick' if results.get('quick') else 'full'} mode, sizes "
        f"{', '.join(f'{s:,}' for s in results['sizes'])} rows). The source is the SQL Server emulator "
        "(`devtools/mssql_emulator`, TDS 7.4 over a loopback socket, DuckDB inside) serving the "
        "67-column view `ProcessStatus.dbo.vwZSDOrder_Advanced` seeded by "
        "`devtools.demo_source.generate.seed_source`; the target is an embedded PostgreSQL.",
        "",
        *([results["note"], ""] if results.get("note") else []),
        "## Targets",
        "",
        "| target | verdict | figures |",
        "|---|---|---|",
        *[f"| {name} | {verdict} | {figures} |" for name, verdict, figures in target_checks(results)],
        "",
        f"![rows per second by size]({chart_link})",
        "",
        "## Results",
        "",
        *_table(results),
        "",
        "How to read it:",
        "",
        "- **time** is the work only, timed inside the contender's own process (no interpreter "
        "start-up, no imports), except `airflow dags test` and pgloader, timed as whole processes.",
        "- **peak RSS** is the contender process's own high-water mark (`VmHWM` from `/proc`; "
        "`ru_maxrss` would include the harness's size, which Linux carries into a forked child). "
        "The emulator and PostgreSQL are separate processes and not included.",
        "- **rows written** is inserted + updated + deleted tuples of the contender's table from "
        "`pg_stat_user_tables`; **WAL** is the `pg_current_wal_lsn()` difference over the run.",
        "- **re-sync** runs against a table that already holds the same rows: the sync's second run, "
        "and for the full-reload contenders a table pre-filled with GenericTransfer's load. "
        "GenericTransfer itself runs once: its TRUNCATE makes a first load and a re-sync the same work.",
        "- **reader max** is the slowest query of a reader process reading the live table in a loop "
        "during the sync (it stands in for the Rails app).",
        "- The other contenders copy the raw view into a key-less table with no conversions and no "
        "checks; the sync also converts every SAP value, validates the snapshot and applies a diff. "
        "The comparison is therefore generous to them.",
        "- At each size the sync's first load runs first and meets the cold source: the emulator "
        "caches a repeated query's result, so every later run (the limits, the other contenders and "
        "the sync's re-sync, the figure compared) reads the same warm source.",
        "- The COPY-only limit holds at most 100,000 real rows in memory and replays them for larger sizes.",
        "- The two limits are those of reading the view column by column (as every other contender "
        "does) and of COPY from Python rows. The sync reads differently (one server-rendered CSV "
        "line per row), so it can beat them; its own read is shown as \"fetch only, the sync's "
        "CSV-line query\", and the sync's first load is the only run that meets a cold source for "
        "that query, while the column-by-column query is warmed (unmeasured) before the limits.",
        "",
    ]
    time_lines = _where_time_goes(results)
    if time_lines:
        lines += ["## Where the sync's time goes", "", *time_lines, ""]
    read_paths = _read_paths(results)
    if read_paths:
        lines += [
            "## pymssql read paths",
            "",
            *read_paths,
            "",
            "The sync reads its CSV lines with `fetchmany` in a reader thread "
            "(`include/table_sync/transfer.py`), handing batches to the COPY through a bounded queue.",
            "",
        ]
    failures = _failures(results)
    if failures:
        lines += ["## Failures, verbatim", "", *failures]
    lines += [
        "## Machine and versions",
        "",
        "| | |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in env.items()],
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else RESULTS_PATH
    write_report(load(path))
    print(f"wrote {REPORT_PATH} and {CHART_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
