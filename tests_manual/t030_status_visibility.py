"""T030: after a sync, its status is visible where the Rails app and operators look.

1. ``public.open_orders_sync_status`` (the view the Rails app reads) says ``synced``, with the
   last success, the row count and no error.
2. The "Sync status" plugin's JSON endpoint (``/sync-status/api/status`` on the Airflow API
   server) reports the same. Embedded: the stack's API server is started for it. Against a
   deployment: read when ``AIRFLOW_API_URL`` (and a user) is set, skipped otherwise.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from tests_manual import probes
from tests_manual.airflow_api import api_from_environment, embedded_airflow
from tests_manual.runner import single_check_main

TITLE = "status visible after a sync (status view and the plugin's JSON endpoint)"
SUMMARY = "the status view and the Sync status endpoint both show the sync as synced"
VIEW_ONLY_SUMMARY = "the status view shows the sync as synced"
PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "sync_status_plugin.py"
ENDPOINT = "/sync-status/api/status"


def _check_view(report, env, outcome) -> dict:
    status = probes.sync_status(env)
    view = f"{env.mapping.target.schema}.{env.mapping.target.table}_sync_status"
    report.note(f"{view}:")
    for name, value in status.items():
        report.note(f"  {name:26} {value}")
    report.expect(status["freshness"] == "synced", "freshness is 'synced'")
    report.expect(status["last_attempt_status"] == "success", "the last attempt is a success")
    report.expect(status["rows_in_table"] == outcome.counts.rows_in_table, "rows_in_table matches the sync")
    report.expect(status["last_error"] is None, "no error shown")
    return status


def _check_endpoint(report, api, env, status: dict) -> None:
    response = api.get(ENDPOINT)
    report.note(f"GET {ENDPOINT} -> HTTP {response.status_code}")
    report.expect(response.status_code == 200, "the endpoint answers 200")
    if response.status_code != 200:
        report.note(response.text[:500])
        return
    body = response.json()
    tables = {entry["table_name"]: entry for entry in body.get("tables", [])}
    entry = tables.get(env.mapping.target.qualified_name)
    report.expect(entry is not None, f"it lists {env.mapping.target.qualified_name}")
    if entry is None:
        return
    for name in ("freshness", "last_success_at", "rows_in_table", "last_attempt_status", "last_error"):
        report.note(f"  {name:26} {entry.get(name)}")
    report.expect(entry["freshness"] == "synced", "the endpoint says 'synced'")
    report.expect(entry["rows_in_table"] == status["rows_in_table"], "the same row count as the view")


def run(env, report, args) -> None:
    outcome = env.sync("manual-T030")
    report.note(f"sync: applied {outcome.counts.summary()}")
    status = _check_view(report, env, outcome)

    if not PLUGIN.exists():
        report.skip(f"the plugin's JSON endpoint: {PLUGIN.name} is not in plugins/")
        return VIEW_ONLY_SUMMARY
    if hasattr(env, "stack"):
        report.note("starting the stack's Airflow API server (it mounts the plugin) ...")
        airflow = embedded_airflow(env.stack)
    else:
        api = api_from_environment()
        if api is None:
            report.skip(f"the plugin's JSON endpoint: set AIRFLOW_API_URL (and a user) to read {ENDPOINT}")
            return VIEW_ONLY_SUMMARY
        airflow = contextlib.nullcontext(api)
    with airflow as api:
        _check_endpoint(report, api, env, status)


main = single_check_main("T030")

if __name__ == "__main__":
    sys.exit(main())
