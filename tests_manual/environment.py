"""Where the manual checks run: the embedded stack, or the connections this environment gives.

Both kinds build the sync exactly as the DAG does: Airflow's ``MsSqlHook`` and ``PostgresHook``
resolve the connections ``mssql_sap`` and ``postgres_orders`` (``AIRFLOW_CONN_*`` variables),
the DAG's connection defaults fill in missing timeouts, and the engine's steps run in this
process. Only the embedded stack can break things on purpose (emulator faults, restarts);
against real servers the checks that need that say so and skip that part.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from typing import Any

CONNECTION_VARIABLES = ("AIRFLOW_CONN_MSSQL_SAP", "AIRFLOW_CONN_POSTGRES_ORDERS")
MAPPING_FILE = "open_orders.yaml"

log = logging.getLogger("table_sync")


def connections_in_environment() -> bool:
    """True when both sync connections are set as ``AIRFLOW_CONN_*`` variables."""
    return all(os.environ.get(name) for name in CONNECTION_VARIABLES)


@dataclasses.dataclass(frozen=True)
class SourceOverrides:
    """Deliberately wrong connection settings for the failure checks (None: as configured)."""

    port: int | None = None
    login: str | None = None
    password: str | None = None
    login_timeout: int | None = None


class Environment:
    """The connections of one run of the checks, and what they allow."""

    description = ""
    can_break_source = False  # emulator faults and changes to the source's rows
    can_restart = False  # stop and start PostgreSQL and the SQL Server

    def __init__(self):
        from include.table_sync.mapping import MAPPINGS_DIR, load_mapping

        self.mapping = load_mapping(MAPPINGS_DIR / MAPPING_FILE)
        self.airflow_api = None  # an AirflowApi when a REST API is reachable (see airflow_api.py)

    # -- connections, built the way include/sync_dag.py builds them -----------------------------
    def _source_hook(self, overrides: SourceOverrides | None = None):
        from include.sync_dag import source_hook

        hook = source_hook(self.mapping.source.conn_id)
        connection = hook.connection
        extras = connection.extra_dejson
        if overrides:
            if overrides.port is not None:
                connection.port = overrides.port
            if overrides.login is not None:
                connection.login = overrides.login
            if overrides.password is not None:
                connection.password = overrides.password
            if overrides.login_timeout is not None:
                extras["login_timeout"] = overrides.login_timeout
        connection.extra = json.dumps(extras)
        return hook

    def _target_hook(self):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return PostgresHook(postgres_conn_id=self.mapping.target.conn_id)

    def secrets(self) -> tuple[str, ...]:
        passwords = (self._source_hook().connection.password, self._target_hook().connection.password)
        return tuple(p for p in passwords if p)

    def source_connection(self, overrides: SourceOverrides | None = None):
        """A pymssql connection (autocommit) to the SQL Server of ``mssql_sap``."""
        conn = self._source_hook(overrides).get_conn()
        conn.autocommit(True)
        return conn

    def target_connection(self):
        """A psycopg connection (autocommit) to the PostgreSQL of ``postgres_orders``."""
        conn = self._target_hook().get_conn()
        conn.autocommit = True
        return conn

    def sync_context(self, run_id: str, mapping=None, overrides: SourceOverrides | None = None):
        from include.table_sync.pipeline import SyncContext

        return SyncContext(
            mapping=mapping or self.mapping,
            run_id=run_id,
            connect_source=lambda: self._source_hook(overrides).get_conn(),
            connect_target=self._target_hook().get_conn,
            secrets=self.secrets(),
            log=log,
        )

    def sync(self, run_id: str, mapping=None, overrides: SourceOverrides | None = None, options=None):
        """One whole sync (extract, validate, replace, cleanup) in this process."""
        from include.table_sync.pipeline import RunOptions, sync_once

        return sync_once(self.sync_context(run_id, mapping, overrides), options or RunOptions())

    # -- what only the embedded stack can do ----------------------------------------------------
    def inject_fault(self, kind: str, **params: Any) -> None:
        raise NotImplementedError("fault injection needs the SQL Server emulator")

    def restart_target(self) -> contextlib.AbstractContextManager:
        raise NotImplementedError("restarting PostgreSQL needs the embedded stack")

    def restart_source(self) -> contextlib.AbstractContextManager:
        raise NotImplementedError("restarting SQL Server needs the embedded stack")


class ConfiguredEnvironment(Environment):
    """The ``AIRFLOW_CONN_*`` connections of this shell: a real SQL Server and PostgreSQL."""

    description = "connections from the environment (AIRFLOW_CONN_MSSQL_SAP, AIRFLOW_CONN_POSTGRES_ORDERS)"

    def __init__(self):
        missing = [name for name in CONNECTION_VARIABLES if not os.environ.get(name)]
        if missing:
            raise SystemExit(f"--use-env needs {' and '.join(missing)} in the environment")
        super().__init__()


class EmbeddedEnvironment(Environment):
    """The embedded stack: PostgreSQL, the SQL Server emulator and a migrated Airflow home."""

    can_break_source = True
    can_restart = True

    def __init__(self, stack):
        self.stack = stack
        self.description = (
            f"embedded stack (SQL Server emulator on {stack.mssql.host}:{stack.mssql.port}, "
            f"PostgreSQL on {stack.postgres.host}:{stack.postgres.port}, {stack.seed_rows} demo rows)"
        )
        # The hooks read the stack's connections exactly as a deployment provides them.
        os.environ.update(stack.connection_env())
        super().__init__()

    def inject_fault(self, kind: str, **params: Any) -> None:
        arguments = ", ".join(
            [f"@kind = N'{kind}'"]
            + [
                f"@{name} = {value}" if isinstance(value, int) else f"@{name} = N'{value}'"
                for name, value in params.items()
            ]
        )
        with contextlib.closing(self.source_connection()) as conn:
            conn.cursor().execute(f"EXEC emulator.inject_fault {arguments}")

    @contextlib.contextmanager
    def restart_target(self) -> Iterator[None]:
        """PostgreSQL is down inside the block; started again (same port and data) after it."""
        self.stack.postgres.stop()
        try:
            yield
        finally:
            self.stack.postgres.start()

    @contextlib.contextmanager
    def restart_source(self) -> Iterator[None]:
        """The emulator is down inside the block; after it, started on the same port and reseeded.

        The emulator keeps its data in memory, so a restart starts empty; the reseed is what
        ``mssql-init`` does after every ``docker compose up``.
        """
        self.stack.mssql.stop()
        try:
            yield
        finally:
            self.stack.mssql.start()
            self.stack.seed_source(self.stack.seed_rows, self.stack.seed)


@contextlib.contextmanager
def open_environment(use_env: bool, seed_rows: int = 5000) -> Iterator[Environment]:
    """The environment the checks run in; the embedded stack is started and stopped here."""
    if use_env:
        yield ConfiguredEnvironment()
        return
    from devtools.stack import EmbeddedStack

    print(f"starting the embedded stack ({seed_rows} demo rows) ...", flush=True)
    saved = {name: os.environ.get(name) for name in CONNECTION_VARIABLES}
    with EmbeddedStack(seed_rows=seed_rows) as stack:
        try:
            yield EmbeddedEnvironment(stack)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def prepare_airflow_home() -> None:
    """Give Airflow (imported by the hooks) a home of its own unless the shell set one."""
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="oos-manual-airflow-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
