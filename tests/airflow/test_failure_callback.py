"""The failure callback: one summary line at ERROR, then every configured notifier, even if one breaks."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from include.sync_dag import failure_summary, make_failure_callback


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


def test_callback_logs_and_calls_every_notifier_even_after_a_broken_one(caplog):
    received = []

    def broken_notifier(context):
        raise ConnectionError("mail server down")

    callback = make_failure_callback([broken_notifier, received.append])
    context = _context(ValueError("bad value"))
    with caplog.at_level(logging.ERROR, logger="table_sync"):
        callback(context)
    assert received == [context]
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("SYNC FAILED: sync_open_orders.extract failed") for m in messages)
    assert any("notifier function failed: mail server down" in m for m in messages)
