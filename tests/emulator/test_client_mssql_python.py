"""Microsoft's own driver, mssql-python (Microsoft ODBC Driver 18 inside), against the emulator.

ODBC Driver 18 encrypts by default: ``Encrypt=yes`` with ``TrustServerCertificate=yes`` is the
full-session TLS of TDS 7.4; ``Encrypt=no`` still encrypts the login packet (MS-TDS 2.2.6.5);
``Encrypt=strict`` is TDS 8.0 (TLS before PRELOGIN) and never trusts a certificate blindly, so
it names the emulator's certificate file (``ServerCertificate``, ODBC Driver 18.1+).

mssql-python's exceptions carry the SQLSTATE's text and the server's message but not its error
number, so the numbers are read through the same ODBC driver binary with pyodbc.
"""

from __future__ import annotations

import pytest

from devtools.certificates import self_signed_server_certificate
from devtools.mssql_emulator import MssqlEmulator
from tests.emulator.peer_clients import SESSION_SQL, msodbcsql_driver, probe, result_rows
from tests.emulator.test_clients import (
    BAD_LOGIN,
    EVERY_TYPE_QUERY,
    MISSING_OBJECT,
    MISSING_OBJECT_QUERY,
    NULL_QUERY,
    NULL_TYPES,
    SYNTAX_ERROR,
    SYNTAX_ERROR_QUERY,
    assert_every_type,
)


def connection_string(emu, encrypt: str, password: str | None = None, extra: str = "") -> str:
    return (
        f"Server=tcp:{emu.host},{emu.port};Database={emu.database};UID={emu.user};"
        f"PWD={password or emu.password};Encrypt={encrypt};{extra}"
    )


@pytest.fixture(scope="module")
def strict_emulator(tmp_path_factory):
    """An emulator presenting a self-signed certificate for localhost that the test can name."""
    pair = self_signed_server_certificate(
        tmp_path_factory.mktemp("strict"), "localhost", ["localhost", "127.0.0.1"]
    )
    with MssqlEmulator(tls_cert=pair.cert, tls_key=pair.key) as emu:
        emu.host = "localhost"  # the name in the certificate
        yield emu, pair.cert


@pytest.mark.parametrize(
    ("encrypt", "encrypt_option"), [("yes;TrustServerCertificate=yes", "TRUE"), ("no", "FALSE")]
)
def test_mssql_python_logs_in_and_reads_every_type(emulator, encrypt, encrypt_option):
    answer = probe(
        {
            "client": "mssql_python",
            "connection": connection_string(emulator, encrypt),
            "queries": {"session": SESSION_SQL, "types": EVERY_TYPE_QUERY, "nulls": NULL_QUERY},
        }
    )
    _, session = result_rows(answer, "session")
    assert session == [[emulator.database, emulator.user, encrypt_option]]
    columns, rows = result_rows(answer, "types")
    assert len(rows) == 1
    assert_every_type(columns, tuple(rows[0]))
    assert result_rows(answer, "nulls")[1] == [[None] * len(NULL_TYPES)]


def test_mssql_python_strict_encryption_is_tds8(strict_emulator):
    emu, cert = strict_emulator
    answer = probe(
        {
            "client": "mssql_python",
            "connection": connection_string(emu, "strict", extra=f"ServerCertificate={cert}"),
            "queries": {"session": SESSION_SQL},
        }
    )
    assert result_rows(answer, "session")[1] == [[emu.database, emu.user, "TRUE"]]


def test_mssql_python_strict_refuses_a_certificate_it_was_not_given(strict_emulator):
    emu, _cert = strict_emulator
    answer = probe(
        {
            "client": "mssql_python",
            "connection": "",
            "bad_connection": connection_string(emu, "strict", extra="TrustServerCertificate=yes"),
        }
    )
    assert "certificate verify failed" in answer["errors"]["bad_login"]["text"]


def test_mssql_python_gets_sql_servers_errors(emulator):
    bad_password = "not-the-" + "password"
    answer = probe(
        {
            "client": "mssql_python",
            "connection": connection_string(emulator, "yes;TrustServerCertificate=yes"),
            "bad_connection": connection_string(emulator, "yes;TrustServerCertificate=yes", bad_password),
            "failing": {"missing": MISSING_OBJECT_QUERY, "syntax": SYNTAX_ERROR_QUERY},
        }
    )
    errors = answer["errors"]
    # The driver's SQLSTATE texts are what ODBC Driver 18 maps these error numbers to.
    assert errors["missing"]["driver_error"] == "Base table or view not found"
    assert "Invalid object name 'dbo.NoSuchTable'." in errors["missing"]["text"]
    assert errors["syntax"]["driver_error"] == "Syntax error or access violation"
    assert "Incorrect syntax near 'WHERE'." in errors["syntax"]["text"]
    assert errors["bad_login"]["driver_error"] == "Invalid authorization specification"
    assert f"Login failed for user '{emulator.user}'." in errors["bad_login"]["text"]


def test_odbc_driver_18_reports_sql_servers_error_numbers(emulator):
    driver = msodbcsql_driver()

    def odbc(password: str) -> str:
        return (
            f"DRIVER={driver};SERVER=tcp:{emulator.host},{emulator.port};DATABASE={emulator.database};"
            f"UID={emulator.user};PWD={password};Encrypt=yes;TrustServerCertificate=yes"
        )

    answer = probe(
        {
            "client": "pyodbc",
            "connection": odbc(emulator.password),
            "bad_connection": odbc("not-the-" + "password"),
            "failing": {"missing": MISSING_OBJECT_QUERY, "syntax": SYNTAX_ERROR_QUERY},
        }
    )
    errors = answer["errors"]
    assert [errors[name]["number"] for name in ("bad_login", "missing", "syntax")] == [
        BAD_LOGIN,
        MISSING_OBJECT,
        SYNTAX_ERROR,
    ]
    assert "[Microsoft][ODBC Driver 18 for SQL Server]" in errors["missing"]["text"]
