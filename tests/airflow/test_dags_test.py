"""`airflow dags test sync_open_orders` end to end on the embedded stack, as an engineer runs it."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.conftest import STACK_PASSWORD
from tests.sync.support import table_checksum

ROWS = 2000


@pytest.fixture(scope="module")
def runs(stack):
    """Three runs in order: initial load, unchanged re-run, and a run with a wrong password."""
    stack.seed_source(ROWS, seed=3)
    with psycopg.connect(stack.orders_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.open_orders")
        conn.execute("DROP SCHEMA IF EXISTS table_sync CASCADE")
    first = stack.airflow("dags", "test", "sync_open_orders", quiet=True, check=False)
    checksum_after_first = table_checksum(stack.orders_dsn)
    second = stack.airflow("dags", "test", "sync_open_orders", quiet=True, check=False)
    bad_connection = json.loads(stack.connection_env()["AIRFLOW_CONN_MSSQL_SAP"])
    bad_connection["password"] = "wrong-" + STACK_PASSWORD
    stack.extra_env["AIRFLOW_CONN_MSSQL_SAP"] = json.dumps(bad_connection)
    try:
        failed = stack.airflow("dags", "test", "sync_open_orders", quiet=True, check=False)
    finally:
        stack.extra_env.pop("AIRFLOW_CONN_MSSQL_SAP")
    checksum_after_failure = table_checksum(stack.orders_dsn)
    return {
        "first": first,
        "second": second,
        "failed": failed,
        "checksum_after_first": checksum_after_first,
        "checksum_after_failure": checksum_after_failure,
    }


def test_first_run_loads_the_view(runs, stack):
    first = runs["first"]
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-3000:]
    assert f"applied +{ROWS} ~0 -0 =0 to public.open_orders" in output
    assert "schema check passed: 67 columns as mapped" in output
    assert f"fetched {ROWS} rows" in output
    assert "check shrink_guard: passed" in output
    assert runs["checksum_after_first"][0] == ROWS


def test_second_run_over_unchanged_data_writes_nothing(runs):
    second = runs["second"]
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-3000:]
    assert f"applied +0 ~0 -0 ={ROWS} to public.open_orders" in output


def test_failed_run_fails_the_dag_run_and_leaves_the_table(runs, stack):
    failed = runs["failed"]
    output = failed.stdout + failed.stderr
    assert "Login failed for user 'demo'" in output
    assert "state=failed" in output, output[-3000:]
    assert runs["checksum_after_failure"] == runs["checksum_after_first"]
    with psycopg.connect(stack.orders_dsn) as conn:
        status, error_class, message = conn.execute(
            "SELECT status, error_class, error_message FROM table_sync.history ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert (status, error_class) == ("failed", "SourceQueryError")
    assert "Login failed" in message


def test_password_appears_nowhere(runs, stack):
    """Task logs, CLI output, XCom and the history table: never the password."""
    everything = []
    for result in (runs["first"], runs["second"], runs["failed"]):
        everything.append(result.stdout)
        everything.append(result.stderr)
    log_files = [path for path in Path(stack.home / "logs").rglob("*") if path.is_file()]
    everything.extend(path.read_text(errors="replace") for path in log_files)
    with psycopg.connect(stack.orders_dsn) as conn:
        everything.extend(str(row) for row in conn.execute("SELECT * FROM table_sync.history"))
    with psycopg.connect(stack.postgres.dsn("airflow")) as conn:
        everything.extend(str(row) for row in conn.execute("SELECT * FROM xcom"))
        everything.extend(str(row) for row in conn.execute("SELECT * FROM log"))
    text = "\n".join(everything)
    assert "applied +" in text  # the haystack holds the runs' logs
    for line in text.splitlines():
        assert STACK_PASSWORD not in line, line
