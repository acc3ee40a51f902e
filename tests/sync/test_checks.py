"""The mapping's SQL checks run against a real PostgreSQL snapshot, whatever characters they hold."""

from __future__ import annotations

import psycopg
from psycopg import sql

from include.table_sync.checks import run_sql_checks
from include.table_sync.mapping import SqlCheck
from tests.sync.support import open_orders_mapping


def _snapshot_with_items(dsn: str, items: list[str]) -> sql.Identifier:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE snap (sales_document_item varchar(10))")
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO snap VALUES (%s)", [(item,) for item in items])
    return sql.Identifier("public", "snap")


def test_check_sql_with_braces_and_percent_runs_as_written(orders_db):
    """A regular expression quantifier like {6} is the user's SQL, not a placeholder."""
    snapshot = _snapshot_with_items(orders_db, ["000010", "10", "0000200"])
    check = SqlCheck(
        name="six_digit_items",
        sql="SELECT count(*) FROM {snapshot} WHERE sales_document_item !~ '^[0-9]{6}$' "
        "AND sales_document_item NOT LIKE '%0000%'",
    )
    mapping = open_orders_mapping().model_copy(update={"checks": (check,)})
    with psycopg.connect(orders_db, autocommit=True) as conn:
        [result] = run_sql_checks(conn, mapping, snapshot)
    assert result.name == "six_digit_items"
    assert (result.passed, result.detail) == (False, "1 offending row(s)")  # '10' only


def test_check_sql_may_name_the_snapshot_twice(orders_db):
    snapshot = _snapshot_with_items(orders_db, ["000010", "000010", "000020"])
    check = SqlCheck(
        name="items_unique",
        sql="SELECT count(*) - (SELECT count(DISTINCT sales_document_item) FROM {snapshot}) FROM {snapshot}",
    )
    mapping = open_orders_mapping().model_copy(update={"checks": (check,)})
    with psycopg.connect(orders_db, autocommit=True) as conn:
        [result] = run_sql_checks(conn, mapping, snapshot)
    assert result.detail == "1 offending row(s)"
