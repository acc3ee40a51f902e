"""docs/benchmarks.md and its chart, written from a session's results (bench/results.json).

python -m bench.report [results.json]   # rewrite the report without re-running the bench
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from bench.contenders import OTHER_TOOLS

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = REPO_ROOT / "bench" / "results.json"
REPORT_PATH = REPO_ROOT / "docs" / "benchmarks.md"
CHART_PATH = REPO_ROOT / "docs" / "images" / "bench-rows-per-second.png"

LABELS = {
    "sync": "open-orders-sync (engine `sync_once`, read path auto → CSV lines)",
    "sync_columns": "open-orders-sync (engine `sync_once`, read path columns)",
    "sync_1pct_changed": "open-orders-sync (engine `sync_once`) after 1% of rows changed",
    "airflow_dags_test": "open-orders-sync (`airflow dags test`)",
    "tds_fdw": "tds_fdw (TRUNCATE + INSERT … SELECT, one transaction)",
    "ingestr": "ingestr (`--full-refresh`)",
    "sling": "sling (`--mode full-refresh`)",
    "dlt": "dlt (replace, insert-from-staging)",
    "seed_delete_insert": "seed: fetch all, DELETE, INSERT x500",
    "generic_transfer": "Airflow GenericTransfer + TRUNCATE",
    "pgloader": "pgloader (FreeTDS)",
    "fetch_only_lines": "limit: the sync's CSV-line fetch only (pymssql)",
    "copy_only_lines": "limit: COPY of those lines only (psycopg)",
    "fetch_only": "limit: column-by-column fetch only (pymssql, iterate)",
    "fetch_only_fetchmany": "limit: column-by-column fetch only (pymssql, fetchmany)",
    "copy_only": "limit: COPY of typed rows only (psycopg, rows in memory)",
}
# Which run of each contender the chart and the comparisons use: the re-sync a schedule repeats
# (for the other tools' full reloads: their second run, which reads the source warm).
CHART_RUN = {
    name: "re-sync"
    for name in ("sync", "sync_columns", "airflow_dags_test", "tds_fdw", "ingestr", "sling", "dlt")
}
LIMITS = ("fetch_only", "copy_only")
TRANSPORT_LIMITS = ("fetch_only_lines", "copy_only_lines")
# Issue 15's sizes; a run without them judges its targets at the nearest size it has, and says so.
BIG, MEDIUM, BASELINE = 1_000_000, 100_000, 10_000


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
    order = list(LABELS)
    for name, points in sorted(
        by_contender.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99
    ):
        points.sort()
        style = "--" if name in LIMITS + TRANSPORT_LIMITS or name.startswith("fetch_only") else "-"
        width = 2.6 if name.startswith("sync") else 1.4
        axes.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            style,
            marker="o",
            linewidth=width,
            label=LABELS.get(name, name).replace("`", ""),  # Markdown quoting, not for the chart
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("rows in the view")
    axes.set_ylabel("rows per second (higher is better)")
    axes.set_title("Copying the 67-column view into PostgreSQL (re-sync of unchanged data, warm source)")
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
        "| rows | contender | run | source | time (s) | rows/s | peak RSS (MB) | rows written | WAL | reader max (ms) "
        "| load before → after | notes |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
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
        load = (
            f"{m['load_before']:.1f} → {m['load_after']:.1f}"
            if m.get("load_before") is not None and m.get("load_after") is not None
            else "–"
        )
        lines.append(
            f"| {m['size']:,} | {LABELS.get(m['contender'], m['contender'])} | {m['run']} | "
            f"{m.get('source_cache') or '–'} | "
            + " | ".join(cells)
            + f" | {_number(m['rows_written'])} | {_bytes(m['wal_bytes'])} | {_number(reader, 1)} | {load} | {notes} |"
        )
    return lines


def _find(results: dict, contender: str, size: int, run: str | None = None) -> dict | None:
    for m in results["measurements"]:
        if m["contender"] == contender and m["size"] == size and (run is None or m["run"] == run) and m["ok"]:
            return m
    return None


def _judged_size(sizes: list[int], wanted: int) -> int | None:
    """The issue's size if the run has it, else the run's largest size below it (None: none)."""
    if wanted in sizes:
        return wanted
    below = [size for size in sizes if size < wanted]
    return max(below) if below else None


def _at(size: int, wanted: int) -> str:
    return (
        f"{size:,} rows" if size == wanted else f"{size:,} rows (stands in for {wanted:,}: not in this run)"
    )


def _verdict(met: bool) -> str:
    return "met" if met else "not met"


def _best_other(results: dict, size: int) -> dict | None:
    """The fastest other contender's compared run at ``size``."""
    others = [
        m
        for m in _headline(results)
        if m["size"] == size and m["ok"] and m["seconds"] and m["contender"] in OTHER_TOOLS
    ]
    return min(others, key=lambda m: m["seconds"]) if others else None


def target_checks(results: dict) -> list[tuple[str, str, str]]:
    """(target, verdict, the figures behind it) for each of issue 15's targets this run can judge.

    Every comparison is a ratio of two figures measured in this run, so a loaded machine slows
    both sides; time ratios compare the work each contender timed (see "How to read it").
    """
    checks = []
    sizes = sorted({m["size"] for m in results["measurements"]})
    big = _judged_size(sizes, BIG)
    if big:
        resync = _find(results, "sync", big, "re-sync")
        fdw = _find(results, "tds_fdw", big, "re-sync")
        if resync and fdw:
            ratio = resync["seconds"] / fdw["seconds"]
            checks.append(
                (
                    f"unchanged re-sync at {_at(big, BIG)} ≤ 0.6 × tds_fdw's full reload",
                    _verdict(ratio <= 0.6),
                    f"{ratio:.2f} × ({resync['seconds']:.2f} s vs {fdw['seconds']:.2f} s)",
                )
            )
        fetch = _find(results, "fetch_only_lines", big)
        if resync and fetch:
            ratio = resync["seconds"] / fetch["seconds"]
            checks.append(
                (
                    f"unchanged re-sync at {_at(big, BIG)} ≤ 2.5 × the CSV-line fetch-only limit",
                    _verdict(ratio <= 2.5),
                    f"{ratio:.2f} × ({resync['seconds']:.2f} s vs {fetch['seconds']:.2f} s)",
                )
            )
        changed = _find(results, "sync_1pct_changed", big)
        if resync and changed:
            ratio = changed["seconds"] / resync["seconds"]
            checks.append(
                (
                    f"1% of rows changed at {_at(big, BIG)}: within 20% of the unchanged re-sync",
                    _verdict(ratio <= 1.2),
                    f"{ratio:.2f} × ({changed['seconds']:.2f} s vs {resync['seconds']:.2f} s; "
                    f"{_number(changed.get('rows_changed'))} source rows changed, "
                    f"{_number(changed['rows_written'])} rows written)",
                )
            )
    for wanted in (BIG, MEDIUM):
        size = _judged_size(sizes, wanted)
        if size is None or (wanted == BIG and size == _judged_size(sizes, MEDIUM)):
            continue
        first = _find(results, "sync", size, "first load")
        other = _best_other(results, size)
        if first and other:
            ratio = other["seconds"] / first["seconds"]
            checks.append(
                (
                    f"first load at {_at(size, wanted)}: faster than every other contender",
                    _verdict(ratio > 1),
                    f"fastest other, {LABELS[other['contender']]}, takes {ratio:.2f} × the sync's time "
                    f"({other['seconds']:.2f} s vs {first['seconds']:.2f} s)" + _timed_out(results, size),
                )
            )
    medium = _judged_size(sizes, MEDIUM)
    if medium:
        resync = _find(results, "sync", medium, "re-sync")
        other = _best_other(results, medium)
        if resync and other:
            ratio = other["seconds"] / resync["seconds"]
            checks.append(
                (
                    f"re-sync at {_at(medium, MEDIUM)}: faster than every other contender by ≥ 1.5×",
                    _verdict(ratio >= 1.5),
                    f"fastest other, {LABELS[other['contender']]}, takes {ratio:.2f} × the sync's time "
                    f"({other['seconds']:.2f} s vs {resync['seconds']:.2f} s)",
                )
            )
    checks += _memory_checks(results, sizes)
    resyncs = [
        m
        for m in results["measurements"]
        if m["contender"] in ("sync", "sync_columns", "airflow_dags_test")
        and m["run"] == "re-sync"
        and m["ok"]
    ]
    if resyncs:
        written = max(m["rows_written"] or 0 for m in resyncs)
        checks.append(
            (
                "an unchanged re-sync writes 0 rows of `open_orders`",
                _verdict(written == 0),
                f"most rows written by an unchanged re-sync (both read paths, the DAG): {written:,}",
            )
        )
    if big:
        readers = [
            m["reader"]["max_ms"]
            for m in results["measurements"]
            if m["contender"] in ("sync", "sync_1pct_changed") and m["size"] == big and m["ok"]
            and (m.get("reader") or {}).get("max_ms") is not None
        ]  # fmt: skip
        if readers:
            checks.append(
                (
                    f"reader max latency during an apply at {_at(big, BIG)} reported",
                    "met",
                    f"slowest reader query during the sync's runs: {max(readers):,.1f} ms",
                )
            )
    small = [
        m for m in results["measurements"] if m["contender"] == "sync" and m["size"] == 5_000 and m["ok"]
    ]
    if small:
        worst = max(m["seconds"] for m in small)
        fetch = _find(results, "fetch_only_lines", 5_000)
        floor = f"; fetching its 5,000 lines alone took {fetch['seconds']:.2f} s" if fetch else ""
        checks.append(
            (
                "5,000 rows: engine sync ≤ 0.3 s",
                _verdict(worst <= 0.3),
                f"slowest of {len(small)} runs: {worst:.2f} s{floor}",
            )
        )
    dags = [m for m in results["measurements"] if m["contender"] == "airflow_dags_test" and m["ok"]]
    if dags:
        worst = max(m["wall_seconds"] for m in dags)
        checks.append(
            (
                "5,000 rows: whole `airflow dags test` ≤ 10 s",
                _verdict(worst <= 10),
                f"slowest of {len(dags)} runs: {worst:.1f} s",
            )
        )
    return checks


_PHASE = re.compile(
    r"read\+COPY (?P<transport>[\d.]+) s.*?whole extract (?P<extract>[\d.]+) s, apply (?P<apply>[\d.]+) s"
)


def _phases(measurement: dict | None) -> dict[str, float] | None:
    """The sync's own phase times, from the note its worker wrote (bench/worker.py)."""
    match = _PHASE.search((measurement or {}).get("note", ""))
    return {name: float(value) for name, value in match.groupdict().items()} if match else None


def shortfalls(results: dict) -> list[str]:
    """For each target the run does not meet, where the sync's time went, from this run's figures."""
    verdicts = {name: verdict for name, verdict, _ in target_checks(results)}
    missed = [name for name, verdict in verdicts.items() if verdict == "not met"]
    if not missed:
        return []
    sizes = sorted({m["size"] for m in results["measurements"]})
    lines = ["## Why the targets not met are not", ""]
    big, medium = _judged_size(sizes, BIG), _judged_size(sizes, MEDIUM)
    for size in dict.fromkeys(s for s in (big, medium) if s):
        resync, first = _find(results, "sync", size, "re-sync"), _find(results, "sync", size, "first load")
        fdw = _find(results, "tds_fdw", size, "re-sync")
        fetch, copy = _find(results, "fetch_only_lines", size), _find(results, "copy_only_lines", size)
        phases = _phases(resync)
        if not (resync and fdw and phases) or not any(
            f"{_at(size, BIG if size == big else MEDIUM)}" in n for n in missed
        ):
            continue
        transport = phases["transport"]
        allowed = (
            f"the 0.6 × target allows {0.6 * fdw['seconds']:.2f} s in all."
            if size == big
            else f"a 1.5 × lead on tds_fdw would allow {fdw['seconds'] / 1.5:.2f} s in all."
        )
        limits = (
            f"; alone, the fetch took {fetch['seconds']:.2f} s and the COPY of the same lines "
            f"{copy['seconds']:.2f} s"
            if fetch and copy
            else ""
        )
        lines.append(
            f"- **{size:,} rows, re-sync.** Reading the source and COPYing its lines took "
            f"{transport:.2f} s of the sync's {resync['seconds']:.2f} s{limits}. On two cores the "
            "emulator's encoder, pymssql and PostgreSQL's COPY share the machine, so the two "
            "overlap only in part. That transport alone is "
            f"{transport / fdw['seconds']:.2f} × tds_fdw's whole reload ({fdw['seconds']:.2f} s), "
            "which reads the same rows through FreeTDS inside PostgreSQL and so needs no COPY "
            f"at all. The rest of the re-sync ({resync['seconds'] - transport:.2f} s: the keys, "
            "the row-state comparison, checks and the apply) is what a ratio to tds_fdw can still "
            f"gain; {allowed}"
        )
        fp = _phases(first)
        if first and fp:
            lines.append(
                f"- **{size:,} rows, first load.** {first['seconds']:.2f} s: extract "
                f"{fp['extract']:.2f} s (of it the transport {fp['transport']:.2f} s, the rest "
                f"converting and checking all {size:,} rows and keeping their row state), apply "
                f"{fp['apply']:.2f} s (every row inserted with its id, in one transaction beside "
                "the readers). tds_fdw's reload is one INSERT … SELECT into a table with no "
                "conversions, checks or history."
            )
    small = [
        m for m in results["measurements"] if m["contender"] == "sync" and m["size"] == 5_000 and m["ok"]
    ]
    if "5,000 rows: engine sync ≤ 0.3 s" in missed and small:
        slowest = max(small, key=lambda m: m["seconds"])
        others = ", ".join(f"{m['run']} {m['seconds']:.2f} s" for m in small if m is not slowest)
        lines.append(
            f"- **5,000 rows.** The slowest run is the {slowest['run']} ({slowest['seconds']:.2f} s; "
            f"{others}): {_phases(slowest) and 'extract ' + format(_phases(slowest)['extract'], '.2f') + ' s, ' or ''}"
            "every row converted and written with its row state, against none on an unchanged re-sync."
        )
    dags = [m for m in results["measurements"] if m["contender"] == "airflow_dags_test" and m["ok"]]
    if "5,000 rows: whole `airflow dags test` ≤ 10 s" in missed and dags:
        lines.append(
            "- **`airflow dags test`.** The whole CLI process is timed; the sync inside it takes "
            "well under a second (its task log), the rest is Airflow's start-up, the DAG's parse "
            "and serialisation and the in-process execution API that `dags test` starts."
        )
    return [*lines, ""] if len(lines) > 2 else []


def _memory_checks(results: dict, sizes: list[int]) -> list[tuple[str, str, str]]:
    """Peak RSS at the largest size against the 10,000-row run, for each read path."""
    checks = []
    base_size = BASELINE if BASELINE in sizes else (min(sizes) if sizes else None)
    largest = max(sizes) if sizes else None
    if base_size is None or largest is None or largest <= base_size:
        return checks
    base_name = f"{base_size:,}-row run" + ("" if base_size == BASELINE else f" (stands in for {BASELINE:,})")
    for name, path in (("sync", "CSV lines"), ("sync_columns", "columns")):
        base = [
            m["peak_rss_mb"]
            for m in results["measurements"]
            if m["contender"] == name and m["size"] == base_size and m["ok"]
        ]
        top = [
            m["peak_rss_mb"]
            for m in results["measurements"]
            if m["contender"] == name and m["size"] == largest and m["ok"]
        ]
        if base and top:
            growth = max(top) - max(base)
            checks.append(
                (
                    f"peak RSS at {largest:,} rows within 50 MB of the {base_name}, read path {path}",
                    _verdict(growth <= 50),
                    f"{max(top):,.0f} MB vs {max(base):,.0f} MB ({growth:+,.0f} MB)",
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
    """The sync against its own transport's limits, per size: where does its time go?"""
    lines = []
    for size in sorted({m["size"] for m in results["measurements"]}):
        sync = _find(results, "sync", size, "re-sync")
        fetch, copy = _find(results, "fetch_only_lines", size), _find(results, "copy_only_lines", size)
        if not (sync and fetch and copy):
            continue
        transport = fetch["seconds"] + copy["seconds"]
        line = (
            f"- {size:,} rows: fetching the CSV lines alone takes {fetch['seconds']:.2f} s and COPY of "
            f"those lines alone {copy['seconds']:.2f} s (together {transport:.2f} s, the cost of the "
            f"transport done one after the other); the unchanged re-sync took {sync['seconds']:.2f} s, "
            f"{sync['seconds'] / transport:.1f} × that"
        )
        typed = _find(results, "fetch_only", size)
        if typed:
            line += f", while reading the view column by column alone takes {typed['seconds']:.2f} s"
        if "read+COPY" in sync.get("note", ""):
            line += f". Its steps: {sync['note'][sync['note'].index('read+COPY') :]}"
        lines.append(line + ".")
    if lines:
        lines += [
            "",
            "The sync's transport is one server-rendered CSV line per row, fetched by pymssql and "
            "handed to COPY ... (FORMAT csv) as joined text (`include/table_sync/transfer.py`); the two "
            "limits above measure each half on its own. The column-by-column limits are the ceiling "
            "of a tool that reads the view typed (pymssql decoding 67 values a row) and of COPY from "
            "Python rows; they bound the typed read path (`read_path: columns`) and most other "
            "contenders. The rest of the sync's time is PostgreSQL's work: the conversion and checks "
            "of the staged rows (the extract) and the diff (the apply). COPY idle time is how long the "
            "COPY side waited for the reader thread.",
        ]
    return lines


def _memory(results: dict) -> list[str]:
    """Peak RSS of both read paths at every size: flat memory is issue 12's promise."""
    lines = []
    for size in sorted({m["size"] for m in results["measurements"]}):
        cells = []
        for name, path in (("sync", "CSV lines"), ("sync_columns", "columns")):
            runs = [
                m for m in results["measurements"] if m["contender"] == name and m["size"] == size and m["ok"]
            ]
            if runs:
                cells.append(f"{path} {max(m['peak_rss_mb'] for m in runs):,.0f} MB")
        if cells:
            lines.append(f"- {size:,} rows: " + ", ".join(cells))
    return lines


def _cold_runs(results: dict) -> list[str]:
    env = results["environment"]
    cold = sorted(
        {
            LABELS.get(m["contender"], m["contender"])
            for m in results["measurements"]
            if m.get("source_cache") == "cold"
        }
    )
    return [
        f"The emulator keeps a repeated query's encoded result and replays it (its result cache, "
        f"{env.get('emulator result cache', 'size not recorded')} in this run, sized by the harness for "
        "the largest size: the CSV lines, the typed rows and the other tools' queries fit in "
        "it). A real SQL Server keeps data pages, not results, so a replayed result is the "
        "fairest stand-in for a server that reads a view from memory. Each size starts with the "
        "CSV-line query read once, unmeasured, so every sync and limit figure reads the warm source. "
        "A run marked **cold** is the first read of its query after the data last changed (the "
        "emulator computed and encoded every row, which costs more than the replay): the typed "
        "path's first load (the first read of the column-by-column query), each other tool's first "
        "run (its own query; its second run, marked warm, is the figure compared) and pgloader "
        "(run once)." + (f" Cold runs in this report: {', '.join(cold)}." if cold else ""),
    ]


def _load(results: dict) -> list[str]:
    loads = [
        value
        for m in results["measurements"]
        for value in (m.get("load_before"), m.get("load_after"))
        if value is not None
    ]
    if not loads:
        return []
    cores = results["environment"].get("cores") or 1
    busy = max(loads) > cores
    return [
        f"The machine's 1-minute load average, read as each measured process started and ended, "
        f"ranged from {min(loads):.1f} to {max(loads):.1f} on {cores} cores "
        f"(at the session's start: {results['environment'].get('load_average_at_start')})."
        + (
            " Above the core count, other work shared the CPUs: absolute times are inflated, "
            "ratios between runs at similar load hold better."
            if busy
            else ""
        ),
    ]


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


def _mode(results: dict) -> str:
    from bench.harness import FULL_SIZES

    if results.get("quick"):
        return "quick mode"
    return "full mode" if tuple(results["sizes"]) == FULL_SIZES else "sizes chosen with --sizes"


def render_markdown(results: dict, chart_link: str) -> str:
    env = results["environment"]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `make bench` (python -m bench); edit bench/report.py, not this file. -->",
        "",
        f"Run of {env.get('started_at', '?')} ({_mode(results)}, sizes "
        f"{', '.join(f'{s:,}' for s in results['sizes'])} rows). The source is the SQL Server emulator "
        "(`devtools/mssql_emulator`, TDS 7.4 over a loopback socket, DuckDB inside) serving the "
        "67-column view `ProcessStatus.dbo.vwZSDOrder_Advanced` seeded by "
        "`devtools.demo_source.generate.seed_source`; the target is an embedded PostgreSQL.",
        "",
        *([results["note"], ""] if results.get("note") else []),
        *(
            [
                "GenericTransfer and the seed's DELETE+INSERT (a statement per row) ran only at sizes "
                f"up to {results['row_by_row_max_rows']:,} rows in this run; "
                "the targets that compare contenders judge the others.",
                "",
            ]
            if results.get("row_by_row_max_rows")
            else []
        ),
        "## Targets",
        "",
        "| target | verdict | figures |",
        "|---|---|---|",
        *[f"| {name} | {verdict} | {figures} |" for name, verdict, figures in target_checks(results)],
        "",
        *shortfalls(results),
        f"![rows per second by size]({chart_link})",
        "",
        "## Results",
        "",
        *_table(results),
        "",
        "How to read it:",
        "",
        "- **time** is the work only, timed inside the contender's own process (no interpreter "
        "start-up, no imports), for the sync, the limits, tds_fdw (the reload statement), dlt "
        "(`pipeline.run`), GenericTransfer and the seed's way. ingestr, sling, pgloader and "
        "`airflow dags test` are CLIs and are timed as whole processes.",
        "- **source**: warm runs read a result the emulator replays from its cache, cold runs "
        "made the emulator compute it (see below).",
        "- **peak RSS** is the contender process's own high-water mark (`VmHWM` from `/proc`; "
        "`ru_maxrss` would include the harness's size, which Linux carries into a forked child). "
        "The emulator and PostgreSQL are separate processes and not included (tds_fdw's work "
        "happens inside PostgreSQL: its figure is the client's).",
        "- **rows written** is inserted + updated + deleted tuples of the contender's table from "
        "`pg_stat_user_tables`; a tool that loads a new table and renames it over the old one "
        "shows only what the final relation counted. **WAL** is the `pg_current_wal_lsn()` "
        "difference over the run.",
        "- **re-sync** runs against a table that already holds the same rows: the syncs' second "
        "runs; for tds_fdw, ingestr, sling and dlt their second full reload; for the seed's way a "
        "table pre-filled with GenericTransfer's load. GenericTransfer itself runs once: its "
        "TRUNCATE makes a first load and a re-sync the same work. The sync's run after 1% of the "
        "rows changed comes last at each size, because a change withdraws every cached result.",
        "- Every contender's table row count is checked against the size: a run that leaves a "
        "different count failed, whatever its exit code. A tool that cannot be installed is a "
        "failed measurement with its installer's error, never left out.",
        "- **reader max** is the slowest query of a reader process reading the live table in a loop "
        "during the sync (it stands in for the Rails app).",
        "- **load before → after** is the machine's 1-minute load average as the run started and ended.",
        "- The other contenders copy the raw view into a key-less table with no conversions and no "
        "checks; the sync also converts every SAP value, validates the snapshot and applies a diff. "
        "The comparison is therefore generous to them.",
        "- The COPY-only limits hold at most 100,000 real rows in memory and replay them for larger sizes.",
        "",
        "## Source cache and cold runs",
        "",
        *_cold_runs(results),
        "",
        "## Machine load",
        "",
        *(_load(results) or ["No load averages were recorded."]),
        "",
    ]
    time_lines = _where_time_goes(results)
    if time_lines:
        lines += ["## The sync against its own transport", "", *time_lines, ""]
    memory = _memory(results)
    if memory:
        lines += [
            "## Memory of both read paths",
            "",
            "Peak RSS of the sync's process (the highest of its runs at each size):",
            "",
            *memory,
            "",
        ]
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
