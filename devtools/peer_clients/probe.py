"""Run by the peer environment's Python: one client's view of a server, as JSON on stdout.

    echo '{"client": "pyodbc", "connection": "...", ...}' | .run/peer-venv/bin/python probe.py

Input (JSON on stdin): ``client`` (mssql_python, pyodbc or connectorx), ``connection`` (the
client's connection string), ``bad_connection`` (the same with a wrong password), ``queries``
(name -> SQL whose rows are wanted) and ``failing`` (name -> SQL expected to fail).
Output: each query's column names and rows with every value tagged by its Python type (see
``tag``), and for each failure the error number the client reports and its text.
This module imports no driver at import time, so the tests can import ``tag``/``untag``.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import re
import struct
import sys
import uuid

# How each client shows a server error's number in its exception text.
ERROR_NUMBER = {
    "pyodbc": re.compile(r"\((\d+)\) \(SQL"),  # "...Invalid object name 'x'. (208) (SQLExecDirectW)"
    "mssql_python": re.compile(r"\((\d+)\)"),
    "connectorx": re.compile(r"code: (\d+)"),  # tiberius: "... (code: 208, state: 1, class: 16)"
}


def tag(value):
    """A JSON form that keeps the Python type: [type name, text]."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        return ["float", repr(value)]
    if isinstance(value, str):
        return ["str", value]
    if isinstance(value, decimal.Decimal):
        return ["Decimal", str(value)]
    if isinstance(value, dt.datetime):
        return ["datetime", value.isoformat()]
    if isinstance(value, dt.date):
        return ["date", value.isoformat()]
    if isinstance(value, dt.time):
        return ["time", value.isoformat()]
    if isinstance(value, uuid.UUID):
        return ["UUID", str(value)]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ["bytes", base64.b64encode(bytes(value)).decode()]
    return ["other:" + type(value).__name__, repr(value)]


def untag(tagged):
    """The Python value ``tag`` described."""
    if tagged is None:
        return None
    kind, text = tagged
    return {
        "bool": lambda t: t,
        "int": int,
        "float": float,
        "str": str,
        "Decimal": decimal.Decimal,
        "datetime": dt.datetime.fromisoformat,
        "date": dt.date.fromisoformat,
        "time": dt.time.fromisoformat,
        "UUID": uuid.UUID,
        "bytes": base64.b64decode,
    }.get(kind, lambda t: (kind, t))(text)


SQL_SS_TIMESTAMPOFFSET = -155  # ODBC type of datetimeoffset, which pyodbc leaves to the caller


def _datetimeoffset(raw: bytes) -> dt.datetime:
    """SQL_SS_TIMESTAMPOFFSET_STRUCT: year..second (6 x SQLSMALLINT), fraction in ns, tz hour/minute.

    https://learn.microsoft.com/en-us/sql/relational-databases/native-client-odbc-date-time/data-type-support-for-odbc-date-and-time-improvements
    """
    year, month, day, hour, minute, second, nanoseconds, tz_hour, tz_minute = struct.unpack("<6hI2h", raw)
    offset = dt.timezone(dt.timedelta(hours=tz_hour, minutes=tz_minute))
    return dt.datetime(year, month, day, hour, minute, second, nanoseconds // 1000, tzinfo=offset)


def _dbapi(module, connection: str):
    conn = module.connect(connection, autocommit=True)
    if hasattr(conn, "add_output_converter"):
        conn.add_output_converter(SQL_SS_TIMESTAMPOFFSET, _datetimeoffset)

    def run(sql: str):
        cursor = conn.cursor()
        cursor.execute(sql)
        columns = [d[0] for d in cursor.description]
        return columns, [list(row) for row in cursor.fetchall()]

    return run


def _connect(client: str, connection: str):
    """A function running one query: SQL -> (column names, rows)."""
    if client == "mssql_python":
        import mssql_python

        return _dbapi(mssql_python, connection)
    if client == "pyodbc":
        import pyodbc

        pyodbc.pooling = False  # a failed login must reach the server, not a pooled connection
        pyodbc.native_uuid = True  # uniqueidentifier as uuid.UUID (its default is a string)

        return _dbapi(pyodbc, connection)
    if client == "connectorx":
        import connectorx

        def run(sql: str):
            table = connectorx.read_sql(connection, sql, return_type="arrow")
            return table.column_names, [list(row.values()) for row in table.to_pylist()]

        run("SELECT 1 AS login_check")  # connectorx opens a connection per call
        return run
    raise ValueError(f"unknown client {client!r}")


def _error(client: str, exc: Exception) -> dict:
    text = str(exc)
    found = ERROR_NUMBER[client].search(text)
    return {
        "number": int(found.group(1)) if found else None,
        "text": text,
        "type": type(exc).__name__,
        "driver_error": getattr(exc, "driver_error", None),  # mssql-python: the SQLSTATE's text
    }


def main() -> int:
    job = json.load(sys.stdin)
    client = job["client"]
    out: dict = {"results": {}, "errors": {}}
    run = _connect(client, job["connection"]) if job.get("connection") else None
    for name, sql in job.get("queries", {}).items():
        columns, rows = run(sql)
        out["results"][name] = {"columns": columns, "rows": [[tag(v) for v in row] for row in rows]}
    for name, sql in job.get("failing", {}).items():
        try:
            run(sql)
        except Exception as exc:  # the client's own error type is what is reported
            out["errors"][name] = _error(client, exc)
        else:
            out["errors"][name] = {"number": None, "text": "no error", "type": None}
    if job.get("bad_connection"):
        try:
            _connect(client, job["bad_connection"])
        except Exception as exc:
            out["errors"]["bad_login"] = _error(client, exc)
        else:
            out["errors"]["bad_login"] = {"number": None, "text": "logged in", "type": None}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
