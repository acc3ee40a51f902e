"""Metrics and the failure mail from real task runs: `airflow dags test` on the embedded stack.

Airflow's StatsD settings and the ``smtp_alerts`` connection come from the environment, as in a
deployment; a UDP socket and an aiosmtpd server on loopback receive what the tasks send.
"""

from __future__ import annotations

import json
import socket

import psycopg
import pytest
from aiosmtpd.controller import Controller

from tests.airflow.test_failure_notifier import Inbox, free_port
from tests.conftest import STACK_PASSWORD

ROWS = 300
PREFIX = "airflow.table_sync.public_open_orders."


def drain(listener: socket.socket) -> dict[str, tuple[str, str]]:
    """Every StatsD line received so far, as {name: (value, type)} for the sync's own metrics."""
    listener.settimeout(0.5)
    metrics = {}
    try:
        while True:
            for line in listener.recv(65536).decode().splitlines():
                name, rest = line.split(":", 1)
                if name.startswith(PREFIX):
                    metrics[name.removeprefix(PREFIX)] = tuple(rest.split("|")[:2])
    except TimeoutError:
        return metrics


@pytest.fixture(scope="module")
def signals(stack):
    """A green run with StatsD on, then a run with a wrong password and the smtp_alerts connection."""
    stack.seed_source(ROWS, seed=8)
    with psycopg.connect(stack.orders_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.open_orders")
        conn.execute("DROP SCHEMA IF EXISTS table_sync CASCADE")
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    settings = {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(listener.getsockname()[1]),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        "AIRFLOW_CONN_SMTP_ALERTS": json.dumps(
            {
                "conn_type": "smtp",
                "host": smtp.hostname,
                "port": smtp.port,
                "extra": {
                    "to": "oncall@example.invalid",
                    "from_email": "airflow@example.invalid",
                    "disable_ssl": True,
                    "disable_tls": True,
                },
            }
        ),
    }
    stack.extra_env.update(settings)
    try:
        green = stack.airflow("dags", "test", "sync_open_orders", quiet=True, check=False)
        green_metrics = drain(listener)
        bad_connection = json.loads(stack.connection_env()["AIRFLOW_CONN_MSSQL_SAP"])
        bad_connection["password"] = "wrong-" + STACK_PASSWORD
        stack.extra_env["AIRFLOW_CONN_MSSQL_SAP"] = json.dumps(bad_connection)
        failed = stack.airflow("dags", "test", "sync_open_orders", quiet=True, check=False)
        failed_metrics = drain(listener)
    finally:
        for key in (*settings, "AIRFLOW_CONN_MSSQL_SAP"):
            stack.extra_env.pop(key, None)
        smtp.stop()
        listener.close()
    return {
        "green": green,
        "green_metrics": green_metrics,
        "failed": failed,
        "failed_metrics": failed_metrics,
        "mails": inbox.messages,
    }


def test_a_green_run_sends_the_row_counts_duration_and_freshness(signals):
    green = signals["green"]
    assert green.returncode == 0, (green.stdout + green.stderr)[-3000:]
    metrics = signals["green_metrics"]
    assert {
        name: metrics[name] for name in ("rows_fetched", "rows_inserted", "rows_updated", "rows_deleted")
    } == {
        "rows_fetched": (str(ROWS), "c"),
        "rows_inserted": (str(ROWS), "c"),
        "rows_updated": ("0", "c"),
        "rows_deleted": ("0", "c"),
    }
    assert metrics["duration"][1] == "ms" and float(metrics["duration"][0]) > 0
    assert metrics["freshness_seconds"][1] == "g" and 0 < float(metrics["freshness_seconds"][0]) < 300
    assert metrics["last_success_timestamp"][1] == "g"
    assert "failures" not in metrics


def test_a_failed_run_counts_the_failure_and_mails_the_alerts_connection(signals):
    failed = signals["failed"]
    output = failed.stdout + failed.stderr
    assert "state=failed" in output, output[-3000:]
    assert signals["failed_metrics"].get("failures") == ("1", "c")
    assert "rows_inserted" not in signals["failed_metrics"]
    [(sender, recipients, message)] = signals["mails"]
    assert (sender, recipients) == ("airflow@example.invalid", ["oncall@example.invalid"])
    assert message["Subject"] == "[sync failed] sync_open_orders.extract"
    body = message.get_body(("html", "plain")).get_content()
    assert "Login failed for user" in body
    assert STACK_PASSWORD not in body
