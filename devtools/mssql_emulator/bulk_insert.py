"""INSERT ... VALUES: SQL Server's 1,000-row limit, the INSERT that stores each value in its
column's stored form, and the fast path for ``INSERT INTO t (cols) VALUES (...), (...)`` with
plain literals.

The engine imports this module, never the reverse: the fast path is handed the engine's target
look-up and write as plain callables.

Seeding a million rows arrives as such batches of up to 1,000 rows. Parsing them with sqlglot,
or even handing DuckDB the VALUES list, costs seconds per batch; DuckDB's CSV reader takes the
same rows in milliseconds. T-SQL literals are nearly CSV already (quote ', doubled to escape),
so after one shape check the rows are rewritten as CSV text, staged in a temporary file and
inserted with the same per-column normalisation as any other INSERT. Anything else
(expressions, functions, variables, several statements) returns None and takes the general
path, as does any batch DuckDB refuses, so errors are always reported by the general path.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable

from sqlglot import exp

from devtools.mssql_emulator import sqltypes
from devtools.mssql_emulator.catalog import TableDef
from devtools.mssql_emulator.results import Column, SqlServerError

# "The maximum number of rows that can be inserted in a single INSERT statement is 1000"
# (https://learn.microsoft.com/en-us/sql/t-sql/queries/table-value-constructor-transact-sql).
MAX_VALUES_ROWS = 1000

_NAME = r'(?:\[[^\]]+\]|"[^"]+"|[A-Za-z_@#][\w@#$]*)'
_HEADER = re.compile(
    rf"\s*INSERT\s+(?:INTO\s+)?(?P<table>{_NAME}(?:\s*\.\s*{_NAME}){{0,2}})\s*"
    rf"(?:\((?P<columns>\s*{_NAME}(?:\s*,\s*{_NAME})*\s*)\))?\s*VALUES\s*",
    re.I,
)
# Checking and reshaping only the text *between* string literals: split on quotes, and every
# literal (escaped quotes included) becomes one or more QUOTED marks, so nothing inside a
# literal can be mistaken for structure. Each step is one pass of a C method over UTF-8 bytes
# (one byte per character, where a single emoji makes a str four), and few objects are made:
# a million rows are 650 MB of text, and this check once cost more than DuckDB's insert.
QUOTED = b"\x01"
_VALUE = rb"(?:\x01+|N\x01+|NULL|n\x01+|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_LINES = re.compile(rb"%s(?:[,\n]%s)*" % (_VALUE, _VALUE))  # values by comma, rows by newline
_DELIMITERS = b"(),"
_STAGE_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None


def _unquote(name: str) -> str:
    name = name.strip()
    return name[1:-1] if name[:1] in '["' else name


def values_as_csv(body: str) -> tuple[bytes, int] | None:
    """The VALUES rows as UTF-8 CSV (quote ', NULL unquoted) and their count; None if not plain literals.

    Rows of the wrong width pass here; DuckDB's strict CSV reader refuses them, and the
    general path then reports SQL Server's error.
    """
    try:
        pieces = body.encode("utf-8").split(b"'")
    except UnicodeEncodeError:
        return None  # a lone surrogate: leave it to the general path
    if len(pieces) % 2 == 0:
        return None  # an unclosed literal
    words = QUOTED.join(pieces[0::2]).split()
    # Whitespace may only sit next to a parenthesis or comma: "1 2" is not a value. (Indexing,
    # not pairwise(): a tuple per pair would wake the garbage collector, which then walks
    # the 100,000 pieces.)
    for index in range(1, len(words)):
        if words[index - 1][-1] not in _DELIMITERS and words[index][0] not in _DELIMITERS:
            return None
    outside = b"".join(words)
    if outside.endswith(b";"):
        outside = outside[:-1]
    if outside[:1] != b"(" or outside[-1:] != b")":
        return None
    lines = outside[1:-1].replace(b"),(", b"\n")
    if not _LINES.fullmatch(lines):
        return None  # an expression, a function call, a variable, an empty value, nesting
    # Past the check "N" + mark is always a national-string prefix, and there is no "%".
    template = lines.replace(b"N" + QUOTED, QUOTED).replace(b"n" + QUOTED, QUOTED)
    rows = template.count(b"\n") + 1
    return template.replace(QUOTED, b"'%s'") % tuple(pieces[1::2]), rows


def too_many_rows() -> SqlServerError:
    """Error 10738: more row value expressions than one INSERT ... VALUES may hold."""
    return SqlServerError(
        10738,
        "The number of row value expressions in the INSERT statement exceeds the maximum allowed "
        f"number of {MAX_VALUES_ROWS} row values.",
        15,
    )


def insert_sql(table: TableDef, columns: list[Column], source_sql: str) -> str:
    """INSERT that stores each value in its column's stored form (see sqltypes.normalizer)."""
    aliases = [f"__c{i}" for i in range(len(columns))]
    targets = ", ".join(f'"{c.name}"' for c in columns)
    values = ", ".join(sqltypes.normalizer(c, f"__src.{a}") for c, a in zip(columns, aliases, strict=False))
    return f"INSERT INTO {table.duck_name} ({targets}) SELECT {values} FROM ({source_sql}) AS __src({', '.join(aliases)})"


def try_fast_insert(
    sql: str,
    find_target: Callable[[exp.Table], TableDef],
    write: Callable[[str, TableDef], int],
) -> int | None:
    """Insert and return the row count, or None when the batch is not a plain literal INSERT.

    ``find_target`` resolves the INSERT's table as the general path does (raising its errors);
    ``write`` runs one DuckDB write and returns the rows it touched.
    """
    header = _HEADER.match(sql)
    if header is None:
        return None
    staged = values_as_csv(sql[header.end() :])
    if staged is None:
        return None
    csv_text, rows = staged
    parts = [_unquote(p) for p in re.findall(_NAME, header.group("table"))]
    table_node = exp.Table(
        this=exp.to_identifier(parts[-1]),
        db=exp.to_identifier(parts[-2]) if len(parts) > 1 else None,
        catalog=exp.to_identifier(parts[-3]) if len(parts) > 2 else None,
    )
    table = find_target(table_node)
    if header.group("columns"):
        names = [_unquote(n) for n in re.findall(_NAME, header.group("columns"))]
    else:
        identity = table.defaults.get("__identity__", ())
        names = [c.name for c in table.columns if c.name.lower() not in identity]
    columns = []
    for name in names:
        col = table.column(name)
        if col is None:
            raise SqlServerError(207, f"Invalid column name '{name}'.")
        columns.append(col)
    if rows > MAX_VALUES_ROWS:
        raise too_many_rows()
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", dir=_STAGE_DIR) as stage:
        stage.write(csv_text)
        stage.flush()
        spec = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(columns)))
        source = (
            f"SELECT * FROM read_csv('{stage.name}', columns={{{spec}}}, header=false, delim=',', "
            "quote='''', escape='''', nullstr='NULL', allow_quoted_nulls=false, auto_detect=false, "
            "strict_mode=true)"
        )
        try:
            return write(insert_sql(table, columns, source), table)
        except SqlServerError:
            # Wrong widths, values DuckDB reads differently from text, constraint violations:
            # the general path reports them exactly as SQL Server would.
            return None
