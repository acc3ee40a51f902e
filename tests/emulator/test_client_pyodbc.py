"""pyodbc over Debian's FreeTDS ODBC driver (``tdsodbc``, a separate FreeTDS build from
pymssql's) against the emulator, without and with encryption (``Encryption=off/require``).

pyodbc leaves datetimeoffset (ODBC type -155) to an output converter; the probe registers one
that reads Microsoft's SQL_SS_TIMESTAMPOFFSET_STRUCT, and asks for uniqueidentifier as a UUID.
"""

from __future__ import annotations

import pytest

from tests.emulator.peer_clients import SESSION_SQL, probe, result_rows
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


def connection_string(emu, encryption: str, password: str | None = None) -> str:
    # The driver's registered name: Debian's tdsodbc adds [FreeTDS] to /etc/odbcinst.ini.
    return (
        f"DRIVER={{FreeTDS}};SERVER={emu.host};PORT={emu.port};DATABASE={emu.database};"
        f"UID={emu.user};PWD={password or emu.password};TDS_Version=7.4;ClientCharset=UTF-8;"
        f"Encryption={encryption}"
    )


@pytest.mark.parametrize(("encryption", "encrypt_option"), [("off", "FALSE"), ("require", "TRUE")])
def test_pyodbc_freetds_logs_in_and_reads_every_type(emulator, encryption, encrypt_option):
    answer = probe(
        {
            "client": "pyodbc",
            "connection": connection_string(emulator, encryption),
            "queries": {"session": SESSION_SQL, "types": EVERY_TYPE_QUERY, "nulls": NULL_QUERY},
        }
    )
    assert result_rows(answer, "session")[1] == [[emulator.database, emulator.user, encrypt_option]]
    columns, rows = result_rows(answer, "types")
    assert len(rows) == 1
    assert_every_type(columns, tuple(rows[0]))
    assert result_rows(answer, "nulls")[1] == [[None] * len(NULL_TYPES)]


def test_pyodbc_freetds_gets_sql_servers_error_numbers(emulator):
    answer = probe(
        {
            "client": "pyodbc",
            "connection": connection_string(emulator, "require"),
            "bad_connection": connection_string(emulator, "require", "not-the-" + "password"),
            "failing": {"missing": MISSING_OBJECT_QUERY, "syntax": SYNTAX_ERROR_QUERY},
        }
    )
    errors = answer["errors"]
    assert [errors[name]["number"] for name in ("bad_login", "missing", "syntax")] == [
        BAD_LOGIN,
        MISSING_OBJECT,
        SYNTAX_ERROR,
    ]
    assert "[FreeTDS][SQL Server]Invalid object name 'dbo.NoSuchTable'." in errors["missing"]["text"]
