"""The emulator's TDS side: wire encodings, login, batches, types, ATTENTION, disconnects, speed.

The first tests check bytes against [MS-TDS] directly; the rest drive the emulator over real
sockets with pymssql (FreeTDS), python-tds, ``tsql`` and a bare TDS client (``raw_tds``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal

import pymssql
import pytds
import pytest

from devtools.mssql_emulator import EmulatorStartError, MssqlEmulator, client_messages, packets, tokens
from devtools.mssql_emulator.results import Column, DateTime2, Time7
from tests.emulator import raw_tds
from tests.emulator.login_errors import pymssql_login_error


def encode(column: Column, value) -> bytes:
    """The bytes a ROW token carries for one value of ``column`` (NULL included)."""
    compiled = tokens.compile_columns([column], tokens.TDS74)
    return compiled.null_encodings[0] if value is None else compiled.encoders[0](value)


# --- wire encodings, checked against the spec --------------------------------------------------


def test_login7_password_obfuscation_is_undone():
    password = "pässwörd 🚀 'x'"
    assert client_messages.decode_password(raw_tds.obfuscate_password(password)) == password


def test_datetime2_edges_are_exact_on_the_wire():
    column = Column("at", "datetime2", scale=7)
    latest = DateTime2(dt.datetime(9999, 12, 31, 23, 59, 59, 999999), ticks=9)
    # length 8 = 5 bytes of 100 ns units since midnight + 3 bytes of days since 0001-01-01
    assert encode(column, latest) == b"\x08" + (864_000_000_000 - 1).to_bytes(5, "little") + (
        3_652_058
    ).to_bytes(3, "little")
    assert encode(column, DateTime2(dt.datetime(1, 1, 1))) == b"\x08" + b"\x00" * 8
    assert encode(Column("at", "datetime2", scale=0), dt.datetime(2026, 11, 29, 0, 0, 1)) == (
        b"\x06" + (1).to_bytes(3, "little") + (739_948).to_bytes(3, "little")
    )


def test_time_and_datetimeoffset_scales():
    assert encode(Column("t", "time", scale=7), Time7(dt.time(23, 59, 59, 999999), 9)) == (
        b"\x05" + (864_000_000_000 - 1).to_bytes(5, "little")
    )
    assert encode(Column("t", "time", scale=3), dt.time(0, 0, 1, 500000)) == b"\x04" + (1500).to_bytes(
        4, "little"
    )
    plus_two = dt.timezone(dt.timedelta(hours=2))
    value = DateTime2(dt.datetime(2026, 11, 29, 2, 0, tzinfo=plus_two), ticks=0)
    # stored as UTC (00:00 on the same day) followed by the offset in minutes
    assert encode(Column("o", "datetimeoffset", scale=7), value) == (
        b"\x0a" + b"\x00" * 5 + (739_948).to_bytes(3, "little") + struct.pack("<h", 120)
    )


def test_decimal_38_digits_exact_without_float():
    column = Column("d", "decimal", precision=38, scale=10)
    value = Decimal("-9999999999999999999999999999.9999999999")
    assert encode(column, value) == b"\x11\x00" + (10**38 - 1).to_bytes(16, "little")
    assert encode(Column("d", "decimal", precision=15, scale=3), Decimal("1.5")) == b"\x09\x01" + (
        1500
    ).to_bytes(8, "little")


def test_money_datetime_and_guid_layouts():
    assert encode(Column("m", "money"), Decimal("-922337203685477.5808")) == b"\x08" + struct.pack(
        "<iI", -(2**31), 0
    )
    # datetime: days since 1900-01-01, then 1/300 s ticks; .997 s is 299 ticks
    assert encode(Column("d", "datetime"), dt.datetime(1900, 1, 2, 0, 0, 0, 997000)) == b"\x08" + (
        struct.pack("<iI", 1, 299)
    )
    guid = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
    assert encode(Column("g", "uniqueidentifier"), guid) == b"\x10" + bytes.fromhex(
        "33221100554477668899aabbccddeeff"
    )


def test_max_types_are_chunked_plp():
    text = "ü" * 10_000  # 20,000 bytes: three PLP chunks
    data = encode(Column("t", "nvarchar", length=-1), text)
    assert struct.unpack_from("<Q", data)[0] == 20_000
    chunks, pos = [], 8
    while (size := struct.unpack_from("<I", data, pos)[0]) != 0:
        chunks.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    assert b"".join(chunks).decode("utf-16-le") == text and len(chunks) == 3
    assert encode(Column("t", "varbinary", length=-1), None) == b"\xff" * 8


def test_rows_with_nulls_use_nbcrow():
    compiled = tokens.compile_columns([Column("a", "int"), Column("b", "nvarchar", 5)], tokens.TDS74)
    encode_row = tokens.row_encoder(compiled, tokens.TDS74)
    assert encode_row((None, "x")) == b"\xd2\x01" + b"\x02\x00x\x00"
    assert encode_row((7, "")) == b"\xd1" + b"\x04" + struct.pack("<i", 7) + b"\x00\x00"


def test_packet_writer_splits_messages_and_marks_only_the_last_packet():
    left, right = socket.socketpair()
    with left, right:
        writer = packets.PacketWriter(left, packet_size=512)
        writer.write(bytes(range(256)) * 8)  # 2,048 bytes: 5 packets of up to 504
        writer.end_message()
        reader = packets.PacketReader(right)
        sizes, statuses = [], []
        payload = b""
        while True:
            ptype, status, data = reader.read_packet()
            assert ptype == packets.PKT_TABULAR_RESULT
            sizes.append(len(data))
            statuses.append(status)
            payload += data
            if status & packets.STATUS_EOM:
                break
    assert payload == bytes(range(256)) * 8
    assert sizes == [504, 504, 504, 504, 32] and statuses == [0, 0, 0, 0, 1]


# --- login ------------------------------------------------------------------------------------------


def test_pymssql_logs_in_with_tds_74(pymssql_connect, emulator):
    conn = pymssql_connect()
    assert conn._conn.tds_version == 7.4
    cursor = conn.cursor()
    cursor.execute("SELECT 1 AS one, N'ok' AS word")
    assert cursor.fetchall() == [(1, "ok")]


def test_pytds_logs_in_and_sees_sql_server_2022(pytds_connect):
    conn = pytds_connect()
    assert conn.tds_version == pytds.tds_base.TDS74
    assert conn.product_version >> 24 == 16  # major version: SQL Server 2022
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 AS one")
        assert cursor.fetchall() == [(1,)]


def test_tsql_logs_in_and_runs_a_query(emulator):
    result = subprocess.run(
        ["tsql", "-H", emulator.host, "-p", str(emulator.port), "-U", emulator.user, "-D", emulator.database],
        input=f"{emulator.password}\nSELECT N'Grüße 🚀' AS greeting, 42 AS answer\ngo\nexit\n",
        env=dict(os.environ, TDSVER="7.4"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "Grüße 🚀\t42" in result.stdout
    assert "(1 row affected)" in result.stdout


def test_wrong_password_is_login_failed_18456(pytds_connect, emulator):
    number, message = pymssql_login_error(emulator, password="wrong-password")
    assert number == 18456
    assert message.startswith(f"Login failed for user '{emulator.user}'.")
    with pytest.raises(pytds.OperationalError) as failure:
        pytds_connect(password="wrong-password")
    assert failure.value.msg_no == 18456 and failure.value.severity == 14
    assert failure.value.text == f"Login failed for user '{emulator.user}'."


def test_unknown_database_is_4060_then_18456(pytds_connect, emulator):
    # pymssql reports the most severe message of the two: 18456 (severity 14) after 4060 (11)
    number, message = pymssql_login_error(emulator, database="NoSuchDb")
    assert number == 18456
    with pytest.raises(pytds.Error) as failure:
        pytds_connect(database="NoSuchDb")
    assert 'Cannot open database "NoSuchDb" requested by the login. The login failed.' in str(failure.value)
    result = subprocess.run(
        ["tsql", "-H", emulator.host, "-p", str(emulator.port), "-U", emulator.user, "-D", "NoSuchDb"],
        input=f"{emulator.password}\nexit\n",
        env=dict(os.environ, TDSVER="7.4"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Msg 4060 (severity 11, state 1)" in result.stdout + result.stderr
    assert "Msg 18456 (severity 14, state 1)" in result.stdout + result.stderr


def test_raw_login_reports_database_collation_and_packet_size(emulator):
    client = raw_tds.RawTdsClient(emulator.host, emulator.port, packet_size=8192)
    try:
        response = client.login(emulator.user, emulator.password, emulator.database)
    finally:
        client.close()

    def b_varchar(text):
        return bytes([len(text)]) + text.encode("utf-16-le")

    packet_size = b"\x04" + b_varchar("8192") + b_varchar("8192")  # ENVCHANGE type 4
    assert b"\xe3" + struct.pack("<H", len(packet_size)) + packet_size in response
    # ENVCHANGE type 7: SQL_Latin1_General_CP1_CI_AS (LCID 0x0409, flags 0xD0, sort id 52)
    assert b"\xe3\x08\x00\x07\x05\x09\x04\xd0\x00\x34\x00" in response
    assert f"Changed database context to '{emulator.database}'.".encode("utf-16-le") in response
    loginack = response.index(b"\xad")
    assert response[loginack + 3 : loginack + 8] == b"\x01\x74\x00\x00\x04"  # SQL_TSQL, TDS 7.4
    assert raw_tds.final_done_status(response) == 0


def test_clients_older_than_tds_72_get_a_clear_refusal(emulator):
    number, message = pymssql_login_error(emulator, tds_version="7.1")
    assert number == 50000
    assert message.startswith(
        "The emulator speaks TDS 7.2 to 7.4; this client offered TDS version 0x71000001."
    )


# --- batches and types ------------------------------------------------------------------------------


def test_batch_with_several_statements_returns_every_result_and_count(pymssql_connect, pytds_connect):
    conn = pymssql_connect(autocommit=True)
    cursor = conn.cursor()
    cursor.execute(
        "IF OBJECT_ID('dbo.proto_batch') IS NOT NULL DROP TABLE dbo.proto_batch;"
        "CREATE TABLE dbo.proto_batch (id int NOT NULL, name nvarchar(20) NULL)"
    )
    with pytds_connect() as conn2, conn2.cursor() as cursor2:
        cursor2.execute(
            "INSERT INTO dbo.proto_batch VALUES (1, N'eins'), (2, N'zwei'), (3, NULL);"
            "SELECT id, name FROM dbo.proto_batch ORDER BY id;"
            "UPDATE dbo.proto_batch SET name = N'drei' WHERE id = 3;"
            "SELECT COUNT(*) AS n FROM dbo.proto_batch WHERE name IS NOT NULL"
        )
        assert cursor2.rowcount == 3
        assert cursor2.nextset()
        assert cursor2.fetchall() == [(1, "eins"), (2, "zwei"), (3, None)]
        assert cursor2.nextset()
        assert cursor2.rowcount == 1
        assert cursor2.nextset()
        assert cursor2.fetchall() == [(3,)]
    cursor.execute("SELECT id FROM dbo.proto_batch WHERE id < 3 ORDER BY id; SELECT N'second' AS s")
    assert cursor.fetchall() == [(1,), (2,)]
    assert cursor.nextset()
    assert cursor.fetchall() == [("second",)]
    assert not cursor.nextset()


def test_error_after_results_keeps_the_earlier_results(pytds_connect):
    with pytds_connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT 1 AS first_result; SELECT * FROM dbo.proto_no_such_table")
        assert cursor.fetchall() == [(1,)]
        with pytest.raises(pytds.ProgrammingError) as failure:
            cursor.nextset()
        assert failure.value.msg_no == 208
        cursor.execute("SELECT 2 AS still_usable")
        assert cursor.fetchall() == [(2,)]


def test_use_changes_database_with_envchange_and_message(emulator):
    client = raw_tds.RawTdsClient(emulator.host, emulator.port)
    try:
        client.login(emulator.user, emulator.password, emulator.database)
        client.batch("USE master")
        response = client.read_message()
    finally:
        client.close()
    new, old = "master", emulator.database
    body = b"\x01" + bytes([len(new)]) + new.encode("utf-16-le") + bytes([len(old)]) + old.encode("utf-16-le")
    assert b"\xe3" + struct.pack("<H", len(body)) + body in response  # ENVCHANGE type 1
    assert "Changed database context to 'master'.".encode("utf-16-le") in response


def test_python_tds_parameters_arrive_typed_through_sp_executesql(pytds_connect):
    params = (
        "it's ü🚀'; DROP TABLE dbo.proto_batch --",
        5,
        None,
        Decimal("-12345.678"),
        dt.date(2026, 11, 29),
        dt.datetime(2026, 11, 29, 10, 11, 12, 123456),
        True,
        pytds.Binary(b"\x00\xff"),
        1.5,
        2**40,
    )
    with pytds_connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["%s"] * len(params)), params)
        row = cursor.fetchone()
        cursor.execute("SELECT %(x)s AS first, %(x)s AS second", {"x": "same"})
        assert cursor.fetchall() == [("same", "same")]
    expected = list(params)
    expected[7] = b"\x00\xff"
    assert list(row) == expected
    assert [type(v) for v in row] == [type(v) for v in expected]


def test_python_tds_transactions_go_through_transaction_manager_requests(pytds_connect):
    with pytds_connect(autocommit=True) as setup, setup.cursor() as cursor:
        cursor.execute(
            "IF OBJECT_ID('dbo.proto_tx') IS NOT NULL DROP TABLE dbo.proto_tx; CREATE TABLE dbo.proto_tx (id int)"
        )
    with pytds_connect(autocommit=False) as conn:
        cursor = conn.cursor()
        cursor.execute("INSERT INTO dbo.proto_tx VALUES (%s)", (1,))
        conn.commit()
        cursor.execute("SELECT @@TRANCOUNT AS open_transactions")
        assert cursor.fetchall() == [(1,)]  # commit began the next transaction
        conn.rollback()
    with pytds_connect() as other, other.cursor() as cursor:
        cursor.execute("SELECT id FROM dbo.proto_tx")
        assert cursor.fetchall() == [(1,)]


TYPED_COLUMNS = [
    # (column, declaration, edge value as T-SQL literal, value the drivers return)
    ("c_nvarchar", "nvarchar(20)", "N'ü日本語🚀'", "ü日本語🚀"),
    ("c_empty", "nvarchar(5)", "N''", ""),
    ("c_nchar", "nchar(5)", "N'ab'", "ab   "),
    ("c_varchar", "varchar(10)", "'Müller'", "Müller"),
    ("c_char", "char(4)", "'ab'", "ab  "),
    ("c_nvarchar_max", "nvarchar(max)", "REPLICATE(CAST(N'ö🚀' AS nvarchar(max)), 3000)", "ö🚀" * 3000),
    ("c_varbinary", "varbinary(8)", "0x00FF10", b"\x00\xff\x10"),
    ("c_int", "int", "-2147483648", -2147483648),
    ("c_bigint", "bigint", "9223372036854775807", 9223372036854775807),
    ("c_smallint", "smallint", "-32768", -32768),
    ("c_tinyint", "tinyint", "255", 255),
    ("c_bit", "bit", "1", True),
    (
        "c_decimal",
        "decimal(38,10)",
        "-9999999999999999999999999999.9999999999",
        Decimal("-9999999999999999999999999999.9999999999"),
    ),
    ("c_numeric", "numeric(15,3)", "12345.678", Decimal("12345.678")),
    ("c_float", "float", "0.1", 0.1),
    ("c_real", "real", "3.5", 3.5),
    ("c_money", "money", "922337203685477.5807", Decimal("922337203685477.5807")),
    ("c_date", "date", "'0001-01-01'", dt.date(1, 1, 1)),
    ("c_time", "time(3)", "'13:45:01.123'", dt.time(13, 45, 1, 123000)),
    ("c_datetime", "datetime", "'2026-11-29 23:59:59.997'", dt.datetime(2026, 11, 29, 23, 59, 59, 997000)),
    (
        "c_datetime2",
        "datetime2(7)",
        "'9999-12-31 23:59:59.9999999'",
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
    ),
    ("c_datetime2_min", "datetime2(7)", "'0001-01-01 00:00:00'", dt.datetime(1, 1, 1)),
    (
        "c_datetimeoffset",
        "datetimeoffset(7)",
        "'2026-11-29 10:00:00.1234567 +02:00'",
        dt.datetime(2026, 11, 29, 10, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    ),
    (
        "c_guid",
        "uniqueidentifier",
        "'00112233-4455-6677-8899-AABBCCDDEEFF'",
        uuid.UUID("00112233-4455-6677-8899-aabbccddeeff"),
    ),
]


@pytest.fixture(scope="module")
def typed_table(emulator):
    """dbo.proto_types: one row of edge values (id 1), one row of NULLs (id 2)."""
    conn = pymssql.connect(**emulator.connect_kwargs(login_timeout=10, autocommit=True))
    try:
        cursor = conn.cursor()
        declarations = ", ".join(f"{name} {decl} NULL" for name, decl, _, _ in TYPED_COLUMNS)
        cursor.execute(
            "IF OBJECT_ID('dbo.proto_types') IS NOT NULL DROP TABLE dbo.proto_types;"
            f"CREATE TABLE dbo.proto_types (id int NOT NULL, {declarations})"
        )
        literals = ", ".join(literal for _, _, literal, _ in TYPED_COLUMNS)
        cursor.execute(f"INSERT INTO dbo.proto_types VALUES (1, {literals})")
        cursor.execute("INSERT INTO dbo.proto_types (id) VALUES (2)")
    finally:
        conn.close()
    return "dbo.proto_types"


def _pymssql_rows(connect, sql):
    cursor = connect().cursor()
    cursor.execute(sql)
    return cursor.fetchall()


def _pytds_rows(connect, sql):
    with connect() as conn, conn.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


@pytest.mark.parametrize("driver", ["pymssql", "pytds"])
def test_every_declared_type_arrives_with_its_edge_value_and_null(driver, typed_table, request):
    connect = request.getfixturevalue(f"{driver}_connect")
    read = _pymssql_rows if driver == "pymssql" else _pytds_rows
    names = ", ".join(name for name, _, _, _ in TYPED_COLUMNS)
    edge, nulls = read(connect, f"SELECT {names} FROM {typed_table} ORDER BY id")
    expected = tuple(value for _, _, _, value in TYPED_COLUMNS)
    for (name, decl, _, _), got, want in zip(TYPED_COLUMNS, edge, expected, strict=True):
        assert got == want and type(got) is type(want), f"{name} {decl}: {got!r} != {want!r}"
    assert nulls == (None,) * len(TYPED_COLUMNS)


def test_small_and_large_packet_sizes_carry_big_requests_and_results(pytds_connect):
    big_text = "ä" * 150_000  # a 300 KB batch: many request packets to reassemble
    for blocksize in (512, 32767):
        with pytds_connect(blocksize=blocksize) as conn, conn.cursor() as cursor:
            cursor.execute(f"SELECT LEN(N'{big_text}') AS n, N'{big_text}' AS echoed")
            length, echoed = cursor.fetchone()
            assert (length, echoed) == (150_000, big_text), blocksize


def test_tiny_request_packets_are_reassembled(emulator):
    client = raw_tds.RawTdsClient(emulator.host, emulator.port, packet_size=512)
    try:
        client.login(emulator.user, emulator.password, emulator.database)
        client.batch("SELECT N'" + "x" * 2000 + "' AS long_literal", packet_size=100)
        response = client.read_message()
    finally:
        client.close()
    assert ("x" * 2000).encode("utf-16-le") in response
    assert raw_tds.final_done_status(response) == tokens.DONE_COUNT


# --- ATTENTION and disconnects ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def million_rows_sql(emulator):
    """A query streaming 1,000,000 rows from a 10-row table (six-way cross join)."""
    conn = pymssql.connect(**emulator.connect_kwargs(login_timeout=10, autocommit=True))
    try:
        cursor = conn.cursor()
        cursor.execute(
            "IF OBJECT_ID('dbo.proto_digits') IS NOT NULL DROP TABLE dbo.proto_digits;"
            "CREATE TABLE dbo.proto_digits (d int NOT NULL);"
            "INSERT INTO dbo.proto_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)"
        )
    finally:
        conn.close()
    joins = " CROSS JOIN ".join(f"dbo.proto_digits AS t{i}" for i in range(6))
    return f"SELECT t0.d AS a, t1.d AS b, t2.d AS c, N'padding text' AS p FROM {joins}"


def test_attention_stops_a_streaming_result_and_the_connection_goes_on(emulator, million_rows_sql):
    client = raw_tds.RawTdsClient(emulator.host, emulator.port)
    try:
        client.login(emulator.user, emulator.password, emulator.database)
        client.batch(million_rows_sql)
        client.read_packet()  # the result has started
        started = time.monotonic()
        client.attention()
        while True:
            status, payload = client.read_packet()
            if status & raw_tds.EOM:
                break
        elapsed = time.monotonic() - started
        assert raw_tds.final_done_status(payload) & raw_tds.DONE_ATTN
        assert elapsed < 5, f"ATTENTION took {elapsed:.1f} s: the server kept streaming"
        client.batch("SELECT 7 AS after_attention")
        response = client.read_message()
        assert raw_tds.final_done_status(response) == tokens.DONE_COUNT
    finally:
        client.close()


def test_pytds_cancel_mid_result_then_next_query(pytds_connect, million_rows_sql):
    with pytds_connect() as conn, conn.cursor() as cursor:
        cursor.execute(million_rows_sql)
        assert len(cursor.fetchmany(10)) == 10
        started = time.monotonic()
        cursor.cancel()
        assert time.monotonic() - started < 5
        cursor.execute("SELECT N'after cancel' AS s")
        assert cursor.fetchall() == [("after cancel",)]


def test_concurrent_connections_each_get_their_own_results(emulator, million_rows_sql):
    """Eight clients stream different results at once; no response leaks into another."""
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            conn = pymssql.connect(**emulator.connect_kwargs(login_timeout=10, timeout=60))
            try:
                cursor = conn.cursor()
                for round_number in range(5):
                    cursor.execute(
                        f"SELECT TOP {100 * (worker + 1)} {worker} AS worker, {round_number} AS round_number, "
                        f"t0.d AS d FROM {million_rows_sql.split(' FROM ', 1)[1]}"
                    )
                    rows = cursor.fetchall()
                    assert len(rows) == 100 * (worker + 1)
                    assert {(w, r) for w, r, _ in rows} == {(worker, round_number)}
            finally:
                conn.close()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors


def _thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_clients_dropping_mid_result_leave_no_thread_behind(emulator, million_rows_sql, pymssql_connect):
    baseline = _thread_count(emulator.pid)
    for _ in range(5):
        client = raw_tds.RawTdsClient(emulator.host, emulator.port)
        client.login(emulator.user, emulator.password, emulator.database)
        client.batch(million_rows_sql)
        client.read_packet()
        client.drop()
    deadline = time.monotonic() + 10
    while _thread_count(emulator.pid) > baseline and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _thread_count(emulator.pid) <= baseline
    cursor = pymssql_connect().cursor()
    cursor.execute("SELECT 1 AS alive")
    assert cursor.fetchall() == [(1,)]


# --- speed: streaming and the replay cache -----------------------------------------------------------


def test_volatile_functions_are_not_replayed_from_the_cache(pymssql_connect):
    cursor = pymssql_connect().cursor()
    values = set()
    for _ in range(3):
        cursor.execute("SELECT RAND() AS r, CAST(NEWID() AS nvarchar(36)) AS g")
        values.add(cursor.fetchone())
    assert len(values) == 3


def test_a_cacheable_query_failing_as_it_starts_fails_at_the_statement(pymssql_connect):
    cursor = pymssql_connect().cursor()
    cursor.execute("CREATE TABLE dbo.lazy_divisors (k int)")
    cursor.execute("INSERT INTO dbo.lazy_divisors VALUES (0)")
    for _ in range(2):  # the second time it could have been a cache hit, had the first succeeded
        with pytest.raises(pymssql.OperationalError, match="Divide by zero"):
            cursor.execute("SELECT 10 / k AS q FROM dbo.lazy_divisors")
    cursor.execute("SELECT COUNT(*) FROM dbo.lazy_divisors")
    assert cursor.fetchone() == (1,)
    cursor.execute("DROP TABLE dbo.lazy_divisors")


@pytest.fixture(scope="module")
def view_emulator():
    """A private emulator holding the demo source's 67-column view with 5,000 rows."""
    from devtools.demo_source import create_source, seed_source

    with MssqlEmulator(user="demo", password="demo-password", database="ProcessStatus") as emu:
        conn = pymssql.connect(**emu.connect_kwargs(login_timeout=10))
        try:
            create_source(conn)
            started = time.perf_counter()
            seed_source(conn, 5000, seed=11)
            emu.seed_rate = 5000 / (time.perf_counter() - started)
        finally:
            conn.close()
        yield emu


VIEW_QUERY = "SELECT * FROM dbo.vwZSDOrder_Advanced"


def test_repeated_view_query_is_replayed_from_the_cache(view_emulator, capsys):
    emu = view_emulator
    client = raw_tds.RawTdsClient(emu.host, emu.port, packet_size=32767)
    try:
        client.login(emu.user, emu.password, emu.database)
        client.batch(VIEW_QUERY)
        started = time.perf_counter()
        first_bytes = client.drain_message()
        first_s = time.perf_counter() - started
        repeats = 10
        started = time.perf_counter()
        for _ in range(repeats):
            client.batch(VIEW_QUERY)
            assert client.drain_message() == first_bytes
        replay_s = (time.perf_counter() - started) / repeats
    finally:
        client.close()
    conn = pymssql.connect(**emu.connect_kwargs(login_timeout=10))
    try:
        cursor = conn.cursor()
        started = time.perf_counter()
        rows = 0
        for _ in range(3):
            cursor.execute(VIEW_QUERY)
            for _row in cursor:
                rows += 1
        pymssql_rate = rows / (time.perf_counter() - started)
        assert len(cursor.description) == 67
    finally:
        conn.close()
    first_rate, replay_rate = 5000 / first_s, 5000 / replay_s
    with capsys.disabled():
        print(
            f"\n67-column view, 5,000 rows ({first_bytes / 1e6:.1f} MB of tokens): "
            f"first query {first_rate:,.0f} rows/s, cached replay {replay_rate:,.0f} rows/s "
            f"(raw TDS reader, target 100,000); pymssql fetching and dropping rows: {pymssql_rate:,.0f} rows/s; "
            f"seeding through TDS (1,000-row INSERTs, rows built in the client): {emu.seed_rate:,.0f} rows/s"
        )
    # Absolute rates depend on the machine and its load (the target is 100,000 rows/s; a hit
    # runs no DuckDB query); the replay must at least be several times faster than encoding afresh.
    assert replay_rate >= 3 * first_rate


# --- command line and launcher --------------------------------------------------------------------


def test_command_line_announces_its_port_once_and_exits_0_on_signals():
    env = dict(os.environ, MSSQL_EMULATOR_PASSWORD="cli-secret-pw")
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.mssql_emulator", "--port", "0", "--user", "demo"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        try:
            line = process.stdout.readline()
            assert re.fullmatch(r"listening on 127\.0\.0\.1:\d+\n", line), line
            port = int(line.rsplit(":", 1)[1])
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            process.send_signal(stop_signal)
            out, err = process.communicate(timeout=20)
        finally:
            process.kill()
        assert process.returncode == 0, err
        assert out == ""  # nothing after the one line


def test_password_stays_out_of_command_line_and_debug_log():
    secret = "Very-Secret-Pw-42"
    with MssqlEmulator(user="demo", password=secret, database="master", log_level="DEBUG") as emu:
        with open(f"/proc/{emu.pid}/cmdline", "rb") as cmdline:
            assert secret.encode() not in cmdline.read()
        pymssql.connect(**emu.connect_kwargs(login_timeout=10)).close()
        with pytest.raises(pymssql.OperationalError):
            pymssql.connect(**emu.connect_kwargs(login_timeout=10, password=secret + "-wrong"))
        log = emu.stderr_text()
    assert "Login7(" in log and "login refused" in log  # the log does describe both logins
    assert secret not in log


def test_launcher_reports_a_server_that_cannot_start(emulator):
    blocked = MssqlEmulator(user="demo", password="x", database="master", port=emulator.port)
    with pytest.raises(EmulatorStartError) as failure:
        blocked.start()
    assert f"cannot listen on 127.0.0.1:{emulator.port}" in str(failure.value)


def test_garbage_and_half_messages_do_not_hurt_the_server(emulator, pymssql_connect):
    baseline = _thread_count(emulator.pid)
    attempts = [
        b"",  # connect and leave
        b"\x12\x01\x00",  # half a packet header
        b"\x12\x01\x00\x02\x00\x00\x01\x00",  # a packet shorter than its own header
        b"\x12\x01\xff\xff\x00\x00\x01\x00" + b"\x00" * 100,  # promises more than it sends
        b"\x01\x01\x00\x10\x00\x00\x01\x00" + b"SELECT 1",  # a batch before any login
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # not TDS at all
    ]
    for data in attempts:
        with socket.create_connection((emulator.host, emulator.port), timeout=5) as sock:
            sock.sendall(data)
    deadline = time.monotonic() + 10
    while _thread_count(emulator.pid) > baseline and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _thread_count(emulator.pid) <= baseline
    cursor = pymssql_connect().cursor()
    cursor.execute("SELECT 1 AS alive")
    assert cursor.fetchall() == [(1,)]
