"""The embedded stack: SQL Server emulator + PostgreSQL + an Airflow home wired to both.

Used by ``make demo``, the DAG and scheduler tests, the status-page test and the manual checks:

    with EmbeddedStack(seed_rows=5000) as stack:
        stack.airflow("dags", "test", "sync_open_orders")

Airflow's metadata lives in its own database of the same PostgreSQL server. The connections
``mssql_sap`` and ``postgres_orders`` are provided as ``AIRFLOW_CONN_*`` environment variables
in JSON form, exactly as a deployment would provide them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from devtools.embedded_postgres import EmbeddedPostgres
from devtools.mssql_emulator import MssqlEmulator

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"


def airflow_bin() -> str:
    """The ``airflow`` command of the running interpreter's environment."""
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


class EmbeddedStack:
    def __init__(
        self,
        seed_rows: int | None = 5000,
        seed: int = 1,
        migrate: bool = True,
        extra_env: dict[str, str] | None = None,
        emulator_log_level: str = "WARNING",
        password: str = DEMO_PASSWORD,
    ):
        self.seed_rows = seed_rows
        self.seed = seed
        self.migrate = migrate
        self.extra_env = extra_env or {}
        self.home = Path(tempfile.mkdtemp(prefix="oos-stack-"))
        self.password = password
        self.postgres = EmbeddedPostgres(databases=("orders", "airflow"), password=password)
        self.mssql = MssqlEmulator(
            user=DEMO_USER, password=password, database="ProcessStatus", log_level=emulator_log_level
        )
        self._stack = contextlib.ExitStack()

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> EmbeddedStack:
        try:
            self._stack.enter_context(self.postgres)
            self._stack.enter_context(self.mssql)
            if self.seed_rows is not None:
                self.seed_source(self.seed_rows, self.seed)
            if self.migrate:
                self.airflow("db", "migrate", quiet=True)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
        shutil.rmtree(self.home, ignore_errors=True)

    # -- the source ---------------------------------------------------------------------------
    def source_connection(self, **overrides):
        import pymssql

        conn = pymssql.connect(**self.mssql.connect_kwargs(**overrides))
        return conn

    def seed_source(self, rows: int, seed: int = 1) -> None:
        from devtools.demo_source.generate import create_source, seed_source

        with contextlib.closing(self.source_connection()) as conn:
            create_source(conn)
            seed_source(conn, rows, seed)
            conn.commit()

    # -- Airflow -------------------------------------------------------------------------------
    @property
    def orders_dsn(self) -> str:
        return self.postgres.dsn("orders")

    def connection_env(self) -> dict[str, str]:
        return {
            "AIRFLOW_CONN_MSSQL_SAP": json.dumps(mssql_connection(self.mssql, timeout=60)),
            "AIRFLOW_CONN_POSTGRES_ORDERS": json.dumps(postgres_connection(self.postgres, "orders")),
        }

    def env(self) -> dict[str, str]:
        """The environment an Airflow command of this stack runs with."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home / "airflow"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.uri("airflow", "postgresql+psycopg"),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "AIRFLOW__API_AUTH__JWT_SECRET": "demo-jwt-secret-not-for-production",
                "AIRFLOW__CORE__FERNET_KEY": "",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
                **self.connection_env(),
                **self.extra_env,
            }
        )
        return env

    def airflow(self, *args: str, quiet: bool = False, timeout: float = 600, check: bool = True):
        """Run an ``airflow`` CLI command in this stack's environment; return the CompletedProcess."""
        result = subprocess.run(
            [airflow_bin(), *args],
            env=self.env(),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if not quiet:
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
        if check and result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
            raise RuntimeError(f"airflow {' '.join(args)} exited {result.returncode}:\n{tail}")
        return result


def mssql_connection(mssql, timeout: int) -> dict:
    """An Airflow connection (JSON form) to the emulator; ``timeout`` is pymssql's per statement.

    TLS for the whole session, as the documented connection has it (docs/deployment.md).
    """
    return {
        "conn_type": "mssql",
        "host": mssql.host,
        "port": mssql.port,
        "login": mssql.user,
        "password": mssql.password,
        "schema": mssql.database,
        "extra": {"encryption": "require", "tds_version": "7.4", "login_timeout": 10, "timeout": timeout},
    }


def postgres_connection(postgres, database: str) -> dict:
    """An Airflow connection (JSON form) to ``database`` of the embedded PostgreSQL."""
    return {
        "conn_type": "postgres",
        "host": postgres.host,
        "port": postgres.port,
        "login": postgres.user,
        "password": postgres.password,
        "schema": database,
    }
