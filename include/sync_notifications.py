"""Failure mail through Airflow's own ``SmtpNotifier``, addressed by an Airflow connection.

The DAG names an SMTP connection (``smtp_alerts`` for the open-orders DAG). Everything about
where the mail goes lives in that connection, so operators change it without a deploy:
host, port, login and password of the mail server as usual for the ``smtp`` type, and the extras
``to`` (one address or several separated by commas), ``from_email`` and SmtpHook's own
(``disable_tls``, ``disable_ssl``, ``timeout``...). Without the connection no mail is sent and
the task log says so once per failure: a missing alert channel must not add a second error.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from airflow.providers.smtp.notifications.smtp import SmtpNotifier

log = logging.getLogger("table_sync")

RECIPIENTS_EXTRA = "to"


class SyncFailureMail(SmtpNotifier):
    """``SmtpNotifier`` whose recipients come from the SMTP connection's ``to`` extra at send time."""

    def __init__(self, smtp_conn_id: str):
        super().__init__(to=[], smtp_conn_id=smtp_conn_id)

    def notify(self, context: dict[str, Any]) -> None:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        from include.sync_dag import failure_summary

        try:
            connection = BaseHook.get_connection(self.smtp_conn_id)
        except AirflowNotFoundException:
            log.warning("no Airflow connection %r: failure mail not sent", self.smtp_conn_id)
            return
        recipients = str(connection.extra_dejson.get(RECIPIENTS_EXTRA) or "").strip()
        if not recipients:
            log.warning("connection %r has no %r extra: failure mail not sent", self.smtp_conn_id, "to")
            return
        summary = failure_summary(context)
        self.to = recipients
        self.subject = f"[sync failed] {summary.split(' failed ', 1)[0]}"
        self.html_content = f"<p>{html.escape(summary)}</p>{_log_link(context)}"
        super().notify(context)


def _log_link(context: dict[str, Any]) -> str:
    ti = context.get("ti") or context.get("task_instance")
    url = getattr(ti, "log_url", None)
    return f'<p><a href="{html.escape(url, quote=True)}">Task log</a></p>' if url else ""
