"""Fixtures for the emulator's own tests: the session's emulator and driver connections to it."""

from __future__ import annotations

import pymssql
import pytds
import pytest


@pytest.fixture(scope="session")
def emulator(mssql):
    """The session's SQL Server emulator (``tests/conftest.py``), one process for all tests."""
    return mssql


@pytest.fixture
def pymssql_connect(emulator):
    """Open pymssql connections to the emulator (TDS 7.4); all are closed after the test."""
    connections = []

    def connect(**overrides):
        kwargs = emulator.connect_kwargs(login_timeout=10, timeout=60)
        kwargs.update(overrides)
        conn = pymssql.connect(**kwargs)
        connections.append(conn)
        return conn

    yield connect
    for conn in connections:
        try:
            conn.close()
        except pymssql.Error:
            pass  # already broken by the test (disconnect, timeout)


@pytest.fixture
def pytds_connect(emulator):
    """Open python-tds connections (autocommit) to the emulator; all are closed after the test."""
    connections = []

    def connect(**overrides):
        kwargs = dict(
            dsn=emulator.host,
            port=emulator.port,
            user=emulator.user,
            password=emulator.password,
            database=emulator.database,
            login_timeout=10,
            timeout=60,
            autocommit=True,
        )
        kwargs.update(overrides)
        conn = pytds.connect(**kwargs)
        connections.append(conn)
        return conn

    yield connect
    for conn in connections:
        try:
            conn.close()
        except Exception:
            pass  # already broken by the test
