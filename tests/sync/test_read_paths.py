"""The two read paths (issue 12): the CSV line the server renders and the typed column-by-column
read, over text of four collations and every edge value, through the real emulator and the real
PostgreSQL. Both must land identical tables, exactly the values inserted.
"""

from __future__ import annotations

import csv
import os

import psycopg
import pytest

from devtools.demo_source.generate import create_source, seed_source
from include.table_sync.pipeline import sync_once
from include.table_sync.sqlserver_types import SqlServerType
from include.table_sync.staging import ConversionError
from include.table_sync.tsql import line_expression
from tests.sync.edge_rows import (
    COLLATIONS,
    EDGE_COLUMNS,
    create_edge_view,
    edge_mapping,
    expected_rows,
    landed_rows,
)
from tests.sync.support import (
    expected_target_row,
    history,
    make_context,
    open_orders_mapping,
    source_connection,
    source_rows_as_text,
    staging_tables,
    target_rows,
)


@pytest.fixture
def edge_view(mssql):
    with source_connection(mssql) as conn:
        return create_edge_view(conn)


def test_the_pre_issue_12_escaping_turns_a_full_width_quote_into_an_ascii_one(mssql):
    # The line path before issue 12 escaped with REPLACE under the column's collation; under the
    # default SQL_Latin1_General_CP1_CI_AS (width-insensitive) U+FF02 equals '"' and is doubled
    # as an ASCII quote, so CSV reads back '"': a silently changed value. The line expression
    # now in use renders the same value exactly.
    old_field = "CONCAT(N'\"', REPLACE([Txt], N'\"', N'\"\"'), N'\"')"
    nvarchar = SqlServerType.parse("nvarchar(20)")
    with source_connection(mssql) as conn:
        cursor = conn.cursor()
        source = "(SELECT CAST(N'a\uff02b' AS nvarchar(20)) COLLATE SQL_Latin1_General_CP1_CI_AS AS Txt) AS t"
        cursor.execute(f"SELECT {old_field} FROM {source}")
        old = next(csv.reader([cursor.fetchone()[0]]))[0]
        cursor.execute(f"SELECT {line_expression([('Txt', nvarchar)])} FROM {source}")
        new = next(csv.reader([cursor.fetchone()[0]]))[0]
    assert old == 'a"b'  # corrupted
    assert new == "a\uff02b"


@pytest.mark.parametrize("read_path", ["csv_line", "columns"])
def test_every_value_of_every_collation_and_type_arrives_exactly(
    mssql, orders_db, tmp_path, edge_view, read_path
):
    mapping = edge_mapping(tmp_path, read_path)

    outcome = sync_once(make_context(mapping, mssql, orders_db, run_id=f"edges-{read_path}"))

    assert outcome.counts.inserted == len(edge_view)
    landed, expected = landed_rows(orders_db), expected_rows(edge_view)
    assert landed.keys() == expected.keys()
    for key, want in expected.items():
        for name, got, value in zip([*COLLATIONS, *EDGE_COLUMNS], landed[key], want, strict=True):
            assert got == value, f"{read_path} {key} {name}: expected {value!r}, got {got!r}"
    attempt = history(orders_db)[-1]
    assert attempt["read_path"] == read_path
    assert attempt["read_path_reason"] == f"source.read_path is {read_path}"
    # A re-sync of the same rows writes nothing.
    again = sync_once(make_context(mapping, mssql, orders_db, run_id=f"edges-{read_path}-2"))
    assert (again.counts.inserted, again.counts.updated, again.counts.deleted) == (0, 0, 0)


def test_both_paths_land_identical_tables_and_auto_takes_the_line_path(mssql, postgres, tmp_path, edge_view):
    checksums = {}
    for read_path in ("csv_line", "columns", "auto"):
        name = f"edges_{read_path}_{os.getpid()}"
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        try:
            dsn = postgres.dsn(name)
            sync_once(make_context(edge_mapping(tmp_path, read_path), mssql, dsn, run_id=read_path))
            checksums[read_path] = _values_checksum(dsn)
            attempt = history(dsn)[-1]
        finally:
            with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if read_path == "auto":
            assert attempt["read_path"] == "csv_line"
            assert attempt["read_path_reason"].startswith("auto: the render probe passed")
    assert checksums["csv_line"] == checksums["columns"] == checksums["auto"]


def _values_checksum(dsn: str) -> str:
    # Every synced column (not id or timestamps, which differ between databases), in key order.
    columns = ", ".join(["id_text", *(n.lower() for n in [*COLLATIONS, *EDGE_COLUMNS])])
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            f"SELECT md5(string_agg(row({columns})::text, '|' ORDER BY id_text)) FROM public.edges"
        ).fetchone()[0]


@pytest.mark.parametrize("read_path", ["csv_line", "columns"])
def test_a_nul_character_is_named_and_nothing_is_loaded(mssql, orders_db, tmp_path, edge_view, read_path):
    with source_connection(mssql) as conn:
        conn.cursor().execute("UPDATE dbo.Edges SET TxtJapanese = N'ab' + NCHAR(0) + N'c' WHERE Id = N'E03'")
    mapping = edge_mapping(tmp_path, read_path)

    with pytest.raises(ConversionError) as failure:
        sync_once(make_context(mapping, mssql, orders_db, run_id=f"nul-{read_path}"))

    bad = failure.value.examples[0]
    assert (bad.key, bad.column) == (("E03",), "TxtJapanese")
    assert "U+0000" in bad.reason and "position 3" in bad.reason
    assert "E03" in str(failure.value) and "TxtJapanese" in str(failure.value)
    with psycopg.connect(orders_db) as conn:
        assert conn.execute("SELECT count(*) FROM public.edges").fetchone()[0] == 0
    assert staging_tables(orders_db) == []
    assert history(orders_db)[-1]["status"] == "failed"


@pytest.mark.parametrize("read_path", ["csv_line", "columns"])
def test_the_open_orders_view_matches_the_contract_oracle_on_both_paths(mssql, orders_db, read_path):
    conn = source_connection(mssql)
    conn.autocommit(False)
    create_source(conn)
    seed_source(conn, 300, seed=11)  # the demo generator's edge rows included
    conn.close()
    mapping = open_orders_mapping()
    mapping = mapping.model_copy(
        update={"source": mapping.source.model_copy(update={"read_path": read_path})}
    )

    sync_once(make_context(mapping, mssql, orders_db, run_id=f"orders-{read_path}"))

    expected = {
        key: expected_target_row(mapping, raw) for key, raw in source_rows_as_text(mssql, mapping).items()
    }
    actual = target_rows(orders_db, mapping)
    assert actual.keys() == expected.keys() and len(actual) == 300
    for key, row in expected.items():
        for column, want, got in zip(mapping.columns, row, actual[key], strict=True):
            assert got == want, f"{read_path} {key} {column.source}: expected {want!r}, got {got!r}"
    again = sync_once(make_context(mapping, mssql, orders_db, run_id=f"orders-{read_path}-2"))
    assert (again.counts.inserted, again.counts.updated, again.counts.deleted) == (0, 0, 0)
    assert history(orders_db)[-1]["read_path"] == read_path
