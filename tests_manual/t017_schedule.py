"""T017: the schedule, as Airflow's REST API reports it: regular intervals, no overlap.

Reads ``/api/v2/dags/sync_open_orders/dagRuns`` (scheduled runs, newest first) and shows when
each run was scheduled for, started and ended. Expected: runs scheduled one period apart (a
cron schedule in Airflow 3 triggers at the cron times; its data interval is that instant), none
starting before its time, and none starting before the previous one ended
(``max_active_runs=1``): no overlap. A skipped slot is reported, not failed: with
``catchup=False`` a run that outlasts its period makes the scheduler move on to the latest slot.

Embedded: the stack's scheduler, DAG processor and API server run with
``OPEN_ORDERS_SYNC_SCHEDULE="* * * * *"`` until ``--runs`` scheduled runs finished (about two
to four minutes). A deployment: the last runs of its own schedule, read through
``AIRFLOW_API_URL`` (with ``AIRFLOW_API_USER``/``AIRFLOW_API_PASSWORD``); skipped without it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import sys
import time

from tests_manual.airflow_api import api_from_environment, embedded_airflow
from tests_manual.runner import single_check_main

TITLE = "the schedule from Airflow's REST API: intervals of the last runs, no overlap"
SUMMARY = "scheduled runs cover regular, non-overlapping intervals and never ran at the same time"
DAG_ID = "sync_open_orders"
EMBEDDED_SCHEDULE = "* * * * *"
FINISHED = {"success", "failed"}


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _clock(value: dt.datetime | None) -> str:
    return value.strftime("%H:%M:%S") if value else "-"


def _wait_for_runs(report, api, wanted: int, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    last_seen = -1
    while True:
        api.services.check_alive()
        runs = [r for r in api.dag_runs(DAG_ID, run_type="scheduled") if r["state"] in FINISHED]
        if len(runs) != last_seen:
            report.note(f"{len(runs)} scheduled run(s) finished ...")
            last_seen = len(runs)
        if len(runs) >= wanted or time.monotonic() > deadline:
            return runs
        time.sleep(5)


def _scheduled_for(run: dict) -> dt.datetime:
    return _time(run.get("logical_date") or run["run_after"])


def _judge(report, runs: list[dict], period: dt.timedelta | None) -> None:
    runs = sorted(runs, key=_scheduled_for)
    report.note(f"{'run id':40} {'state':8} {'scheduled for':>13} {'started':>9} {'ended':>9} {'took':>6}")
    for run in runs:
        started, ended = _time(run["start_date"]), _time(run["end_date"])
        took = f"{(ended - started).total_seconds():.0f} s" if started and ended else "-"
        report.note(
            f"{run['dag_run_id']:40} {run['state']:8} {_clock(_scheduled_for(run)):>13} "
            f"{_clock(started):>9} {_clock(ended):>9} {took:>6}"
        )
    pairs = list(itertools.pairwise(runs))
    gaps = [_scheduled_for(later) - _scheduled_for(earlier) for earlier, later in pairs]
    period = period or min(gaps, default=None)
    if period:
        irregular = [str(gap) for gap in gaps if gap % period]
        skipped = sum(gap // period - 1 for gap in gaps)
        report.expect(
            not irregular and all(gaps),
            f"runs are scheduled {period} apart ({', '.join(map(str, gaps))}; irregular: {', '.join(irregular) or 'none'})",
        )
        if skipped:
            report.note(f"{skipped} slot(s) skipped: a run outlasted its period and catchup=False moves on")
    early = [r["dag_run_id"] for r in runs if r["start_date"] and _time(r["start_date"]) < _scheduled_for(r)]
    report.expect(not early, f"no run started before its scheduled time ({', '.join(early) or 'none'})")
    concurrent = [
        later["dag_run_id"]
        for earlier, later in pairs
        if earlier["end_date"]
        and later["start_date"]
        and _time(later["start_date"]) < _time(earlier["end_date"])
    ]
    report.expect(
        not concurrent,
        f"no overlap: each run started after the previous one ended ({', '.join(concurrent) or 'none'})",
    )


def run(env, report, args) -> None:
    if hasattr(env, "stack"):
        report.note(f"starting scheduler, DAG processor and API server, schedule {EMBEDDED_SCHEDULE!r} ...")
        airflow = embedded_airflow(
            env.stack,
            services=("dag-processor", "api-server", "scheduler"),
            extra_env={
                "OPEN_ORDERS_SYNC_SCHEDULE": EMBEDDED_SCHEDULE,
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            },
        )
        period = dt.timedelta(minutes=1)
    else:
        api = api_from_environment()
        if api is None:
            report.skip(
                "set AIRFLOW_API_URL, AIRFLOW_API_USER and AIRFLOW_API_PASSWORD to read the deployment's runs"
            )
            return
        airflow, period = contextlib.nullcontext(api), None
    with airflow as api:
        if hasattr(env, "stack"):
            runs = _wait_for_runs(report, api, args.runs, timeout=90 + 75 * args.runs)
        else:
            runs = [
                r
                for r in api.dag_runs(DAG_ID, limit=args.runs, run_type="scheduled")
                if r["state"] in FINISHED
            ]
            dag = api.get(f"/api/v2/dags/{DAG_ID}").json()
            report.note(f"schedule: {dag.get('timetable_summary')} ({dag.get('timetable_description')})")
        report.expect(
            len(runs) >= min(args.runs, 2),
            f"{len(runs)} finished scheduled run(s) to judge (want {args.runs})",
        )
        if runs:
            succeeded = sum(r["state"] == "success" for r in runs)
            report.expect(succeeded == len(runs), f"{succeeded} of {len(runs)} succeeded")
            _judge(report, runs, period)


main = single_check_main("T017")

if __name__ == "__main__":
    sys.exit(main())
