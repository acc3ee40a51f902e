"""Every T-SQL statement the sync sends to SQL Server, built as text by small pure functions.

One quoting rule (:func:`quote_name`) for every identifier; values the sync renders for COPY
use styles PostgreSQL reads back to the same value. Running the statements is the job of
``source.py`` and ``transfer.py``; tests read them here exactly as they will run.
"""

from __future__ import annotations

from collections.abc import Sequence

from include.table_sync.mapping import SyncMapping
from include.table_sync.sqlserver_types import SqlServerType

# The one column of the line query (see csv_line_statement).
LINE_COLUMN = "__csv_line"
# SQL Server truncates a CONCAT or REPLACE that has no (max) argument at 8,000 bytes: 4,000
# nvarchar characters. Longer lines must be built from nvarchar(max).
_NVARCHAR_LIMIT = 4000
# CONCAT takes 2 to 254 arguments; longer lists are nested.
_CONCAT_ARGS = 250
# Every field of the line carries this one explicit collation. Binary (code point by code
# point), so REPLACE doubles only U+0022: under the default SQL_Latin1_General_CP1_CI_AS
# (width-insensitive) REPLACE also matches the full-width quote U+FF02, and with columns of
# different collations CONCAT fails with error 468. An explicit COLLATE outranks every implicit
# one (learn.microsoft.com/sql/t-sql/statements/collation-precedence-transact-sql).
LINE_COLLATION = "Latin1_General_100_BIN2"
# SET TEXTSIZE caps every (max) value the server sends; pymssql's default may be replaced by a
# connection's conn_properties, so the sync sets it itself before the line query. 2^31 - 1 is
# the largest value SET TEXTSIZE takes (learn.microsoft.com/sql/t-sql/statements/set-textsize-transact-sql).
TEXTSIZE_STATEMENT = "SET TEXTSIZE 2147483647"


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


# -- the server's facts and session settings --------------------------------------------------

# Version and collation, for choosing the read path (the probe's report prints them too).
# ProductVersion is 'major.minor.build.revision': 11 is SQL Server 2012, 13 is 2016
# (learn.microsoft.com/sql/t-sql/functions/serverproperty-transact-sql).
SERVER_FACTS_STATEMENT = (
    "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)), "
    "CAST(SERVERPROPERTY('Collation') AS nvarchar(128)), @@VERSION"
)
# Whether a database allows SNAPSHOT transactions (parameter: the database name); 'ON' when
# ALLOW_SNAPSHOT_ISOLATION is on (learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-databases-transact-sql).
SNAPSHOT_STATE_STATEMENT = "SELECT snapshot_isolation_state_desc FROM sys.databases WHERE name = %s"
SNAPSHOT_ISOLATION_STATEMENT = "SET TRANSACTION ISOLATION LEVEL SNAPSHOT"


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
    """The source query the line path reads: each row rendered by the server as one CSV line.

    pymssql turns every value into a Python object, and at 67 columns that decoding is the
    slowest part of a sync (about 13k rows/s; see docs/benchmarks.md). Rendered as one
    nvarchar per row, the same rows are read about ten times faster and go to COPY (FORMAT
    csv) as they are. Text values are quoted with quotes doubled, so commas, quotes and line
    breaks survive; NULL is an unquoted empty field and an empty string a quoted one, which is
    how PostgreSQL's CSV COPY tells them apart. Other types use styles PostgreSQL reads back to
    the same value (``value_text``). The list still names every column.
    """
    fields = [(column.source, column.source_type) for column in mapping.columns]
    return f"SELECT\n  {line_expression(fields)} AS {quote_name(LINE_COLUMN)}\nFROM {source_origin(mapping)}"


def line_expression(fields: Sequence[tuple[str, SqlServerType]], needs_max: bool | None = None) -> str:
    """The one expression rendering ``fields`` (column name, declared type) as a CSV line.

    The line query and the render probe (``probe_statement``) both use it, so the probe checks
    exactly what the sync reads. ``needs_max`` (build from nvarchar(max)) defaults to what the
    fields' declared widths need.
    """
    if needs_max is None:
        longest = _longest_line(fields)
        needs_max = longest is None or longest > _NVARCHAR_LIMIT
    arguments: list[str] = []
    for name, source_type in fields:
        if arguments:
            arguments.append("N','")
        arguments.append(_csv_field(name, source_type, needs_max))
    return _concat(arguments, needs_max)


def line_needs_max(mapping: SyncMapping) -> bool:
    """Whether the mapping's line is built from nvarchar(max) (its longest line passes 4,000)."""
    longest = _longest_line([(column.source, column.source_type) for column in mapping.columns])
    return longest is None or longest > _NVARCHAR_LIMIT


def probe_statement(literals: Sequence[tuple[str, SqlServerType, str]], needs_max: bool) -> str:
    """One derived row of ``literals`` (column name, type, T-SQL literal), rendered as a line.

    Each literal is CAST to its declared type, so the line expression sees a value of exactly
    the type a mapped column has; ``needs_max`` is the line query's own choice
    (``line_needs_max``), so the probe runs the very same expressions.
    """
    row = ",\n    ".join(
        f"CAST({literal} AS {source_type}) AS {quote_name(name)}" for name, source_type, literal in literals
    )
    fields = [(name, source_type) for name, source_type, _ in literals]
    line = line_expression(fields, needs_max)
    return f"SELECT\n  {line} AS {quote_name(LINE_COLUMN)}\nFROM (SELECT\n    {row}) AS probe"


def _longest_line(fields: Sequence[tuple[str, SqlServerType]]) -> int | None:
    """The most characters one line can take, or None when a column is unbounded (max)."""
    total = 0
    for _, source_type in fields:
        width = value_text_width(source_type)
        if width is None:
            return None
        # Worst case for text: every character a quote (doubled), plus the two around it.
        total += (2 * width + 2 if source_type.is_text else width) + 1  # + the comma
    return total


def _csv_field(column: str, source_type: SqlServerType, needs_max: bool) -> str:
    quoted = quote_name(column)
    if source_type.is_text:
        # CAST first (nchar padding is kept; varchar widens losslessly to nvarchar), then the
        # binary collation, then REPLACE: escaping compares code points, nothing else.
        width = "max" if needs_max or source_type.length in (None, -1) else str(source_type.length)
        value = f"CAST({quoted} AS nvarchar({width})) COLLATE {LINE_COLLATION}"
        text = f"CONCAT(N'\"', REPLACE({value}, N'\"', N'\"\"'), N'\"')"
    else:
        text = f"{value_text(column, source_type)} COLLATE {LINE_COLLATION}"
    return f"CASE WHEN {quoted} IS NULL THEN N'' ELSE {text} END"


def _concat(arguments: list[str], needs_max: bool) -> str:
    # Every (nested) CONCAT starts from nvarchar(max) when the line may be long, because each
    # one would truncate on its own.
    start = ["CAST(N'' AS nvarchar(max))"] if needs_max else ["N''"]
    if len(arguments) <= _CONCAT_ARGS:
        return "CONCAT(" + ",\n    ".join(start + arguments) + ")"
    groups = [arguments[i : i + _CONCAT_ARGS] for i in range(0, len(arguments), _CONCAT_ARGS)]
    return _concat([_concat(group, needs_max) for group in groups], needs_max)
