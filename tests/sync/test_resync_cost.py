"""A re-sync costs what changed, and the table still equals the source after every run (issue 15).

Against the emulator and a real PostgreSQL: the history's ``rows_converted`` says how many rows
a run converted; the live table is compared with the source column by column after each run.
"""

from __future__ import annotations

import psycopg
import pytest

from devtools.demo_source.generate import apply_changes
from include.table_sync.checks import ValidationError
from include.table_sync.mapping import SqlCheck
from include.table_sync.pipeline import sync_once
from include.table_sync.staging import ConversionError
from tests.sync.support import (
    expected_target_row,
    history,
    make_context,
    seeded_demo_source,
    source_rows_as_text,
    staging_tables,
    table_checksum,
    target_rows,
)

SEED_ROWS = 120
KEY = ("0000010000", "000010")  # the generator's first item


@pytest.fixture
def source(mssql):
    with seeded_demo_source(mssql, SEED_ROWS, seed=17) as conn:
        yield conn


def sync(mssql, dsn, mapping, run_id):
    outcome = sync_once(make_context(mapping, mssql, dsn, run_id=run_id))
    return outcome, history(dsn)[-1]["rows_converted"]


def assert_table_equals_source(mssql, dsn, mapping):
    expected = {
        k: expected_target_row(mapping, raw) for k, raw in source_rows_as_text(mssql, mapping).items()
    }
    assert target_rows(dsn, mapping) == expected


def typed_read(mapping):
    """The mapping read column by column: no render probe, so a run costs a second less."""
    return mapping.model_copy(update={"source": mapping.source.model_copy(update={"read_path": "columns"})})


def on_live(dsn, statement, params=()):
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(statement, params).rowcount


def test_unchanged_and_slightly_changed_snapshots_convert_only_what_changed(
    mssql, source, orders_db, mapping
):
    _, converted = sync(mssql, orders_db, mapping, "first")
    assert converted == SEED_ROWS
    # Freezing keeps the xmin the sync remembered: a vacuumed table is not taken for an edited one.
    on_live(orders_db, "VACUUM (FREEZE) open_orders")
    checksum = table_checksum(orders_db)

    outcome, converted = sync(mssql, orders_db, mapping, "unchanged")
    assert converted == 0
    assert (outcome.counts.inserted, outcome.counts.updated, outcome.counts.deleted) == (0, 0, 0)
    assert outcome.counts.unchanged == SEED_ROWS
    assert table_checksum(orders_db) == checksum

    apply_changes(source, seed=3, inserts=4, updates=6, deletes=3)
    outcome, converted = sync(mssql, orders_db, mapping, "changed")
    assert converted == 4 + 6
    assert (outcome.counts.inserted, outcome.counts.updated, outcome.counts.deleted) == (4, 6, 3)
    assert_table_equals_source(mssql, orders_db, mapping)
    assert staging_tables(orders_db) == []

    # Another mapping (here one more check) means other conversions or gates: every row again.
    checksum = table_checksum(orders_db)
    stricter = mapping.model_copy(
        update={
            "checks": (
                *mapping.checks,
                SqlCheck(
                    name="no_stray", sql="SELECT count(*) FROM {snapshot} WHERE sales_document = 'STRAY'"
                ),
            )
        }
    )
    outcome, converted = sync(mssql, orders_db, stricter, "new-mapping")
    assert converted == SEED_ROWS + 4 - 3
    assert (outcome.counts.inserted, outcome.counts.updated, outcome.counts.deleted) == (0, 0, 0)
    assert table_checksum(orders_db) == checksum
    _, converted = sync(mssql, orders_db, stricter, "same-mapping")
    assert converted == 0


def test_rows_edited_behind_the_syncs_back_are_repaired_on_the_next_run(mssql, source, orders_db, mapping):
    mapping = typed_read(mapping)
    sync(mssql, orders_db, mapping, "first")
    with psycopg.connect(orders_db, autocommit=True) as conn:
        edited = conn.execute(
            "SELECT sales_document, sales_document_item, sold_to_name, id FROM open_orders ORDER BY id LIMIT 3"
        ).fetchall()
        # A value changed, a row deleted, a no-op update (new xmin, same values), a stray row.
        conn.execute(
            "UPDATE open_orders SET sold_to_name = 'edited by hand', order_quantity = -1 "
            "WHERE sales_document = %s AND sales_document_item = %s",
            edited[0][:2],
        )
        conn.execute(
            "DELETE FROM open_orders WHERE sales_document = %s AND sales_document_item = %s", edited[1][:2]
        )
        conn.execute(
            "UPDATE open_orders SET sold_to_name = sold_to_name "
            "WHERE sales_document = %s AND sales_document_item = %s",
            edited[2][:2],
        )
        conn.execute(
            "INSERT INTO open_orders (sales_document, sales_document_item, created_at, updated_at) "
            "SELECT 'STRAY', '000010', created_at, updated_at FROM open_orders LIMIT 1"
        )

    outcome, converted = sync(mssql, orders_db, mapping, "repair")
    assert converted == 3, "the edited, the deleted and the touched row, and no other"
    assert (outcome.counts.inserted, outcome.counts.updated, outcome.counts.deleted) == (1, 1, 1)
    assert_table_equals_source(mssql, orders_db, mapping)
    with psycopg.connect(orders_db) as conn:
        kept_id = conn.execute(
            "SELECT id FROM open_orders WHERE sales_document = %s AND sales_document_item = %s", edited[2][:2]
        ).fetchone()[0]
    assert kept_id == edited[2][3]

    # The repaired rows are remembered as the sync left them: the next run converts nothing.
    outcome, converted = sync(mssql, orders_db, mapping, "after-repair")
    assert converted == 0
    assert (outcome.counts.inserted, outcome.counts.updated, outcome.counts.deleted) == (0, 0, 0)


def test_failed_runs_leave_the_row_state_alone_and_key_checks_see_every_row(
    mssql, source, orders_db, mapping
):
    # On the typed read path, rows are hashed from the typed COPY as on the line path.
    mapping = typed_read(mapping)
    _, converted = sync(mssql, orders_db, mapping, "first")
    assert converted == SEED_ROWS
    checksum = table_checksum(orders_db)
    cursor = source.cursor()
    where = "WHERE SalesDocument = %s AND SalesDocumentItem = %s"
    cursor.execute(f"SELECT CustomerPODate FROM dbo.ZSDOrderItem {where}", KEY)
    (good_date,) = cursor.fetchone()
    cursor.execute(f"UPDATE dbo.ZSDOrderItem SET CustomerPODate = '2026ABCD' {where}", KEY)

    with pytest.raises(ConversionError) as caught:
        sync(mssql, orders_db, mapping, "bad-value")
    assert "key 0000010000/000010: column CustomerPODate = '2026ABCD'" in str(caught.value)
    assert table_checksum(orders_db) == checksum

    cursor.execute(f"UPDATE dbo.ZSDOrderItem SET CustomerPODate = %s {where}", (good_date, *KEY))
    # The copy has the same key and the same hash as a row the state knows: the key check must
    # see it all the same.
    cursor.execute(f"INSERT INTO dbo.ZSDOrderItem SELECT * FROM dbo.ZSDOrderItem {where}", KEY)
    with pytest.raises(ValidationError) as caught:
        sync(mssql, orders_db, mapping, "duplicate")
    assert "key_unique: duplicate key(s): 0000010000/000010 (x2)" in str(caught.value)
    assert table_checksum(orders_db) == checksum
    assert history(orders_db)[-1]["rows_converted"] == 0, "the failed run must not have recorded the bad row"
