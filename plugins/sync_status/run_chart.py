"""The last runs as an inline SVG: a bar per attempt for its duration, a line for its rows.

Drawn on the server as plain SVG text, so the page loads nothing else and needs no script.
Failed attempts get a red bar and a cross above it; each bar's tooltip tells the run.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from sync_status.status_data import CHART_RUNS, RunPoint

WIDTH, HEIGHT = 720, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 96, 22, 26
BAR_COLOURS = {
    "success": "#2e7d32",
    "failed": "#c62828",
    "rejected": "#c62828",
    "abandoned": "#c62828",
    "dry_run": "#78909c",
    "running": "#1565c0",
}
FAILED = {"failed", "rejected", "abandoned"}
ROWS_COLOUR = "#6a1b9a"


def run_chart_svg(runs: tuple[RunPoint, ...] | list[RunPoint], title: str) -> str:
    """The chart's ``<svg>`` element; a short note instead when there is no run yet."""
    if not runs:
        return '<p class="muted">No runs recorded yet.</p>'
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    # Always room for a full chart's worth of runs, newest at the right edge, so bar widths
    # and positions do not jump while the history fills up.
    slot = plot_w / max(len(runs), CHART_RUNS)
    first_x = PAD_LEFT + plot_w - len(runs) * slot
    bar_w = max(2.0, slot * 0.7)
    max_seconds = max((run.duration_seconds or 0 for run in runs), default=0) or 1.0
    max_rows = max((run.rows or 0 for run in runs), default=0) or 1
    baseline = PAD_TOP + plot_h

    parts = [
        f'<svg class="run-chart" role="img" aria-label="{escape(title)}" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD_LEFT}" y1="{baseline}" x2="{WIDTH - PAD_RIGHT}" y2="{baseline}" stroke="#999"/>',
        _text(PAD_LEFT - 6, PAD_TOP + 4, _seconds(max_seconds), "end"),
        _text(PAD_LEFT - 6, baseline, "0 s", "end"),
        _text(WIDTH - PAD_RIGHT + 6, PAD_TOP + 4, f"{max_rows:,} rows", "start", ROWS_COLOUR),
        _text(PAD_LEFT, HEIGHT - 6, f"← last {CHART_RUNS} runs", "start"),
        _text(WIDTH - PAD_RIGHT, HEIGHT - 6, "newest", "end"),
    ]
    row_points = []
    for index, run in enumerate(runs):
        x = first_x + index * slot + (slot - bar_w) / 2
        height = max(3.0, plot_h * (run.duration_seconds or 0) / max_seconds)  # a quick failure stays visible
        colour = BAR_COLOURS.get(run.status, "#78909c")
        tooltip = f"{run.started_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC: {run.status}, {_seconds(run.duration_seconds)}"
        if run.rows is not None:
            tooltip += f", {run.rows:,} rows"
        if run.error_class:
            tooltip += f" ({run.error_class})"
        parts.append(
            f'<rect class="run run-{escape(run.status)}" x="{x:.1f}" y="{baseline - height:.1f}" '
            f'width="{bar_w:.1f}" height="{height:.1f}" fill="{colour}"><title>{escape(tooltip)}</title></rect>'
        )
        if run.status in FAILED:
            parts.append(_text(x + bar_w / 2, baseline - height - 4, "✗", "middle", BAR_COLOURS["failed"]))
        if run.rows is not None:
            row_points.append(f"{x + bar_w / 2:.1f},{baseline - plot_h * run.rows / max_rows:.1f}")
    if row_points:
        parts.append(
            f'<polyline class="rows-line" points="{" ".join(row_points)}" fill="none" '
            f'stroke="{ROWS_COLOUR}" stroke-width="1.5"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _text(x: float, y: float, text: str, anchor: str, colour: str = "#555") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="11" fill="{colour}">'
        f"{escape(text)}</text>"
    )


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return "unfinished"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
