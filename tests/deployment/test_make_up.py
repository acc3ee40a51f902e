"""`make up` as a newcomer runs it: the command itself, its one line, its UI, its Ctrl-C.

One scenario: `make up` starts in its own process group (a terminal's foreground job); the test
waits for the line with the UI's URL and the login, logs in through the UI's form and through the
token endpoint, waits for the first scheduled run to succeed, reads the Sync status page, and
then sends SIGINT to the group, as Ctrl-C does. Every process `make up` started carries a marker
in its environment, so the test can tell that none is left.
"""

from __future__ import annotations

import contextlib
import html.parser
import http.cookiejar
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from devtools.airflow_services import free_port
from devtools.stack import DEMO_PASSWORD, DEMO_USER
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

DAG_ID = "sync_open_orders"
MARKER_VARIABLE = "OOS_MAKE_UP_TEST_MARKER"
READY_SECONDS = 420
RUN_SECONDS = 240
STOP_SECONDS = 150
URL_LINE = re.compile(r"Airflow UI: (?P<url>http://\S+/) - log in as (?P<user>\S+) / (?P<password>\S+);")


def marked_processes(marker: str) -> list[str]:
    """Processes whose environment holds ``marker``: whatever `make up` started and left."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "environ").read_bytes():
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name}: {command}")
    return found


class LoginForm(html.parser.HTMLParser):
    """The hidden fields (the CSRF token) and the action of the UI's login form."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.hidden: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attributes.get("action") or ""
        if tag == "input" and attributes.get("type") == "hidden":
            self.hidden[attributes["name"]] = attributes.get("value") or ""


def http_request(url: str, *, opener=None, data: bytes | None = None, headers: dict | None = None):
    """Status and body; an HTTP error status is returned, not raised."""
    opener = opener or urllib.request.build_opener()
    try:
        with opener.open(
            urllib.request.Request(url, data=data, headers=headers or {}), timeout=60
        ) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def token(base_url: str, user: str, password: str) -> tuple[int, str | None]:
    status, body = http_request(
        f"{base_url}auth/token",
        data=json.dumps({"username": user, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    return status, (json.loads(body)["access_token"] if status in (200, 201) else None)


@pytest.fixture(scope="module")
def make_up():
    marker = uuid.uuid4().hex
    port = free_port()
    process = subprocess.Popen(
        ["make", "-s", "up", f"UP_ARGS=--port {port} --change-every 20"],
        cwd=REPO_ROOT,
        env={**os.environ, MARKER_VARIABLE: marker},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def read_output():
        for line in process.stdout:
            output.append(line)
            lines.put(line)

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    facts = {"marker": marker, "port": port, "process": process, "output": output}

    def stop():
        if process.poll() is None:
            stop_started = time.monotonic()
            os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
            try:
                facts["returncode"] = process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                facts["returncode"] = None
            facts["stop_seconds"] = time.monotonic() - stop_started
        reader.join(timeout=10)
        facts["left_behind"] = marked_processes(marker)

    facts["stop"] = stop
    started = time.monotonic()
    try:
        deadline = time.monotonic() + READY_SECONDS
        while (match := URL_LINE.search("".join(output))) is None:
            assert process.poll() is None, "make up exited early:\n" + "".join(output)
            assert time.monotonic() < deadline, "make up printed no URL line:\n" + "".join(output)
            with contextlib.suppress(queue.Empty):
                lines.get(timeout=1)
        facts.update(match.groupdict())
        facts["started"] = time.monotonic()
        facts["ready_seconds"] = facts["started"] - started
        yield facts
    finally:
        stop()
        for line in facts["left_behind"]:  # never leave them running for the next tests
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(line.split(":")[0]), signal.SIGKILL)


def test_one_line_tells_where_the_ui_is_and_how_to_log_in(make_up):
    assert make_up["url"] == f"http://127.0.0.1:{make_up['port']}/"
    assert (make_up["user"], make_up["password"]) == (DEMO_USER, DEMO_PASSWORD)
    assert len([line for line in make_up["output"] if "log in as" in line]) == 1


def test_the_ui_logs_in_through_its_form(make_up):
    base_url = make_up["url"]
    cookies = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    status, page = http_request(f"{base_url}auth/login/", opener=browser)
    assert status == 200 and 'name="password"' in page, page[:500]
    form = LoginForm()
    form.feed(page)
    fields = {**form.hidden, "username": make_up["user"], "password": make_up["password"]}
    action = urllib.parse.urljoin(f"{base_url}auth/login/", form.action or "")

    wrong = {**fields, "password": "not-the-demo-password"}
    http_request(action, opener=browser, data=urllib.parse.urlencode(wrong).encode())
    assert http_request(f"{base_url}sync-status/api/status", opener=browser)[0] == 401

    http_request(action, opener=browser, data=urllib.parse.urlencode(fields).encode())
    status, body = http_request(f"{base_url}sync-status/api/status", opener=browser)
    assert status == 200, body[:500]
    status, page = http_request(f"{base_url}sync-status/", opener=browser)
    assert status == 200 and "open_orders" in page


def test_the_api_and_the_status_page_need_a_login(make_up):
    base_url = make_up["url"]
    assert token(base_url, make_up["user"], "not-the-demo-password")[0] == 401
    for path in ("sync-status/api/status", "sync-status/", f"api/v2/dags/{DAG_ID}"):
        assert http_request(f"{base_url}{path}")[0] == 401, path
    status, access_token = token(base_url, make_up["user"], make_up["password"])
    assert status in (200, 201) and access_token
    status, body = http_request(
        f"{base_url}api/v2/dags/{DAG_ID}", headers={"Authorization": f"Bearer {access_token}"}
    )
    assert status == 200, body[:500]
    dag = json.loads(body)
    assert dag["is_paused"] is False
    assert dag["timetable_summary"] == "*/5 * * * *"


def test_a_scheduled_run_succeeds_and_the_status_page_shows_it(make_up):
    base_url = make_up["url"]
    headers = {"Authorization": f"Bearer {token(base_url, make_up['user'], make_up['password'])[1]}"}
    deadline = make_up["started"] + RUN_SECONDS
    while True:
        assert make_up["process"].poll() is None, "make up exited:\n" + "".join(make_up["output"])
        status, body = http_request(f"{base_url}api/v2/dags/{DAG_ID}/dagRuns", headers=headers)
        assert status == 200, body[:500]
        runs = json.loads(body)["dag_runs"]
        if any(run["state"] == "success" for run in runs):
            break
        assert not any(run["state"] == "failed" for run in runs), runs
        assert time.monotonic() < deadline, f"no successful run in {RUN_SECONDS} s: {runs}"
        time.sleep(3)
    assert {run["run_type"] for run in runs} == {"scheduled"}, runs

    status, body = http_request(f"{base_url}sync-status/api/status", headers=headers)
    assert status == 200, body[:500]
    (table,) = json.loads(body)["tables"]
    assert table["table_name"] == "public.open_orders"
    assert table["freshness"] == "synced"
    assert table["last_attempt_status"] == "success"
    # The source changes only after the first run, which loads the 5,000 seeded rows.
    assert table["rows_in_table"] == 5000
    first = next(line for line in make_up["output"] if line.startswith("run "))
    assert re.match(r"run scheduled__\S+: success, \+5000 ~0 -0, 5000 rows", first), first


def test_the_demo_source_changes_a_few_rows(make_up):
    deadline = time.monotonic() + 90
    while not any(line.startswith("source changed:") for line in make_up["output"]):
        assert time.monotonic() < deadline, "".join(make_up["output"])
        time.sleep(2)
    line = next(line for line in make_up["output"] if line.startswith("source changed:"))
    inserted, updated, deleted = map(int, re.findall(r"(\d+) (?:inserted|updated|deleted)", line))
    assert inserted > 0 and updated > 0 and deleted > 0, line


# Last in this module (pytest keeps file order): it stops `make up`.
def test_ctrl_c_stops_everything_make_up_started(make_up, capsys):
    assert marked_processes(make_up["marker"]), "the marker is not in the processes' environment"
    make_up["stop"]()
    with capsys.disabled():
        print(
            f"\nmake up: ready in {make_up['ready_seconds']:.0f} s, stopped in {make_up['stop_seconds']:.0f} s"
        )
    assert make_up["returncode"] is not None, "make up did not stop within {STOP_SECONDS} s"
    assert make_up["left_behind"] == []
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", make_up["port"])) != 0, "the UI still answers"
    assert "stopped; everything make up started is gone" in "".join(make_up["output"])
