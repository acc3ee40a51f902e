"""connectorx, which reads SQL Server through tiberius (a Rust TDS client), against the emulator.

tiberius starts TLS whenever the server offers it: ``encrypt=true`` is the full-session TLS,
``encrypt=false`` still encrypts the login packet (both with ``trust_server_certificate``, the
emulator's certificate being self-signed).

connectorx's own type mapping differs from the DB-API drivers' in documented ways, pinned here
so a change shows: money arrives as float64, uniqueidentifier as text, datetime's 1/300 s ticks
truncated to microseconds (.997 is 299/300 s = .996666...), and every decimal becomes Arrow's
decimal128(38, 10): values with more than 28 digits make it panic and a scale above 10 is
rounded away, so the 38-digit columns are read as decimals that fit (18 + 10 digits) instead.
datetimeoffset arrives shifted by its offset once more (12:34:56+01:00 becomes 10:34:56 UTC);
Microsoft's ODBC driver and FreeTDS read the same bytes as 11:34:56 UTC
(test_client_mssql_python, test_client_pyodbc), so the shift is connectorx's.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
from decimal import Decimal

import pytest

from devtools.peer_clients import environment
from tests.emulator.peer_clients import SESSION_SQL, probe, result_rows
from tests.emulator.test_clients import (
    BAD_LOGIN,
    EVERY_TYPE,
    MISSING_OBJECT,
    MISSING_OBJECT_QUERY,
    NULL_TYPES,
    SYNTAX_ERROR,
    SYNTAX_ERROR_QUERY,
)

BEYOND_RUST_DECIMAL = {"decimal_38_0", "decimal_38_10", "decimal_38_38"}
CONNECTORX_VALUES = {
    "money_max": 922337203685477.5807,
    "money_min": -922337203685477.5808,
    "datetime_legacy": dt.datetime(2026, 11, 29, 23, 59, 59, 996666),
    "datetimeoffset_value": dt.datetime(2026, 11, 29, 10, 34, 56, 123456, tzinfo=dt.UTC),
    "uniqueidentifier_value": "6f9619ff-8b86-d011-b42d-00c04fd430c8",
}
IN_RANGE_DECIMALS = [
    ("decimal_18_0", "CAST(999999999999999999 AS decimal(18,0))", Decimal("999999999999999999")),
    ("decimal_28_10", "CAST(-999999999999999999.9999999999 AS decimal(28,10))", Decimal("-999999999999999999.9999999999")),
    ("decimal_10_10", "CAST(0.0000000001 AS decimal(10,10))", Decimal("0.0000000001")),
]  # fmt: skip
TYPES = [
    (name, expr, CONNECTORX_VALUES.get(name, value))
    for name, expr, value in EVERY_TYPE
    if name not in BEYOND_RUST_DECIMAL
] + IN_RANGE_DECIMALS
TYPES_QUERY = "SELECT " + ", ".join(f"{expr} AS {name}" for name, expr, _ in TYPES)
# connectorx needs a type for an all-NULL column; these are the ones it maps.
NULL_QUERY = "SELECT " + ", ".join(
    f"CAST(NULL AS {sql_type}) AS null_{i}"
    for i, sql_type in enumerate(NULL_TYPES)
    if sql_type != "decimal(38,10)"
)


def url(emu, encrypt: str, password: str | None = None) -> str:
    return (
        f"mssql://{emu.user}:{password or emu.password}@{emu.host}:{emu.port}/{emu.database}"
        f"?encrypt={encrypt}&trust_server_certificate=true"
    )


@pytest.mark.parametrize(("encrypt", "encrypt_option"), [("true", "TRUE"), ("false", "FALSE")])
def test_connectorx_logs_in_over_tls_and_reads_every_type(emulator, encrypt, encrypt_option):
    answer = probe(
        {
            "client": "connectorx",
            "connection": url(emulator, encrypt),
            "queries": {"session": SESSION_SQL, "types": TYPES_QUERY, "nulls": NULL_QUERY},
        }
    )
    assert result_rows(answer, "session")[1] == [[emulator.database, emulator.user, encrypt_option]]
    columns, rows = result_rows(answer, "types")
    assert columns == [name for name, _, _ in TYPES]
    for (name, _, expected), got in zip(TYPES, rows[0], strict=True):
        assert (got, type(got)) == (expected, type(expected)), name
        if isinstance(expected, dt.datetime) and expected.tzinfo is not None:
            assert got.utcoffset() == expected.utcoffset(), name
    assert all(value is None for value in result_rows(answer, "nulls")[1][0])


def test_connectorx_gets_sql_servers_error_numbers(emulator):
    answer = probe(
        {
            "client": "connectorx",
            "connection": url(emulator, "true"),
            "failing": {"missing": MISSING_OBJECT_QUERY, "syntax": SYNTAX_ERROR_QUERY},
        }
    )
    assert answer["errors"]["missing"]["number"] == MISSING_OBJECT
    assert answer["errors"]["syntax"]["number"] == SYNTAX_ERROR
    assert "Invalid object name 'dbo.NoSuchTable'." in answer["errors"]["missing"]["text"]


def test_connectorx_bad_login_is_18456(emulator):
    """connectorx's pool retries a refused login until its 30 s timeout, hiding the error; the
    error token tiberius decoded is in its log on the first attempt, so the test reads that."""
    script = (
        "import connectorx\n"
        f"connectorx.read_sql({url(emulator, 'true', 'not-the-' + 'password')!r}, 'SELECT 1', return_type='arrow')\n"
    )
    process = subprocess.Popen(
        [str(environment.peer_python()), "-c", script],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, RUST_LOG="tiberius=error"),
    )
    lines = []
    deadline = time.monotonic() + 40
    try:
        for line in process.stderr:
            lines.append(line)
            if f"code={BAD_LOGIN}" in line or time.monotonic() > deadline:
                break
    finally:
        process.kill()
        process.wait()
    logged = "".join(lines)
    assert f"Login failed for user '{emulator.user}'. code={BAD_LOGIN}" in logged, logged[-2000:]
