"""The Sync status page in headless Chromium, served by the real ``airflow api-server``.

Each freshness state is produced for real: an empty database (never), an ``airflow dags test``
run and engine runs (synced, with a failed attempt in the chart), then the history moved into the
past (stale, error). The orders database is reached through a TCP relay that the test can cut,
so the page's "database unreachable" message is shown by the real server too.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from include.table_sync.errors import SourceUnavailableError
from include.table_sync.pipeline import sync_once
from tests.conftest import REPO_ROOT
from tests.sync.support import make_context, open_orders_mapping
from tests.ui.servers import ApiServer, TcpRelay
from tests.ui.support import shift_history

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
# What the brief for running Chromium as root asks; --headless and the profile dir come from
# Playwright's own launch options.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "sync-status"
SEED_ROWS = 400
# Badge colours of the page's CSS, as the browser computes them.
GREEN, YELLOW, RED = "rgb(46, 125, 50)", "rgb(249, 168, 37)", "rgb(198, 40, 40)"
PAGE = "/sync-status/"


@pytest.fixture(scope="module")
def relay(stack):
    with TcpRelay(stack.postgres.host, stack.postgres.port) as tcp_relay:
        yield tcp_relay


@pytest.fixture(scope="module")
def server(stack, relay):
    """The API server, reading the orders database through the relay."""
    postgres_orders = json.loads(stack.connection_env()["AIRFLOW_CONN_POSTGRES_ORDERS"])
    postgres_orders.update(host="127.0.0.1", port=relay.port)
    extra_env = {"AIRFLOW_CONN_POSTGRES_ORDERS": json.dumps(postgres_orders)}
    with ApiServer(stack, ARTIFACTS / "api-server.log", extra_env) as api_server:
        yield api_server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    profile = Path(tempfile.mkdtemp(prefix="oos-chromium-"))
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1100, "height": 900},
        )
        context.set_default_timeout(60_000)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def fresh_orders_db(stack):
    """The stack's orders database without table or history; the source seeded."""
    stack.seed_source(SEED_ROWS, seed=9)
    with psycopg.connect(stack.orders_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.open_orders")
        conn.execute("DROP SCHEMA IF EXISTS table_sync CASCADE")
    return stack.orders_dsn


class OpenedPage:
    """A page load with everything the browser reported while loading it."""

    def __init__(self, context, url: str):
        self.console_errors: list[str] = []
        page = context.new_page()
        page.on(
            "console", lambda message: message.type == "error" and self.console_errors.append(message.text)
        )
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        self.response = page.goto(url, wait_until="load")
        self.page = page

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)

    def badge(self, table: str = "public.open_orders") -> tuple[str, str]:
        badge = self.page.locator(f'section[data-table="{table}"] .badge')
        colour = badge.evaluate("element => getComputedStyle(element).backgroundColor")
        return badge.inner_text().strip(), colour

    def text(self) -> str:
        return self.page.locator("body").inner_text()

    def close(self) -> None:
        self.page.close()


def open_status_page(browser, server, state: str) -> OpenedPage:
    opened = OpenedPage(browser, server.base_url + PAGE)
    assert opened.response.status == 200, server.log_tail()
    opened.screenshot(f"sync-status-{state}.png")
    return opened


def test_the_page_walks_through_never_synced_stale_and_error(browser, server, stack, fresh_orders_db):
    states = {}

    opened = open_status_page(browser, server, "never")
    states["never"] = opened.badge()
    assert "never synced" in opened.text()
    assert opened.console_errors == []
    opened.close()

    stack.airflow("dags", "test", "sync_open_orders", quiet=True)
    mapping = open_orders_mapping()
    sync_once(make_context(mapping, stack.mssql, fresh_orders_db, run_id="ui-second"))
    with pytest.raises(SourceUnavailableError):
        refused = {"port": 1, "login_timeout": 2}
        sync_once(
            make_context(mapping, stack.mssql, fresh_orders_db, run_id="ui-failed", source_overrides=refused)
        )

    opened = open_status_page(browser, server, "synced")
    states["synced"] = opened.badge()
    text = opened.text()
    assert f"{SEED_ROWS:,}" in text
    assert f"{SEED_ROWS:,} inserted" not in text  # the last apply was the unchanged second run
    assert "0 inserted, 0 updated, 0 deleted" in text
    assert "failed" in text and "SQL Server unavailable" in text
    assert opened.page.locator("svg.run-chart rect.run").count() == 3
    assert opened.page.locator("svg.run-chart rect.run-failed").count() == 1
    assert opened.console_errors == []
    opened.close()

    shift_history(fresh_orders_db, 12)
    opened = open_status_page(browser, server, "stale")
    states["stale"] = opened.badge()
    assert re.search(r"\b1[234] minutes ago", opened.text())  # 12, later on a slow machine
    assert opened.console_errors == []
    opened.close()

    shift_history(fresh_orders_db, 30)
    opened = open_status_page(browser, server, "error")
    states["error"] = opened.badge()
    assert re.search(r"\b4[234] minutes ago", opened.text())
    assert opened.console_errors == []
    opened.close()

    assert states == {
        "never": ("✗ Error", RED),
        "synced": ("✓ Synced", GREEN),
        "stale": ("⚠ Stale", YELLOW),
        "error": ("✗ Error", RED),
    }


def test_json_endpoint_serves_the_same_status(server, fresh_orders_db):
    status, body = server.get("/sync-status/api/status")
    assert status == 200, body[:500]
    document = json.loads(body)
    (table,) = document["tables"]
    assert table["table_name"] == "public.open_orders"
    assert table["freshness"] in {"synced", "stale", "error", "never"}
    assert document["errors"] == []


def test_unreachable_database_is_a_message_and_a_503(browser, server, relay, stack):
    relay.cut()
    try:
        opened = open_status_page(browser, server, "unreachable")
        alert = opened.page.locator('[role="alert"]').inner_text()
        assert "Status unavailable." in alert and "'postgres_orders'" in alert
        assert "Traceback" not in opened.text()
        assert stack.password not in opened.page.content()
        opened.close()
        status, body = server.get("/sync-status/api/status")
    finally:
        relay.restore()
    assert status == 503
    document = json.loads(body)
    assert document["tables"] == [] and "postgres_orders" in document["errors"][0]


def test_sync_status_is_in_the_plugin_list_and_the_navigation(browser, server):
    status, body = server.get("/api/v2/plugins")
    assert status == 200
    (plugin,) = [p for p in json.loads(body)["plugins"] if p["name"] == "sync_status"]
    assert [app["url_prefix"] for app in plugin["fastapi_apps"]] == ["/sync-status"]
    (view,) = plugin["external_views"]
    assert (view["name"], view["href"], view["destination"]) == ("Sync status", PAGE, "nav")

    # The Airflow UI shows the page in its frame under the view's route.
    opened = OpenedPage(browser, server.base_url + "/plugin/sync-status")
    frame = opened.page.frame_locator("iframe")
    assert frame.locator("h1").inner_text() == "Sync status"
    assert frame.locator("section.table-status .badge").count() == 1
    opened.screenshot("airflow-ui-frame.png")
    # ... and lists it in its navigation, under Browse.
    opened.page.get_by_role("button", name="Browse").click()
    assert opened.page.get_by_role("menuitem", name="Sync status").is_visible()
    opened.screenshot("airflow-ui-browse-menu.png")
    opened.close()
