"""The real Airflow services end to end: scheduler, DAG processor and API server, LocalExecutor.

One scenario on its own embedded stack (own password), schedule overridden to every minute:

1. the services start, the DAG is parsed and unpaused through the CLI;
2. the first scheduled run loads the source;
3. the source changes, and the next run's extract is held by an emulator stall; while it is
   held, the scheduler is restarted (SIGTERM, as systemd or Kubernetes would, then started again);
4. the source changes again, the next extract is held again, and this time the scheduler
   crashes (SIGKILL of its process only: the task it launched lives on, as on a real host);
   a new scheduler takes over and the DAG carries on.

The tests then read what happened from Airflow's metadata and the sync history.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from devtools.airflow_services import AirflowServices
from devtools.demo_source.generate import apply_changes
from devtools.stack import EmbeddedStack
from tests.sync.support import expected_target_row, open_orders_mapping, source_rows_as_text, target_rows

pytestmark = pytest.mark.slow

DAG_ID = "sync_open_orders"
PASSWORD = "demo-password-sched-4Wm"
SEED_ROWS = 500
CHANGES = {"inserts": 9, "updates": 12, "deletes": 6}
# How long an extract is held: long enough for a restart to land inside it, and for a crashed
# scheduler's successor to take the task instance over while the orphaned task still runs;
# well under extract's three-minute timeout.
RESTART_STALL_MS = 15_000
CRASH_STALL_MS = 90_000
WAIT_SECONDS = 240


def wait_until(services: AirflowServices, what: str, probe, timeout: float = WAIT_SECONDS):
    """Poll ``probe`` until it returns something truthy; fail early if a service died."""
    deadline = time.monotonic() + timeout
    while True:
        services.check_alive()
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"waited {timeout:.0f} s for {what}\n--- scheduler log ---\n{services.log_tail('scheduler')}"
            )
        time.sleep(2)


def metadata(stack: EmbeddedStack, query: str, params=()) -> list[dict]:
    with psycopg.connect(stack.postgres.dsn("airflow"), row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def orders(stack: EmbeddedStack, query: str, params=()) -> list[dict]:
    with psycopg.connect(stack.orders_dsn, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def scheduled_runs(stack: EmbeddedStack) -> list[dict]:
    return metadata(
        stack,
        "SELECT run_id, logical_date, state, start_date, end_date FROM dag_run "
        "WHERE dag_id = %s AND run_type = 'scheduled' ORDER BY logical_date",
        (DAG_ID,),
    )


def successful_runs(stack: EmbeddedStack) -> list[dict]:
    return [run for run in scheduled_runs(stack) if run["state"] == "success"]


def attempts(stack: EmbeddedStack, status: str) -> list[dict]:
    """Sync attempts with ``status`` (none before the first extract creates the history table)."""
    with contextlib.suppress(psycopg.errors.UndefinedTable):
        return orders(
            stack, "SELECT id, run_id, stage FROM table_sync.history WHERE status = %s ORDER BY id", (status,)
        )
    return []


def new_attempt(stack: EmbeddedStack, status: str, known_runs: set[str]) -> dict | None:
    return next((row for row in attempts(stack, status) if row["run_id"] not in known_runs), None)


def arm_extract_stall(stack: EmbeddedStack, stall_ms: int) -> None:
    """The next result set of 10 rows or more (the next run's schema check) pauses after its 10th.

    The one-row queries before it (server facts, render probe) leave the fault armed.
    """
    with contextlib.closing(stack.source_connection()) as conn:
        conn.autocommit(True)
        conn.cursor().execute(
            f"EXEC emulator.inject_fault @kind = N'stall_after_rows', @rows = 10, @ms = {stall_ms}"
        )


def hold_next_extract(
    stack: EmbeddedStack, services: AirflowServices, known_runs: set[str], seed: int, stall_ms: int
):
    """Change the source, arm the stall, and wait until the next run's extract is held by it."""
    with contextlib.closing(stack.source_connection()) as conn:
        changes = apply_changes(conn, seed=seed, **CHANGES)
    arm_extract_stall(stack, stall_ms)
    attempt = wait_until(
        services, "the next run's extract", lambda: new_attempt(stack, "running", known_runs)
    )
    return changes, attempt


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("airflow-services")
    facts: dict = {"log_dir": log_dir}
    with (
        EmbeddedStack(
            seed_rows=SEED_ROWS,
            seed=17,
            password=PASSWORD,
            extra_env={"OPEN_ORDERS_SYNC_SCHEDULE": "* * * * *"},
        ) as stack,
        AirflowServices(stack.env(), log_dir) as services,
    ):
        started = time.monotonic()
        services.start_all()
        services.wait_for_api()
        wait_until(
            services,
            "the DAG processor to store the DAG",
            lambda: metadata(stack, "SELECT 1 FROM dag WHERE dag_id = %s", (DAG_ID,)),
        )
        stack.airflow("dags", "unpause", DAG_ID, quiet=True)

        # After each run's replace committed, only its cleanup (no source access) is left and the
        # next run waits for it (max_active_runs=1): the source changes and the stall is armed then.
        done = set()
        first = wait_until(services, "the first run's replace", lambda: new_attempt(stack, "success", done))
        done.add(first["run_id"])

        # 3. A graceful restart while the next run's extract is held.
        facts["restart_changes"], facts["restart"] = hold_next_extract(
            stack, services, done, seed=101, stall_ms=RESTART_STALL_MS
        )
        services.restart("scheduler")
        after_restart = wait_until(
            services, "a replace after the restart", lambda: new_attempt(stack, "success", done)
        )
        done.add(after_restart["run_id"])

        # 4. A crash: the scheduler is SIGKILLed while the next run's extract is held; the task
        #    it launched lives on until the new scheduler takes the task instance over.
        facts["crash_changes"], facts["crash"] = hold_next_extract(
            stack, services, done, seed=202, stall_ms=CRASH_STALL_MS
        )
        services.crash("scheduler")
        services.start("scheduler")
        after_crash = wait_until(
            services, "a replace after the crash", lambda: new_attempt(stack, "success", done)
        )
        done.add(after_crash["run_id"])
        wait_until(
            services,
            "the DAG runs to finish",
            lambda: done <= {run["run_id"] for run in successful_runs(stack)},
        )
        facts["seconds"] = time.monotonic() - started

        facts["runs"] = scheduled_runs(stack)
        # Only the runs this scenario drove to success: the schedule keeps going meanwhile, and a
        # run started in the last minute may still be in flight when the facts are read.
        facts["task_instances"] = metadata(
            stack,
            "SELECT run_id, task_id, state, try_number, start_date, end_date, hostname, pid "
            "FROM task_instance WHERE dag_id = %s AND run_id = ANY(%s) ORDER BY start_date",
            (DAG_ID, sorted(done)),
        )
        facts["history"] = orders(
            stack, "SELECT * FROM table_sync.history WHERE run_id = ANY(%s) ORDER BY id", (sorted(done),)
        )
        facts["table_count"] = orders(stack, "SELECT count(*) AS n FROM public.open_orders")[0]["n"]
        mapping = open_orders_mapping()
        facts["expected_rows"] = {
            key: expected_target_row(mapping, raw)
            for key, raw in source_rows_as_text(stack.mssql, mapping).items()
        }
        facts["actual_rows"] = target_rows(stack.orders_dsn, mapping)
        facts["service_pids"] = {pid for pids in services.started_pids.values() for pid in pids}
        facts["scheduler_starts"] = len(services.started_pids["scheduler"])
        facts["task_log_text"] = "\n".join(
            path.read_text(errors="replace")
            for path in Path(stack.home / "logs").rglob("*")
            if path.is_file()
        )
    facts["service_log_text"] = "\n".join(path.read_text(errors="replace") for path in log_dir.glob("*.log"))
    facts["summary"] = (
        f"scheduler end to end: {len(facts['runs'])} scheduled runs in {facts['seconds']:.0f} s; attempts: "
        + ", ".join(
            f"{row['run_id'].removeprefix('scheduled__')} {row['status']}" for row in facts["history"]
        )
    )
    return facts


def test_runs_follow_the_schedule(scenario, capsys):
    with capsys.disabled():
        print(f"\n{scenario['summary']}")
    runs = scenario["runs"]
    successes = [run for run in runs if run["state"] == "success"]
    assert len(successes) >= 3, runs
    logical_dates = [run["logical_date"] for run in runs]
    assert all(date.second == 0 and date.microsecond == 0 for date in logical_dates), logical_dates
    gaps = [later - earlier for earlier, later in zip(logical_dates, logical_dates[1:], strict=False)]
    assert all(gap > dt.timedelta(0) and gap % dt.timedelta(minutes=1) == dt.timedelta(0) for gap in gaps), (
        gaps
    )
    assert dt.timedelta(minutes=1) in gaps, f"no two consecutive runs one minute apart: {logical_dates}"
    for run in runs:
        if run["start_date"] is not None:
            assert run["start_date"] >= run["logical_date"], f"{run['run_id']} started before its time"


def test_runs_never_overlap(scenario):
    spans = {}
    for ti in scenario["task_instances"]:
        if ti["start_date"] is None:
            continue
        start, end = spans.get(ti["run_id"], (ti["start_date"], ti["end_date"]))
        spans[ti["run_id"]] = (min(start, ti["start_date"]), max(end, ti["end_date"] or end))
    ordered = sorted(spans.items(), key=lambda item: item[1][0])
    assert len(ordered) >= 3
    for (earlier, (_, earlier_end)), (later, (later_start, _)) in zip(ordered, ordered[1:], strict=False):
        assert later_start >= earlier_end, (
            f"{later} started at {later_start}, before {earlier} ended at {earlier_end}"
        )
    attempts = sorted((row["started_at"], row["finished_at"], row["run_id"]) for row in scenario["history"])
    for (_, earlier_end, earlier), (later_start, _, later) in zip(attempts, attempts[1:], strict=False):
        assert earlier_end is not None and later_start >= earlier_end, (
            f"sync attempts of {earlier} and {later} overlap"
        )


def test_each_task_runs_in_its_own_process(scenario):
    done = [ti for ti in scenario["task_instances"] if ti["state"] == "success"]
    assert {ti["task_id"] for ti in done} == {"extract", "validate", "replace", "cleanup"}
    pids = [(ti["hostname"], ti["pid"]) for ti in done]
    assert all(pid for _, pid in pids), done
    assert len(set(pids)) == len(pids), f"two task instances shared a process: {pids}"
    assert not {pid for _, pid in pids} & scenario["service_pids"], "a task ran inside a service process"


def success_attempts_of(scenario, run_id: str) -> list[dict]:
    return [row for row in scenario["history"] if row["run_id"] == run_id and row["status"] == "success"]


def change_counts(row: dict) -> tuple[int, int, int]:
    return row["rows_inserted"], row["rows_updated"], row["rows_deleted"]


def expected_counts(changes) -> tuple[int, int, int]:
    return len(changes.inserted), len(changes.updated), len(changes.deleted)


def test_restarting_the_scheduler_mid_run_loses_and_duplicates_nothing(scenario):
    restart = scenario["restart"]
    assert restart["stage"] == "extract", "the restart did not land inside the held extract"
    # The held run itself went on under the new scheduler and applied its changes once.
    (applied,) = success_attempts_of(scenario, restart["run_id"])
    assert change_counts(applied) == expected_counts(scenario["restart_changes"])
    attempts = [row["status"] for row in scenario["history"] if row["run_id"] == restart["run_id"]]
    assert attempts == ["success"], "a graceful restart must not cost the run an attempt"


def test_a_scheduler_crash_mid_run_loses_and_duplicates_nothing(scenario):
    crash = scenario["crash"]
    assert crash["stage"] == "extract", "the crash did not land inside the held extract"
    assert scenario["scheduler_starts"] == 3
    # The crash's changes were applied by exactly one attempt, whichever run it belonged to.
    after_crash = [row for row in scenario["history"] if row["id"] >= crash["id"]]
    applied = [row for row in after_crash if row["status"] == "success" and change_counts(row) != (0, 0, 0)]
    assert [change_counts(row) for row in applied] == [expected_counts(scenario["crash_changes"])], (
        after_crash
    )
    # The new scheduler reset the task instance while its orphaned task still ran; the retry
    # settled the orphan's attempt (abandoned, or failed if it saw its end) and took over.
    held = next(row for row in scenario["history"] if row["id"] == crash["id"])
    assert held["status"] in ("abandoned", "failed"), held
    assert success_attempts_of(scenario, crash["run_id"]), "the crashed run did not recover"


def test_history_and_table_agree_with_the_source(scenario):
    history = scenario["history"]
    assert all(row["status"] != "running" for row in history), history
    successes = [row for row in history if row["status"] == "success"]
    successful_runs = {run["run_id"] for run in scenario["runs"] if run["state"] == "success"}
    # One successful attempt per successful run, and none for a run that did not succeed.
    assert sorted(row["run_id"] for row in successes) == sorted(successful_runs)
    for before, after in zip(successes, successes[1:], strict=False):
        assert (
            after["rows_in_table"] == before["rows_in_table"] + after["rows_inserted"] - after["rows_deleted"]
        )
    assert successes[-1]["rows_in_table"] == scenario["table_count"]
    assert scenario["actual_rows"] == scenario["expected_rows"]
    assert len(scenario["actual_rows"]) == SEED_ROWS + 2 * (CHANGES["inserts"] - CHANGES["deletes"])


def test_password_appears_in_no_log(scenario):
    text = scenario["service_log_text"] + scenario["task_log_text"]
    assert "applied +" in text  # the haystack holds the task logs
    for line in text.splitlines():
        assert PASSWORD not in line, line
