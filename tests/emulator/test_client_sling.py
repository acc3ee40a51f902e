"""sling, a data movement CLI written in Go on go-mssqldb, against the emulator.

The sling binary comes from the ``sling-linux-amd64`` wheel in the peer environment (the
``sling`` package would download it at run time). It reads a query and writes CSV to stdout,
so values are compared as the text sling renders for the exact SQL Server value: timestamps
with all seven fractional digits and an offset, time(n) as sling's JSON-quoted timestamp on
0001-01-01, binary as text (bytes that are not UTF-8 become U+FFFD, so the exact bytes are
read as CONVERT style 1 hex as well). go-mssqldb's error text carries SQL Server's message but
sling prints no error number, so the errors are checked by SQL Server's message text.

go-mssqldb: ``encrypt=disable`` sends ENCRYPT_NOT_SUP (no TLS at all), ``encrypt=true`` is
full-session TLS, ``encrypt=strict`` is TDS 8.0 and checks the certificate against the CA file
given as ``certificate`` (TrustServerCertificate does not apply to strict).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import urllib.parse

import pytest

from devtools.certificates import CertificateAuthority
from devtools.mssql_emulator import MssqlEmulator
from devtools.peer_clients import environment
from tests.emulator.test_clients import EVERY_TYPE, MISSING_OBJECT_QUERY, SYNTAX_ERROR_QUERY

SLING_TEXT = {
    "nvarchar_text": "Grüße aus Köln, 東京 😀",
    "nchar_padded": "DE ",
    "varchar_text": "Müller",
    "char_padded": "ab  ",
    "nvarchar_max": "Grüße 😀 " * 1000,
    "int_max": "2147483647",
    "int_min": "-2147483648",
    "bigint_max": "9223372036854775807",
    "smallint_min": "-32768",
    "tinyint_max": "255",
    "bit_true": "1",
    "bit_false": "0",
    "decimal_38_0": "99999999999999999999999999999999999999",
    "decimal_38_10": "-9999999999999999999999999999.9999999999",
    "decimal_38_38": "0.00000000000000000000000000000000000001",
    "numeric_15_3": "-12345.678",
    "float_tenth": "0.1",
    "float_max": "17976931348623157" + "0" * 292,  # 1.7976931348623157E+308 written out
    "real_value": "3.5",
    "money_max": "922337203685477.5807",
    "money_min": "-922337203685477.5808",
    "date_min": "0001-01-01",
    "date_max": "9999-12-31",
    "time_0": '"0001-01-01T12:34:56Z"',
    "time_7": '"0001-01-01T23:59:59.9999999Z"',
    "datetime_legacy": "2026-11-29 23:59:59.997 +00",
    "datetime2_max": "9999-12-31 23:59:59.9999999 +00",
    "datetime2_min": "0001-01-01 00:00:00 +00",
    "datetime2_ticks": "2026-11-29 12:34:56.1234567 +00",
    "datetime2_3": "2026-11-29 12:34:56.123 +00",
    "datetime2_as_text_121": "9999-12-31 23:59:59.9999999",
    "datetimeoffset_value": "2026-11-29 12:34:56.1234567 +01",
    "uniqueidentifier_value": "6f9619ff-8b86-d011-b42d-00c04fd430c8",
    "varbinary_hex": "0xDEADBEEF00",
}
# DE AD is a UTF-8 sequence (U+07AD); BE EF is not and becomes one U+FFFD; 00 stays.
VARBINARY = ("varbinary_value", b"\xde\xad" + "\ufffd".encode() + b"\x00")
VARBINARY_HEX = (
    "varbinary_hex",
    "CONVERT(varchar(12), CAST(0xDEADBEEF00 AS varbinary(10)), 1)",
    "0xDEADBEEF00",
)
COLUMNS = [(name, expr) for name, expr, _ in EVERY_TYPE] + [VARBINARY_HEX[:2]]
TYPES_QUERY = "SELECT " + ", ".join(f"{expr} AS {name}" for name, expr in COLUMNS)
ENCRYPT_OPTION_SQL = "SELECT encrypt_option FROM sys.dm_exec_connections WHERE session_id = @@SPID"


def url(emu, query: str, password: str | None = None, host: str | None = None) -> str:
    secret = urllib.parse.quote(password or emu.password, safe="")
    # go-mssqldb reads a URL path as the instance name; the database is a parameter.
    return f"sqlserver://{emu.user}:{secret}@{host or emu.host}:{emu.port}?database={emu.database}&{query}"


def sling(connection_url: str, sql: str, tmp_path) -> subprocess.CompletedProcess:
    """``sling run`` from the query to CSV on stdout (bytes: binary columns stay raw)."""
    env = dict(
        os.environ,
        MSSQL=connection_url,
        HOME=str(tmp_path),  # sling keeps its env file and logs under HOME/.sling
        SLING_HOME_DIR=str(tmp_path / ".sling"),
        SLING_DISABLE_TELEMETRY="true",
    )
    environment.peer_python()  # builds the environment holding the binary
    return subprocess.run(
        [str(environment.sling_binary()), "run", "--src-conn", "MSSQL", "--src-stream", sql, "--stdout"],
        capture_output=True,
        env=env,
        timeout=120,
    )


def csv_rows(stdout: bytes) -> list[list[bytes]]:
    # latin-1 maps bytes 1:1, so each field's bytes survive CSV parsing untouched.
    return [
        [field.encode("latin-1") for field in row]
        for row in csv.reader(io.StringIO(stdout.decode("latin-1")))
    ]


@pytest.fixture(scope="module")
def strict_setup(tmp_path_factory):
    ca = CertificateAuthority.create(tmp_path_factory.mktemp("sling-ca"))
    server = ca.issue_server_certificate(tmp_path_factory.mktemp("sling-server"), ["localhost", "127.0.0.1"])
    with MssqlEmulator(tls_cert=server.cert, tls_key=server.key) as emu:
        yield emu, ca


@pytest.mark.parametrize(
    ("encrypt", "encrypt_option"),
    [("encrypt=true&TrustServerCertificate=true", "TRUE"), ("encrypt=disable", "FALSE")],
)
def test_sling_logs_in_and_reads_every_type(emulator, tmp_path, encrypt, encrypt_option):
    session = sling(url(emulator, encrypt), ENCRYPT_OPTION_SQL, tmp_path)
    assert session.returncode == 0, session.stderr.decode(errors="replace")[-3000:]
    assert csv_rows(session.stdout) == [[b"encrypt_option"], [encrypt_option.encode()]]
    result = sling(url(emulator, encrypt), TYPES_QUERY, tmp_path)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    header, row = csv_rows(result.stdout)
    assert [name.decode() for name in header] == [name for name, _ in COLUMNS]
    got = dict(zip((name.decode() for name in header), row, strict=True))
    assert got.pop(VARBINARY[0]) == VARBINARY[1]
    assert {name: value.decode("utf-8") for name, value in got.items()} == SLING_TEXT


def test_sling_strict_encryption_verifies_the_emulators_certificate(strict_setup, tmp_path):
    emu, ca = strict_setup
    verified = f"encrypt=strict&certificate={ca.cert}&hostNameInCertificate=localhost"
    result = sling(url(emu, verified, host="localhost"), ENCRYPT_OPTION_SQL, tmp_path)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    assert csv_rows(result.stdout) == [[b"encrypt_option"], [b"TRUE"]]
    untrusted = sling(url(emu, "encrypt=strict", host="localhost"), ENCRYPT_OPTION_SQL, tmp_path)
    assert untrusted.returncode != 0
    assert b"certificate signed by unknown authority" in untrusted.stderr + untrusted.stdout


def test_sling_gets_sql_servers_error_messages(emulator, tmp_path):
    encrypt = "encrypt=true&TrustServerCertificate=true"
    cases = [
        (url(emulator, encrypt), MISSING_OBJECT_QUERY, "mssql: Invalid object name 'dbo.NoSuchTable'."),
        (url(emulator, encrypt), SYNTAX_ERROR_QUERY, "mssql: Incorrect syntax near 'WHERE'."),
        (
            url(emulator, encrypt, password="not-the-" + "password"),
            "SELECT 1",
            f"mssql: login error: Login failed for user '{emulator.user}'.",
        ),
    ]
    for connection_url, sql, message in cases:
        result = sling(connection_url, sql, tmp_path)
        assert result.returncode != 0, sql
        assert message in (result.stderr + result.stdout).decode(errors="replace"), sql
