"""Every DAG file imports cleanly, and the sync DAG keeps its policy."""

from __future__ import annotations

import datetime as dt

import pytest
from airflow.dag_processing.dagbag import DagBag

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def dagbag(monkeypatch_module):
    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        # Parsing must never need a connection or a secret.
        patch.delenv("AIRFLOW_CONN_MSSQL_SAP", raising=False)
        patch.delenv("AIRFLOW_CONN_POSTGRES_ORDERS", raising=False)
        patch.delenv("OPEN_ORDERS_SYNC_SCHEDULE", raising=False)
        yield patch


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dag_ids, "no DAG found in dags/"


def test_sync_open_orders_policy(dagbag):
    dag = dagbag.dags["sync_open_orders"]
    assert dag is not None
    assert dag.schedule == "*/5 * * * *" or str(dag.timetable.summary) == "*/5 * * * *"
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert dag.dagrun_timeout == dt.timedelta(minutes=5)
    assert set(dag.tags) == {"sap", "open_orders", "sync"}
    assert dag.doc_md and "extract" in dag.doc_md and "replace" in dag.doc_md
    assert set(dag.params.keys()) == {"dry_run", "allow_empty", "max_shrink"}


def test_task_chain_and_retry_policy(dagbag):
    dag = dagbag.dags["sync_open_orders"]
    tasks = {task.task_id: task for task in dag.tasks}
    assert set(tasks) == {"extract", "validate", "replace", "cleanup"}
    assert tasks["validate"].upstream_task_ids == {"extract"}
    assert tasks["replace"].upstream_task_ids == {"extract", "validate"}
    assert tasks["cleanup"].is_teardown and tasks["extract"].is_setup
    assert tasks["cleanup"].upstream_task_ids == {"extract", "replace"}
    for task_id in ("extract", "validate", "replace"):
        task = tasks[task_id]
        assert task.retries == 3, task_id
        assert task.retry_exponential_backoff, task_id
        assert task.execution_timeout is not None and task.execution_timeout <= dt.timedelta(minutes=3)
        assert task.owner == "data-engineering"
        assert task.on_failure_callback
    # The longest path, cleanup included, must fit in the run's five-minute slot before retries.
    assert (
        sum(
            (tasks[t].execution_timeout for t in ("extract", "validate", "replace", "cleanup")),
            dt.timedelta(),
        )
        <= dag.dagrun_timeout
    )
    assert [outlet.name for outlet in tasks["replace"].outlets] == ["postgres_orders.public.open_orders"]


def test_one_schedule_variable(monkeypatch):
    """OPEN_ORDERS_SYNC_SCHEDULE sets the sync's schedule; no second variable competes with it."""
    from include.sync_dag import build_sync_dag

    monkeypatch.setenv("TABLE_SYNC_SCHEDULE", "@hourly")
    dag = build_sync_dag(dag_id="schedule_probe", mapping_file="open_orders.yaml", doc_md=None)
    assert dag.schedule == "*/5 * * * *"
