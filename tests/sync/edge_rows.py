"""The edge rows both read paths are tested against: text of four collations next to quotes,
and one column per edge value of every other source type (tests/sync/test_read_paths.py,
tests/sync/test_render_probe.py).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg

from include.table_sync.mapping import load_mapping

COLLATIONS = {
    "TxtDefault": "SQL_Latin1_General_CP1_CI_AS",
    "TxtAccentBlind": "Latin1_General_CI_AI",
    "TxtJapanese": "Japanese_CI_AS",
    "TxtBinary": "Latin1_General_BIN2",
}
# Text a width- or accent-insensitive REPLACE would change: the full-width quote U+FF02 and
# letter U+FF41, combining marks and emoji right next to ASCII quotes.
COLLATION_TEXT = [
    "\uff02",
    'say \uff02hi\uff02 and "hi"',
    'ａ"ａ',
    '"\u0301"',
    'e\u0301"\u0300',
    '🙂"🙂',
    '"\uff02"',
    "ｔａｂ\t,\r\n\\",
    "  trailing  ",
    "",
]
EDGE_COLUMNS = {
    # name: (SQL Server type, target type, value as inserted, value PostgreSQL must hold)
    "Qty": ("decimal(15,3)", "numeric(15,3)", Decimal("-999999999999.999"), Decimal("-999999999999.999")),
    "Rate": ("decimal(9,5)", "numeric(9,5)", Decimal("0.00001"), Decimal("0.00001")),
    "Cash": ("money", "numeric(19,4)", Decimal("-922337203685477.5808"), Decimal("-922337203685477.5808")),
    "Big": ("bigint", "bigint", -9223372036854775808, -9223372036854775808),
    "Ratio": ("float", "double precision", 0.30000000000000004, 0.30000000000000004),
    "Huge": ("float", "double precision", 1.7976931348623157e308, 1.7976931348623157e308),
    # psycopg reads a real as the shortest text PostgreSQL prints for it, as a double.
    "Single": ("real", "real", 3.4028234663852886e38, 3.4028235e38),
    "Flag": ("bit", "boolean", True, True),
    "Day": ("date", "date", dt.date(9999, 12, 31), dt.date(9999, 12, 31)),
    "Legacy": (
        "datetime",
        "timestamp(6)",
        "2026-11-29 23:59:59.997",
        dt.datetime(2026, 11, 29, 23, 59, 59, 997000),
    ),
    "Stamp": (
        "datetime2(7)",
        "timestamp(6)",
        "9999-12-31 23:59:59.9999999",
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999),  # truncated, never rounded into year 10000
    ),
    "Guid": (
        "uniqueidentifier",
        "text",
        "6F9619FF-8B86-D011-B42D-00C04FC964FF",
        "6f9619ff-8b86-d011-b42d-00c04fc964ff",
    ),
    "Blob": ("varbinary(8)", "text", b'\x00\x0a\xff,"', "\\x000aff2c22"),
}


def edge_mapping(tmp_path, read_path: str, extra_source: str = ""):
    columns = [
        "  - {source: Id, source_type: nvarchar(6), target: id_text, target_type: varchar(6), "
        "conversion: trim, nullable: false}"
    ]
    columns += [
        f"  - {{source: {name}, source_type: nvarchar(60), target: {name.lower()}, target_type: text, "
        "conversion: none, nullable: true}"
        for name in COLLATIONS
    ]
    columns += [
        f'  - {{source: {name}, source_type: "{source_type}", target: {name.lower()}, '
        f'target_type: "{target_type}", conversion: {"datetime2_to_us" if name == "Stamp" else "none"}, '
        "nullable: true}"
        for name, (source_type, target_type, _, _) in EDGE_COLUMNS.items()
    ]
    path = tmp_path / f"edges_{read_path}.yaml"
    path.write_text(
        "\n".join(
            [
                "name: edges",
                "source: {conn_id: mssql_sap, database: ProcessStatus, schema: dbo, object: vwEdges, "
                f"read_path: {read_path}{extra_source}}}",
                "target: {conn_id: postgres_orders, schema: public, table: edges}",
                "thresholds: {min_rows: 1, max_shrink: 0.5}",
                "key: [Id]",
                "columns:",
                *columns,
            ]
        )
        + "\n"
    )
    return load_mapping(path)


def create_edge_view(conn) -> list[str]:
    """dbo.vwEdges: text columns of four collations and one column per edge type; the keys."""
    cursor = conn.cursor()
    cursor.execute("IF OBJECT_ID(N'dbo.vwEdges', N'V') IS NOT NULL DROP VIEW dbo.vwEdges")
    cursor.execute("IF OBJECT_ID(N'dbo.Edges', N'U') IS NOT NULL DROP TABLE dbo.Edges")
    text_columns = ", ".join(
        f"{name} nvarchar(60) COLLATE {collation}" for name, collation in COLLATIONS.items()
    )
    typed_columns = ", ".join(f"{name} {spec[0]}" for name, spec in EDGE_COLUMNS.items())
    cursor.execute(f"CREATE TABLE dbo.Edges (Id nvarchar(6) NOT NULL, {text_columns}, {typed_columns})")
    names = ["Id", *COLLATIONS, *EDGE_COLUMNS]
    cursor.execute(f"CREATE VIEW dbo.vwEdges AS SELECT {', '.join(names)} FROM dbo.Edges")
    placeholders = ", ".join(["%s"] * len(names))
    keys = []
    for number, text in enumerate(COLLATION_TEXT, start=1):
        key = f"E{number:02d}"
        typed = [spec[2] for spec in EDGE_COLUMNS.values()] if number == 1 else [None] * len(EDGE_COLUMNS)
        cursor.execute(
            f"INSERT INTO dbo.Edges VALUES ({placeholders})", (key, *[text] * len(COLLATIONS), *typed)
        )
        keys.append(key)
    cursor.execute("INSERT INTO dbo.Edges (Id) VALUES (%s)", ("E99",))
    return [*keys, "E99"]


def landed_rows(dsn: str) -> dict[str, tuple]:
    names = [*COLLATIONS, *EDGE_COLUMNS]
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            f"SELECT id_text, {', '.join(n.lower() for n in names)} FROM public.edges ORDER BY id_text"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def expected_rows(keys: list[str]) -> dict[str, tuple]:
    expected = {}
    for number, key in enumerate(keys, start=1):
        if key == "E99":
            expected[key] = (None,) * (len(COLLATIONS) + len(EDGE_COLUMNS))
            continue
        text = COLLATION_TEXT[number - 1]
        typed = [spec[3] for spec in EDGE_COLUMNS.values()] if number == 1 else [None] * len(EDGE_COLUMNS)
        expected[key] = (*[text] * len(COLLATIONS), *typed)
    return expected
