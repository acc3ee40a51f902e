"""Every T-SQL statement the sync sends to SQL Server, built as text by small pure functions.

One quoting rule (:func:`quote_name`) for every identifier; values the sync renders for COPY
use styles PostgreSQL reads back to the same value. Running the statements is the job of
``source.py`` and ``transfer.py``; tests read them here exactly as they will run.
"""

from __future__ import annotations

from include.table_sync.mapping import SyncMapping
from include.table_sync.sqlserver_types import SqlServerType

# The one column of the line query (see csv_line_statement).
LINE_COLUMN = "__csv_line"
# SQL Server truncates a CONCAT or REPLACE that has no (max) argument at 8,000 bytes: 4,000
# nvarchar characters. Longer lines must be built from nvarchar(max).
_NVARCHAR_LIMIT = 4000
# CONCAT takes 2 to 254 arguments; longer lists are nested.
_CONCAT_ARGS = 250


def quote_name(name: str) -> str:
    """A T-SQL delimited identifier: ``[name]`` with ``]`` doubled."""
    return "[" + name.replace("]", "]]") + "]"


def source_origin(mapping: SyncMapping) -> str:
    """What the sync reads FROM: the mapped object by its three-part name, or the custom query."""
    if mapping.source.query:
        return f"(\n{mapping.source.query}\n) AS src"
    source = mapping.source
    return ".".join(quote_name(part) for part in (source.database, source.schema, source.object))


def columns_statement(mapping: SyncMapping) -> str:
    """The source object's declared columns, in order (parameters: schema, object name)."""
    return (
        "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
        "NUMERIC_SCALE, DATETIME_PRECISION "
        f"FROM {quote_name(mapping.source.database)}.INFORMATION_SCHEMA.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION"
    )


# -- the column-by-column query --------------------------------------------------------------

# Types read as text even column by column: 100 ns ticks and the year 9999 survive, and the
# driver never rounds them (FreeTDS would round 23:59:59.9999999 up).
_TICK_STYLES = {
    "datetime2": "CONVERT(varchar(27), {x}, 121)",  # style 121 keeps all 7 fractional digits
    "datetimeoffset": "CONVERT(varchar(34), {x}, 127)",
    "time": "CONVERT(varchar(16), {x}, 114)",
}
_TICK_WIDTHS = {"datetime2": 27, "datetimeoffset": 34, "time": 16}


def column_expression(column: str, source_type: SqlServerType) -> str:
    """The select-list item reading ``column`` typed, as a column-by-column reader wants it."""
    quoted = quote_name(column)
    style = _TICK_STYLES.get(source_type.name)
    return f"{style.format(x=quoted)} AS {quoted}" if style else quoted


def select_statement(mapping: SyncMapping) -> str:
    """The source read column by column, typed: what other tools run (the benchmark's contenders).

    The sync reads ``csv_line_statement`` instead. Both list every column, never SELECT *.
    """
    columns = ",\n  ".join(column_expression(c.source, c.source_type) for c in mapping.columns)
    return f"SELECT\n  {columns}\nFROM {source_origin(mapping)}"


# -- the CSV-line query the sync reads -------------------------------------------------------

# How each non-text source type is rendered as text on the server, so that a whole row travels
# as one CSV line: {x} is the quoted column. Every form is one that PostgreSQL's input function
# for conversions.raw_type() reads back to the same value, and the second item is its longest
# rendering in characters (it bounds the line).
_TEXT_FORMS: dict[str, tuple[str, int | None]] = {
    "int": ("CONVERT(varchar(20), {x})", 11),
    "bigint": ("CONVERT(varchar(20), {x})", 20),
    "smallint": ("CONVERT(varchar(20), {x})", 6),
    "tinyint": ("CONVERT(varchar(20), {x})", 3),
    "bit": ("CONVERT(varchar(1), {x})", 1),  # '0' / '1': PostgreSQL's boolean reads both
    "decimal": ("CONVERT(varchar(41), {x})", 40),  # every digit of the declared scale
    "numeric": ("CONVERT(varchar(41), {x})", 40),
    "money": ("CONVERT(varchar(30), {x}, 2)", 21),  # style 2: all four decimals, no separators
    "float": ("CONVERT(varchar(30), {x}, 3)", 24),  # style 3: 17 digits, so the value round-trips
    "real": ("CONVERT(varchar(30), {x}, 3)", 15),  # style 3: 9 digits for a real
    "date": ("CONVERT(varchar(10), {x}, 23)", 10),
    "datetime": ("CONVERT(varchar(23), {x}, 121)", 23),  # milliseconds as SQL Server rounds them
    "uniqueidentifier": ("CONVERT(char(36), {x})", 36),
    "varbinary": ("CONCAT(N'\\x', CONVERT(varchar(max), {x}, 2))", None),  # bytea hex; 2 per byte
}


def value_text(column: str, source_type: SqlServerType) -> str:
    """T-SQL rendering a non-NULL ``column`` as text that PostgreSQL reads back exactly.

    Text columns are returned as they are; datetime2, time and datetimeoffset use the same
    styles as the column-by-column query. The caller decides what a NULL becomes.
    """
    quoted = quote_name(column)
    if source_type.is_text:
        return quoted
    form = _TICK_STYLES.get(source_type.name) or _TEXT_FORMS[source_type.name][0]
    return form.format(x=quoted)


def value_text_width(source_type: SqlServerType) -> int | None:
    """The most characters ``value_text`` can produce for one value; None when unbounded."""
    if source_type.is_text or source_type.name == "varbinary":
        if source_type.length in (None, -1):
            return None
        return source_type.length if source_type.is_text else 2 + 2 * source_type.length
    return _TICK_WIDTHS.get(source_type.name) or _TEXT_FORMS[source_type.name][1]


def csv_line_statement(mapping: SyncMapping) -> str:
    """The source query the sync reads: each row rendered by the server as one CSV line.

    pymssql turns every value into a Python object, and at 67 columns that decoding is the
    slowest part of a sync (about 13k rows/s; see docs/benchmarks.md). Rendered as one
    nvarchar per row, the same rows are read about ten times faster and go to COPY (FORMAT
    csv) as they are. Text values are quoted with quotes doubled, so commas, quotes and line
    breaks survive; NULL is an unquoted empty field and an empty string a quoted one, which is
    how PostgreSQL's CSV COPY tells them apart. Other types use styles PostgreSQL reads back to
    the same value (``value_text``). The list still names every column.
    """
    longest = _longest_line(mapping)
    needs_max = longest is None or longest > _NVARCHAR_LIMIT
    fields: list[str] = []
    for column in mapping.columns:
        if fields:
            fields.append("N','")
        fields.append(_csv_field(column.source, column.source_type, needs_max))
    line = _concat(fields, needs_max)
    return f"SELECT\n  {line} AS {quote_name(LINE_COLUMN)}\nFROM {source_origin(mapping)}"


def _longest_line(mapping: SyncMapping) -> int | None:
    """The most characters one line can take, or None when a column is unbounded (max)."""
    total = 0
    for column in mapping.columns:
        width = value_text_width(column.source_type)
        if width is None:
            return None
        # Worst case for text: every character a quote (doubled), plus the two around it.
        total += (2 * width + 2 if column.source_type.is_text else width) + 1  # + the comma
    return total


def _csv_field(column: str, source_type: SqlServerType, needs_max: bool) -> str:
    quoted = quote_name(column)
    if source_type.is_text:
        value = f"CAST({quoted} AS nvarchar(max))" if needs_max else quoted
        text = f"CONCAT(N'\"', REPLACE({value}, N'\"', N'\"\"'), N'\"')"
    else:
        text = value_text(column, source_type)
    return f"CASE WHEN {quoted} IS NULL THEN N'' ELSE {text} END"


def _concat(arguments: list[str], needs_max: bool) -> str:
    # Every (nested) CONCAT starts from nvarchar(max) when the line may be long, because each
    # one would truncate on its own.
    start = ["CAST(N'' AS nvarchar(max))"] if needs_max else ["N''"]
    if len(arguments) <= _CONCAT_ARGS:
        return "CONCAT(" + ",\n    ".join(start + arguments) + ")"
    groups = [arguments[i : i + _CONCAT_ARGS] for i in range(0, len(arguments), _CONCAT_ARGS)]
    return _concat([_concat(group, needs_max) for group in groups], needs_max)
