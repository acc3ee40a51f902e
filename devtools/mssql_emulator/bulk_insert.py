"""The fast path for ``INSERT INTO t (cols) VALUES (...), (...)`` with plain literals.

Seeding a million rows arrives as such batches of up to 1,000 rows; parsing them with sqlglot
costs far more than storing them. T-SQL literals (N'..', '', numbers, NULL) are also DuckDB
literals, so after one regular-expression check the VALUES text goes to DuckDB unchanged,
wrapped in the same per-column normalisation as any other INSERT. Anything else (expressions,
functions, variables, several statements) returns None and takes the general path.
"""

from __future__ import annotations

import re

from devtools.mssql_emulator.results import Session, SqlServerError

_NAME = r'(?:\[[^\]]+\]|"[^"]+"|[A-Za-z_@#][\w@#$]*)'
_HEADER = re.compile(
    rf"\s*INSERT\s+(?:INTO\s+)?(?P<table>{_NAME}(?:\s*\.\s*{_NAME}){{0,2}})\s*"
    rf"(?:\((?P<columns>\s*{_NAME}(?:\s*,\s*{_NAME})*\s*)\))?\s*VALUES\s*",
    re.I,
)
_VALUE = r"(?:N?'(?:[^']|'')*'|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NULL)"
_ROW = rf"\(\s*{_VALUE}(?:\s*,\s*{_VALUE})*\s*\)"
_ROW_START = re.compile(rf"\s*{_ROW}\s*(?:,|;?\s*$)", re.I)
_ONE_ROW = re.compile(rf"\s*{_ROW}", re.I)
_ROWS = re.compile(rf"{_ROW}(?:\s*,\s*{_ROW})*\s*;?\s*", re.I)
_COMMA_OUTSIDE = re.compile(r"N?'(?:[^']|'')*'|,", re.I)


def _unquote(name: str) -> str:
    name = name.strip()
    return name[1:-1] if name[:1] in "[\"" else name


def try_fast_insert(engine, session: Session, sql: str) -> int | None:
    """Insert and return the row count, or None when the batch is not a plain literal INSERT."""
    header = _HEADER.match(sql)
    if header is None:
        return None
    body = sql[header.end():]
    if not _ROWS.fullmatch(body):
        return None
    from sqlglot import exp

    from devtools.mssql_emulator import engine as engine_module
    from devtools.mssql_emulator.translate import Translator

    parts = [_unquote(p) for p in re.findall(_NAME, header.group("table"))]
    table_node = exp.Table(
        this=exp.to_identifier(parts[-1]),
        db=exp.to_identifier(parts[-2]) if len(parts) > 1 else None,
        catalog=exp.to_identifier(parts[-3]) if len(parts) > 2 else None,
    )
    table, _ = engine._target(session, table_node)
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
    rows = _count_rows(body)
    if rows > engine_module.MAX_VALUES_ROWS:
        raise SqlServerError(
            10738,
            "The number of row value expressions in the INSERT statement exceeds the maximum allowed "
            "number of 1000 row values.",
            15,
        )
    first_row = _ONE_ROW.match(body).group(0)
    width = sum(1 for token in _COMMA_OUTSIDE.findall(first_row) if token == ",") + 1
    if width != len(columns):
        raise engine_module._width_error(width, len(columns))
    values = "VALUES " + body.strip().rstrip(";")
    _ = Translator  # name resolution already went through the translator's rules
    return engine._write(engine_module.insert_sql(table, columns, values), table)


def _count_rows(body: str) -> int:
    """Rows in a validated VALUES body: row-opening parentheses outside string literals."""
    without_strings = re.sub(r"N?'(?:[^']|'')*'", "''", body)
    return without_strings.count("(")
