"""sys.dm_exec_connections: one row per logged-in connection, kept in the engine's tables.

Columns and values as documented in
https://learn.microsoft.com/en-us/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-connections-transact-sql:
``encrypt_option`` is TRUE only when the session itself is encrypted, so a connection that
encrypted just its LOGIN7 packet shows FALSE. Server-wide like in SQL Server: every database's
``sys.dm_exec_connections`` lists every connection. Counters (num_reads, last_read ...) and
``most_recent_sql_handle`` are left out rather than invented.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass, field

from devtools.mssql_emulator.catalog import INFO_SCHEMA
from devtools.mssql_emulator.results import Column

TABLE = "sys_dm_exec_connections"  # in each database's hidden __info schema
COLUMNS = [
    Column("session_id", "int"),
    Column("most_recent_session_id", "int"),
    Column("connect_time", "datetime", nullable=False),
    Column("net_transport", "nvarchar", length=40, nullable=False),
    Column("protocol_type", "nvarchar", length=40),
    Column("protocol_version", "int"),
    Column("endpoint_id", "int"),
    Column("encrypt_option", "nvarchar", length=40, nullable=False),
    Column("auth_scheme", "nvarchar", length=40, nullable=False),
    Column("node_affinity", "smallint", nullable=False),
    Column("net_packet_size", "int"),
    Column("client_net_address", "varchar", length=48),
    Column("client_tcp_port", "int"),
    Column("local_net_address", "varchar", length=48),
    Column("local_tcp_port", "int"),
    Column("connection_id", "uniqueidentifier", nullable=False),
]
TSQL_DEFAULT_TCP_ENDPOINT = 4  # sys.endpoints: "TSQL Default TCP"


@dataclass
class ConnectionRow:
    session_id: int
    protocol_version: int
    encrypted: bool
    packet_size: int
    client_address: tuple[str, int]
    local_address: tuple[str, int]
    connect_time: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))
    connection_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def values(self) -> tuple:
        return (
            self.session_id,
            self.session_id,
            self.connect_time,
            "TCP",
            "TSQL",
            self.protocol_version,
            TSQL_DEFAULT_TCP_ENDPOINT,
            "TRUE" if self.encrypted else "FALSE",
            "SQL",
            0,
            self.packet_size,
            self.client_address[0],
            self.client_address[1],
            self.local_address[0],
            self.local_address[1],
            str(self.connection_id),
        )


class ConnectionsView:
    """The rows of the live connections, written into every database's table on each change."""

    def __init__(self, engine):
        self._engine = engine
        self._rows: dict[int, ConnectionRow] = {}
        self._lock = threading.Lock()

    def add(self, row: ConnectionRow) -> None:
        with self._lock:
            self._rows[row.session_id] = row
            self._write()

    def remove(self, session_id: int) -> None:
        with self._lock:
            if self._rows.pop(session_id, None) is not None:
                self._write()

    def _write(self) -> None:
        engine = self._engine
        marks = ", ".join("?" * len(COLUMNS))
        rows = [row.values() for row in self._rows.values()]
        # The catalog version is left alone on purpose: bumping it on every login would empty
        # the result cache of every session. The server never caches a result of this view.
        with engine.lock:
            cursor = engine.db.cursor()
            try:
                for database in list(engine.catalog.databases.values()):
                    table = f'"{database}".{INFO_SCHEMA}.{TABLE}'
                    cursor.execute(f"DELETE FROM {table}")
                    if rows:
                        cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            finally:
                cursor.close()


def mentioned_in(cache_key) -> bool:
    """True when a result's cache key (which holds its DuckDB SQL) reads this view."""
    return any(isinstance(part, str) and TABLE in part for part in cache_key)
