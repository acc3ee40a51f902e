"""SQL Server I/O: session settings, server facts, the schema check, opening the source query
(line or typed), and classifying driver errors.

Works with any DB-API connection to SQL Server (pymssql through MsSqlHook in the DAG). Driver
errors are classified here: a dropped or unreachable server is transient, a rejected login or
query is terminal, because retrying a missing view only delays the page to the operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn

from include.table_sync.errors import (
    SourceQueryError,
    SourceUnavailableError,
    SyncError,
    raise_classified,
)
from include.table_sync.mapping import SyncMapping
from include.table_sync.redaction import redact
from include.table_sync.sqlserver_types import SqlServerType
from include.table_sync.tsql import (
    LINE_COLUMN,
    SERVER_FACTS_STATEMENT,
    SNAPSHOT_ISOLATION_STATEMENT,
    SNAPSHOT_STATE_STATEMENT,
    TEXTSIZE_STATEMENT,
    columns_statement,
    csv_line_statement,
    select_statement,
)

# SQL Server / DB-Library error numbers that mean "the server or the network failed".
_TRANSIENT_NUMBERS = {
    20003,
    20004,
    20006,
    20009,
    20017,
    20020,
    20047,
    20056,  # DB-Lib: timeout, dead socket
    1205,  # deadlock victim
    -2,  # timeout (python-tds and friends)
}
_LOGIN_NUMBERS = {18456, 4060, 18452}
# FreeTDS: "General SQL Server error: Check messages from the SQL Server" - the server answered.
_SERVER_REFUSED_LOGIN = "DB-Lib error message 20018,"


@dataclass(frozen=True)
class SchemaDifference:
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    retyped: tuple[tuple[str, str, str], ...]  # (column, expected, actual)


class SchemaDriftError(SyncError):
    def __init__(self, source: str, difference: SchemaDifference):
        self.source = source
        self.difference = difference
        parts = []
        if difference.missing:
            parts.append("missing: " + ", ".join(difference.missing))
        if difference.unexpected:
            parts.append("unexpected: " + ", ".join(difference.unexpected))
        if difference.retyped:
            parts.append(
                "retyped: " + ", ".join(f"{c} (expected {e}, found {a})" for c, e, a in difference.retyped)
            )
        super().__init__(f"schema drift in {source}: " + "; ".join(parts))


@dataclass(frozen=True)
class ServerFacts:
    """What the server says about itself (tsql.SERVER_FACTS_STATEMENT)."""

    product_version: str
    collation: str
    version_text: str

    @property
    def major_version(self) -> int | None:
        head = self.product_version.split(".")[0]
        return int(head) if head.isdigit() else None

    @property
    def first_line(self) -> str:
        return self.version_text.strip().splitlines()[0] if self.version_text.strip() else ""


def server_facts(conn: Any) -> ServerFacts:
    cursor = conn.cursor()
    cursor.execute(SERVER_FACTS_STATEMENT)
    version, collation, text = cursor.fetchone()
    cursor.close()
    return ServerFacts(str(version or ""), str(collation or ""), str(text or ""))


class SnapshotIsolationError(SourceQueryError):
    """``source.isolation: snapshot`` asked for, but the database does not allow it."""

    def __init__(self, database: str, state: str | None):
        self.database = database
        self.state = state
        found = "not found in sys.databases" if state is None else f"snapshot_isolation_state_desc is {state}"
        super().__init__(
            f"source.isolation is snapshot, but database {database} does not allow snapshot "
            f"isolation ({found}); a DBA can enable it with ALTER DATABASE [{database}] "
            "SET ALLOW_SNAPSHOT_ISOLATION ON, or set source.isolation: read_committed",
            3952,
        )


def prepare_session(conn: Any, mapping: SyncMapping) -> None:
    """Session settings the read relies on, set by the sync whatever the connection's extras say.

    TEXTSIZE: pymssql sets it through conn_properties, which an Airflow extra replaces; a
    smaller one would cut an nvarchar(max) line or value without an error. SNAPSHOT isolation
    (when mapped) is checked first: SQL Server would otherwise fail the read with error 3952.
    """
    cursor = conn.cursor()
    cursor.execute(TEXTSIZE_STATEMENT)
    if mapping.source.isolation == "snapshot":
        cursor.execute(SNAPSHOT_STATE_STATEMENT, (mapping.source.database,))
        row = cursor.fetchone()
        state = None if row is None else str(row[0])
        if state != "ON":
            cursor.close()
            raise SnapshotIsolationError(mapping.source.database, state)
        cursor.execute(SNAPSHOT_ISOLATION_STATEMENT)
        if getattr(conn, "autocommit_state", True) is False:
            # pymssql without autocommit has a transaction open since connect, begun under the
            # old level; SQL Server refuses to switch it to SNAPSHOT (error 3951). Its commit
            # begins the next one, under SNAPSHOT.
            conn.commit()
    cursor.close()


def open_line_cursor(conn: Any, mapping: SyncMapping):
    """Run the CSV-line query (``tsql.csv_line_statement``); return its cursor, rows unread."""
    cursor = conn.cursor()
    cursor.execute(csv_line_statement(mapping))
    check_line_result(cursor.description)
    return cursor


def open_column_cursor(conn: Any, mapping: SyncMapping):
    """Run the typed column-by-column query (``tsql.select_statement``); rows unread."""
    cursor = conn.cursor()
    cursor.execute(select_statement(mapping))
    names = [entry[0] for entry in cursor.description or ()]
    expected = [column.source for column in mapping.columns]
    if [name.lower() for name in names] != [name.lower() for name in expected]:
        raise SyncError(f"the source query returned columns {names}, expected {expected}")
    return cursor


def check_line_result(description) -> None:
    """The line query must return exactly its one column before rows are read."""
    names = [entry[0] for entry in description or ()]
    if names != [LINE_COLUMN]:
        raise SyncError(f"the source query returned columns {names}, expected only {LINE_COLUMN}")


def compare_columns(mapping: SyncMapping, actual: list[tuple[str, SqlServerType]]) -> SchemaDifference:
    expected = {c.source.lower(): c for c in mapping.columns}
    found = {name.lower(): (name, sql_type) for name, sql_type in actual}
    missing = tuple(c.source for key, c in expected.items() if key not in found)
    unexpected = tuple(name for key, (name, _) in found.items() if key not in expected)
    retyped = tuple(
        (c.source, str(c.source_type), str(found[key][1]))
        for key, c in expected.items()
        if key in found and _comparable(found[key][1]) != _comparable(c.source_type)
    )
    return SchemaDifference(missing, unexpected, retyped)


def _comparable(sql_type: SqlServerType) -> str:
    # decimal and numeric are synonyms in SQL Server
    return str(sql_type).replace("numeric", "decimal")


def check_source_schema(conn: Any, mapping: SyncMapping, log) -> SchemaDifference:
    """Compare the source object's declared columns with the mapping; raise on drift.

    Missing or retyped columns fail the run. Columns the view gained are only logged: the
    explicit column list does not read them, so they cannot corrupt anything.
    """
    if mapping.source.query:
        return SchemaDifference((), (), ())  # a custom query has no catalog entry to compare
    cursor = conn.cursor()
    cursor.execute(columns_statement(mapping), (mapping.source.schema, mapping.source.object))
    actual = [
        (row[0], SqlServerType.from_information_schema(row[1], row[2], row[3], row[4], row[5]))
        for row in cursor.fetchall()
    ]
    cursor.close()
    if not actual:
        # Let the real query report it exactly as SQL Server does (error 208).
        return SchemaDifference((), (), ())
    difference = compare_columns(mapping, actual)
    if difference.missing or difference.retyped:
        raise SchemaDriftError(mapping.source.qualified_name, difference)
    if difference.unexpected:
        log.warning(
            "source %s has column(s) the mapping does not read: %s",
            mapping.source.qualified_name,
            ", ".join(difference.unexpected),
        )
    return difference


def raise_source_error(error: BaseException, secrets: tuple[str, ...] = ()) -> NoReturn:
    """Raise ``error`` classified; a driver's exception is not chained, a bug's is."""
    raise_classified(classify_source_error(error, secrets), error, from_driver=is_driver_error(error))


def classify_source_error(error: BaseException, secrets: tuple[str, ...] = ()) -> SyncError:
    """Turn a driver exception into a transient or terminal SyncError with a clean message."""
    if isinstance(error, SyncError):
        return error
    if not is_driver_error(error):
        return SyncError(f"{type(error).__name__} while reading the source: {redact(str(error), secrets)}")
    text = redact(_error_text(error), secrets)
    server_words = _server_words(text)
    if not server_words and _SERVER_REFUSED_LOGIN in text and _error_number(error) in _LOGIN_NUMBERS:
        # pymssql keeps login messages in one process-wide slot and drops the text of any later
        # failed login of no higher severity; FreeTDS's 20018 still says the server refused it.
        number = _error_number(error)
        return SourceQueryError(f"SQL Server login failed (error {number}): {text}", number)
    if not server_words:
        # Only FreeTDS's own messages. pymssql keeps server message text in process-wide state
        # and loses it on a second failure in one process, but FreeTDS still says a server error
        # of which severity arrived at login: 14 is a rejected login, 11 an unknown database.
        severities = set(re.findall(r"20018, severity (\d+)", text))
        if "11" in severities and "connection failed" in text:
            return SourceQueryError(
                f"SQL Server login failed (error 4060, cannot open the database): {text}", 4060
            )
        if "14" in severities and "connection failed" in text:
            return SourceQueryError(f"SQL Server login failed (error 18456): {text}", 18456)
        # Otherwise the client could not reach the server or lost it mid-stream. (The number
        # pymssql reports belongs to the last *server* message, so it is not trusted here.)
        return SourceUnavailableError(f"SQL Server unavailable: {text}")
    number = _error_number(error)
    if server_words.startswith(("Login failed", "Cannot open database")) or number in _LOGIN_NUMBERS:
        return SourceQueryError(f"SQL Server login failed (error {number}): {server_words}", number)
    if number is None:
        # Raised by the driver itself, e.g. a connection setting it rejects: fix, not retry.
        return SourceQueryError(f"SQL Server client error: {server_words}")
    if number in _TRANSIENT_NUMBERS:
        return SourceUnavailableError(f"SQL Server unavailable (error {number}): {server_words}")
    return SourceQueryError(f"SQL Server error {number}: {server_words}", number)


def is_driver_error(error: BaseException) -> bool:
    # DB-API drivers derive their errors from a class named Error/DatabaseError/InterfaceError.
    return any(
        cls.__name__ in {"Error", "DatabaseError", "InterfaceError", "OperationalError"}
        for cls in type(error).__mro__
    ) or type(error).__module__.startswith(("pymssql", "pytds"))


def _server_words(text: str) -> str:
    return text.split("DB-Lib error message")[0].strip()


def _driver_args(error: BaseException) -> tuple:
    # pymssql wraps (number, message) in a tuple inside args; other drivers put them flat.
    args = error.args
    if len(args) == 1 and isinstance(args[0], tuple):
        return args[0]
    return args


def _error_number(error: BaseException) -> int | None:
    value = getattr(error, "number", None)
    if isinstance(value, int):
        return value
    args = _driver_args(error)
    if args and isinstance(args[0], int):
        return args[0]
    return None


def _error_text(error: BaseException) -> str:
    args = _driver_args(error)
    text = args[1] if len(args) >= 2 else str(error)
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", "replace")
    text = str(text)
    return " ".join(text.split())
