"""The sync engine end to end: emulator (TDS, pymssql) -> real PostgreSQL, no Airflow."""

from __future__ import annotations

import psycopg
import pytest

from devtools.demo_source.generate import apply_changes
from include.table_sync.checks import ValidationError
from include.table_sync.errors import SourceQueryError, SourceUnavailableError, SyncError
from include.table_sync.pipeline import RunOptions, sync_once
from include.table_sync.staging import ConversionError
from tests.sync.support import (
    expected_target_row,
    history,
    last_success_at,
    make_context,
    seeded_demo_source,
    source_rows_as_text,
    staging_tables,
    table_checksum,
    target_rows,
)

SEED_ROWS = 300


@pytest.fixture
def source(mssql):
    """The demo view, recreated and seeded with SEED_ROWS deterministic rows."""
    with seeded_demo_source(mssql, SEED_ROWS, seed=11) as conn:
        yield conn


def test_first_sync_loads_every_row_and_column_per_the_contract(mssql, source, orders_db, mapping):
    outcome = sync_once(make_context(mapping, mssql, orders_db))

    assert outcome.counts.inserted == SEED_ROWS
    assert (outcome.counts.updated, outcome.counts.deleted) == (0, 0)
    expected = {
        key: expected_target_row(mapping, raw) for key, raw in source_rows_as_text(mssql, mapping).items()
    }
    actual = target_rows(orders_db, mapping)
    assert actual.keys() == expected.keys()
    for key, row in expected.items():
        for column, want, got in zip(mapping.columns, row, actual[key], strict=True):
            assert got == want, f"{key} {column.source}: expected {want!r}, got {got!r}"
    assert staging_tables(orders_db) == []


def test_edge_values_arrive_exactly(mssql, source, orders_db, mapping):
    sync_once(make_context(mapping, mssql, orders_db))
    with psycopg.connect(orders_db) as conn:
        sentinel = conn.execute(
            "SELECT count(*) FROM open_orders WHERE source_changed_at = '9999-12-31 23:59:59.999999'"
        ).fetchone()[0]
        unicode_names = conn.execute(
            "SELECT count(*) FROM open_orders WHERE sold_to_name ~ '[^\\x01-\\x7f]'"
        ).fetchone()[0]
        leading_zeros = conn.execute(
            "SELECT count(*) FROM open_orders WHERE sales_document LIKE '0%' AND sales_document_item LIKE '0%'"
        ).fetchone()[0]
    assert sentinel >= 1, "the datetime2 sentinel row must load as 9999-12-31 23:59:59.999999"
    assert unicode_names >= 1
    assert leading_zeros == SEED_ROWS


def test_changes_are_reflected_ids_stable_and_updated_at_moves_only_on_changes(
    mssql, source, orders_db, mapping
):
    sync_once(make_context(mapping, mssql, orders_db, run_id="run-1"))
    with psycopg.connect(orders_db) as conn:
        before = {
            (r[0], r[1]): (r[2], r[3], r[4])
            for r in conn.execute(
                "SELECT sales_document, sales_document_item, id, created_at, updated_at FROM open_orders"
            )
        }

    changes = apply_changes(source, seed=5, inserts=12, updates=20, deletes=9)
    outcome = sync_once(make_context(mapping, mssql, orders_db, run_id="run-2"))

    assert (outcome.counts.inserted, outcome.counts.updated, outcome.counts.deleted) == (12, 20, 9)
    assert outcome.counts.unchanged == SEED_ROWS - 9 - 20
    with psycopg.connect(orders_db) as conn:
        after = {
            (r[0], r[1]): (r[2], r[3], r[4])
            for r in conn.execute(
                "SELECT sales_document, sales_document_item, id, created_at, updated_at FROM open_orders"
            )
        }
    assert set(after) == (set(before) - set(changes.deleted)) | set(changes.inserted)
    for key in set(before) - set(changes.deleted):
        assert after[key][0:2] == before[key][0:2], f"{key} lost its id or created_at"
        if key in changes.updated:
            assert after[key][2] > before[key][2], f"{key} changed but updated_at did not move"
        else:
            assert after[key][2] == before[key][2], f"{key} unchanged but updated_at moved"
    expected = {
        k: expected_target_row(mapping, raw) for k, raw in source_rows_as_text(mssql, mapping).items()
    }
    assert target_rows(orders_db, mapping) == expected


def test_unchanged_source_writes_nothing(mssql, source, orders_db, mapping):
    sync_once(make_context(mapping, mssql, orders_db, run_id="run-1"))
    checksum = table_checksum(orders_db)
    with psycopg.connect(orders_db) as conn:
        writes_before = conn.execute(
            "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = 'open_orders'"
        ).fetchone()[0]
    outcome = sync_once(make_context(mapping, mssql, orders_db, run_id="run-2"))
    assert (outcome.counts.inserted, outcome.counts.updated, outcome.counts.deleted) == (0, 0, 0)
    assert outcome.counts.unchanged == SEED_ROWS
    assert table_checksum(orders_db) == checksum
    with psycopg.connect(orders_db) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        writes_after = conn.execute(
            "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = 'open_orders'"
        ).fetchone()[0]
    assert writes_after == writes_before


def test_status_view_reports_the_last_success(mssql, source, orders_db, mapping):
    sync_once(make_context(mapping, mssql, orders_db))
    with psycopg.connect(orders_db, row_factory=psycopg.rows.dict_row) as conn:
        status = conn.execute("SELECT * FROM open_orders_sync_status").fetchone()
    assert status["freshness"] == "synced"
    assert status["last_attempt_status"] == "success"
    assert status["rows_in_table"] == SEED_ROWS
    assert status["last_rows_inserted"] == SEED_ROWS
    assert status["last_error"] is None


# -- failures leave the table exactly as it was ---------------------------------------------


def _break_value(source, column: str, value: str, key=("0000010000", "000010")):
    cursor = source.cursor()
    cursor.execute(
        f"UPDATE dbo.ZSDOrderItem SET {column} = %s WHERE SalesDocument = %s AND SalesDocumentItem = %s",
        (value, *key),
    )
    assert cursor.rowcount == 1


FAILURES = {
    "wrong_password": (
        lambda source: None,
        {"password": "not-the-password"},
        SourceQueryError,
        "18456",
    ),
    "missing_view": (
        lambda source: source.cursor().execute("DROP VIEW dbo.vwZSDOrder_Advanced"),
        {},
        SourceQueryError,
        "208",
    ),
    "bad_dats_value": (
        lambda source: _break_value(source, "CustomerPODate", "2026ABCD"),
        {},
        ConversionError,
        "key 0000010000/000010: column CustomerPODate = '2026ABCD'",
    ),
    "bad_flag": (
        lambda source: _break_value(source, "CompleteDeliveryFlag", "Y"),
        {},
        ConversionError,
        "column CompleteDeliveryFlag = 'Y'",
    ),
    "empty_source": (
        lambda source: source.cursor().execute("DELETE FROM dbo.ZSDOrderItem"),
        {},
        ValidationError,
        "min_rows",
    ),
    "shrunken_source": (
        lambda source: source.cursor().execute(
            "DELETE FROM dbo.ZSDOrderItem WHERE SalesDocumentItem <> '000010'"
        ),
        {},
        ValidationError,
        "shrink_guard",
    ),
    "null_key": (
        lambda source: _break_value(source, "SalesDocumentItem", None),
        {},
        ValidationError,
        "key_present",
    ),
}


@pytest.mark.parametrize("scenario", sorted(FAILURES))
def test_failure_leaves_table_and_last_success_unchanged(mssql, source, orders_db, mapping, scenario):
    sync_once(make_context(mapping, mssql, orders_db, run_id="good-run"))
    checksum, success = table_checksum(orders_db), last_success_at(orders_db)
    break_source, overrides, error_class, message = FAILURES[scenario]
    break_source(source)

    with pytest.raises(error_class) as caught:
        sync_once(make_context(mapping, mssql, orders_db, run_id="bad-run", source_overrides=overrides))

    assert message in str(caught.value)
    assert mssql.password not in str(caught.value)
    assert table_checksum(orders_db) == checksum
    assert last_success_at(orders_db) == success
    attempt = history(orders_db)[-1]
    assert attempt["run_id"] == "bad-run"
    assert attempt["status"] in {"failed", "rejected"}
    assert attempt["error_class"] == error_class.__name__
    assert message in attempt["error_message"]
    assert staging_tables(orders_db) == []


def test_connection_refused_is_transient_and_harmless(mssql, source, orders_db, mapping):
    sync_once(make_context(mapping, mssql, orders_db, run_id="good-run"))
    checksum = table_checksum(orders_db)
    context = make_context(
        mapping, mssql, orders_db, run_id="bad-run", source_overrides={"port": 1, "login_timeout": 2}
    )
    with pytest.raises(SourceUnavailableError) as caught:
        sync_once(context)
    assert caught.value.transient
    assert table_checksum(orders_db) == checksum
    assert history(orders_db)[-1]["error_class"] == "SourceUnavailableError"
    # Classified: the message says it all, and the driver's exception (its text redacted into
    # the message) is not chained.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_unexpected_bug_keeps_its_traceback(mssql, source, orders_db, mapping):
    def connect_with_a_bug():
        raise ZeroDivisionError("a bug, not a source failure")

    context = make_context(mapping, mssql, orders_db, run_id="bug-run")
    context.connect_source = connect_with_a_bug
    with pytest.raises(SyncError) as caught:
        sync_once(context)
    assert not caught.value.transient
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    assert history(orders_db)[-1]["error_class"] == "SyncError"


def test_allow_empty_and_max_shrink_overrides(mssql, source, orders_db, mapping):
    sync_once(make_context(mapping, mssql, orders_db, run_id="r1"))
    source.cursor().execute("DELETE FROM dbo.ZSDOrderItem WHERE SalesDocumentItem <> '000010'")
    outcome = sync_once(make_context(mapping, mssql, orders_db, run_id="r2"), RunOptions(max_shrink=1.0))
    assert outcome.counts.deleted > SEED_ROWS / 2
    source.cursor().execute("DELETE FROM dbo.ZSDOrderItem")
    outcome = sync_once(
        make_context(mapping, mssql, orders_db, run_id="r3"), RunOptions(allow_empty=True, max_shrink=1.0)
    )
    assert outcome.counts.rows_in_table == 0
    assert table_checksum(orders_db)[0] == 0


def test_dry_run_validates_without_touching_the_table(mssql, source, orders_db, mapping):
    sync_once(make_context(mapping, mssql, orders_db, run_id="r1"))
    checksum, success = table_checksum(orders_db), last_success_at(orders_db)
    apply_changes(source, seed=3, inserts=5, updates=5, deletes=5)
    outcome = sync_once(make_context(mapping, mssql, orders_db, run_id="r2"), RunOptions(dry_run=True))
    assert outcome.counts is None and outcome.staged.rows_fetched == SEED_ROWS
    assert table_checksum(orders_db) == checksum
    assert last_success_at(orders_db) == success
    assert history(orders_db)[-1]["status"] == "dry_run"
