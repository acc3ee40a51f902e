"""The status page's FastAPI app, mounted by the Airflow API server (see ``sync_status_plugin``).

``GET /``           the HTML page
``GET /api/status`` the same data as JSON for monitoring; 503 when a database cannot be read

Targets come from the mapping files; each target database is read through ``PostgresHook`` with
the mapping's connection id, so the page needs no credentials of its own. Both routes require an
Airflow login (the UI's session cookie or a ``Bearer`` token from ``/auth/token``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from include.table_sync.mapping import MAPPINGS_DIR, TargetConfig
from sync_status.page import render_page
from sync_status.status_data import TableStatus, mapping_targets, read_statuses

# A database that does not answer must not hang the page.
CONNECT_TIMEOUT_SECONDS = 5

log = logging.getLogger(__name__)


class StatusUnavailable(Exception):
    """A target database could not be read; the message is safe to show."""


@dataclass
class StatusReport:
    statuses: list[TableStatus] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


def collect_report(mappings_dir: Path = MAPPINGS_DIR) -> StatusReport:
    """Read every target database; a database that fails becomes a message, not an exception."""
    report = StatusReport()
    try:
        targets = mapping_targets(mappings_dir)
    except Exception as error:  # a broken mapping file is shown, not raised
        report.unavailable.append(f"Cannot read the mapping files: {error}")
        return report
    by_connection: dict[str, list[TargetConfig]] = {}
    for target in targets:
        by_connection.setdefault(target.conn_id, []).append(target)
    for conn_id, conn_targets in by_connection.items():
        try:
            report.statuses.extend(_read_connection(conn_id, conn_targets))
        except Exception as error:
            reason = (
                str(error)
                if isinstance(error, StatusUnavailable)
                else f"{type(error).__name__}: {_first_line(error)}"
            )
            log.warning("sync status: cannot read connection %s: %s", conn_id, reason)
            names = ", ".join(target.qualified_name for target in conn_targets)
            report.unavailable.append(
                f"Cannot read the sync status of {names} from the database of connection '{conn_id}' ({reason})."
            )
    return report


def _read_connection(conn_id: str, targets: list[TargetConfig]) -> list[TableStatus]:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from include.sync_dag import apply_extra_defaults
    from include.table_sync.redaction import redact

    hook = PostgresHook(postgres_conn_id=conn_id)
    connection = hook.connection
    apply_extra_defaults(connection, {"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    try:
        with contextlib.closing(hook.get_conn()) as conn:
            return read_statuses(conn, targets)
    except Exception as error:
        # Driver messages can echo a DSN; never let the password reach the page.
        message = redact(_first_line(error), [connection.password])
        raise StatusUnavailable(f"{type(error).__name__}: {message}") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no details"


def _require_login():
    """Airflow's own authentication: any logged-in user may read the status."""
    from airflow.api_fastapi.core_api.security import requires_authenticated

    return Depends(requires_authenticated())


def create_app() -> FastAPI:
    app = FastAPI(title="Sync status", dependencies=[_require_login()], docs_url=None, redoc_url=None)

    @app.get("/", response_class=HTMLResponse)
    def status_page() -> HTMLResponse:
        report = collect_report()
        return HTMLResponse(render_page(report.statuses, report.unavailable))

    @app.get("/api/status")
    def status_json() -> JSONResponse:
        report = collect_report()
        body = {
            "generated_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
            "tables": [status.as_json() for status in report.statuses],
            "errors": report.unavailable,
        }
        return JSONResponse(body, status_code=503 if report.unavailable else 200)

    return app
