"""FreeTDS's ``freebcp`` (Debian freetds-bin, a separate build from pymssql's) exports from the emulator.

Before the rows, freebcp asks for the result's shape with ``SET FMTONLY ON <query> SET FMTONLY
OFF`` (FreeTDS ``tds_bcp_init``) and reads results until none are left; a server that ignores
FMTONLY sends rows there, which freebcp never consumes, and it spins at 100% CPU. Every run here
has a timeout, so that hang fails the test instead of stalling the suite.

What freebcp writes in character mode (``-c``): FreeTDS converts each value to text on the
client. Dates and times use FreeTDS's bcp default ``%Y-%m-%d %H:%M:%S.%z`` (milliseconds,
truncated; a date gets 00:00:00.000, a time the date 1900-01-01, a datetimeoffset its own clock
time without the offset), and FreeTDS writes year 1 unpadded ("1-01-01"). NULL is an empty field.
"""

from __future__ import annotations

import contextlib
import os
import subprocess

import pymssql
import pytest

from tests.emulator.test_clients import (
    BAD_LOGIN,
    EVERY_TYPE_QUERY,
    EXPECTED,
    MISSING_OBJECT,
    MISSING_OBJECT_QUERY,
    NULL_QUERY,
    NULL_TYPES,
    SYNTAX_ERROR,
    SYNTAX_ERROR_QUERY,
    TSQL_EXPECTED,
)

FIELD = "\x1f"  # unit separator: never inside a value
VIEW = "dbo.vwFreebcpEveryType"
TABLE = "dbo.FreebcpOrders"

# Where freebcp's text differs from tsql's (tsql prints dates at minute resolution).
FREEBCP_EXPECTED = {
    **TSQL_EXPECTED,
    "date_min": "1-01-01 00:00:00.000",
    "date_max": "9999-12-31 00:00:00.000",
    "time_0": "1900-01-01 12:34:56.000",
    "time_7": "1900-01-01 23:59:59.999",
    "datetime_legacy": "2026-11-29 23:59:59.997",
    "datetime2_max": "9999-12-31 23:59:59.999",
    "datetime2_min": "1-01-01 00:00:00.000",
    "datetime2_ticks": "2026-11-29 12:34:56.123",
    "datetime2_3": "2026-11-29 12:34:56.123",
    "datetimeoffset_value": "2026-11-29 12:34:56.123",
}


def run_freebcp(emulator, source: str, direction: str, datafile, password: str | None = None):
    """One freebcp export in character mode; fails (TimeoutExpired) instead of hanging."""
    command = [
        "freebcp", source, direction, str(datafile),
        "-c", "-t", FIELD,
        "-S", f"{emulator.host}:{emulator.port}",
        "-U", emulator.user,
        "-P", emulator.password if password is None else password,
        "-D", emulator.database,
        # freebcp sends SET TEXTSIZE 4096 unless -T says otherwise (FreeTDS src/apps/freebcp.c),
        # and SQL Server then cuts the nvarchar(max) value at 4,096 bytes.
        "-T", "2147483647",
    ]  # fmt: skip
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=dict(os.environ, TDSVER="7.4", LANG="C.UTF-8"),
        timeout=60,
        check=False,
    )


def exported_rows(datafile) -> list[list[str]]:
    return [line.split(FIELD) for line in datafile.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def bcp_objects(emulator):
    """A view of every type and a small table with a NULL row, in the session's database."""
    kwargs = emulator.connect_kwargs(login_timeout=10, timeout=60)
    with contextlib.closing(pymssql.connect(**kwargs)) as conn:
        cursor = conn.cursor()
        cursor.execute(f"IF OBJECT_ID('{VIEW}', 'V') IS NOT NULL DROP VIEW {VIEW}")
        cursor.execute(f"CREATE VIEW {VIEW} AS {EVERY_TYPE_QUERY}")
        cursor.execute(f"IF OBJECT_ID('{TABLE}', 'U') IS NOT NULL DROP TABLE {TABLE}")
        cursor.execute(
            f"CREATE TABLE {TABLE} (id int NOT NULL, name nvarchar(20) NULL, amount decimal(10,2) NULL, "
            "CONSTRAINT PK_FreebcpOrders PRIMARY KEY (id))"
        )
        cursor.execute(f"INSERT INTO {TABLE} VALUES (1, N'Grüße', 12.50), (2, NULL, NULL)")
        conn.commit()


def test_freebcp_queryout_reads_every_type(emulator, tmp_path):
    datafile = tmp_path / "every_type.txt"
    result = run_freebcp(emulator, EVERY_TYPE_QUERY, "queryout", datafile)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rows copied." in result.stdout
    assert exported_rows(datafile) == [[FREEBCP_EXPECTED[name] for name in EXPECTED]]


def test_freebcp_queryout_writes_null_of_every_type_as_empty_fields(emulator, tmp_path):
    datafile = tmp_path / "nulls.txt"
    result = run_freebcp(emulator, NULL_QUERY, "queryout", datafile)
    assert result.returncode == 0, result.stdout + result.stderr
    assert exported_rows(datafile) == [[""] * len(NULL_TYPES)]


def test_freebcp_out_of_a_view_reads_every_type(emulator, bcp_objects, tmp_path):
    datafile = tmp_path / "view.txt"
    result = run_freebcp(emulator, f"{emulator.database}.{VIEW}", "out", datafile)
    assert result.returncode == 0, result.stdout + result.stderr
    assert exported_rows(datafile) == [[FREEBCP_EXPECTED[name] for name in EXPECTED]]


def test_freebcp_out_of_a_table(emulator, bcp_objects, tmp_path):
    datafile = tmp_path / "table.txt"
    result = run_freebcp(emulator, f"{emulator.database}.{TABLE}", "out", datafile)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rows copied." in result.stdout
    assert sorted(exported_rows(datafile)) == [["1", "Grüße", "12.50"], ["2", "", ""]]


def test_freebcp_bad_login_is_18456(emulator, tmp_path):
    result = run_freebcp(
        emulator, "SELECT 1", "queryout", tmp_path / "x.txt", password="not-the-" + "password"
    )
    assert result.returncode != 0
    assert f"Msg {BAD_LOGIN}, Level 14, State 1" in result.stderr
    assert "Login failed for user 'demo'." in result.stderr


@pytest.mark.parametrize(
    ("source", "direction", "number", "severity"),
    [
        (MISSING_OBJECT_QUERY, "queryout", MISSING_OBJECT, 16),
        ("dbo.NoSuchTable", "out", MISSING_OBJECT, 16),
        (SYNTAX_ERROR_QUERY, "queryout", SYNTAX_ERROR, 15),
    ],
    ids=["missing-object-queryout", "missing-object-out", "syntax-error"],
)
def test_freebcp_sees_sql_server_error_numbers(emulator, tmp_path, source, direction, number, severity):
    result = run_freebcp(emulator, source, direction, tmp_path / "x.txt")
    assert result.returncode != 0
    assert f"Msg {number}, Level {severity}, State 1" in result.stderr
