"""The demo source: its T-SQL objects match the contract, its generator is deterministic and
covers every SAP edge form, and apply_changes inserts, updates and deletes what it reports.

The pure tests read the script and the generator; the integration tests run the script and
the generator against the SQL Server emulator through pymssql.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pymssql
import pytest
import sqlglot
from sqlglot import exp

from devtools.demo_source import (
    BASE_COLUMNS,
    apply_changes,
    create_source,
    generate_rows,
    seed_source,
)
from devtools.demo_source.generate import (
    insert_statements,
    script_batches,
    sql_literal,
)
from devtools.demo_source.rows import DATETIME2_SENTINEL
from include.table_sync.transfer import read_ahead
from tests.conftest import CONTRACT_DIR

CONTRACT = CONTRACT_DIR / "vwZSDOrder_Advanced.csv"
REPO = Path(__file__).resolve().parents[1]


def contract_columns() -> list[tuple[str, str]]:
    with CONTRACT.open(newline="", encoding="utf-8") as handle:
        return [(row["source_column"], row["sqlserver_type"]) for row in csv.DictReader(handle)]


def column_values(rows: list[tuple], name: str) -> list:
    position = BASE_COLUMNS.index(name)
    return [row[position] for row in rows]


@pytest.fixture(scope="module")
def sample() -> list[tuple]:
    return list(generate_rows(3000, seed=1))


# --- the T-SQL script --------------------------------------------------------------------


def parsed_batches() -> list[exp.Expression]:
    return [sqlglot.parse_one(batch, read="tsql") for batch in script_batches()]


def created(kind: str) -> exp.Create:
    return next(
        statement
        for statement in parsed_batches()
        if isinstance(statement, exp.Create) and statement.kind == kind
    )


def test_view_selects_the_contract_columns_in_contract_order():
    view = created("VIEW")
    assert view.this.sql(dialect="tsql") == "dbo.vwZSDOrder_Advanced"
    names = [projection.alias_or_name for projection in view.expression.expressions]
    assert names == [name for name, _ in contract_columns()]


def test_base_table_declares_the_contract_types_except_where_the_view_casts():
    # Read as written: sqlglot would normalise decimal to NUMERIC.
    table_batch = next(b for b in script_batches() if "CREATE TABLE" in b)
    declared = dict(
        re.findall(
            r"^\s+(\w+)\s+(\w+(?:\(\d+(?:,\d+)?\))?)\s+NULL,?",
            table_batch,
            re.MULTILINE,
        )
    )
    assert tuple(declared) == BASE_COLUMNS
    contract = dict(contract_columns())
    differing = {name for name in declared if declared[name] != contract[name]}
    assert differing == {"PriceUnit"}  # SAP's DEC 5, cast to int in the view
    assert declared["PriceUnit"] == "decimal(5,0)"


def test_base_table_is_permissive_so_failure_tests_can_inject_bad_rows():
    sql = created("TABLE").sql(dialect="tsql", comments=False).upper()
    assert "PRIMARY KEY" not in sql
    assert "NOT NULL" not in sql
    assert "UNIQUE" not in sql


def test_script_drops_before_it_creates_so_it_can_run_again():
    code = [
        " ".join(line.strip() for line in batch.splitlines() if not line.strip().startswith("--"))
        for batch in script_batches()
    ]
    assert code[:3] == [
        "USE ProcessStatus;",
        "IF OBJECT_ID(N'dbo.vwZSDOrder_Advanced', N'V') IS NOT NULL DROP VIEW dbo.vwZSDOrder_Advanced;",
        "IF OBJECT_ID(N'dbo.ZSDOrderItem', N'U') IS NOT NULL DROP TABLE dbo.ZSDOrderItem;",
    ]
    assert code[3].startswith("CREATE TABLE dbo.ZSDOrderItem (")
    assert code[4].startswith("CREATE VIEW dbo.vwZSDOrder_Advanced AS SELECT")
    assert len(code) == 5


def test_script_batches_split_on_go_lines_only():
    script = "-- header\nUSE X;\nGO\nSELECT 'GO' AS GOAL\n  go  \n\nSELECT 2\nGO\n"
    assert script_batches(script) == [
        "-- header\nUSE X;",
        "SELECT 'GO' AS GOAL",
        "SELECT 2",
    ]


# --- literals ----------------------------------------------------------------------------


def test_literals_are_exact_and_unicode_safe():
    assert sql_literal(None) == "NULL"
    assert sql_literal("O'Brien Tools") == "N'O''Brien Tools'"
    assert sql_literal("株式会社 😀") == "N'株式会社 😀'"
    assert sql_literal(Decimal("-1.500")) == "-1.500"
    assert sql_literal(Decimal("999999999999.999")) == "999999999999.999"
    assert sql_literal(Decimal("1E+2")) == "100"
    assert sql_literal(dt.date(2026, 11, 29)) == "'2026-11-29'"
    legacy = dt.datetime(2026, 11, 29, 23, 59, 59, 997000)
    assert sql_literal(legacy) == "'2026-11-29T23:59:59.997'"
    assert sql_literal(DATETIME2_SENTINEL) == "N'9999-12-31 23:59:59.9999999'"
    with pytest.raises(TypeError):
        sql_literal(1.5)


def test_statements_read_ahead_arrive_in_order_and_errors_reach_the_caller():
    assert list(read_ahead(iter(range(100)), depth=2)) == list(range(100))

    def failing():
        yield 1
        raise ValueError("bad row 2")

    built = read_ahead(failing(), depth=4)
    assert next(built) == 1
    with pytest.raises(ValueError, match="bad row 2"):
        next(built)


def test_a_caller_that_stops_early_stops_the_builder():
    produced = []

    def endless():
        while True:
            produced.append(len(produced))
            yield produced[-1]

    built = read_ahead(endless(), depth=2)
    assert next(built) == 0
    built.close()  # what a failing cursor.execute does to the loop
    settled = len(produced)
    assert settled <= 5  # one taken, at most depth queued, one in hand, one being made
    time.sleep(0.05)
    assert len(produced) == settled


def test_inserts_carry_at_most_a_thousand_rows(sample):
    statements = list(insert_statements(sample[:2500]))
    assert [count for _, count in statements] == [1000, 1000, 500]
    first = statements[0][0]
    assert first.startswith("INSERT INTO dbo.ZSDOrderItem (SalesDocument, SalesDocumentItem,")
    assert first.count("\n(") == 1000


# --- the generator -----------------------------------------------------------------------


def test_same_seed_same_rows_and_any_row_regenerates_alone(sample):
    assert list(generate_rows(3000, seed=1)) == sample
    assert list(generate_rows(5, seed=1, start=1234)) == sample[1234:1239]
    assert list(generate_rows(50, seed=2)) != sample[:50]


def test_rows_have_base_table_shape_and_unique_keys(sample):
    assert all(len(row) == len(BASE_COLUMNS) for row in sample)
    keys = [(row[0], row[1]) for row in sample]
    assert len(set(keys)) == len(keys)
    assert keys == sorted(keys)


def test_keys_keep_sap_leading_zeros_and_item_steps_of_ten(sample):
    documents = column_values(sample, "SalesDocument")
    items = column_values(sample, "SalesDocumentItem")
    assert all(len(d) == 10 and d.isdigit() and d.startswith("0000") for d in documents)
    assert all(len(i) == 6 and i.isdigit() and int(i) % 10 == 0 for i in items)
    assert {"000010", "000020", "000030"} <= set(items)
    # Items of one document count up 10, 20, 30 ...
    by_document: dict[str, list[int]] = {}
    for document, item in zip(documents, items, strict=True):
        by_document.setdefault(document, []).append(int(item))
    assert all(found == list(range(10, 10 * len(found) + 1, 10)) for found in by_document.values())
    assert max(len(found) for found in by_document.values()) > 1


@pytest.mark.parametrize(
    "column",
    [
        "CustomerPODate",
        "RequestedDeliveryDate",
        "MaterialAvailabilityDate",
        "LastChangedOn",
    ],
)
def test_dats_columns_hold_dates_and_every_no_date_form(sample, column):
    values = column_values(sample, column)
    assert {"00000000", "", None} <= set(values)
    real = [v for v in values if v not in ("00000000", "", None)]
    assert real
    for value in real:
        dt.datetime.strptime(value, "%Y%m%d")


def test_tims_column_holds_times_midnight_and_blanks(sample):
    values = column_values(sample, "OrderCreatedAt")
    assert {"000000", "", "      ", None} <= set(values)
    for value in values:
        if value and value.strip():
            dt.datetime.strptime(value, "%H%M%S")


def test_flags_priorities_and_blanks(sample):
    assert set(column_values(sample, "CompleteDeliveryFlag")) == {"X", " ", "", None}
    priorities = set(column_values(sample, "DeliveryPriority"))
    assert {f"{n:02d}" for n in range(1, 10)} | {"", "  ", None} == priorities
    assert {"", "  ", "01"} <= set(column_values(sample, "DeliveryBlock"))
    assert {"", "B"} <= set(column_values(sample, "CreditStatus"))


def test_text_carries_umlauts_japanese_and_emoji(sample):
    text = {
        v
        for name in (
            "SoldToName",
            "ShipToName",
            "MaterialDescription",
            "SalesEmployeeName",
        )
        for v in column_values(sample, name)
        if v
    }
    assert any(ch in value for value in text for ch in "äöüßÄÖÜ")
    assert any("\u3040" <= ch <= "\u9fff" for value in text for ch in value)
    emoji_rows = [v for v in column_values(sample, "SoldToName") if any(ord(ch) > 0xFFFF for ch in v)]
    assert 0 < len(emoji_rows) < len(sample) // 10


def test_fixed_width_values_are_shorter_than_their_nchar(sample):
    # SQL Server pads these to nchar(3) / nchar(1); the sync must trim the padding away.
    assert {"DE", "JP", "US", ""} <= set(column_values(sample, "ShipToCountry"))
    assert {"A", "B", " ", "", None} <= set(column_values(sample, "OverallStatus"))


def test_decimals_are_exact_and_some_open_quantities_negative(sample):
    open_quantities = column_values(sample, "OpenQuantity")
    assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -3 for v in open_quantities)
    assert any(v < 0 for v in open_quantities)
    prices = column_values(sample, "NetPrice")
    assert all(p.as_tuple().exponent == -2 for p in prices)
    assert Decimal("999999999.99") in prices  # the largest decimal(11,2)
    assert any(v < 0 for v in column_values(sample, "ExchangeRate"))  # indirect quotation
    for row in sample:
        ordered, delivered, open_ = (
            row[BASE_COLUMNS.index(c)] for c in ("OrderQuantity", "DeliveredQuantity", "OpenQuantity")
        )
        assert open_ == ordered - delivered


def test_legacy_datetimes_and_datetime2_ticks(sample):
    schedule = [v for v in column_values(sample, "ScheduleLineDate") if v is not None]
    assert all(type(v) is dt.datetime for v in schedule)
    assert any(v.time() == dt.time(0) for v in schedule)
    assert any(v.time() == dt.time(23, 59, 59, 997000) for v in schedule)
    assert None in column_values(sample, "ScheduleLineDate")

    changed = column_values(sample, "LastChangedAt")
    assert DATETIME2_SENTINEL in changed and None in changed
    ticks = [v for v in changed if v not in (None, DATETIME2_SENTINEL)]
    assert all(len(v) == 27 and v[19] == "." for v in ticks)
    assert any(v.endswith(".9999999") for v in ticks)
    assert any(v[-1] != "0" for v in ticks)  # the 100 ns digit is really used
    for value in ticks:
        dt.datetime.strptime(value[:26], "%Y-%m-%d %H:%M:%S.%f")


def test_command_line_wants_the_password_from_the_environment():
    env = {k: v for k, v in os.environ.items() if k != "MSSQL_PASSWORD"}
    result = subprocess.run(
        [sys.executable, "-m", "devtools.demo_source.generate", "--rows", "1"],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "MSSQL_PASSWORD" in result.stderr
    assert "Warning" not in result.stderr  # e.g. runpy's "found in sys.modules"


# --- against the emulator ----------------------------------------------------------------


@pytest.fixture
def conn(mssql):
    """A pymssql connection to the session's emulator, with freshly created source objects."""
    connection = pymssql.connect(**mssql.connect_kwargs(login_timeout=10))
    try:
        create_source(connection)
        yield connection
    finally:
        connection.close()


def declared_type(info: dict) -> str:
    """An INFORMATION_SCHEMA.COLUMNS row written the way the contract writes types."""
    data_type = info["DATA_TYPE"]
    if data_type in ("nvarchar", "nchar", "varchar", "char"):
        return f"{data_type}({info['CHARACTER_MAXIMUM_LENGTH']})"
    if data_type in ("decimal", "numeric"):
        return f"{data_type}({info['NUMERIC_PRECISION']},{info['NUMERIC_SCALE']})"
    if data_type == "datetime2":
        return f"datetime2({info['DATETIME_PRECISION']})"
    return data_type


def test_view_has_the_contract_columns_and_types(conn):
    cursor = conn.cursor(as_dict=True)
    cursor.execute(
        "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
        "NUMERIC_SCALE, DATETIME_PRECISION FROM INFORMATION_SCHEMA.COLUMNS "
        "WHERE TABLE_SCHEMA = 'dbo' AND TABLE_NAME = 'vwZSDOrder_Advanced' "
        "ORDER BY ORDINAL_POSITION"
    )
    found = [(info["COLUMN_NAME"], declared_type(info)) for info in cursor.fetchall()]
    assert found == contract_columns()


def test_creating_again_starts_from_an_empty_table(conn):
    seed_source(conn, 10, seed=1)
    create_source(conn)
    cursor = conn.cursor()
    cursor.execute("SELECT COUNT(*) FROM dbo.vwZSDOrder_Advanced")
    assert cursor.fetchone() == (0,)


def view_rows(conn) -> dict[tuple[str, str], dict]:
    cursor = conn.cursor(as_dict=True)
    cursor.execute("SELECT * FROM dbo.vwZSDOrder_Advanced")
    return {(row["SalesDocument"], row["SalesDocumentItem"]): row for row in cursor.fetchall()}


def test_seeded_rows_come_back_through_the_view_exactly(conn):
    generated = list(generate_rows(400, seed=5))
    assert seed_source(conn, 400, seed=5) == 400
    rows = view_rows(conn)
    assert len(rows) == 400
    for values in generated:
        source = dict(zip(BASE_COLUMNS, values, strict=True))
        row = rows[(source["SalesDocument"], source["SalesDocumentItem"])]
        assert list(row) == [name for name, _ in contract_columns()]
        for name in (
            "SoldToName",
            "OrderCreatedAt",
            "CustomerPODate",
            "OpenQuantity",
            "NetPrice",
            "ExchangeRate",
            "DeliveryPriority",
            "ScheduleLineDate",
        ):
            assert row[name] == source[name], name
        # nchar pads to its width; NULL stays NULL.
        country = source["ShipToCountry"]
        assert row["ShipToCountry"] == (None if country is None else country.ljust(3))
        flag = source["CompleteDeliveryFlag"]
        assert row["CompleteDeliveryFlag"] == (None if flag is None else flag.ljust(1))
        assert row["PriceUnit"] == int(source["PriceUnit"])
        blocked = bool(
            (source["DeliveryBlock"] or "").strip()
            or (source["BillingBlock"] or "").strip()
            or source["CreditStatus"] == "B"
        )
        assert row["IsBlocked"] is blocked
        changed = source["LastChangedAt"]
        expected = None if changed is None else dt.datetime.fromisoformat(changed[:26])
        assert row["LastChangedAt"] == expected  # 100 ns digit truncated by the client
    assert any(row["IsBlocked"] for row in rows.values())
    assert any(not row["IsBlocked"] for row in rows.values())


def test_apply_changes_inserts_updates_and_deletes_what_it_reports(conn):
    seed_source(conn, 200, seed=3)
    before = view_rows(conn)
    changes = apply_changes(conn, seed=9, inserts=7, updates=5, deletes=4)
    after = view_rows(conn)

    assert len(changes.inserted) == 7 and len(changes.updated) == 5 and len(changes.deleted) == 4
    assert set(after) == (set(before) - set(changes.deleted)) | set(changes.inserted)
    assert not set(changes.inserted) & set(before)
    assert not set(changes.updated) & set(changes.deleted)
    for key in changes.updated:
        assert after[key] != before[key]
        assert after[key]["LastChangedAt"] > dt.datetime(2026, 11, 28, 23, 59, 59, 999999)
        assert after[key]["SoldToName"] == before[key]["SoldToName"]
    untouched = set(before) - set(changes.updated) - set(changes.deleted)
    assert all(after[key] == before[key] for key in untouched)
    for values in changes.inserted_rows:
        row = after[(values[0], values[1])]
        assert row["SoldToName"] == values[BASE_COLUMNS.index("SoldToName")]


def test_apply_changes_is_deterministic(conn):
    seed_source(conn, 100, seed=3)
    first = apply_changes(conn, seed=4, inserts=3, updates=3, deletes=3)
    first_rows = view_rows(conn)
    create_source(conn)
    seed_source(conn, 100, seed=3)
    second = apply_changes(conn, seed=4, inserts=3, updates=3, deletes=3)
    assert second == first
    assert view_rows(conn) == first_rows


def test_command_line_creates_and_seeds(mssql):
    emulator = mssql
    env = dict(os.environ, MSSQL_PASSWORD=emulator.password)
    command = [
        sys.executable,
        "-m",
        "devtools.demo_source.generate",
        "--rows",
        "1500",
        "--seed",
        "2",
        "--server",
        emulator.host,
        "--port",
        str(emulator.port),
    ]
    result = subprocess.run(
        command, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "seeded 1500/1500 rows" in result.stderr
    assert "rows/s" in result.stderr
    assert emulator.password not in result.stdout + result.stderr
    with pymssql.connect(**emulator.connect_kwargs()) as check:
        cursor = check.cursor()
        cursor.execute("SELECT COUNT(*), MIN(SalesDocument) FROM dbo.vwZSDOrder_Advanced")
        assert cursor.fetchone() == (1500, "0000010000")


def test_generated_keys_are_unique_at_demo_and_benchmark_sizes():
    """Blocks of document numbers must never overlap, or the demo would fail its own key check."""
    from collections import Counter

    from devtools.demo_source.rows import generate_rows

    for seed, count in ((1, 5000), (3, 20000)):
        keys = Counter((row[0], row[1]) for row in generate_rows(count, seed))
        assert max(keys.values()) == 1, [key for key, n in keys.items() if n > 1][:5]
