"""Shared fixtures: a real PostgreSQL and the SQL Server emulator, started once per session."""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[1]

# Airflow reads its configuration at import: give the test session its own home, no examples.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="oos-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO_ROOT / "plugins")

from devtools.embedded_postgres import EmbeddedPostgres  # noqa: E402
from devtools.mssql_emulator import MssqlEmulator  # noqa: E402

CONTRACT_DIR = REPO_ROOT.parent / "shared" / "contract"


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL server (Debian's binaries), up for the whole session."""
    with EmbeddedPostgres(databases=("orders", "airflow")) as server:
        yield server


@pytest.fixture(scope="session")
def mssql():
    """The SQL Server emulator as a subprocess speaking TDS on a loopback port."""
    with MssqlEmulator(user="demo", password="demo-password", database="ProcessStatus") as emulator:
        yield emulator


_database_numbers = itertools.count(1)


@pytest.fixture
def orders_db(postgres):
    """A fresh, empty PostgreSQL database for one test; returns its DSN."""
    name = f"orders_test_{os.getpid()}_{next(_database_numbers)}"
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield postgres.dsn(name)
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# A distinctive (still obviously fake) password, so tests can search every log line for it.
STACK_PASSWORD = "demo-password-7Qx"


@pytest.fixture(scope="session")
def stack():
    """The embedded stack with a migrated Airflow metadata database, for Airflow-level tests."""
    from devtools.stack import EmbeddedStack

    with EmbeddedStack(seed_rows=None, password=STACK_PASSWORD) as embedded:
        yield embedded
