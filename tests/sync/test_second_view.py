"""A second view is synced by a mapping file and a short DAG file: nothing is open-orders-specific."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import psycopg

from include.table_sync.mapping import load_mapping
from include.table_sync.pipeline import sync_once
from tests.sync.support import make_context, source_connection

PLANTS_MAPPING = Path(__file__).with_name("fixtures") / "plants.yaml"

CREATE_PLANTS = [
    "IF OBJECT_ID(N'dbo.vwPlant', N'V') IS NOT NULL DROP VIEW dbo.vwPlant",
    "IF OBJECT_ID(N'dbo.Plant', N'U') IS NOT NULL DROP TABLE dbo.Plant",
    "CREATE TABLE dbo.Plant (Plant nvarchar(4) NOT NULL, PlantName nvarchar(30), Country nchar(3), "
    "ValidFrom nvarchar(8), IsActive nchar(1), Capacity decimal(9,2))",
    "CREATE VIEW dbo.vwPlant AS SELECT Plant, PlantName, Country, ValidFrom, IsActive, Capacity FROM dbo.Plant",
    "INSERT INTO dbo.Plant VALUES (N'1000', N'Hamburg Süd', N'DE', N'20200101', N'X', 1250.50), "
    "(N'1100', N'大阪工場', N'JP', N'00000000', N' ', 980.00), (N'2000', N'', N'US', N'', NULL, NULL)",
]


def test_second_view_syncs_with_its_own_mapping(mssql, orders_db):
    with source_connection(mssql) as conn:
        cursor = conn.cursor()
        for statement in CREATE_PLANTS:
            cursor.execute(statement)
    mapping = load_mapping(PLANTS_MAPPING)

    outcome = sync_once(make_context(mapping, mssql, orders_db, run_id="plants-1"))

    assert outcome.counts.inserted == 3
    with psycopg.connect(orders_db) as conn:
        rows = conn.execute(
            "SELECT plant, plant_name, country, valid_from, is_active, capacity FROM public.plants ORDER BY plant"
        ).fetchall()
        freshness = conn.execute("SELECT freshness FROM public.plants_sync_status").fetchone()[0]
        open_orders_exists = conn.execute("SELECT to_regclass('public.open_orders')").fetchone()[0]
    assert rows == [
        ("1000", "Hamburg Süd", "DE", dt.date(2020, 1, 1), True, Decimal("1250.50")),
        ("1100", "大阪工場", "JP", None, False, Decimal("980.00")),
        ("2000", None, "US", None, False, None),
    ]
    assert freshness == "synced"
    assert open_orders_exists is None  # the second sync touched only its own table


def test_second_view_gets_a_dag_from_a_short_dag_file():
    from include.sync_dag import build_sync_dag

    dag = build_sync_dag(dag_id="sync_plants", mapping_file=str(PLANTS_MAPPING), doc_md="Plants.")
    assert {task.task_id for task in dag.tasks} == {"extract", "validate", "replace", "cleanup"}
    replace = next(task for task in dag.tasks if task.task_id == "replace")
    assert [outlet.name for outlet in replace.outlets] == ["postgres_orders.public.plants"]
    assert dag.max_active_runs == 1 and dag.catchup is False
