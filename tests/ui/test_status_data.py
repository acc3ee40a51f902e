"""The status page's data and HTML without a browser: real syncs into a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re

import psycopg
import pytest

from devtools.demo_source.generate import create_source, seed_source
from include.table_sync.errors import SourceUnavailableError
from include.table_sync.mapping import TargetConfig
from include.table_sync.pipeline import sync_once
from tests.conftest import REPO_ROOT
from tests.sync.support import make_context, open_orders_mapping, source_connection
from tests.ui.support import shift_history, sync_status_package

SEED_ROWS = 120

sync_status_package()
from sync_status import status_data  # noqa: E402
from sync_status.app import collect_report  # noqa: E402
from sync_status.page import render_page  # noqa: E402
from sync_status.run_chart import run_chart_svg  # noqa: E402

OPEN_ORDERS = TargetConfig(conn_id="postgres_orders", schema="public", table="open_orders")


@pytest.fixture
def synced_twice(mssql, orders_db):
    """One good sync, then one that cannot reach SQL Server: the target's whole history."""
    conn = source_connection(mssql)
    conn.autocommit(False)
    create_source(conn)
    seed_source(conn, SEED_ROWS, seed=5)
    conn.close()
    mapping = open_orders_mapping()
    sync_once(make_context(mapping, mssql, orders_db, run_id="good"))
    refused = {"port": 1, "login_timeout": 2}  # nothing listens there
    with pytest.raises(SourceUnavailableError):
        sync_once(make_context(mapping, mssql, orders_db, run_id="bad", source_overrides=refused))
    return orders_db


def read(dsn: str) -> status_data.TableStatus:
    with psycopg.connect(dsn) as conn:
        (status,) = status_data.read_statuses(conn, [OPEN_ORDERS])
    return status


def test_mapping_targets_come_from_the_mapping_files():
    targets = status_data.mapping_targets(REPO_ROOT / "include" / "mappings")
    assert OPEN_ORDERS in targets


def test_a_database_without_history_reads_never(orders_db):
    status = read(orders_db)
    assert (status.table_name, status.freshness, status.runs) == ("public.open_orders", "never", ())
    assert status.last_success_at is None


def test_fresh_success_then_failure(synced_twice):
    status = read(synced_twice)
    assert status.freshness == "synced"
    assert status.minutes_since_success == 0
    assert status.rows_in_table == SEED_ROWS
    assert (status.last_rows_inserted, status.last_rows_updated, status.last_rows_deleted) == (
        SEED_ROWS,
        0,
        0,
    )
    assert status.last_attempt_status == "failed"
    assert status.last_error_class == "SourceUnavailableError"
    assert "SQL Server unavailable" in status.last_error
    assert [run.status for run in status.runs] == ["success", "failed"]
    assert status.runs[0].rows == SEED_ROWS and status.runs[0].duration_seconds > 0


@pytest.mark.parametrize(("minutes", "freshness"), [(9, "synced"), (15, "stale"), (45, "error")])
def test_freshness_follows_the_age_of_the_last_success(synced_twice, minutes, freshness):
    shift_history(synced_twice, minutes)
    status = read(synced_twice)
    assert status.freshness == freshness
    assert status.minutes_since_success == minutes
    assert status.minutes_since_attempt == minutes


def test_tables_known_only_to_the_history_are_listed(synced_twice):
    with psycopg.connect(synced_twice, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO table_sync.history (target_table, source, run_id, status) "
            "VALUES ('public.other_orders', 'x.y.z', 'r1', 'failed')"
        )
        statuses = status_data.read_statuses(conn, [OPEN_ORDERS])
    assert [(s.table_name, s.freshness) for s in statuses] == [
        ("public.open_orders", "synced"),
        ("public.other_orders", "never"),  # no status view of its own yet
    ]


def test_json_form_is_plain_json_with_utc_times(synced_twice):
    document = json.loads(json.dumps(read(synced_twice).as_json()))
    assert document["freshness"] == "synced"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", document["last_success_at"])
    assert [run["status"] for run in document["runs"]] == ["success", "failed"]


def test_page_shows_badge_counts_error_and_chart(synced_twice):
    shift_history(synced_twice, 15)
    html = render_page([read(synced_twice)])
    assert 'class="badge badge-stale" data-freshness="stale">⚠ Stale<' in html
    assert "15 minutes ago" in html
    assert f"{SEED_ROWS:,} inserted, 0 updated, 0 deleted" in html
    assert "SourceUnavailableError: SQL Server unavailable" in html
    assert html.count('<rect class="run run-') == 2
    assert not re.search(r"(src|href)=|url\(|<script|<link", html)  # nothing is fetched


def test_never_is_shown_as_a_red_error():
    now = dt.datetime.now(dt.UTC)
    status = status_data.TableStatus(table_name="public.open_orders", freshness="never", checked_at=now)
    html = render_page([status])
    assert 'class="badge badge-error" data-freshness="never">✗ Error<' in html
    assert "never synced" in html and "No runs recorded yet." in html


def test_chart_marks_failures_and_escapes_text():
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    runs = [
        status_data.RunPoint(start, "success", 2.0, 10, None),
        status_data.RunPoint(start, "failed", 1.0, None, "Boom<script>"),
        status_data.RunPoint(start, "running", None, None, None),
    ]
    svg = run_chart_svg(runs, "Last 3 runs")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("✗") == 1
    assert 'fill="#c62828"' in svg
    assert "<script>" not in svg and "Boom&lt;script&gt;" in svg
    assert "unfinished" in svg


def test_unreachable_database_is_a_message_without_the_password(monkeypatch):
    closed_port = {
        "conn_type": "postgres",
        "host": "127.0.0.1",
        "port": 1,
        "login": "demo",
        "password": "demo-password-unreachable",
        "schema": "orders",
    }
    monkeypatch.setenv("AIRFLOW_CONN_POSTGRES_ORDERS", json.dumps(closed_port))
    report = collect_report()
    assert report.statuses == []
    (message,) = report.unavailable
    assert "public.open_orders" in message and "'postgres_orders'" in message
    assert "OperationalError" in message
    assert "demo-password-unreachable" not in message
    assert "Status unavailable." in render_page(report.statuses, report.unavailable)
