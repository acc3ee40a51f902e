"""Reading the SQL Server source: the schema check, the explicit-column query, error mapping.

Works with any DB-API connection to SQL Server (pymssql through MsSqlHook in the DAG). Driver
errors are classified here: a dropped or unreachable server is transient, a rejected login or
query is terminal, because retrying a missing view only delays the page to the operator.
"""

from __future__ import annotations

import re
from typing import Any

from include.table_sync.conversions import source_expression, source_text, source_text_width
from include.table_sync.errors import (
    SchemaDifference,
    SchemaDriftError,
    SourceQueryError,
    SourceUnavailableError,
    SyncError,
)
from include.table_sync.mapping import SyncMapping
from include.table_sync.redaction import redact
from include.table_sync.sqlserver_types import SqlServerType

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


def quote(name: str) -> str:
    return "[" + name.replace("]", "]]") + "]"


def select_statement(mapping: SyncMapping) -> str:
    """The view read column by column, typed: what other tools run (the benchmark's contenders).

    The sync reads ``csv_line_statement`` instead. Both list every column, never SELECT *.
    """
    columns = ",\n  ".join(source_expression(c.source, c.source_type) for c in mapping.columns)
    return f"SELECT\n  {columns}\nFROM {_origin(mapping)}"


# The one column of the line query (see csv_line_statement).
LINE_COLUMN = "__csv_line"
# SQL Server truncates a CONCAT or REPLACE that has no (max) argument at 8,000 bytes: 4,000
# nvarchar characters. Longer lines must be built from nvarchar(max).
_NVARCHAR_LIMIT = 4000
# CONCAT takes 2 to 254 arguments; longer lists are nested.
_CONCAT_ARGS = 250


def csv_line_statement(mapping: SyncMapping) -> str:
    """The source query the sync reads: each row rendered by the server as one CSV line.

    pymssql turns every value into a Python object, and at 67 columns that decoding is the
    slowest part of a sync (about 13k rows/s; see docs/benchmarks.md). Rendered as one
    nvarchar per row, the same rows are read about ten times faster and go to COPY (FORMAT
    csv) as they are. Text values are quoted with quotes doubled, so commas, quotes and line
    breaks survive; NULL is an unquoted empty field and an empty string a quoted one, which is
    how PostgreSQL's CSV COPY tells them apart. Other types use styles PostgreSQL reads back to
    the same value (``conversions.source_text``). The list still names every column.
    """
    longest = _longest_line(mapping)
    needs_max = longest is None or longest > _NVARCHAR_LIMIT
    fields: list[str] = []
    for column in mapping.columns:
        if fields:
            fields.append("N','")
        fields.append(_csv_field(column.source, column.source_type, needs_max))
    line = _concat(fields, needs_max)
    return f"SELECT\n  {line} AS {quote(LINE_COLUMN)}\nFROM {_origin(mapping)}"


def _longest_line(mapping: SyncMapping) -> int | None:
    """The most characters one line can take, or None when a column is unbounded (max)."""
    total = 0
    for column in mapping.columns:
        width = source_text_width(column.source_type)
        if width is None:
            return None
        # Worst case for text: every character a quote (doubled), plus the two around it.
        total += (2 * width + 2 if column.source_type.is_text else width) + 1  # + the comma
    return total


def _csv_field(column: str, source_type: SqlServerType, needs_max: bool) -> str:
    quoted = quote(column)
    if source_type.is_text:
        value = f"CAST({quoted} AS nvarchar(max))" if needs_max else quoted
        text = f"CONCAT(N'\"', REPLACE({value}, N'\"', N'\"\"'), N'\"')"
    else:
        text = source_text(column, source_type)
    return f"CASE WHEN {quoted} IS NULL THEN N'' ELSE {text} END"


def _concat(arguments: list[str], needs_max: bool) -> str:
    # Every (nested) CONCAT starts from nvarchar(max) when the line may be long, because each
    # one would truncate on its own.
    start = ["CAST(N'' AS nvarchar(max))"] if needs_max else ["N''"]
    if len(arguments) <= _CONCAT_ARGS:
        return "CONCAT(" + ",\n    ".join(start + arguments) + ")"
    groups = [arguments[i : i + _CONCAT_ARGS] for i in range(0, len(arguments), _CONCAT_ARGS)]
    return _concat([_concat(group, needs_max) for group in groups], needs_max)


def _origin(mapping: SyncMapping) -> str:
    if mapping.source.query:
        return f"(\n{mapping.source.query}\n) AS src"
    source = mapping.source
    return ".".join(quote(part) for part in (source.database, source.schema, source.object))


def check_line_result(description) -> None:
    """The line query must return exactly its one column before rows are read."""
    names = [entry[0] for entry in description or ()]
    if names != [LINE_COLUMN]:
        raise SyncError(f"the source query returned columns {names}, expected only {LINE_COLUMN}")


def columns_statement(mapping: SyncMapping) -> str:
    return (
        "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
        "NUMERIC_SCALE, DATETIME_PRECISION "
        f"FROM {quote(mapping.source.database)}.INFORMATION_SCHEMA.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION"
    )


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
