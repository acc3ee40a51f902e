"""T018: recovery after a restart: PostgreSQL, then the SQL Server, each stopped and started again.

PostgreSQL goes down in the middle of a run: its extract step has staged a snapshot, as when a
worker dies between two tasks. For each server: a sync while it is down fails as transient (Airflow's retries cover a
restart) and changes nothing; once it is back, the next sync succeeds with no manual step:
no lock, staging table or 'running' history row is left in the way. The emulator keeps its
data in memory, so after its restart the demo rows are seeded again (what ``mssql-init`` does
after every ``docker compose up``). Needs the embedded stack: nobody restarts a real server
from a check script.
"""

from __future__ import annotations

import sys

from include.table_sync.errors import SourceUnavailableError, SyncError, TargetUnavailableError
from include.table_sync.pipeline import extract
from tests_manual import probes
from tests_manual.expectations import synced_baseline
from tests_manual.report import checksum_text
from tests_manual.runner import single_check_main

TITLE = "recovery after a restart of PostgreSQL and of the SQL Server"
SUMMARY = "syncs failed harmlessly while each server was down and succeeded once it was back"


def _sync_while_down(report, env, run_id: str, expected: type[SyncError]) -> None:
    try:
        env.sync(run_id)
        report.expect(False, "the sync fails while the server is down")
    except SyncError as error:
        report.note(f"sync while down: {type(error).__name__}: {str(error).splitlines()[0]}")
        report.expect(isinstance(error, expected) and error.transient, f"a transient {expected.__name__}")


def _sync_after_restart(report, env, run_id: str, source_rows: int) -> None:
    outcome = env.sync(run_id)
    report.note(f"sync after the restart: applied {outcome.counts.summary()}")
    attempt = probes.last_attempt(env)
    report.note(f"table_sync.history: {probes.describe_attempt(attempt)}")
    report.expect(attempt["status"] == "success", "the first sync after the restart succeeds")
    report.expect(
        probes.table_checksum(env)[0] == source_rows, f"the table holds the source's {source_rows} rows"
    )
    report.expect(not probes.staging_tables(env), "no staging table left behind")


def run(env, report, args) -> None:
    if not env.can_restart:
        report.skip(
            "restarts need the embedded stack; against real servers restart them yourself and "
            "watch the next scheduled run succeed (docs/runbook.md)"
        )
        return
    synced_baseline(report, env, "manual-T018-baseline")
    source_rows = probes.source_row_count(env)

    report.note("")
    staged = extract(env.sync_context("manual-T018-interrupted"))
    report.note(f"a run stops after extract (attempt {staged.attempt_id}, staged {staged.snapshot_table})")
    report.note("stopping PostgreSQL (pg_ctl stop -m fast) ...")
    with env.restart_target():
        _sync_while_down(report, env, "manual-T018-pg-down", TargetUnavailableError)
        report.note("starting PostgreSQL again (same port, same data) ...")
    before = probes.table_checksum(env)
    report.note(f"after the restart: public.open_orders {checksum_text(before)}")
    _sync_after_restart(report, env, "manual-T018-pg-up", source_rows)
    interrupted = probes.attempt(env, staged.attempt_id)
    report.note(f"the interrupted run: {probes.describe_attempt(interrupted)}")
    report.expect(
        interrupted["status"] == "abandoned", "the interrupted attempt is marked abandoned by the next sync"
    )

    report.note("")
    report.note("stopping the SQL Server emulator ...")
    before = probes.table_checksum(env)
    with env.restart_source():
        _sync_while_down(report, env, "manual-T018-mssql-down", SourceUnavailableError)
        report.expect(probes.table_checksum(env) == before, "the table is unchanged while the source is down")
        report.note("starting the emulator again (same port) and seeding the demo rows ...")
    _sync_after_restart(report, env, "manual-T018-mssql-up", probes.source_row_count(env))


main = single_check_main("T018")

if __name__ == "__main__":
    sys.exit(main())
