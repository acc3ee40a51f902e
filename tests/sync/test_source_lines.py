"""The source read as one CSV line per row: awkward text, wide rows and long column lists survive.

Each test syncs a small view through the real emulator (TDS, pymssql) into the real PostgreSQL
and compares what landed with the values inserted on the SQL Server side.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

from include.table_sync.mapping import load_mapping
from include.table_sync.pipeline import sync_once
from include.table_sync.staging import ConversionError
from include.table_sync.tsql import csv_line_statement
from tests.sync.support import make_context, source_connection

AWKWARD_TEXT = [
    'say "hi", then leave',
    "comma,separated,value",
    "line one\nline two\r\nline three",
    "tab\there and a backslash \\ and \\N",
    "  leading and trailing spaces  ",
    "",
    '"',
    '""',
    "\\x00 is not a byte here",
    "Müller ÄÖÜ ß 日本 ∑ 🙂",
    ",",
    "\\.",  # COPY's text-format end marker, harmless in CSV
]


def _create(conn, statements: list[str]) -> None:
    cursor = conn.cursor()
    for statement in statements:
        cursor.execute(statement)


def _mapping_file(tmp_path, name: str, view: str, key: str, columns: list[str]) -> str:
    path = tmp_path / f"{name}.yaml"
    lines = [
        f"name: {name}",
        "source: {conn_id: mssql_sap, database: ProcessStatus, schema: dbo, object: " + view + "}",
        f"target: {{conn_id: postgres_orders, schema: public, table: {name}}}",
        "thresholds: {min_rows: 1, max_shrink: 0.5}",
        f"key: [{key}]",
        "columns:",
        *[f"  - {column}" for column in columns],
    ]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def awkward_view(mssql):
    """Text that CSV must quote, NULL next to empty strings, and every common non-text type."""
    rows = []
    for number, text in enumerate(AWKWARD_TEXT, start=1):
        rows.append((f"K{number:02d}", text, None if number % 3 == 0 else text[:5], number % 2))
    rows.append(("K99", None, None, None))
    statements = [
        "IF OBJECT_ID(N'dbo.vwAwkward', N'V') IS NOT NULL DROP VIEW dbo.vwAwkward",
        "IF OBJECT_ID(N'dbo.Awkward', N'U') IS NOT NULL DROP TABLE dbo.Awkward",
        "CREATE TABLE dbo.Awkward (Id nvarchar(10) NOT NULL, Txt nvarchar(100), Fixed nchar(5), "
        "Flag bit, Qty decimal(15,3), Day date, Stamp datetime2(7), Counter int)",
        "CREATE VIEW dbo.vwAwkward AS SELECT Id, Txt, Fixed, Flag, Qty, Day, Stamp, Counter FROM dbo.Awkward",
    ]
    with source_connection(mssql) as conn:
        _create(conn, statements)
        cursor = conn.cursor()
        for key, text, fixed, flag in rows:
            numeric = key != "K99"
            cursor.execute(
                "INSERT INTO dbo.Awkward VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    key,
                    text,
                    fixed,
                    flag,
                    Decimal("-12345678901.250") if numeric else None,
                    dt.date(9999, 12, 31) if numeric else None,
                    "0001-01-01 00:00:00.0000001" if numeric else None,
                    -2147483648 if numeric else None,
                ),
            )
    return rows


def test_awkward_values_arrive_exactly(mssql, orders_db, tmp_path, awkward_view):
    mapping = load_mapping(
        _mapping_file(
            tmp_path,
            "awkward",
            "vwAwkward",
            "Id",
            [
                "{source: Id, source_type: nvarchar(10), target: id_text, target_type: varchar(10), "
                "conversion: trim, nullable: false}",
                "{source: Txt, source_type: nvarchar(100), target: txt, target_type: text, conversion: none, "
                "nullable: true}",
                "{source: Fixed, source_type: nchar(5), target: fixed, target_type: varchar(5), "
                "conversion: none, nullable: true}",
                "{source: Flag, source_type: bit, target: flag, target_type: boolean, conversion: none, "
                "nullable: true}",
                '{source: Qty, source_type: "decimal(15,3)", target: qty, target_type: "numeric(15,3)", '
                "conversion: none, nullable: true}",
                "{source: Day, source_type: date, target: day, target_type: date, conversion: none, "
                "nullable: true}",
                "{source: Stamp, source_type: datetime2(7), target: stamp, target_type: timestamp(6), "
                "conversion: datetime2_to_us, nullable: true}",
                "{source: Counter, source_type: int, target: counter, target_type: integer, "
                "conversion: none, nullable: true}",
            ],
        )
    )

    outcome = sync_once(make_context(mapping, mssql, orders_db, run_id="awkward-1"))

    assert outcome.counts.inserted == len(awkward_view)
    with psycopg.connect(orders_db) as conn:
        landed = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT id_text, txt, fixed, flag, qty, day, stamp, counter FROM public.awkward"
            )
        }
    for key, text, fixed, flag in awkward_view:
        numeric = key != "K99"
        expected = (
            text,
            None if fixed is None else fixed.ljust(5),  # nchar(5) arrives padded, as SQL Server stores it
            None if flag is None else bool(flag),
            Decimal("-12345678901.250") if numeric else None,
            dt.date(9999, 12, 31) if numeric else None,
            dt.datetime(1, 1, 1) if numeric else None,  # the 7th digit is truncated, never rounded
            -2147483648 if numeric else None,
        )
        assert landed[key] == expected, key
    # An empty string and NULL stay different things.
    assert landed["K06"][0] == "" and landed["K99"][0] is None


def test_a_line_longer_than_4000_characters_is_not_truncated(mssql, orders_db, tmp_path):
    # 3 x nvarchar(2000) can render up to ~12,000 characters, beyond what SQL Server's CONCAT keeps
    # without nvarchar(max); the statement must switch to nvarchar(max), and nothing may be cut.
    long_quotes = '"' * 2000  # doubled by CSV quoting: 4,000 characters in one field
    long_text = "x" * 1999 + "é"
    with source_connection(mssql) as conn:
        _create(
            conn,
            [
                "IF OBJECT_ID(N'dbo.vwWide', N'V') IS NOT NULL DROP VIEW dbo.vwWide",
                "IF OBJECT_ID(N'dbo.Wide', N'U') IS NOT NULL DROP TABLE dbo.Wide",
                "CREATE TABLE dbo.Wide (Id nvarchar(4) NOT NULL, A nvarchar(2000), B nvarchar(2000), "
                "C nvarchar(2000))",
                "CREATE VIEW dbo.vwWide AS SELECT Id, A, B, C FROM dbo.Wide",
            ],
        )
        conn.cursor().execute(
            "INSERT INTO dbo.Wide VALUES (%s, %s, %s, %s)", ("W1", long_quotes, long_text, long_quotes)
        )
    columns = [
        "{source: Id, source_type: nvarchar(4), target: id_text, target_type: varchar(4), "
        "conversion: trim, nullable: false}"
    ]
    columns += [
        f"{{source: {name}, source_type: nvarchar(2000), target: {name.lower()}, target_type: text, "
        "conversion: none, nullable: true}"
        for name in "ABC"
    ]
    mapping = load_mapping(_mapping_file(tmp_path, "wide", "vwWide", "Id", columns))
    assert "nvarchar(max)" in csv_line_statement(mapping)

    sync_once(make_context(mapping, mssql, orders_db, run_id="wide-1"))

    with psycopg.connect(orders_db) as conn:
        row = conn.execute("SELECT a, b, c FROM public.wide WHERE id_text = 'W1'").fetchone()
    assert row == (long_quotes, long_text, long_quotes)


def test_more_columns_than_one_concat_takes(mssql, orders_db, tmp_path):
    # 140 columns need 279 CONCAT arguments; SQL Server takes at most 254 in one call.
    names = [f"C{i:03d}" for i in range(140)]
    with source_connection(mssql) as conn:
        _create(
            conn,
            [
                "IF OBJECT_ID(N'dbo.vwMany', N'V') IS NOT NULL DROP VIEW dbo.vwMany",
                "IF OBJECT_ID(N'dbo.Many', N'U') IS NOT NULL DROP TABLE dbo.Many",
                "CREATE TABLE dbo.Many (" + ", ".join(f"{n} nvarchar(8)" for n in names) + ")",
                "CREATE VIEW dbo.vwMany AS SELECT " + ", ".join(names) + " FROM dbo.Many",
                "INSERT INTO dbo.Many VALUES (" + ", ".join(f"N'v{i}'" for i in range(140)) + ")",
            ],
        )
    columns = [
        f"{{source: {n}, source_type: nvarchar(8), target: {n.lower()}, target_type: varchar(8), "
        "conversion: trim, nullable: false}"
        for n in names
    ]
    mapping = load_mapping(_mapping_file(tmp_path, "many", "vwMany", "C000", columns))
    statement = csv_line_statement(mapping)
    assert statement.count("CONCAT(N''") > 1  # nested

    sync_once(make_context(mapping, mssql, orders_db, run_id="many-1"))

    with psycopg.connect(orders_db) as conn:
        row = conn.execute("SELECT " + ", ".join(n.lower() for n in names) + " FROM public.many").fetchone()
    assert list(row) == [f"v{i}" for i in range(140)]


def test_every_other_source_type_round_trips_through_its_text(mssql, orders_db, tmp_path):
    # Each type is rendered by a CONVERT style (tsql.value_text) and read back by
    # PostgreSQL's input function for the raw column: the value must survive exactly.
    columns = {
        # name: (SQL Server type, target type, value as inserted, value PostgreSQL must hold)
        "Big": ("bigint", "bigint", -9223372036854775808, -9223372036854775808),
        "Small": ("smallint", "smallint", -32768, -32768),
        "Tiny": ("tinyint", "smallint", 255, 255),
        "Cash": (
            "money",
            "numeric(19,4)",
            Decimal("-922337203685477.5808"),
            Decimal("-922337203685477.5808"),
        ),
        "Ratio": ("float", "double precision", 0.1, 0.1),
        "Huge": ("float", "double precision", -2.5e-300, -2.5e-300),
        "Single": ("real", "real", 0.1, 0.1),  # read back as the same 32-bit value
        "Legacy": (
            "datetime",
            "timestamp(6)",
            "2026-11-29 23:59:59.997",
            dt.datetime(2026, 11, 29, 23, 59, 59, 997000),
        ),
        # The target types the mapping allows hold these as text, in PostgreSQL's spelling.
        "Guid": (
            "uniqueidentifier",
            "text",
            "6F9619FF-8B86-D011-B42D-00C04FC964FF",
            "6f9619ff-8b86-d011-b42d-00c04fc964ff",
        ),
        "Blob": ("varbinary(8)", "text", b'\x00\x0a\xff,"', "\\x000aff2c22"),
    }
    names = list(columns)
    with source_connection(mssql) as conn:
        _create(
            conn,
            [
                "IF OBJECT_ID(N'dbo.vwTyped', N'V') IS NOT NULL DROP VIEW dbo.vwTyped",
                "IF OBJECT_ID(N'dbo.Typed', N'U') IS NOT NULL DROP TABLE dbo.Typed",
                "CREATE TABLE dbo.Typed (Id nvarchar(4) NOT NULL, "
                + ", ".join(f"{n} {columns[n][0]}" for n in names)
                + ")",
                "CREATE VIEW dbo.vwTyped AS SELECT Id, " + ", ".join(names) + " FROM dbo.Typed",
            ],
        )
        cursor = conn.cursor()
        placeholders = ", ".join(["%s"] * (len(names) + 1))
        cursor.execute(
            f"INSERT INTO dbo.Typed VALUES ({placeholders})", ("T1", *[columns[n][2] for n in names])
        )
        cursor.execute("INSERT INTO dbo.Typed (Id) VALUES (%s)", ("T2",))
    entries = [
        "{source: Id, source_type: nvarchar(4), target: id_text, target_type: varchar(4), "
        "conversion: trim, nullable: false}"
    ]
    entries += [
        f'{{source: {n}, source_type: "{columns[n][0]}", target: {n.lower()}, target_type: "{columns[n][1]}", '
        "conversion: none, nullable: true}"
        for n in names
    ]
    mapping = load_mapping(_mapping_file(tmp_path, "typed", "vwTyped", "Id", entries))

    sync_once(make_context(mapping, mssql, orders_db, run_id="typed-1"))

    with psycopg.connect(orders_db) as conn:
        select = "SELECT " + ", ".join(n.lower() for n in names) + " FROM public.typed WHERE id_text = %s"
        full = conn.execute(select, ("T1",)).fetchone()
        empty = conn.execute(select, ("T2",)).fetchone()
    for name, got in zip(names, full, strict=True):
        want = columns[name][3]
        if name == "Single":
            assert abs(got - want) < 1e-8, (name, got)
        else:
            assert got == want, (name, got)
    assert empty == (None,) * len(names)


def test_a_custom_query_gets_every_check_and_bad_text_is_named(mssql, orders_db, tmp_path):
    # A custom query's column types are not verified against the catalog, so a column declared
    # datetime2 may carry any text; a day that does not exist must be named, not loaded.
    with source_connection(mssql) as conn:
        _create(
            conn,
            [
                "IF OBJECT_ID(N'dbo.Stamps', N'U') IS NOT NULL DROP TABLE dbo.Stamps",
                "CREATE TABLE dbo.Stamps (Id nvarchar(4) NOT NULL, Stamp nvarchar(27))",
                "INSERT INTO dbo.Stamps VALUES (N'S1', N'2026-11-29 10:00:00.0000000'), "
                "(N'S2', N'2026-02-30 10:00:00.0000000')",
            ],
        )
    path = tmp_path / "stamps.yaml"
    path.write_text(
        "name: stamps\n"
        "source: {conn_id: mssql_sap, database: ProcessStatus, schema: dbo, object: Stamps,\n"
        "         query: 'SELECT Id, Stamp FROM dbo.Stamps'}\n"
        "target: {conn_id: postgres_orders, schema: public, table: stamps}\n"
        "thresholds: {min_rows: 1, max_shrink: 0.5}\n"
        "key: [Id]\n"
        "columns:\n"
        "  - {source: Id, source_type: nvarchar(4), target: id_text, target_type: varchar(4), "
        "conversion: trim, nullable: false}\n"
        "  - {source: Stamp, source_type: datetime2(7), target: stamp, target_type: timestamp(6), "
        "conversion: datetime2_to_us, nullable: true}\n"
    )
    mapping = load_mapping(str(path))

    with pytest.raises(ConversionError) as failure:
        sync_once(make_context(mapping, mssql, orders_db, run_id="stamps-1"))

    message = str(failure.value)
    assert "S2" in message and "Stamp" in message and "2026-02-30 10:00:00.0000000" in message
    assert "S1" not in message
    with psycopg.connect(orders_db) as conn:
        assert conn.execute("SELECT count(*) FROM public.stamps").fetchone()[0] == 0
