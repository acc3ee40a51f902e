"""sys.dm_exec_sessions: one row per live user session, built when a query reads the view.

Columns, types and values as documented in
https://learn.microsoft.com/en-us/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql:
the asking session is ``running``, the others ``sleeping``; ``transaction_isolation_level``
is 1 ReadUncommitted, 2 ReadCommitted (a session's default), 3 RepeatableRead, 4 Serializable,
5 Snapshot, set by SET TRANSACTION ISOLATION LEVEL or a TM_BEGIN_XACT request's
IsolationLevel ([MS-TDS] 2.2.6.9); ``lock_timeout`` is SET LOCK_TIMEOUT's milliseconds, -1
(wait forever) until set. Server-wide like in SQL Server: every database's view lists every
session. Only the emulator's own sessions appear (no system sessions, is_user_process 1);
login_time, host and program names, counters (cpu_time, reads ...) and security ids are
left out rather than invented.

The rows change with every SET, so they are not kept in a table: the engine's empty
``__info.sys_dm_exec_sessions`` gives the view its columns and types, and the translator
appends the live rows to it in the query itself (translate.Translator.rewrite).
"""

from __future__ import annotations

from devtools.mssql_emulator.results import Column

TABLE = "sys_dm_exec_sessions"  # in each database's hidden __info schema
COLUMNS = [
    Column("session_id", "smallint", nullable=False),
    Column("status", "nvarchar", length=30, nullable=False),
    Column("login_name", "nvarchar", length=128, nullable=False),
    Column("original_login_name", "nvarchar", length=128, nullable=False),
    Column("client_interface_name", "nvarchar", length=32),
    Column("is_user_process", "bit", nullable=False),
    Column("text_size", "int", nullable=False),
    Column("language", "nvarchar", length=128),
    Column("date_format", "nvarchar", length=3),
    Column("date_first", "smallint", nullable=False),
    Column("transaction_isolation_level", "smallint", nullable=False),
    Column("lock_timeout", "int", nullable=False),
    Column("row_count", "bigint", nullable=False),
    Column("database_id", "smallint", nullable=False),
    Column("open_transaction_count", "int", nullable=False),
]

# SET TRANSACTION ISOLATION LEVEL's words and [MS-TDS] 2.2.6.9's IsolationLevel byte, both
# numbered as transaction_isolation_level is.
ISOLATION_LEVELS = {
    "READ UNCOMMITTED": 1,
    "READ COMMITTED": 2,
    "REPEATABLE READ": 3,
    "SERIALIZABLE": 4,
    "SNAPSHOT": 5,
}
ISOLATION_NAMES = {number: name for name, number in ISOLATION_LEVELS.items()}
DEFAULT_ISOLATION = 2


def isolation_level(options: dict) -> int:
    """The session's level from the engine's SET options (``SET TRANSACTION ISOLATION LEVEL x``)."""
    words = " ".join(str(options.get("transaction", "")).upper().split())
    return ISOLATION_LEVELS.get(words.removeprefix("ISOLATION LEVEL "), DEFAULT_ISOLATION)


def lock_timeout(options: dict) -> int:
    """SET LOCK_TIMEOUT's milliseconds; -1 (wait forever) when never set or not a number
    (https://learn.microsoft.com/en-us/sql/t-sql/statements/set-lock-timeout-transact-sql)."""
    try:
        return int(str(options.get("lock_timeout", -1)).strip())
    except ValueError:
        return -1
