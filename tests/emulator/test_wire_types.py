"""Large-value types over TDS through pymssql and python-tds: what comes back is what went in.

image and xml travel as varbinary(max) and nvarchar(max) (PLP, MS-TDS 2.2.5.2.3 / 2.2.5.4.3).
"""

from __future__ import annotations

import uuid

import pytest

PAYLOAD = bytes(range(256))


@pytest.fixture
def lob_table(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    name = f"lobs_{uuid.uuid4().hex[:8]}"
    conn.cursor().execute(f"CREATE TABLE {name} (img image, bin varbinary(max), doc xml, txt nvarchar(max))")
    conn.cursor().execute(
        f"INSERT {name} VALUES (0x{PAYLOAD.hex()}, 0x{PAYLOAD.hex()}, N'<a>ä€</a>', REPLICATE(CAST(N'ä' AS nvarchar(max)), 9000))"
    )
    return name


def test_image_and_varbinary_max_come_back_whole_through_pymssql(pymssql_connect, lob_table):
    cursor = pymssql_connect(autocommit=True).cursor()
    cursor.execute(f"SELECT img, bin, doc, txt FROM {lob_table}")
    img, binary, doc, txt = cursor.fetchone()
    assert img == PAYLOAD and binary == PAYLOAD
    assert doc == "<a>ä€</a>"
    assert txt == "ä" * 9000


def test_image_comes_back_whole_through_python_tds(pytds_connect, lob_table):
    cursor = pytds_connect().cursor()
    cursor.execute(f"SELECT img, doc FROM {lob_table}")
    assert cursor.fetchone() == (PAYLOAD, "<a>ä€</a>")
