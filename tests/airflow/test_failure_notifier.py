"""The failure mail goes through Airflow's SmtpNotifier to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller

from include.sync_dag import build_sync_dag
from include.sync_notifications import SyncFailureMail

CONN_ID = "smtp_alerts_probe"


class Inbox:
    """aiosmtpd handler keeping every message it accepts, with its envelope."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def use_smtp_connection(monkeypatch, host: str, port: int, **extra) -> None:
    connection = {
        "conn_type": "smtp",
        "host": host,
        "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 10, **extra},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))


def failure_context(exception: Exception) -> dict:
    ti = SimpleNamespace(
        dag_id="sync_open_orders",
        task_id="extract",
        try_number=4,
        run_id="scheduled__2026-12-01T10:05:00+00:00",
        log_url="http://localhost:8080/dags/sync_open_orders/runs/x/tasks/extract?try_number=4",
    )
    return {"ti": ti, "run_id": ti.run_id, "exception": exception}


def test_a_failure_mails_the_connections_recipients(monkeypatch, smtp_server):
    controller, inbox = smtp_server
    use_smtp_connection(
        monkeypatch,
        controller.hostname,
        controller.port,
        to="oncall@example.invalid, data-team@example.invalid",
        from_email="airflow@example.invalid",
    )
    notifier = SyncFailureMail(smtp_conn_id=CONN_ID)
    notifier(failure_context(RuntimeError("SQL Server unavailable: <connection refused>\nsecond line")))

    [(sender, recipients, message)] = inbox.messages
    assert sender == "airflow@example.invalid"
    assert sorted(recipients) == ["data-team@example.invalid", "oncall@example.invalid"]
    assert message["Subject"] == "[sync failed] sync_open_orders.extract"
    body = message.get_body(("html", "plain")).get_content()
    assert (
        "sync_open_orders.extract failed (run scheduled__2026-12-01T10:05:00+00:00, try 4): "
        "RuntimeError: SQL Server unavailable: &lt;connection refused&gt;"
    ) in body
    assert "second line" not in body
    assert 'href="http://localhost:8080/dags/sync_open_orders/runs/x/tasks/extract?try_number=4"' in body


def test_without_the_connection_nothing_is_sent_and_the_log_says_so(monkeypatch, smtp_server, caplog):
    _, inbox = smtp_server
    monkeypatch.delenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", raising=False)
    with caplog.at_level(logging.WARNING, logger="table_sync"):
        SyncFailureMail(smtp_conn_id=CONN_ID)(failure_context(RuntimeError("boom")))
    assert inbox.messages == []
    assert f"no Airflow connection '{CONN_ID}': failure mail not sent" in caplog.text


def test_an_unreachable_mail_server_fails_the_callback_loudly(monkeypatch):
    """Airflow logs a raising callback and runs the next one; a silent loss would hide the outage."""
    nobody_listens = free_port()
    use_smtp_connection(
        monkeypatch,
        "127.0.0.1",
        nobody_listens,
        to="oncall@example.invalid",
        from_email="airflow@example.invalid",
        retry_limit=0,
    )
    with pytest.raises(OSError):
        SyncFailureMail(smtp_conn_id=CONN_ID)(failure_context(RuntimeError("boom")))


def test_the_open_orders_dag_mails_through_the_smtp_alerts_connection():
    from dags.sync_open_orders import dag

    for task in dag.tasks:
        mails = [cb for cb in task.on_failure_callback if isinstance(cb, SyncFailureMail)]
        assert [mail.smtp_conn_id for mail in mails] == ["smtp_alerts"], task.task_id


def test_build_sync_dag_passes_notifiers_to_every_task():
    mail = SyncFailureMail(smtp_conn_id=CONN_ID)
    dag = build_sync_dag(dag_id="mail_probe", mapping_file="open_orders.yaml", doc_md=None, notifiers=[mail])
    assert all(task.on_failure_callback[-1] is mail for task in dag.tasks)
