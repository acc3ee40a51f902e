"""sys.dm_exec_connections: one row per logged-in connection, kept here and read per query.

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
    """The rows of the live connections. A query of the view reads them through the engine's
    ``live_rows`` (appended to the view's empty table by the translator), so a login or a
    logout writes no table: rewriting every database's table on each one cost
    (connections x databases) inserts and made logins queue behind each other."""

    def __init__(self, engine):
        self._rows: dict[int, ConnectionRow] = {}
        self._lock = threading.Lock()
        engine.live_rows[TABLE] = self.rows

    def add(self, row: ConnectionRow) -> None:
        with self._lock:
            self._rows[row.session_id] = row

    def remove(self, session_id: int) -> None:
        with self._lock:
            self._rows.pop(session_id, None)

    def rows(self) -> list[tuple]:
        with self._lock:
            return [self._rows[spid].values() for spid in sorted(self._rows)]


def mentioned_in(cache_key) -> bool:
    """True when a result's cache key (which holds its DuckDB SQL) reads this view."""
    return any(isinstance(part, str) and TABLE in part for part in cache_key)
