"""A small mapping for the statement tests: built in memory, no file, no database."""

from __future__ import annotations

from pathlib import Path

from include.table_sync.mapping import SyncMapping, parse_mapping


def small_mapping(**changes) -> SyncMapping:
    """Two key columns, a datetime2, a decimal, an unbounded text and a name with a bracket."""
    document = {
        "name": "orders",
        "source": {"conn_id": "mssql_demo", "database": "Demo", "schema": "dbo", "object": "vwOrder"},
        "target": {"conn_id": "postgres_demo", "schema": "public", "table": "orders"},
        "key": ["OrderNo", "Item"],
        "columns": small_columns(),
        "checks": [
            {"name": "six_digit_items", "sql": "SELECT count(*) FROM {snapshot} WHERE item !~ '^[0-9]{6}$'"}
        ],
    }
    document.update(changes)
    return parse_mapping(document, Path("orders.yaml"))


def small_columns() -> list[dict]:
    return [
        column("OrderNo", "nvarchar(10)", "order_no", "varchar(10)", "trim", False),
        column("Item", "nvarchar(6)", "item", "varchar(6)", "trim", False),
        column("Changed", "datetime2(7)", "changed_at", "timestamp(6)", "datetime2_to_us", True),
        column("Qty", "decimal(15,3)", "qty", "numeric(15,3)", "none", True),
        column("Odd]Name", "int", "odd_name", "integer", "none", False),
    ]


def column(source, source_type, target, target_type, conversion, nullable) -> dict:
    return {
        "source": source,
        "source_type": source_type,
        "target": target,
        "target_type": target_type,
        "conversion": conversion,
        "nullable": nullable,
    }
