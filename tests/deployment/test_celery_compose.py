"""The Airflow part of docker-compose.yaml, executed natively: CeleryExecutor on two workers.

The environment is the file's own ``x-airflow-common`` block, interpolated from .env.example
with this test's passwords, with every compose service host name mapped to the local server
that plays it: ``postgres`` and ``orders-db`` the embedded PostgreSQL (one server: Airflow's
metadata in database ``airflow`` owned by role ``airflow``, as in the compose file), ``redis``
a real ``redis-server``, ``mssql`` the SQL Server emulator, ``airflow-apiserver`` the local API
server. On top of it only what the image itself provides (Airflow home, DAG and plugin folders,
PYTHONPATH) and two local timings (below). Then what airflow-init does (migrate, create the
admin), the api-server, scheduler, DAG processor and triggerer, and two ``airflow celery worker``
processes with different host names, each in its own working directory with its own Airflow home
and task logs.

1. The DAG is unpaused through the REST API with the admin's login; its first scheduled run
   loads the source.
2. The source changes; a manual run's extract is held by an emulator stall; the worker running
   it is killed with SIGKILL (its whole session, task processes included, as ``docker kill``
   stops a container). The table must stay as it was; the scheduler finds the task's heartbeat
   gone, and the retry runs on the other worker, held in turn so that it is seen running; the
   run ends green, each change applied once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql
from psycopg.rows import dict_row

from devtools.airflow_services import ALL_SERVICES, AirflowServices, free_port, session_members
from devtools.demo_source.generate import apply_changes
from devtools.redis_server import RedisServer
from devtools.stack import REPO_ROOT, EmbeddedStack, airflow_bin
from tests.sync.support import (
    expected_target_row,
    open_orders_mapping,
    source_rows_as_text,
    table_checksum,
    target_rows,
)
from tests.test_compose import COMPOSE_FILE, ENV_EXAMPLE, interpolate_tree, read_env_file

pytestmark = pytest.mark.slow

DAG_ID = "sync_open_orders"
PASSWORD = "demo-password-celery-8Rb"
SEED_ROWS = 300
CHANGES = {"inserts": 9, "updates": 12, "deletes": 6}
WORKERS = ("worker-a", "worker-b")
STALL_MS = 60_000
# The retry is held too, so that it is seen running (its extract takes about a second) and the
# table can be read while it runs.
RETRY_STALL_MS = 10_000
WAIT_SECONDS = 240
# Local timings only, not compose settings: the scheduler gives a silent task up after 20 s
# instead of 5 minutes, so the killed worker's task is retried within the test's time.
LOCAL_TIMINGS = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
}
URL_HOST = re.compile(
    r"(?P<prefix>[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?)(?P<host>[A-Za-z0-9_.-]+)(?::(?P<port>\d+))?"
)


def localize(value: str, addresses: dict[str, tuple[str, int]]) -> str:
    """``value`` with compose service names (in URLs and connection JSON) mapped to local addresses."""
    with contextlib.suppress(ValueError):
        connection = json.loads(value)
        if isinstance(connection, dict) and connection.get("host") in addresses:
            connection["host"], connection["port"] = addresses[connection["host"]]
            return json.dumps(connection)

    def local(match: re.Match) -> str:
        if match["host"] not in addresses:
            return match[0]
        host, port = addresses[match["host"]]
        return f"{match['prefix']}{host}:{port}"

    return URL_HOST.sub(local, value)


def compose_environment(dot_env: dict[str, str], addresses: dict[str, tuple[str, int]]) -> dict[str, str]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    environment = interpolate_tree(compose["x-airflow-common"]["environment"], dot_env)
    # A key without a value is passed through only when set in .env or the shell (it is not here).
    return {key: localize(str(value), addresses) for key, value in environment.items() if value is not None}


def airflow_init_environment(dot_env: dict[str, str]) -> dict[str, str]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return interpolate_tree(compose["services"]["airflow-init"]["environment"], dot_env)


def image_layout(home: Path) -> dict[str, str]:
    """What the official image and the Dockerfile provide; compose's environment relies on it."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "PYTHONPATH": str(REPO_ROOT),
    }


def give_airflow_its_own_role(stack: EmbeddedStack, password: str) -> None:
    """The compose file's metadata database belongs to role ``airflow``, not to the orders user."""
    with psycopg.connect(stack.postgres.dsn("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE airflow LOGIN PASSWORD {}").format(sql.Literal(password)),
        )
        conn.execute("ALTER DATABASE airflow OWNER TO airflow")
    with psycopg.connect(stack.postgres.dsn("airflow"), autocommit=True) as conn:
        conn.execute("ALTER SCHEMA public OWNER TO airflow")


def run_healthcheck(service: str, env: dict[str, str], localhost_port: int | None = None) -> tuple[int, str]:
    """The compose file's healthcheck of ``service``, run here as Docker would run it in the container."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    kind, *command = compose["services"][service]["healthcheck"]["test"]
    command = [text.replace("$$", "$") for text in command]
    if localhost_port is not None:  # the container's own port, moved to a free one here
        command = [localize(text, {"localhost": ("127.0.0.1", localhost_port)}) for text in command]
    args = ["sh", "-c", command[0]] if kind == "CMD-SHELL" else command
    path = os.pathsep.join([str(Path(airflow_bin()).parent), env.get("PATH", "")])
    result = subprocess.run(
        args, env={**env, "PATH": path}, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    return result.returncode, (result.stdout + result.stderr)[-2000:]


def run_airflow(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [airflow_bin(), *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"airflow {args[0]} exited {result.returncode}:\n{output[-3000:]}"
    return output


class Api:
    """The REST API of the local API server, logged in as compose's admin user."""

    def __init__(self, base_url: str, user: str, password: str):
        self.base_url = base_url
        self.user, self.password = user, password
        self.token: str | None = None

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = "login"):
        if token == "login":
            token = self.token = self.token or self.login()
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def login(self) -> str:
        status, body = self.call(
            "POST", "/auth/token", {"username": self.user, "password": self.password}, token=None
        )
        assert status in (200, 201), f"login as {self.user} failed: {status} {body}"
        return body["access_token"]


def wait_until(services: AirflowServices, what: str, probe, timeout: float = WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while True:
        services.check_alive()
        if result := probe():
            return result
        if time.monotonic() > deadline:
            tails = "\n".join(
                f"--- {name} ---\n{services.log_tail(name)}" for name in ("scheduler", *WORKERS)
            )
            raise TimeoutError(f"waited {timeout:.0f} s for {what}\n{tails}")
        time.sleep(2)


def metadata(stack: EmbeddedStack, query: str, params=()) -> list[dict]:
    with psycopg.connect(stack.postgres.dsn("airflow"), row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def run_state(stack: EmbeddedStack, run_id: str) -> str | None:
    rows = metadata(stack, "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (DAG_ID, run_id))
    return rows[0]["state"] if rows else None


def finished(stack: EmbeddedStack, run_id: str) -> str | None:
    state = run_state(stack, run_id)
    return state if state in ("success", "failed") else None


def tries(stack: EmbeddedStack, run_id: str) -> list[dict]:
    """Every try of every task of ``run_id``: earlier tries from the history table, then the last."""
    return metadata(
        stack,
        "SELECT task_id, try_number, state, hostname FROM task_instance_history "
        "WHERE dag_id = %(dag)s AND run_id = %(run)s "
        "UNION ALL SELECT task_id, try_number, state, hostname FROM task_instance "
        "WHERE dag_id = %(dag)s AND run_id = %(run)s ORDER BY task_id, try_number",
        {"dag": DAG_ID, "run": run_id},
    )


def sync_attempts(stack: EmbeddedStack) -> list[dict]:
    with (
        contextlib.suppress(psycopg.errors.UndefinedTable),
        psycopg.connect(stack.orders_dsn, row_factory=dict_row) as conn,
    ):
        return conn.execute("SELECT * FROM table_sync.history ORDER BY id").fetchall()
    return []


def running_extract(stack: EmbeddedStack, run_id: str) -> dict | None:
    """The run's extract while it is held: its running attempt and the worker running it."""
    attempt = next(
        (row for row in sync_attempts(stack) if row["run_id"] == run_id and row["status"] == "running"), None
    )
    task = metadata(
        stack,
        "SELECT hostname, try_number FROM task_instance "
        "WHERE dag_id = %s AND run_id = %s AND task_id = 'extract' AND state = 'running'",
        (DAG_ID, run_id),
    )
    if attempt and task and task[0]["hostname"]:
        return {**attempt, **task[0]}
    return None


def arm_extract_stall(stack: EmbeddedStack, ms: int) -> None:
    """The next result set of 10 rows or more (the next extract's schema check) pauses after its 10th."""
    with contextlib.closing(stack.source_connection()) as conn:
        conn.autocommit(True)
        conn.cursor().execute(
            f"EXEC emulator.inject_fault @kind = N'stall_after_rows', @rows = 10, @ms = {ms}"
        )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    root = tmp_path_factory.mktemp("celery-compose")
    dot_env = {
        **read_env_file(ENV_EXAMPLE),
        "AIRFLOW_DB_PASSWORD": PASSWORD,
        "AIRFLOW_ADMIN_PASSWORD": PASSWORD,
        "MSSQL_PASSWORD": PASSWORD,
        "ORDERS_DB_PASSWORD": PASSWORD,
    }
    facts: dict = {"root": root}
    with (
        EmbeddedStack(seed_rows=SEED_ROWS, seed=23, password=PASSWORD, migrate=False) as stack,
        RedisServer() as redis,
    ):
        give_airflow_its_own_role(stack, PASSWORD)
        api_port = free_port()
        addresses = {
            "postgres": (stack.postgres.host, stack.postgres.port),
            "orders-db": (stack.postgres.host, stack.postgres.port),
            "redis": (redis.host, redis.port),
            "mssql": (stack.mssql.host, stack.mssql.port),
            "airflow-apiserver": ("127.0.0.1", api_port),
        }
        compose_env = compose_environment(dot_env, addresses)
        facts["compose_env"] = compose_env
        env = {
            **{key: value for key, value in stack.env().items() if not key.startswith("AIRFLOW")},
            **image_layout(root / "airflow-home"),
            **compose_env,
            **LOCAL_TIMINGS,
        }

        # airflow-init: what the image's entrypoint does for _AIRFLOW_DB_MIGRATE and _AIRFLOW_WWW_USER_*.
        init = airflow_init_environment(dot_env)
        assert init["_AIRFLOW_DB_MIGRATE"] == "true" and init["_AIRFLOW_WWW_USER_CREATE"] == "true"
        admin = (init["_AIRFLOW_WWW_USER_USERNAME"], init["_AIRFLOW_WWW_USER_PASSWORD"])
        run_airflow(env, "db", "migrate")
        run_airflow(
            env,
            *("users", "create", "--role", "Admin", "--username", admin[0], "--password", admin[1]),
            *("--firstname", "Airflow", "--lastname", "Admin", "--email", "admin@example.invalid"),
        )

        started = time.monotonic()
        with AirflowServices(
            env, root / "service-logs", api_port=api_port, services=ALL_SERVICES
        ) as services:
            services.start_all()
            for worker in WORKERS:
                services.start_worker(worker, root / worker)
            services.wait_for_api(timeout=300)
            phases = {"services up": time.monotonic() - started}
            api = Api(f"http://127.0.0.1:{api_port}", *admin)
            facts["anonymous_status"] = api.call("GET", f"/api/v2/dags/{DAG_ID}", token=None)[0]
            wait_until(
                services,
                "the DAG processor to store the DAG",
                lambda: metadata(stack, "SELECT 1 FROM dag WHERE dag_id = %s", (DAG_ID,)),
            )
            facts["unpause"] = api.call("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})

            # 1. The first scheduled run loads the source.
            first = wait_until(
                services,
                "the first scheduled run",
                lambda: metadata(
                    stack,
                    "SELECT run_id FROM dag_run WHERE dag_id = %s AND run_type = 'scheduled'",
                    (DAG_ID,),
                ),
            )[0]["run_id"]
            facts["first_state"] = wait_until(
                services, "the first run to end", lambda: finished(stack, first)
            )
            facts["first_tries"] = tries(stack, first)
            phases["first run done"] = time.monotonic() - started
            facts["healthchecks"] = {
                worker: run_healthcheck("airflow-worker", {**env, "HOSTNAME": worker}) for worker in WORKERS
            }
            facts["healthchecks"]["airflow-scheduler"] = run_healthcheck(
                "airflow-scheduler",
                env,
                localhost_port=int(services.env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"]),
            )

            # 2. Change the source, hold the next extract, kill its worker.
            with contextlib.closing(stack.source_connection()) as conn:
                facts["changes"] = apply_changes(conn, seed=404, **CHANGES)
            facts["checksum_before"] = table_checksum(stack.orders_dsn)
            arm_extract_stall(stack, STALL_MS)
            status, body = api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None})
            assert status == 200, body
            second = body["dag_run_id"]
            held = wait_until(services, "the held extract", lambda: running_extract(stack, second))
            facts["held"] = held
            killed_session = services.processes[held["hostname"]].pid
            services.kill(held["hostname"])
            facts["survivors"] = session_members(killed_session)
            phases["worker killed"] = time.monotonic() - started
            facts["checksum_after_kill"] = table_checksum(stack.orders_dsn)
            arm_extract_stall(stack, RETRY_STALL_MS)
            retry = wait_until(
                services,
                "the retry of extract",
                lambda: metadata(
                    stack,
                    "SELECT hostname, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s "
                    "AND task_id = 'extract' AND try_number > %s AND state = 'running'",
                    (DAG_ID, second, held["try_number"]),
                ),
            )[0]
            facts["checksum_at_retry"] = table_checksum(stack.orders_dsn)
            phases["retry running"] = time.monotonic() - started
            facts["retry"] = retry
            facts["second_state"] = wait_until(
                services, "the killed run to end", lambda: finished(stack, second)
            )
            phases["killed run done"] = time.monotonic() - started
            facts["phases"] = phases
            facts["second_tries"] = tries(stack, second)
            facts["second_run"] = second
            facts["history"] = sync_attempts(stack)
            mapping = open_orders_mapping()
            facts["expected_rows"] = {
                key: expected_target_row(mapping, raw)
                for key, raw in source_rows_as_text(stack.mssql, mapping).items()
            }
            facts["actual_rows"] = target_rows(stack.orders_dsn, mapping)
            with psycopg.connect(stack.orders_dsn) as conn:
                facts["row_count"] = conn.execute("SELECT count(*) FROM public.open_orders").fetchone()[0]
            facts["executors"] = {
                row["executor"]
                for row in metadata(
                    stack, "SELECT DISTINCT executor FROM task_instance WHERE dag_id = %s", (DAG_ID,)
                )
            }
            facts["worker_logs"] = {
                worker: sorted(
                    str(path.relative_to(root / worker / "logs"))
                    for path in (root / worker / "logs").rglob("*.log")
                )
                for worker in WORKERS
            }
    facts["all_logs"] = "\n".join(
        path.read_text(errors="replace") for path in root.rglob("*.log") if path.is_file()
    )
    return facts


def test_the_compose_environment_is_the_one_that_ran(scenario):
    env = scenario["compose_env"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")
    assert "airflow-apiserver" not in env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    assert scenario["executors"] <= {"CeleryExecutor", None}


def test_the_compose_healthchecks_pass(scenario):
    for name, (returncode, output) in scenario["healthchecks"].items():
        assert returncode == 0, f"{name}: {output}"
    for worker in WORKERS:
        assert f"celery@{worker}: OK" in scenario["healthchecks"][worker][1]


def test_the_api_needs_the_admin_login(scenario):
    assert scenario["anonymous_status"] == 401
    status, dag = scenario["unpause"]
    assert status == 200 and dag["is_paused"] is False, dag


def test_the_first_run_ran_on_the_celery_workers(scenario, capsys):
    assert scenario["first_state"] == "success", scenario["first_tries"]
    hosts = {(row["task_id"], row["hostname"]) for row in scenario["first_tries"]}
    with capsys.disabled():
        print(
            f"\ncelery compose: first run's tasks ran on {sorted(hosts)}; "
            + ", ".join(f"{name} at {seconds:.0f} s" for name, seconds in scenario["phases"].items())
        )
    assert {task for task, _ in hosts} == {"extract", "validate", "replace", "cleanup"}
    assert {host for _, host in hosts} <= set(WORKERS)


def test_the_killed_run_ran_on_both_workers_and_ended_green(scenario):
    held, retry = scenario["held"], scenario["retry"]
    assert held["stage"] == "extract", held
    assert held["hostname"] in WORKERS and retry["hostname"] in WORKERS
    assert retry["hostname"] != held["hostname"], "the retry ran on the killed worker"
    assert scenario["second_state"] == "success", scenario["second_tries"]
    extract_tries = [row for row in scenario["second_tries"] if row["task_id"] == "extract"]
    assert [row["hostname"] for row in extract_tries][:1] == [held["hostname"]]
    assert extract_tries[-1]["hostname"] == retry["hostname"] and extract_tries[-1]["state"] == "success"
    assert {row["hostname"] for row in scenario["second_tries"]} == set(WORKERS)
    # Each worker kept its task logs on its own disk: the killed try on one, the retry on the other.
    killed_logs, retry_logs = (
        scenario["worker_logs"][host] for host in (held["hostname"], retry["hostname"])
    )
    run = scenario["second_run"]
    assert any(run in path and "task_id=extract" in path for path in killed_logs), killed_logs
    assert any(run in path and "task_id=validate" in path for path in retry_logs), retry_logs
    assert not any(run in path and "task_id=validate" in path for path in killed_logs)


def test_the_killed_extract_left_the_table_untouched(scenario):
    # Its task process went with the worker, as in a killed container: nothing left to finish it.
    assert scenario["survivors"] == []
    assert scenario["checksum_after_kill"] == scenario["checksum_before"]
    assert scenario["checksum_at_retry"] == scenario["checksum_before"]


def test_each_change_was_applied_once_and_the_table_equals_the_source(scenario):
    run = scenario["second_run"]
    attempts = [row for row in scenario["history"] if row["run_id"] == run]
    held = next(row for row in attempts if row["id"] == scenario["held"]["id"])
    assert held["status"] in ("abandoned", "failed"), held
    successes = [row for row in attempts if row["status"] == "success"]
    assert len(successes) == 1, attempts
    changes = scenario["changes"]
    assert (successes[0]["rows_inserted"], successes[0]["rows_updated"], successes[0]["rows_deleted"]) == (
        len(changes.inserted),
        len(changes.updated),
        len(changes.deleted),
    )
    assert scenario["actual_rows"] == scenario["expected_rows"]
    assert (
        scenario["row_count"]
        == len(scenario["actual_rows"])
        == SEED_ROWS + CHANGES["inserts"] - CHANGES["deletes"]
    )
    assert successes[0]["rows_in_table"] == scenario["row_count"]


def test_passwords_appear_in_no_log(scenario):
    assert "applied +" in scenario["all_logs"]  # the haystack holds the task logs
    for line in scenario["all_logs"].splitlines():
        assert PASSWORD not in line, line
