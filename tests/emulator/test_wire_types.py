"""Large-value types over TDS: what travels is the type SQL Server sends, and what comes back
through pymssql, python-tds, Microsoft's ODBC Driver 18 (mssql-python) and tiberius (connectorx)
is what went in.

[MS-TDS] 2.2.5.4.3 and 2.2.7.4/2.2.7.19: text, ntext and image are LONGLEN types (TEXTTYPE 0x23,
NTEXTTYPE 0x63, IMAGETYPE 0x22) whose COLMETADATA carries a TableName and whose values carry a
text pointer and timestamp; varchar(max), nvarchar(max), varbinary(max) are USHORTLEN 0xFFFF
types sent as PLP (2.2.5.2.3); xml is XMLTYPE (0xF1, 2.2.5.5.3) with its XML_INFO, its values PLP
UTF-16LE. The bare client below reads
the token stream itself (parsed here from the spec, not with the emulator's modules).
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from decimal import Decimal

import pytds
import pytest

from tests.emulator import raw_tds
from tests.emulator.peer_clients import probe, result_rows
from tests.emulator.test_client_connectorx import url as connectorx_url
from tests.emulator.test_client_mssql_python import connection_string as mssql_python_connection

PAYLOAD = bytes(range(256))
UNICODE = "ä€😀ж漢字"  # Latin-1, cp1252-only, a supplementary character, Cyrillic, CJK


@pytest.fixture
def lob_table(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    name = f"lobs_{uuid.uuid4().hex[:8]}"
    conn.cursor().execute(
        f"CREATE TABLE {name} (img image, bin varbinary(max), doc xml, txt nvarchar(max), "
        "nt ntext, t text, v varchar(max))"
    )
    conn.cursor().execute(
        f"INSERT {name} VALUES (0x{PAYLOAD.hex()}, 0x{PAYLOAD.hex()}, N'<a>ä€</a>', "
        f"REPLICATE(CAST(N'ä' AS nvarchar(max)), 9000), N'{UNICODE}', 'plain ä', 'var ä')"
    )
    conn.cursor().execute(f"INSERT {name} VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
    return name


@pytest.mark.parametrize("tds_version", ["7.4", "7.2"])  # 7.2: NULLs inside ROW, no NBCROW
def test_every_large_type_comes_back_whole_through_pymssql(pymssql_connect, lob_table, tds_version):
    cursor = pymssql_connect(autocommit=True, tds_version=tds_version).cursor()
    cursor.execute(
        f"SELECT img, bin, doc, txt, nt, t, v FROM {lob_table} ORDER BY CASE WHEN img IS NULL THEN 1 END"
    )
    values, nulls = cursor.fetchall()
    assert values == (PAYLOAD, PAYLOAD, "<a>ä€</a>", "ä" * 9000, UNICODE, "plain ä", "var ä")
    assert nulls == (None,) * 7


def test_every_large_type_comes_back_whole_through_python_tds(pytds_connect, lob_table):
    cursor = pytds_connect().cursor()
    cursor.execute(f"SELECT img, doc, nt, t, v FROM {lob_table} ORDER BY CASE WHEN img IS NULL THEN 1 END")
    assert cursor.fetchall() == [(PAYLOAD, "<a>ä€</a>", UNICODE, "plain ä", "var ä"), (None,) * 5]


def test_text_types_are_bytes_in_python_tds_raw_mode(pytds_connect, lob_table):
    cursor = pytds_connect(bytes_to_unicode=False).cursor()
    cursor.execute(f"SELECT t, v, nt FROM {lob_table} WHERE img IS NOT NULL")
    assert cursor.fetchone() == ("plain ä".encode("cp1252"), "var ä".encode("cp1252"), UNICODE)


@pytest.mark.parametrize("client", ["mssql_python", "connectorx"])  # ODBC Driver 18; tiberius
def test_legacy_types_come_back_whole_through_the_peer_clients(emulator, lob_table, client):
    connection = (
        mssql_python_connection(emulator, "no")
        if client == "mssql_python"
        else connectorx_url(emulator, "false")
    )
    query = f"SELECT nt, t, img FROM dbo.{lob_table} ORDER BY CASE WHEN img IS NULL THEN 1 END"
    _, rows = result_rows(
        probe({"client": client, "connection": connection, "queries": {"lobs": query}}), "lobs"
    )
    assert rows == [[UNICODE, "plain ä", PAYLOAD], [None, None, None]]


# --- a reading of COLMETADATA and ROW for the types above, from [MS-TDS] ---------------------
_LEGACY = {0x22: "image", 0x23: "text", 0x63: "ntext"}
_USHORT = {0xA5: "varbinary", 0xA7: "varchar", 0xE7: "nvarchar"}
XMLTYPE = 0xF1
_COLLATED = {0x23, 0x63, 0xA7, 0xE7}


def _columns(stream: bytes, pos: int) -> tuple[list[dict], int]:
    assert stream[pos] == 0x81, f"expected COLMETADATA, got {stream[pos]:#x}"
    (count,) = struct.unpack_from("<H", stream, pos + 1)
    pos += 3
    columns = []
    for _ in range(count):
        pos += 6  # UserType (4), Flags (2)
        type_id = stream[pos]
        pos += 1
        column = {"type": _LEGACY.get(type_id) or _USHORT.get(type_id) or {XMLTYPE: "xml"}[type_id]}
        if type_id == XMLTYPE:  # XML_INFO: SCHEMA_PRESENT, then (if 1) the schema's three names
            column["max"], column["schema_present"] = None, stream[pos]
            pos += 1
        elif type_id in _LEGACY:
            (column["max"],) = struct.unpack_from("<I", stream, pos)
            pos += 4
        else:
            (column["max"],) = struct.unpack_from("<H", stream, pos)
            pos += 2
        if type_id in _COLLATED:
            pos += 5
        if type_id in _LEGACY:  # TableName: NumParts, then US_VARCHAR parts
            parts = stream[pos]
            pos += 1
            for _ in range(parts):
                (chars,) = struct.unpack_from("<H", stream, pos)
                pos += 2 + 2 * chars
        name_chars = stream[pos]
        column["name"] = stream[pos + 1 : pos + 1 + 2 * name_chars].decode("utf-16-le")
        pos += 1 + 2 * name_chars
        columns.append(column)
    return columns, pos


def _row(stream: bytes, pos: int, columns: list[dict]) -> list[dict]:
    assert stream[pos] == 0xD1, f"expected ROW, got {stream[pos]:#x}"
    pos += 1
    values = []
    for column in columns:
        if column["type"] in ("text", "ntext", "image"):
            pointer_length = stream[pos]
            pointer = stream[pos + 1 : pos + 1 + pointer_length]
            timestamp = stream[pos + 1 + pointer_length : pos + 9 + pointer_length]
            pos += 9 + pointer_length
            (length,) = struct.unpack_from("<I", stream, pos)
            data = stream[pos + 4 : pos + 4 + length]
            pos += 4 + length
            values.append({"pointer": pointer, "timestamp": timestamp, "data": data})
        else:  # PLP: total length (8), chunks (4-byte length, data), a zero-length terminator
            pos += 8
            data = b""
            while True:
                (chunk,) = struct.unpack_from("<I", stream, pos)
                pos += 4
                if chunk == 0:
                    break
                data += stream[pos : pos + chunk]
                pos += chunk
            values.append({"data": data})
    return values


def _response(emulator, sql: str) -> bytes:
    """The token stream the emulator answers ``sql`` with, read by the bare client."""
    client = raw_tds.RawTdsClient(emulator.host, emulator.port)
    try:
        client.login(emulator.user, emulator.password, emulator.database)
        client.batch(sql)
        return client.read_message()
    finally:
        client.close()


def test_legacy_types_travel_with_text_pointers_and_max_types_as_plp(emulator, lob_table):
    stream = _response(emulator, f"SELECT nt, t, img, txt, v, bin FROM {lob_table} WHERE img IS NOT NULL")
    columns, pos = _columns(stream, 0)
    assert [(c["type"], c["max"], c["name"]) for c in columns] == [
        ("ntext", 0x7FFFFFFE, "nt"),
        ("text", 0x7FFFFFFF, "t"),
        ("image", 0x7FFFFFFF, "img"),
        ("nvarchar", 0xFFFF, "txt"),
        ("varchar", 0xFFFF, "v"),
        ("varbinary", 0xFFFF, "bin"),
    ]
    nt, t, img, txt, v, binary = _row(stream, pos, columns)
    for legacy in (nt, t, img):
        assert legacy["pointer"] == b"dummy textptr\x00\x00\x00"
        assert legacy["timestamp"] == b"dummyTS\x00"
    assert nt["data"].decode("utf-16-le") == UNICODE
    assert t["data"] == "plain ä".encode("cp1252") and v["data"] == "var ä".encode("cp1252")
    assert img["data"] == PAYLOAD and binary["data"] == PAYLOAD
    assert txt["data"].decode("utf-16-le") == "ä" * 9000


def test_xml_travels_as_xmltype_with_plp_values(emulator, lob_table):
    stream = _response(
        emulator, f"SELECT doc, CAST(N'<b/>' AS xml) AS cast_doc FROM {lob_table} WHERE img IS NOT NULL"
    )
    columns, pos = _columns(stream, 0)
    assert [(c["type"], c["schema_present"], c["name"]) for c in columns] == [
        ("xml", 0, "doc"),
        ("xml", 0, "cast_doc"),
    ]
    doc, cast_doc = _row(stream, pos, columns)
    assert doc["data"].decode("utf-16-le") == "<a>ä€</a>"
    assert cast_doc["data"].decode("utf-16-le") == "<b/>"


def test_python_tds_describes_xml_as_xml(pytds_connect, lob_table):
    cursor = pytds_connect().cursor()
    cursor.execute(f"SELECT doc, CAST('6' AS xml) FROM {lob_table} WHERE img IS NOT NULL")
    assert [column[1] for column in cursor.description] == [pytds.XML, pytds.XML]
    assert cursor.fetchall() == [("<a>ä€</a>", "6")]


def test_the_catalog_names_xml(pymssql_connect, lob_table):
    # sys.types: xml is system_type_id 241, max_length -1, no collation (sys-types page); the
    # INFORMATION_SCHEMA reports it as nvarchar(max) does, with no collation of its own.
    cursor = pymssql_connect(autocommit=True).cursor()
    cursor.execute(
        "SELECT DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, COLLATION_NAME "
        f"FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = '{lob_table}' AND COLUMN_NAME = 'doc'"
    )
    assert cursor.fetchall() == [("xml", -1, -1, None)]
    cursor.execute(
        "SELECT c.system_type_id, t.name, c.max_length, c.collation_name FROM sys.columns c "
        "JOIN sys.types t ON t.user_type_id = c.user_type_id "
        f"WHERE c.object_id = OBJECT_ID(N'dbo.{lob_table}') AND c.name = 'doc'"
    )
    assert cursor.fetchall() == [(241, "xml", -1, None)]


def test_the_catalog_names_the_legacy_types(pymssql_connect, lob_table):
    cursor = pymssql_connect(autocommit=True).cursor()
    cursor.execute(
        "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH "
        f"FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = '{lob_table}' AND COLUMN_NAME IN ('nt', 't', 'img')"
        " ORDER BY COLUMN_NAME"
    )
    # ntext holds 2^30-1 characters, text and image 2^31-1 bytes (ntext-text-and-image page).
    assert cursor.fetchall() == [
        ("img", "image", 2147483647, 2147483647),
        ("nt", "ntext", 1073741823, 2147483646),
        ("t", "text", 2147483647, 2147483647),
    ]
    # "For text, ntext, and image columns, the max_length value is 16 (representing the 16-byte
    # pointer only)" (learn.microsoft.com/sql/relational-databases/system-catalog-views/sys-columns-transact-sql).
    cursor.execute(
        "SELECT c.name, t.name, c.max_length FROM sys.columns c JOIN sys.types t ON t.user_type_id = c.user_type_id "
        f"WHERE c.object_id = OBJECT_ID(N'dbo.{lob_table}') AND c.name IN ('nt', 't', 'img') ORDER BY c.name"
    )
    assert cursor.fetchall() == [("img", "image", 16), ("nt", "ntext", 16), ("t", "text", 16)]


# sql_variant (SSVARIANTTYPE 0x62, [MS-TDS] 2.2.5.5.4) carries its base type with each value, so a
# client gets back the type that was cast (https://learn.microsoft.com/en-us/sql/t-sql/data-types/sql-variant-transact-sql).
VARIANT_GUID = uuid.UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff")
VARIANTS = [
    ("CAST(2000000000 AS int)", 2000000000),
    ("CAST(2000000000000 AS bigint)", 2000000000000),
    ("CAST(255 AS tinyint)", 255),
    ("CAST(1 AS bit)", True),
    ("CAST(0.25 AS real)", 0.25),
    ("CAST(0.12345 AS float)", 0.12345),
    ("CAST(100.55555 AS decimal(8,5))", Decimal("100.55555")),
    ("CAST(12.5 AS money)", Decimal("12.5000")),
    ("N'Grüße 😀'", "Grüße 😀"),
    ("CAST('test' AS char(5))", "test "),
    ("CAST('test' AS varbinary(10))", b"test"),
    ("CAST('2011-02-03T10:11:12.003' AS datetime)", dt.datetime(2011, 2, 3, 10, 11, 12, 3000)),
    ("CAST('2011-02-03 04:05:06.1234567' AS datetime2)", dt.datetime(2011, 2, 3, 4, 5, 6, 123456)),
    ("CAST('2011-02-03' AS date)", dt.date(2011, 2, 3)),
    (f"CAST('{VARIANT_GUID}' AS uniqueidentifier)", VARIANT_GUID),
    ("CAST(NULL AS int)", None),
]


def test_sql_variant_comes_back_as_its_base_type_through_python_tds(pytds_connect):
    cursor = pytds_connect().cursor()
    cursor.execute("SELECT " + ", ".join(f"CAST({sql} AS sql_variant)" for sql, _ in VARIANTS))
    assert cursor.fetchone() == tuple(value for _, value in VARIANTS)


def test_pymssql_reads_sql_variant_as_its_base_bytes(pymssql_connect):
    # FreeTDS takes the base value out of the variant; pymssql has no sql_variant type and returns
    # those bytes as they are (as ODBC Driver 11 gives pyodbc, mkleehammer/pyodbc#307).
    cursor = pymssql_connect(autocommit=True).cursor()
    cursor.execute("SELECT CAST(7 AS sql_variant), CAST(N'abc' AS sql_variant), CAST(NULL AS sql_variant)")
    assert cursor.fetchone() == (b"\x07\x00\x00\x00", b"abc", None)


def test_a_replayed_result_keeps_its_own_declared_types(emulator):
    # The casts all run the same DuckDB query; the result cache must not replay the first one's
    # COLMETADATA (varchar(max)) for the others.
    client = raw_tds.RawTdsClient(emulator.host, emulator.port)
    types = []
    try:
        client.login(emulator.user, emulator.password, emulator.database)
        for target in ("varchar(max)", "text", "nvarchar(max)", "ntext", "varchar(max)"):
            client.batch(f"SELECT CAST('abc' AS {target}) AS a")
            columns, _ = _columns(client.read_message(), 0)
            types.append(columns[0]["type"])
    finally:
        client.close()
    assert types == ["varchar", "text", "nvarchar", "ntext", "varchar"]
