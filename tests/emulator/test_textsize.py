"""SET TEXTSIZE and @@TEXTSIZE through the drivers: the session's TEXTSIZE caps the bytes of each
large value a SELECT sends, and where a session starts depends on the client's LOGIN7.

Microsoft: set-textsize-transact-sql (bytes of varchar(max), nvarchar(max), varbinary(max), text,
ntext, image; -1 unlimited, 0 the 4 KB default) and [MS-TDS] 2.2.6.4 (fODBC: TEXTSIZE infinite
from TDS 7.3, 2 GB before). pymssql's DB-Library login clears fODBC; python-tds sets it.
"""

from __future__ import annotations

import uuid

import pymssql
import pytds
import pytest

LONG_CHARS = 5000  # 10,000 bytes as nvarchar: past the 4 KB default and any small TEXTSIZE
PAYLOAD = bytes(range(256)) * 20  # 5,120 bytes


@pytest.fixture
def long_values(pymssql_connect):
    """A table with one long value of every type TEXTSIZE caps, and a 1,000-char nvarchar(4000)."""
    name = f"textsize_{uuid.uuid4().hex[:8]}"
    cursor = pymssql_connect(autocommit=True).cursor()
    cursor.execute(
        f"CREATE TABLE {name} (nv nvarchar(max), v varchar(max), vb varbinary(max), "
        "nt ntext, t text, img image, nv4000 nvarchar(4000))"
    )
    cursor.execute(
        f"INSERT {name} VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            "é" * LONG_CHARS,
            "a" * LONG_CHARS,
            PAYLOAD,
            "ж" * LONG_CHARS,
            "b" * LONG_CHARS,
            PAYLOAD,
            "x" * 1000,
        ),
    )
    return name


def _lengths(cursor, table: str) -> list[int]:
    cursor.execute(f"SELECT nv, v, vb, nt, t, img, nv4000 FROM {table}")
    return [len(value) for value in cursor.fetchone()]


def test_a_small_textsize_cuts_every_large_value_to_its_bytes(pymssql_connect, long_values):
    cursor = pymssql_connect(autocommit=True).cursor()
    cursor.execute("SET TEXTSIZE 64")
    cursor.execute("SELECT @@TEXTSIZE")
    assert cursor.fetchone() == (64,)
    # nvarchar(max) and ntext: 64 bytes are 32 characters; nvarchar(4000) is not a large value.
    assert _lengths(cursor, long_values) == [32, 64, 64, 32, 64, 64, 1000]
    cursor.execute(f"SELECT nv, vb FROM {long_values}")
    assert cursor.fetchone() == ("é" * 32, PAYLOAD[:64])


def test_minus_one_is_unlimited_and_zero_is_the_4_kb_default(pymssql_connect, long_values):
    cursor = pymssql_connect(autocommit=True).cursor()
    cursor.execute("SET TEXTSIZE -1")
    cursor.execute("SELECT @@TEXTSIZE")
    assert cursor.fetchone() == (-1,)
    assert _lengths(cursor, long_values) == [LONG_CHARS, LONG_CHARS, len(PAYLOAD)] * 2 + [1000]
    cursor.execute("SET TEXTSIZE 0")
    cursor.execute("SELECT @@TEXTSIZE")
    assert cursor.fetchone() == (4096,)
    assert _lengths(cursor, long_values) == [2048, 4096, 4096] * 2 + [1000]


def test_pymssql_without_its_textsize_property_starts_at_the_default(pymssql_connect, long_values):
    # conn_properties replace pymssql's defaults (which end with SET TEXTSIZE 2147483647), and its
    # DB-Library login does not ask for ODBC's unlimited size.
    cursor = pymssql_connect(autocommit=True, conn_properties="SET ANSI_NULLS ON").cursor()
    cursor.execute("SELECT @@TEXTSIZE")
    assert cursor.fetchone() == (4096,)
    assert _lengths(cursor, long_values)[:3] == [2048, 4096, 4096]
    default = pymssql_connect(autocommit=True).cursor()
    default.execute("SELECT @@TEXTSIZE")
    assert default.fetchone() == (2147483647,)
    assert _lengths(default, long_values)[:3] == [LONG_CHARS, LONG_CHARS, len(PAYLOAD)]


@pytest.mark.parametrize(
    ("tds_version", "textsize"), [(pytds.tds_base.TDS74, -1), (pytds.tds_base.TDS72, 2147483647)]
)
def test_an_odbc_login_starts_unlimited(pytds_connect, long_values, tds_version, textsize):
    cursor = pytds_connect(tds_version=tds_version).cursor()
    cursor.execute("SELECT @@TEXTSIZE")
    assert cursor.fetchone() == (textsize,)
    assert _lengths(cursor, long_values) == [LONG_CHARS, LONG_CHARS, len(PAYLOAD)] * 2 + [1000]


def test_a_replayed_result_follows_the_textsize_of_its_session(pymssql_connect, long_values):
    # The same query over unchanged data may be served from the result cache; a cut answer must
    # not be replayed to a session with a larger TEXTSIZE, nor a whole one to a smaller.
    cursor = pymssql_connect(autocommit=True).cursor()
    sizes = []
    for setting in ("100", "-1", "100", "-1"):
        cursor.execute(f"SET TEXTSIZE {setting}")
        cursor.execute(f"SELECT nv FROM {long_values}")
        sizes.append(len(cursor.fetchone()[0]))
    assert sizes == [50, LONG_CHARS, 50, LONG_CHARS]


def test_a_textsize_that_is_not_a_number_is_a_syntax_error(pymssql_connect):
    cursor = pymssql_connect(autocommit=True).cursor()
    with pytest.raises(pymssql.ProgrammingError) as caught:
        cursor.execute("SET TEXTSIZE lots")
    assert caught.value.args[0] == 102
    cursor.execute("SELECT @@TEXTSIZE")
    assert cursor.fetchone() == (2147483647,)


def test_sp_reset_connection_goes_back_to_the_logins_textsize(pymssql_connect):
    # [MS-TDS] 2.2.3.1.2: a reset is "effectively simulating a logout and a subsequent login". For
    # pymssql that is DB-Library's login, before its conn_properties set 2147483647.
    conn = pymssql_connect(autocommit=True)
    cursor = conn.cursor()
    cursor.execute("SET TEXTSIZE 64")
    cursor.callproc("sp_reset_connection")
    cursor.execute("SELECT @@TEXTSIZE")
    assert cursor.fetchone() == (4096,)
