"""Fixtures of the failure matrix: a seeded source, a clean fault registry, a private PostgreSQL."""

from __future__ import annotations

import pytest

from devtools.demo_source.generate import create_source, seed_source
from devtools.embedded_postgres import EmbeddedPostgres
from tests.sync.support import source_connection

# A few hundred rows: enough for several fetch batches of faults to cut, quick to seed.
SEED_ROWS = 200
SEED = 23


def reseed(conn) -> None:
    """Recreate the demo view and table with the same SEED_ROWS rows."""
    conn.autocommit(False)
    create_source(conn)
    seed_source(conn, SEED_ROWS, seed=SEED)
    conn.autocommit(True)


@pytest.fixture
def source(mssql):
    """An autocommit connection to the emulator, its view freshly seeded; faults cleared after."""
    conn = source_connection(mssql)
    reseed(conn)
    yield conn
    conn.close()
    with source_connection(mssql) as admin:
        admin.cursor().execute("EXEC emulator.clear_faults")


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of the test's own, for scenarios that stop it."""
    with EmbeddedPostgres(databases=("orders",)) as server:
        yield server
