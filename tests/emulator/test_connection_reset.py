"""A pooled connection's reset: "back to the default environment setting, effectively simulating
a logout and a subsequent login" ([MS-TDS] 2.2.3.1.2, RESETCONNECTION), asked for by the status
bit (Microsoft's drivers) or by the sp_reset_connection RPC (python-tds' pool)."""

from __future__ import annotations

import struct
import uuid

from tests.emulator import raw_tds

RESETCONNECTION = 0x08
RESETCONNECTIONSKIPTRAN = 0x10
RESET_ACK = b"\xe3\x03\x00\x12\x00\x00"  # ENVCHANGE, length 3, type 18, empty new and old values
SERIALIZABLE = 4  # sys.dm_exec_sessions.transaction_isolation_level


def _scalar(conn, sql: str):
    cursor = conn.cursor()
    cursor.execute(sql)
    return cursor.fetchone()[0]


def _envchange_database(new: str, old: str) -> bytes:
    body = b"\x01" + bytes([len(new)]) + new.encode("utf-16-le") + bytes([len(old)]) + old.encode("utf-16-le")
    return b"\xe3" + struct.pack("<H", len(body)) + body


def _done_rowcount(response: bytes) -> int:
    return struct.unpack_from("<Q", response, len(response) - 8)[0]


def test_sp_reset_connection_goes_back_to_the_logins_database_and_options(pytds_connect, emulator):
    conn = pytds_connect()
    cursor = conn.cursor()
    cursor.execute("USE master")
    cursor.execute("SET ROWCOUNT 1")
    cursor.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    cursor.callproc("sp_reset_connection", [])
    assert _scalar(conn, "SELECT DB_NAME()") == emulator.database
    cursor = conn.cursor()
    cursor.execute("SELECT v FROM (VALUES (1), (2), (3)) AS t(v)")
    assert len(cursor.fetchall()) == 3  # SET ROWCOUNT went with the reset
    # "Distributed transactions and isolation levels are not reset."
    level = _scalar(
        conn, "SELECT transaction_isolation_level FROM sys.dm_exec_sessions WHERE session_id = @@SPID"
    )
    assert level == SERIALIZABLE


def test_the_status_bit_resets_before_the_batch_and_acknowledges(emulator):
    client = raw_tds.RawTdsClient(emulator.host, emulator.port)
    try:
        client.login(emulator.user, emulator.password, emulator.database)
        client.batch("USE master; SET ROWCOUNT 1")
        client.read_message()
        client.batch(
            "SELECT DB_NAME() + N'|now' FROM (VALUES (1), (2)) AS t(v)", first_status=RESETCONNECTION
        )
        response = client.read_message()
        client.batch("SELECT DB_NAME() + N'|after'")
        after = client.read_message()
    finally:
        client.close()
    assert response.startswith(RESET_ACK)
    assert _envchange_database(emulator.database, "master") in response
    assert f"{emulator.database}|now".encode("utf-16-le") in response
    assert _done_rowcount(response) == 2
    assert f"{emulator.database}|after".encode("utf-16-le") in after
    assert not after.startswith(RESET_ACK)  # one reset, for the message that asked


def test_the_status_bit_rolls_back_and_skiptran_keeps_the_transaction(emulator, pymssql_connect):
    table = f"reset_{uuid.uuid4().hex[:8]}"
    observer = pymssql_connect(autocommit=True)
    observer.cursor().execute(f"CREATE TABLE {table} (a int)")
    client = raw_tds.RawTdsClient(emulator.host, emulator.port)
    try:
        client.login(emulator.user, emulator.password, emulator.database)
        client.batch(f"BEGIN TRAN; INSERT {table} VALUES (1)")
        client.read_message()
        client.batch("SELECT @@TRANCOUNT * 10 + 7", first_status=RESETCONNECTIONSKIPTRAN)
        kept = client.read_message()
        client.batch("SELECT @@TRANCOUNT * 10 + 7", first_status=RESETCONNECTION)
        dropped = client.read_message()
    finally:
        client.close()
    assert kept.startswith(RESET_ACK) and struct.pack("<i", 17) in kept
    assert dropped.startswith(RESET_ACK)
    assert b"\xe3\x0b\x00\x0a\x00\x08" in dropped  # ENVCHANGE rollback transaction (type 10)
    assert struct.pack("<i", 7) in dropped
    assert _scalar(observer, f"SELECT COUNT(*) FROM {table}") == 0
