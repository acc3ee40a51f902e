"""Fault injection through TDS: every kind of ``emulator.inject_fault``, as real clients see it."""

from __future__ import annotations

import time

import pymssql
import pytds
import pytest

from devtools.mssql_emulator import MssqlEmulator
from devtools.mssql_emulator.faults import GARBAGE_STRING
from tests.emulator import raw_tds

ROWS_QUERY = "SELECT id, name, amount FROM dbo.fault_rows ORDER BY id"


def server_error(failure: pytest.ExceptionInfo) -> tuple[int, str]:
    """(number, message) of a pymssql query error: its args are (number, message bytes)."""
    number, message = failure.value.args[:2]
    return number, message.decode()


@pytest.fixture(scope="module")
def fault_rows(emulator):
    """dbo.fault_rows: 200 rows (id 1..200, name N'row <id>', amount id * 1.5)."""
    conn = pymssql.connect(**emulator.connect_kwargs(login_timeout=10, autocommit=True))
    try:
        cursor = conn.cursor()
        values = ", ".join(f"({i}, N'row {i}', {i * 1.5})" for i in range(1, 201))
        cursor.execute(
            "IF OBJECT_ID('dbo.fault_rows') IS NOT NULL DROP TABLE dbo.fault_rows;"
            "CREATE TABLE dbo.fault_rows (id int NOT NULL, name nvarchar(20) NOT NULL, amount decimal(9,1));"
            f"INSERT INTO dbo.fault_rows VALUES {values}"
        )
    finally:
        conn.close()
    return "dbo.fault_rows"


@pytest.fixture
def admin(pymssql_connect):
    """A connection that arms faults; every fault left armed is cleared after the test."""
    conn = pymssql_connect(autocommit=True)
    yield conn.cursor()
    cleanup = pymssql_connect(autocommit=True)
    cleanup.cursor().execute("EXEC emulator.clear_faults")


def test_fault_commands_answer_like_a_procedure(emulator):
    client = raw_tds.RawTdsClient(emulator.host, emulator.port)
    try:
        client.login(emulator.user, emulator.password, emulator.database)
        client.batch("EXEC emulator.inject_fault @kind = N'delay_login', @ms = 1; EXEC emulator.clear_faults")
        response = client.read_message()
    finally:
        client.close()
    # RETURNSTATUS 0 then DONEPROC for each command; the last DONEPROC ends the response
    assert response.count(b"\x79\x00\x00\x00\x00") == 2
    assert response[-13] == 0xFE and response[-12] & 0x01 == 0
    assert response[:5] == b"\x79\x00\x00\x00\x00" and response[5] == 0xFE and response[6] & 0x01


def test_refuse_connections_closes_new_sockets_then_recovers(admin, emulator, pymssql_connect):
    admin.execute("EXEC emulator.inject_fault @kind = N'refuse_connections', @times = 2")
    for _ in range(2):
        with pytest.raises(pymssql.OperationalError):
            pymssql_connect()
    pymssql_connect().cursor().execute("SELECT 1")


def test_drop_connections_closes_after_prelogin(admin, pytds_connect):
    admin.execute("EXEC emulator.inject_fault @kind = N'drop_connections'")
    # python-tds retries a connection that broke (ConnectionError); one try is what we test.
    with pytest.raises((pytds.Error, OSError)):
        pytds_connect(disable_connect_retry=True)
    with pytds_connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchall() == [(1,)]


def test_delay_login_holds_the_login_answer(admin, pymssql_connect):
    admin.execute("EXEC emulator.inject_fault @kind = N'delay_login', @ms = 1500")
    started = time.monotonic()
    pymssql_connect()
    assert time.monotonic() - started >= 1.4
    started = time.monotonic()
    pymssql_connect()
    assert time.monotonic() - started < 1.0  # fired once


def test_delay_login_beyond_pymssql_login_timeout(admin, pymssql_connect):
    admin.execute("EXEC emulator.inject_fault @kind = N'delay_login', @ms = 4000")
    started = time.monotonic()
    with pytest.raises(pymssql.OperationalError) as failure:
        pymssql_connect(login_timeout=1)
    assert time.monotonic() - started < 3
    assert "TDS server connection timed out" in failure.value.args[0][1].decode()  # DB-Lib 20003
    pymssql_connect(login_timeout=1).cursor().execute("SELECT 1")


def test_fail_next_query_uses_sql_server_wording_for_any_session(admin, pytds_connect):
    admin.execute("EXEC emulator.inject_fault @kind = N'fail_next_query', @error = 1205")
    with pytds_connect() as conn, conn.cursor() as cursor:
        with pytest.raises(pytds.OperationalError) as failure:
            cursor.execute("SELECT 1")
        error = failure.value
        assert (error.msg_no, error.severity, error.state) == (1205, 13, 51)
        assert error.text.startswith("Transaction (Process ID ")
        assert error.text.endswith("and has been chosen as the deadlock victim. Rerun the transaction.")
        cursor.execute("SELECT 2")
        assert cursor.fetchall() == [(2,)]


def test_fail_next_query_with_own_message_and_times(admin, pymssql_connect):
    admin.execute(
        "EXEC emulator.inject_fault @kind = N'fail_next_query', @error = 50001, "
        "@message = N'It''s a test failure', @times = 2"
    )
    cursor = pymssql_connect().cursor()
    for _ in range(2):
        with pytest.raises(pymssql.OperationalError) as failure:
            cursor.execute("SELECT 1")
        number, message = server_error(failure)
        assert number == 50001 and message.startswith("It's a test failure")
    cursor.execute("SELECT 3")
    assert cursor.fetchall() == [(3,)]


def test_fatal_severity_closes_the_connection(admin, pymssql_connect):
    admin.execute("EXEC emulator.inject_fault @kind = N'fail_next_query', @error = 50002, @severity = 20")
    victim = pymssql_connect()
    with pytest.raises(pymssql.Error):
        victim.cursor().execute("SELECT 1")
    with pytest.raises(pymssql.Error):
        victim.cursor().execute("SELECT 1")
    pymssql_connect().cursor().execute("SELECT 1")


def test_emulator_commands_do_not_consume_query_faults(admin, pymssql_connect):
    admin.execute("EXEC emulator.inject_fault @kind = N'fail_next_query', @error = 1222")
    admin.execute("EXEC emulator.inject_fault @kind = N'delay_login', @ms = 1")  # not a query
    with pytest.raises(pymssql.OperationalError) as failure:
        admin.execute("SELECT 1")
    assert server_error(failure)[0] == 1222


def test_disconnect_after_rows_cuts_the_result(admin, fault_rows, pymssql_connect):
    admin.execute("EXEC emulator.inject_fault @kind = N'disconnect_after_rows', @rows = 10")
    cursor = pymssql_connect().cursor()
    received = []
    with pytest.raises(pymssql.Error):
        cursor.execute(ROWS_QUERY)
        for row in cursor:
            received.append(row)
    assert len(received) == 10  # everything sent before the cut arrives
    assert received == [(i, f"row {i}", pytest.approx(i * 1.5)) for i in range(1, 11)]
    fresh = pymssql_connect().cursor()
    fresh.execute(ROWS_QUERY)
    assert len(fresh.fetchall()) == 200


def test_stall_after_rows_pauses_then_completes(admin, fault_rows, pytds_connect):
    admin.execute("EXEC emulator.inject_fault @kind = N'stall_after_rows', @rows = 5, @ms = 1500")
    with pytds_connect() as conn, conn.cursor() as cursor:
        started = time.monotonic()
        cursor.execute(ROWS_QUERY)
        rows = cursor.fetchall()
        elapsed = time.monotonic() - started
    assert len(rows) == 200 and elapsed >= 1.4


def test_stall_waits_for_a_result_set_that_reaches_its_row_count(admin, fault_rows, pytds_connect):
    # A sync's one-row probes (server facts, render probe) come before the read a test means to
    # hold: they must neither stall nor use the fault up.
    admin.execute("EXEC emulator.inject_fault @kind = N'stall_after_rows', @rows = 5, @ms = 1500")
    with pytds_connect() as conn, conn.cursor() as cursor:
        started = time.monotonic()
        cursor.execute("SELECT 1 UNION ALL SELECT 2")
        assert cursor.fetchall() == [(1,), (2,)]
        assert time.monotonic() - started < 1.0
        cursor.execute(ROWS_QUERY)
        assert len(cursor.fetchall()) == 200
        assert time.monotonic() - started >= 1.4
        held = time.monotonic()
        cursor.execute(ROWS_QUERY)  # fired once: gone
        assert len(cursor.fetchall()) == 200
        assert time.monotonic() - held < 1.0


def test_pymssql_timeout_during_a_stall(admin, fault_rows, pymssql_connect):
    # FreeTDS gives up on the connection when pymssql's query timeout expires (it does not send
    # ATTENTION); the server must survive the vanished client.
    admin.execute("EXEC emulator.inject_fault @kind = N'stall_after_rows', @rows = 5, @ms = 30000")
    cursor = pymssql_connect(timeout=1).cursor()
    started = time.monotonic()
    with pytest.raises(pymssql.OperationalError) as failure:
        cursor.execute(ROWS_QUERY)
        cursor.fetchall()
    assert time.monotonic() - started < 10
    assert "timed out" in server_error(failure)[1]
    fresh = pymssql_connect().cursor()
    fresh.execute("SELECT 1")
    assert fresh.fetchall() == [(1,)]


def test_pytds_timeout_during_a_stall_sends_attention(admin, fault_rows, pytds_connect):
    admin.execute("EXEC emulator.inject_fault @kind = N'stall_after_rows', @rows = 5, @ms = 30000")
    with pytds_connect(timeout=1) as conn, conn.cursor() as cursor:
        started = time.monotonic()
        with pytest.raises(pytds.TimeoutError):
            cursor.execute(ROWS_QUERY)
            cursor.fetchall()
        cursor.execute("SELECT 4")  # python-tds sends ATTENTION first and waits for DONE_ATTN
        assert cursor.fetchall() == [(4,)]
        assert time.monotonic() - started < 10


def test_malformed_value_replaces_a_string_column(admin, fault_rows, pymssql_connect):
    admin.execute(
        "EXEC emulator.inject_fault @kind = N'malformed_value', @column = N'NAME', @value = N'2026-13-45'"
    )
    cursor = pymssql_connect().cursor()
    cursor.execute("SELECT 1 AS unrelated")  # no such column: the fault waits
    cursor.fetchall()
    cursor.execute(ROWS_QUERY)
    rows = cursor.fetchall()
    assert {name for _, name, _ in rows} == {"2026-13-45"}
    cursor.execute(ROWS_QUERY)
    assert cursor.fetchall()[0][1] == "row 1"  # fired once


def test_malformed_value_defaults(admin, fault_rows, pytds_connect):
    admin.execute("EXEC emulator.inject_fault @kind = N'malformed_value', @column = N'name'")
    admin.execute("EXEC emulator.inject_fault @kind = N'malformed_value', @column = N'id', @value = N'-1'")
    admin.execute("EXEC emulator.inject_fault @kind = N'malformed_value', @column = N'amount'")
    with pytds_connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT name FROM dbo.fault_rows WHERE id <= 3")
        assert cursor.fetchall() == [(GARBAGE_STRING,)] * 3
        cursor.execute("SELECT id FROM dbo.fault_rows WHERE id <= 3")
        assert cursor.fetchall() == [(-1,)] * 3
        cursor.execute("SELECT amount FROM dbo.fault_rows WHERE id <= 3")
        assert cursor.fetchall() == [(None,)] * 3  # non-string column without @value: NULL


def test_inject_fault_through_rpc(pytds_connect, fault_rows):
    with pytds_connect() as conn, conn.cursor() as cursor:
        cursor.callproc("emulator.inject_fault", {"@kind": "fail_next_query", "@error": 1205})
        with pytest.raises(pytds.OperationalError) as failure:
            cursor.execute("SELECT 1")
        assert failure.value.msg_no == 1205


@pytest.mark.parametrize(
    "command, number, wording",
    [
        ("EXEC emulator.inject_fault @kind = N'no_such_kind'", 50000, "Unknown fault kind 'no_such_kind'"),
        (
            "EXEC emulator.inject_fault @kind = N'stall_after_rows', @rows = 1",
            201,
            "expects parameter '@ms', which was not supplied",
        ),
        (
            "EXEC emulator.inject_fault @kind = N'delay_login', @ms = 1, @bogus = 2",
            8145,
            "@bogus is not a parameter for procedure inject_fault.",
        ),
        (
            "EXEC emulator.no_such_command",
            2812,
            "Could not find stored procedure 'emulator.no_such_command'.",
        ),
    ],
)
def test_bad_fault_commands_are_refused(admin, command, number, wording):
    with pytest.raises(pymssql.DatabaseError) as failure:
        admin.execute(command)
    got_number, message = server_error(failure)
    assert got_number == number and wording in message


def test_clear_faults_disarms_everything(admin, pymssql_connect):
    admin.execute("EXEC emulator.inject_fault @kind = N'fail_next_query', @error = 1205, @times = 5")
    admin.execute("EXEC emulator.inject_fault @kind = N'refuse_connections', @times = 5")
    admin.execute("EXEC emulator.clear_faults")
    cursor = pymssql_connect().cursor()
    cursor.execute("SELECT 1")
    assert cursor.fetchall() == [(1,)]


def test_restart_on_the_same_port():
    with MssqlEmulator(user="demo", password="demo-password", database="ProcessStatus") as emu:
        port = emu.port
        conn = pymssql.connect(**emu.connect_kwargs(login_timeout=5))
        emu.stop()
        with pytest.raises(pymssql.Error):
            conn.cursor().execute("SELECT 1")
        with pytest.raises(pymssql.Error):
            pymssql.connect(**emu.connect_kwargs(login_timeout=2))
        emu.start()
        assert emu.port == port
        again = pymssql.connect(**emu.connect_kwargs(login_timeout=5))
        cursor = again.cursor()
        cursor.execute("SELECT 1")
        assert cursor.fetchall() == [(1,)]
        again.close()
