"""sp_executesql over RPC: the statement with its parameters bound as typed T-SQL literals.

The engine takes plain T-SQL text, so an RPC call's parameters become literals in that text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import uuid

from devtools.mssql_emulator import client_messages
from devtools.mssql_emulator.results import SqlServerError

_SQL_TOKENS = re.compile(
    r"(?P<skip>N?'(?:[^']|'')*'|\[[^\]]*\]|\"[^\"]*\"|--[^\n]*|/\*.*?\*/)|(?P<param>@@?\w+)",
    re.DOTALL,
)
_DECLARATION = re.compile(
    r"\s*(@\w+)\s+((?:[^,(]|\([^)]*\))+?)(?:\s+(?:OUTPUT|OUT))?\s*(?:,|$)", re.IGNORECASE
)


def bind_parameters(parameters: list[client_messages.RpcParameter]) -> str:
    """sp_executesql @stmt, @params, @p1 = v1...: the statement with typed literals for parameters.

    The engine takes plain T-SQL text, so each parameter reference (outside strings, comments and
    quoted identifiers) becomes ``CAST(<literal> AS <declared type>)``, the type coming from
    @params, so a bit stays a bit and a NULL keeps its type.
    """
    if not parameters or not isinstance(parameters[0].value, str):
        raise SqlServerError(
            214, "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'.", 16, 2
        )
    statement = parameters[0].value
    declared = [
        (name.lower(), sql_type.strip())
        for name, sql_type in _DECLARATION.findall(
            (parameters[1].value if len(parameters) > 1 else None) or ""
        )
    ]
    types = dict(declared)
    values = {}
    positional = [p for p in parameters[2:] if not p.name]
    for (name, _), p in zip(declared, positional, strict=False):
        values[name] = p.value
    for p in parameters[2:]:
        if p.name:
            values[p.name.lower()] = p.value

    def substitute(match: re.Match) -> str:
        name = match.group("param")
        if name is None or name.startswith("@@"):
            return match.group(0)
        key = name.lower()
        if key not in values:
            raise SqlServerError(137, f'Must declare the scalar variable "{name}".', 15, 2)
        if key in types:
            return f"CAST({_plain_literal(values[key])} AS {types[key]})"
        return sql_literal(values[key])

    return _SQL_TOKENS.sub(substitute, statement)


def _plain_literal(value) -> str:
    """A T-SQL literal that CAST turns into the parameter's declared type."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SqlServerError(50000, "The emulator cannot bind a NaN or infinite float.", 16, 1)
        return repr(value)
    if isinstance(value, str):
        return "N'" + value.replace("'", "''") + "'"
    if isinstance(value, (bytes, bytearray)):
        # An empty value is a binary string of length 0, not NULL (DATALENGTH 0); written as a
        # cast of '' because the translator does not read a bare 0x.
        return "0x" + bytes(value).hex() if value else "CAST('' AS varbinary(1))"
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat(sep=' ')}'"
    if isinstance(value, (dt.date, dt.time, uuid.UUID)):
        return f"'{value}'"
    raise SqlServerError(
        50000, f"The emulator cannot bind a parameter of type {type(value).__name__}.", 16, 1
    )


def sql_literal(value) -> str:
    """A T-SQL literal carrying its own type, for a parameter @params does not declare."""
    if isinstance(value, float):
        return f"CAST({_plain_literal(value)} AS float)"
    if isinstance(value, uuid.UUID):
        return f"CAST('{value}' AS uniqueidentifier)"
    if isinstance(value, dt.datetime):
        kind = "datetimeoffset" if value.tzinfo is not None else "datetime2"
        return f"CAST({_plain_literal(value)} AS {kind})"
    if isinstance(value, dt.date):
        return f"CAST('{value.isoformat()}' AS date)"
    if isinstance(value, dt.time):
        return f"CAST('{value.isoformat()}' AS time)"
    return _plain_literal(value)
