"""Sync metrics reach a StatsD server through Airflow's own client and ``[metrics]`` settings.

The listener is a real UDP socket; Airflow's metrics are switched on by the environment, the
way a deployment does it, and initialised exactly as the task runner does in each task process
(``airflow/sdk/execution_time/task_runner.py``, ``main()``).
"""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from airflow.sdk.configuration import conf
from airflow.sdk.observability import stats
from airflow.sdk.observability.metrics import stats_utils

from include.sync_dag import build_sync_dag, failure_metric
from include.sync_metrics import emit_sync_failure, emit_sync_success
from include.table_sync.apply import ApplyCounts

TABLE = "public.open_orders"


@pytest.fixture
def statsd_listener(monkeypatch):
    """A UDP socket on an OS-assigned port, with Airflow's StatsD settings pointing at it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(listener.getsockname()[1]))
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PREFIX", "airflow")
    stats.initialize(
        factory=stats_utils.get_stats_factory(),
        export_legacy_names=conf.getboolean("metrics", "legacy_names_on"),
    )
    yield listener
    listener.close()
    monkeypatch.delenv("AIRFLOW__METRICS__STATSD_ON")
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=True)


def received(listener: socket.socket, count: int) -> dict[str, tuple[str, str]]:
    """``count`` StatsD lines as {name: (value, type)}."""
    lines = []
    while len(lines) < count:
        lines += listener.recv(65536).decode().splitlines()
    metrics = {}
    for line in lines:
        name, rest = line.split(":", 1)
        value, kind = rest.split("|")[:2]
        metrics[name] = (value, kind)
    return metrics


def test_a_successful_sync_sends_rows_duration_and_freshness(statsd_listener):
    started = dt.datetime(2026, 12, 1, 10, 0, 0, tzinfo=dt.UTC)
    committed = started + dt.timedelta(seconds=42, milliseconds=500)
    counts = ApplyCounts(inserted=7, updated=3, deleted=2, unchanged=4988, rows_in_table=4998)

    emit_sync_success(TABLE, 4998, counts, run_started_at=started, committed_at=committed)

    assert received(statsd_listener, 7) == {
        "airflow.table_sync.public_open_orders.rows_fetched": ("4998", "c"),
        "airflow.table_sync.public_open_orders.rows_inserted": ("7", "c"),
        "airflow.table_sync.public_open_orders.rows_updated": ("3", "c"),
        "airflow.table_sync.public_open_orders.rows_deleted": ("2", "c"),
        "airflow.table_sync.public_open_orders.duration": ("42500.000000", "ms"),
        "airflow.table_sync.public_open_orders.freshness_seconds": ("42.5", "g"),
        "airflow.table_sync.public_open_orders.last_success_timestamp": (str(committed.timestamp()), "g"),
    }


def test_the_dags_failure_callback_counts_the_failed_attempt(statsd_listener):
    dag = build_sync_dag(dag_id="metrics_probe", mapping_file="open_orders.yaml", doc_md=None)
    [callback] = [cb for cb in dag.get_task("extract").on_failure_callback if cb.__name__ == "count_failure"]
    callback({"ti": None, "exception": RuntimeError("SQL Server unavailable")})
    assert received(statsd_listener, 1) == {"airflow.table_sync.public_open_orders.failures": ("1", "c")}


def test_metrics_off_sends_nothing_and_raises_nothing(monkeypatch):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.5)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "False")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(listener.getsockname()[1]))
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=True)
    try:
        emit_sync_failure(TABLE)
        failure_metric(TABLE)({})
        with pytest.raises(TimeoutError):
            listener.recv(65536)
    finally:
        listener.close()
