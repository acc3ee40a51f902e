"""The status page as one self-contained HTML document (inline CSS and SVG, no script).

It is shown inside the Airflow UI's frame and on its own; nothing is fetched from elsewhere.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from sync_status.run_chart import run_chart_svg
from sync_status.status_data import TableStatus

# freshness word of the status view -> (badge text, CSS class); 'never' is an error too.
BADGES = {
    "synced": ("✓ Synced", "badge-synced"),
    "stale": ("⚠ Stale", "badge-stale"),
    "error": ("✗ Error", "badge-error"),
    "never": ("✗ Error", "badge-error"),
}
REFRESH_SECONDS = 60

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
.muted { color: #666; }
.table-status { border: 1px solid #ddd; border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
.table-status h2 { font-size: 1.15rem; margin: 0 0 .75rem; display: flex; gap: .75rem; align-items: center; }
.badge { display: inline-block; padding: .15rem .6rem; border-radius: 999px; font-size: .9rem; font-weight: 600; }
.badge-synced { background: #2e7d32; color: #fff; }
.badge-stale { background: #f9a825; color: #222; }
.badge-error { background: #c62828; color: #fff; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0 0 1rem; }
dt { color: #555; }
dd { margin: 0; }
.error-text { color: #c62828; white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: .85rem; }
.unavailable { border: 1px solid #c62828; background: #fdecea; border-radius: 8px; padding: 1rem; }
"""


def render_page(statuses: list[TableStatus], unavailable: list[str] | None = None) -> str:
    """The whole page: a section per table, and a notice per database that could not be read."""
    sections = [_unavailable_section(message) for message in unavailable or []]
    sections += [_table_section(status) for status in statuses]
    if not sections:
        sections.append('<p class="muted">No synced table is configured.</p>')
    return (
        "<!DOCTYPE html>"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        "<title>Sync status</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Sync status</h1>"
        f'<p class="muted">Freshness of every synced table; this page refreshes every '
        f"{REFRESH_SECONDS} seconds. JSON for monitoring: <code>api/status</code>.</p>"
        f"{''.join(sections)}</body></html>"
    )


def _table_section(status: TableStatus) -> str:
    label, css_class = BADGES.get(status.freshness, BADGES["error"])
    name = escape(status.table_name)
    rows = [
        ("Last success", _when(status.last_success_at, status.minutes_since_success, "never synced")),
        ("Last attempt", _attempt(status)),
        ("Rows in table", _count(status.rows_in_table)),
        (
            "Last apply",
            "—"
            if status.last_success_at is None
            else f"{_count(status.last_rows_inserted)} inserted, {_count(status.last_rows_updated)} "
            f"updated, {_count(status.last_rows_deleted)} deleted",
        ),
    ]
    if status.last_error:
        error = f"{status.last_error_class or 'Error'}: {status.last_error}"
        rows.append(("Last error", f'<span class="error-text">{escape(error)}</span>'))
    details = "".join(f"<dt>{label_}</dt><dd>{value}</dd>" for label_, value in rows)
    chart = run_chart_svg(status.runs, f"Last {len(status.runs)} runs of {status.table_name}")
    return (
        f'<section class="table-status" data-table="{name}" data-freshness="{escape(status.freshness)}">'
        f'<h2><span class="table-name">{name}</span>'
        f'<span class="badge {css_class}" data-freshness="{escape(status.freshness)}">{label}</span></h2>'
        f"<dl>{details}</dl>"
        f"<h3>Last runs</h3>"
        f'<p class="muted">Bars: duration (red with ✗: failed). Line: rows.</p>{chart}'
        "</section>"
    )


def _unavailable_section(message: str) -> str:
    return f'<section class="unavailable" role="alert"><strong>Status unavailable.</strong> {escape(message)}</section>'


def _attempt(status: TableStatus) -> str:
    if status.last_attempt_at is None:
        return "none yet"
    outcome = escape(status.last_attempt_status or "unknown")
    return f"{_when(status.last_attempt_at, status.minutes_since_attempt, '')}: <strong>{outcome}</strong>"


def _when(moment: dt.datetime | None, minutes_ago: int | None, missing: str) -> str:
    if moment is None:
        return escape(missing)
    absolute = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f'<time datetime="{moment.isoformat()}">{absolute}</time> ({_minutes_ago(minutes_ago)})'


def _minutes_ago(minutes: int | None) -> str:
    if minutes is None:
        return "unknown"
    if minutes < 1:
        return "less than a minute ago"
    return "1 minute ago" if minutes == 1 else f"{minutes} minutes ago"


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"
