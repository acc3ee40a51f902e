"""Failure callbacks: one summary line at ERROR, then the configured notifiers, as Airflow's own list."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from include.sync_dag import build_sync_dag, failure_summary, log_failure


def _context(exception: Exception) -> dict:
    ti = SimpleNamespace(dag_id="sync_open_orders", task_id="extract", try_number=2)
    return {"ti": ti, "run_id": "scheduled__2026-11-29T10:05:00+00:00", "exception": exception}


def test_summary_is_one_line_with_task_run_try_and_error():
    error = RuntimeError("SQL Server unavailable: connection refused\nsecond line of detail")
    summary = failure_summary(_context(error))
    assert summary == (
        "sync_open_orders.extract failed (run scheduled__2026-11-29T10:05:00+00:00, try 2): "
        "RuntimeError: SQL Server unavailable: connection refused"
    )


def test_log_failure_writes_the_summary_at_error(caplog):
    with caplog.at_level(logging.ERROR, logger="table_sync"):
        log_failure(_context(ValueError("bad value")))
    [record] = [r for r in caplog.records if r.name == "table_sync"]
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith("SYNC FAILED: sync_open_orders.extract failed (run ")


def test_notifiers_follow_the_summary_in_airflows_callback_list():
    """Airflow runs each callback of the list on its own, so a broken notifier stops no other."""

    def page_on_call(context):
        raise ConnectionError("pager down")

    dag = build_sync_dag(
        dag_id="callback_probe", mapping_file="open_orders.yaml", doc_md=None, notifiers=[page_on_call]
    )
    for task in dag.tasks:
        callbacks = list(task.on_failure_callback)
        assert [callbacks[0], callbacks[-1]] == [log_failure, page_on_call], task.task_id
        assert [cb.__name__ for cb in callbacks[1:-1]] == ["count_failure"], task.task_id
