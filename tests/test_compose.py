"""Offline checks of the docker-compose stack.

No Docker engine runs where these tests run, so the compose file is checked by reading it:
against the Compose Specification's JSON Schema (from the shared folder beside the
repository), and for the wiring compose itself would only discover at `up` time: missing
services, volumes and files, unset variables, connection ids, image version, secrets.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pymssql
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
# CI clones the repository into some folder with shared/ beside it, as on a developer's machine.
SCHEMA_FILE = REPO_ROOT.parent / "shared" / "schemas" / "compose-spec.json"

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
}
EXPECTED_CONNECTIONS = {
    "AIRFLOW_CONN_MSSQL_SAP": "mssql_sap",
    "AIRFLOW_CONN_POSTGRES_ORDERS": "postgres_orders",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|_KEY$")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


# --- reading the files ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    if not SCHEMA_FILE.is_file():
        pytest.fail(
            f"Compose schema not found at {SCHEMA_FILE}: the tests expect the shared folder "
            "beside the repository (<parent>/shared/schemas/compose-spec.json)."
        )
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a .env file the way compose does for the simple forms used here."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, value = line.partition("=")
        assert separator, f"{path.name}: line without '=': {line!r}"
        values[name.strip()] = value.strip().strip('"').strip("'")
    return values


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


def interpolate(text: str, env: dict[str, str]) -> str:
    """Resolve ${...} references like compose; `$$` is a literal dollar for the container."""

    def resolve(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        is_set = name in env
        is_filled = bool(env.get(name))
        if op == ":?" and not is_filled or op == "?" and not is_set:
            raise LookupError(f"required variable {name} is not set: {arg}")
        if op == ":-" and not is_filled or op == "-" and not is_set:
            return arg
        return env.get(name, "")

    parts = text.split("$$")
    return "$".join(VARIABLE.sub(resolve, part) for part in parts)


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    return node


def environment_of(service: dict[str, Any]) -> dict[str, str | None]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (entry.partition("=") for entry in environment)
        return {name: value if sep else None for name, sep, value in pairs}
    return {name: None if value is None else str(value) for name, value in environment.items()}


def depends_on_of(service: dict[str, Any]) -> dict[str, str]:
    """Map each dependency to its condition (a plain list means service_started)."""
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return {name: "service_started" for name in depends_on}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in depends_on.items()}


def all_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from all_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_strings(item)


def volume_source_and_target(volume: str | dict[str, Any]) -> tuple[str, str]:
    """Source and target of a volume entry, with compose's defaults for ${...} applied."""
    if isinstance(volume, dict):
        return interpolate(volume.get("source", ""), {}), volume["target"]
    source, target = interpolate(volume, {}).split(":")[:2]
    return source, target


def is_bind_source(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of every bind mount."""
    pairs = (volume_source_and_target(volume) for volume in service.get("volumes") or [])
    return [(source, target) for source, target in pairs if is_bind_source(source)]


def repo_path_behind(service: dict[str, Any], container_path: str) -> Path | None:
    """The repository file that a bind mount shows at container_path, if any."""
    for source, target in bind_mounts(service):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return (REPO_ROOT / source / container_path[len(target) :].lstrip("/")).resolve()
    return None


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the Compose Specification --------------------------------------------------------------


def test_compose_file_follows_the_compose_specification(compose, schema):
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_schema_check_rejects_a_broken_compose_file(compose, schema):
    # Proves the schema check has teeth: the same file with two classic mistakes fails it.
    broken = copy.deepcopy(compose)
    broken["services"]["mssql"]["depends_on"] = {"orders-db": {"condition": "service_ready"}}
    broken["services"]["redis"]["healthcheck"]["interval"] = 10  # a duration must be "10s"
    broken["services"]["orders-db"]["depend_on"] = ["mssql"]
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(broken))
    paths = {"/".join(map(str, error.absolute_path)) for error in errors}
    assert paths == {
        "services/mssql/depends_on",
        "services/redis/healthcheck/interval",
        "services/orders-db",
    }, [error.message for error in errors]
    assert any("'depend_on'" in error.message for error in errors)


def test_every_required_variable_is_set_by_env_example(compose, schema, example_env):
    # With .env copied from .env.example, compose must resolve every ${VAR:?...} and the
    # resolved file must still follow the specification (ports, numbers in JSON, ...).
    resolved = interpolate_tree(compose, example_env)
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(resolved))
    assert not errors, [error.message for error in errors]


def test_missing_secret_stops_compose_with_a_message(compose, example_env):
    without_password = {k: v for k, v in example_env.items() if k != "MSSQL_PASSWORD"}
    with pytest.raises(LookupError, match="MSSQL_PASSWORD"):
        interpolate_tree(compose, without_password)


# --- services and their wiring --------------------------------------------------------------


def test_stack_has_the_airflow_components_and_both_databases(services):
    expected = AIRFLOW_SERVICES | {
        "postgres",
        "redis",
        "mssql",
        "mssql-init",
        "orders-db",
    }
    assert expected <= set(services)
    for name in AIRFLOW_SERVICES:
        assert environment_of(services[name])["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name


def test_every_dependency_exists_and_is_waited_for_properly(services):
    for name, service in services.items():
        for target, condition in depends_on_of(service).items():
            assert target in services, f"{name} depends on unknown service {target}"
            if condition == "service_healthy":
                assert "test" in (services[target].get("healthcheck") or {}), (
                    f"{name} waits for {target} to be healthy, but {target} has no healthcheck"
                )
            elif condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", (
                    f"{name} waits for {target} to finish, but {target} restarts"
                )
            else:
                pytest.fail(f"{name} starts with {target} without waiting ({condition})")


def test_every_service_is_either_healthchecked_or_a_one_shot(services):
    awaited_one_shots = {
        target
        for service in services.values()
        for target, condition in depends_on_of(service).items()
        if condition == "service_completed_successfully"
    }
    assert {"airflow-init", "mssql-init"} <= awaited_one_shots
    for name, service in services.items():
        if name in awaited_one_shots:
            assert "healthcheck" not in service, f"one-shot {name} needs no healthcheck"
            continue
        assert service.get("restart") == "always", f"long-running {name} should restart"
        healthcheck = service.get("healthcheck") or {}
        assert healthcheck.get("test") and not healthcheck.get("disable"), f"{name} has no healthcheck"


def test_airflow_waits_for_both_ends_of_the_sync(services):
    worker_waits_for = depends_on_of(services["airflow-worker"])
    assert worker_waits_for["mssql-init"] == "service_completed_successfully"
    assert worker_waits_for["orders-db"] == "service_healthy"
    assert depends_on_of(services["mssql-init"])["mssql"] == "service_healthy"
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert depends_on_of(services[name])["airflow-init"] == "service_completed_successfully"


def test_named_volumes_are_declared_and_used(compose, services):
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source, _target = volume_source_and_target(volume)
            if source and not is_bind_source(source):
                assert source in declared, f"{name} mounts undeclared volume {source}"
                used.add(source)
    assert declared == used, f"declared but unused: {declared - used}"


def test_databases_keep_their_data_in_volumes(services):
    data_dirs = {
        "postgres": "/var/lib/postgresql/data",
        "orders-db": "/var/lib/postgresql/data",
        "mssql": "/var/opt/mssql",
    }
    for name, data_dir in data_dirs.items():
        targets = [volume_source_and_target(volume)[1] for volume in services[name]["volumes"]]
        assert data_dir in targets, name


# --- files the stack needs ------------------------------------------------------------------


def test_build_context_dockerfile_and_bind_mounts_exist(compose, services):
    build = compose["x-airflow-common"]["build"]
    context = REPO_ROOT / (build if isinstance(build, str) else build.get("context", "."))
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (context / dockerfile).is_file()
    for name, service in services.items():
        for source, _target in bind_mounts(service):
            assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"


def test_dockerfile_copies_only_existing_files():
    copies = re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)$", DOCKERFILE.read_text(), re.MULTILINE)
    sources = [source for line in copies for source in line.split()[:-1]]
    assert {
        "requirements.txt",
        "constraints.txt",
        "dags/",
        "include/",
        "plugins/",
        "devtools/",
    } <= set(sources)
    missing = [source for source in sources if not (REPO_ROOT / source).exists()]
    assert not missing, f"Dockerfile copies files that are not in the repository: {missing}"


def test_mssql_init_runs_the_demo_script_and_generator(services):
    init = services["mssql-init"]
    command = "\n".join(all_strings(init["command"]))
    assert "python -m devtools.demo_source.generate --rows 5000 --seed 1" in command
    assert "--server mssql" in command

    init_script = re.search(r"python (/\S+\.py)", command)
    assert init_script, command
    init_script_file = repo_path_behind(init, init_script[1])
    assert init_script_file and init_script_file.is_file(), init_script[1]

    sql_script = environment_of(init)["MSSQL_SOURCE_SCRIPT"]
    assert sql_script and sql_script.endswith("devtools/demo_source/create_source.sql")
    sql_script_file = repo_path_behind(init, sql_script)
    assert sql_script_file == REPO_ROOT / "devtools/demo_source/create_source.sql"
    assert sql_script_file.is_file(), "devtools/demo_source/create_source.sql is missing"

    generator = repo_path_behind(init, "/opt/airflow/devtools/demo_source/generate.py")
    assert generator and generator.is_file(), "devtools/demo_source/generate.py is missing"


@pytest.fixture(scope="module")
def mssql_init() -> ModuleType:
    return load_module(REPO_ROOT / "docker/mssql_init.py")


def test_init_script_splits_the_demo_script_at_go_lines(mssql_init):
    script = "USE ProcessStatus;\nGO\nSELECT 1 AS Goal\n  go -- done\n\nGO\nSELECT 'GO'\n"
    assert mssql_init.split_batches(script) == [
        "USE ProcessStatus;",
        "SELECT 1 AS Goal",
        "SELECT 'GO'",
    ]

    demo_script = (REPO_ROOT / "devtools/demo_source/create_source.sql").read_text(encoding="utf-8")
    batches = mssql_init.split_batches(demo_script)
    assert len(batches) >= 2
    assert not any(re.search(r"^\s*GO\s*$", batch, re.IGNORECASE | re.MULTILINE) for batch in batches)
    assert any("vwZSDOrder_Advanced" in batch and "CREATE VIEW" in batch.upper() for batch in batches)


# --- connections, image, schedule -----------------------------------------------------------


def test_connections_are_the_ones_the_dag_uses(services, example_env):
    resolved = interpolate_tree(services, example_env)
    for name in AIRFLOW_SERVICES:
        environment = environment_of(resolved[name])
        connections = {key for key in environment if key.startswith("AIRFLOW_CONN_")}
        assert connections == set(EXPECTED_CONNECTIONS), name

    environment = environment_of(resolved["airflow-worker"])
    mssql = json.loads(environment["AIRFLOW_CONN_MSSQL_SAP"])
    assert mssql["conn_type"] == "mssql"
    assert mssql["host"] in services and mssql["port"] == 1433
    assert mssql["schema"] == "ProcessStatus"
    assert mssql["login"] == example_env["MSSQL_USER"]
    assert mssql["password"] == example_env["MSSQL_PASSWORD"]
    assert mssql["extra"]["tds_version"] == "7.4"

    orders = json.loads(environment["AIRFLOW_CONN_POSTGRES_ORDERS"])
    assert orders["conn_type"] == "postgres"
    assert orders["host"] in services and orders["port"] == 5432
    orders_db = environment_of(resolved[orders["host"]])
    assert orders["schema"] == orders_db["POSTGRES_DB"] == "orders"
    assert orders["login"] == orders_db["POSTGRES_USER"]
    assert orders["password"] == orders_db["POSTGRES_PASSWORD"]


def test_airflow_image_matches_the_pinned_airflow_version(compose, services):
    pinned = re.search(
        r"^apache-airflow==(\S+)$",
        (REPO_ROOT / "requirements.txt").read_text(),
        re.MULTILINE,
    )
    assert pinned, "requirements.txt must pin apache-airflow=="
    base = re.search(r"^FROM\s+apache/airflow:(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert base, "Dockerfile must start from apache/airflow"
    version, _, python = base[1].partition("-python")
    assert version == pinned[1]
    # constraints.txt is resolved in the project's venv, so the image needs the same Python.
    assert python == f"{sys.version_info.major}.{sys.version_info.minor}"

    for name in AIRFLOW_SERVICES | {"mssql-init"}:
        assert services[name]["build"] == compose["x-airflow-common"]["build"], name
        assert services[name]["image"] == compose["x-airflow-common"]["image"], name


def pinned_requirements() -> dict[str, str]:
    pins = re.findall(
        r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)$",
        (REPO_ROOT / "requirements.txt").read_text(),
        re.MULTILINE,
    )
    return {name.lower(): version for name, version in pins}


def test_the_executor_and_auth_manager_providers_are_pinned(compose):
    """What the compose environment names must be installed by requirements.txt and locked."""
    environment = environment_of(compose["x-airflow-common"])
    needed = set()
    for key in ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CORE__AUTH_MANAGER"):
        value = environment[key]
        # Airflow's short executor names live in these providers.
        short = {"CeleryExecutor": "celery", "KubernetesExecutor": "cncf-kubernetes"}
        provider = short.get(value) or re.match(r"airflow\.providers\.([a-z_]+)\.", value)[1].replace(
            "_", "-"
        )
        needed.add(f"apache-airflow-providers-{provider}")
    if environment["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"):
        needed |= {"celery", "redis"}
    pinned = pinned_requirements()
    assert needed <= set(pinned), f"requirements.txt does not pin {sorted(needed - set(pinned))}"
    locked = dict(
        re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (REPO_ROOT / "constraints.txt").read_text(), re.MULTILINE)
    )
    for name in needed:
        assert locked.get(name) == pinned[name], f"constraints.txt locks {name} at {locked.get(name)}"


def test_schedule_override_is_passed_through(services):
    for name in AIRFLOW_SERVICES:
        environment = environment_of(services[name])
        # No value: compose passes the variable only when .env or the shell sets it.
        assert "OPEN_ORDERS_SYNC_SCHEDULE" in environment and environment["OPEN_ORDERS_SYNC_SCHEDULE"] is None


# --- secrets --------------------------------------------------------------------------------


def test_compose_file_holds_no_secret_values(compose, example_env):
    reference = re.compile(r"^\$\{[A-Za-z0-9_]+(?::\?[^}]*|:-)?\}$")  # no default value
    for name, service in compose["services"].items():
        for key, value in environment_of(service).items():
            if SECRET_NAME.search(key) and value:
                assert reference.match(value), f"{name}: {key} must be a ${{VAR}} reference"
    for text in all_strings(compose):
        for password in re.findall(r"://[^/:@\s]*:([^@\s]*)@", text):
            assert password == "" or reference.match(password), f"password in URI: {text}"
        for password in re.findall(r'"password":\s*"([^"]*)"', text):
            assert reference.match(password), f"password in connection JSON: {text}"
        assert not re.search(r"\s-P\s", text), f"password on a command line: {text}"

    raw = COMPOSE_FILE.read_text(encoding="utf-8")
    for key, value in example_env.items():
        if SECRET_NAME.search(key) and value:
            assert value not in raw, f"the sample value of {key} is written into the compose file"


def test_env_example_holds_only_fake_values(example_env, services):
    for key, value in example_env.items():
        if SECRET_NAME.search(key):
            assert value == "" or "demo" in value.lower(), f"{key} does not look like a fake value"
    assert example_env["AIRFLOW_UID"].isdigit()
    for key in ("MSSQL_USER", "ORDERS_DB_USER", "AIRFLOW_ADMIN_USER"):
        assert example_env[key] == "demo"
    for key in ("MSSQL_HOST", "ORDERS_DB_HOST"):
        assert example_env[key] in services, f"{key} should name a compose service"


def test_env_file_stays_out_of_git_and_the_image():
    ignored = subprocess.run(["git", "check-ignore", "--quiet", ".env"], cwd=REPO_ROOT, check=False)
    assert ignored.returncode == 0, ".env must be git-ignored"
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", ".env"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    assert tracked.returncode != 0, ".env is committed"
    dockerignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in dockerignore


def test_airflow_reads_the_compose_connections(services, example_env):
    from airflow.models.connection import Connection

    environment = environment_of(interpolate_tree(services["airflow-worker"], example_env))
    mssql = Connection.from_json(environment["AIRFLOW_CONN_MSSQL_SAP"], conn_id="mssql_sap")
    assert (mssql.conn_type, mssql.host, mssql.port) == ("mssql", "mssql", 1433)
    assert (mssql.login, mssql.schema) == ("demo", "ProcessStatus")
    # pymssql accepts only the string "7.4"; the number 7.4 is "unrecognized".
    assert mssql.extra_dejson["tds_version"] == "7.4"

    orders = Connection.from_json(environment["AIRFLOW_CONN_POSTGRES_ORDERS"], conn_id="postgres_orders")
    assert (orders.conn_type, orders.host, orders.schema) == (
        "postgres",
        "orders-db",
        "orders",
    )


def test_deployment_guide_uri_example_gives_pymssql_a_string_tds_version(monkeypatch):
    """Whatever form the guide shows, the DAG's hook hands pymssql the string "7.4"."""
    from include.sync_dag import source_hook

    guide = (REPO_ROOT / "docs/deployment.md").read_text(encoding="utf-8")
    uris = re.findall(r"^AIRFLOW_CONN_MSSQL_SAP='(mssql://[^']+)'$", guide, re.MULTILINE)
    assert uris, "docs/deployment.md should show the URI form of the mssql_sap connection"
    quoted = uris[0].replace("tds_version=7.4", "tds_version=%227.4%22")
    for uri in (*uris, quoted):
        monkeypatch.setenv("AIRFLOW_CONN_MSSQL_SAP", uri)
        extra = source_hook("mssql_sap").connection.extra_dejson
        assert extra["tds_version"] == "7.4", uri
        assert extra["login_timeout"] in (15, "15"), uri


def test_generator_accepts_the_flags_mssql_init_passes(services):
    command = "\n".join(all_strings(services["mssql-init"]["command"]))
    generator_call = command[command.index("-m devtools.demo_source.generate") :]
    flags = set(re.findall(r"\s(--[a-z][a-z-]*)", generator_call))
    assert {"--rows", "--seed", "--server", "--port", "--user", "--database"} <= flags
    usage = subprocess.run(
        [sys.executable, "-m", "devtools.demo_source.generate", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    unknown = {flag for flag in flags if flag not in usage}
    assert not unknown, f"the generator does not accept {unknown}"


def test_init_script_runs_the_demo_script_over_tds(mssql_init):
    # The batch runner end to end: the real pymssql driver, a real socket, the emulator.
    # (Creating the database and the login needs a real SQL Server's sa, so it is not run here.)
    from devtools.mssql_emulator import MssqlEmulator

    script = REPO_ROOT / "devtools/demo_source/create_source.sql"
    with MssqlEmulator() as emulator:
        ran = mssql_init.run_script(emulator.host, emulator.port, emulator.user, emulator.password, script)
        assert ran == len(mssql_init.split_batches(script.read_text(encoding="utf-8")))
        # Twice: `docker compose up` reruns the one-shot on an existing volume.
        mssql_init.run_script(emulator.host, emulator.port, emulator.user, emulator.password, script)
        with pymssql.connect(**emulator.connect_kwargs(login_timeout=10)) as conn:
            cursor = conn.cursor()
            cursor.execute(
                "SELECT COUNT(*) FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'vwZSDOrder_Advanced'"
            )
            assert cursor.fetchone()[0] == 67
            cursor.execute("SELECT COUNT(*) FROM dbo.vwZSDOrder_Advanced")
            assert cursor.fetchone()[0] == 0
