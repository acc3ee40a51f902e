"""What the emulator knows about databases, schemas, tables and views beyond what DuckDB stores.

DuckDB holds the rows; this catalog holds the SQL Server side: declared column types (nchar(3)
is a DuckDB VARCHAR), primary-key constraint names, view texts, object ids, and the data version
that result caching keys on. Names are matched case-insensitively, as SQL Server's default
collation does, and keep the spelling they were created with.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

from devtools.mssql_emulator.collations import DEFAULT as DEFAULT_COLLATION
from devtools.mssql_emulator.results import Column
from devtools.mssql_emulator.sqltypes import information_schema_facts

INFO_SCHEMA = "__info"  # DuckDB schema in every database holding the INFORMATION_SCHEMA rows

INFO_COLUMNS = [
    Column("TABLE_CATALOG", "nvarchar", length=128),
    Column("TABLE_SCHEMA", "nvarchar", length=128),
    Column("TABLE_NAME", "nvarchar", length=128, nullable=False),
    Column("COLUMN_NAME", "nvarchar", length=128),
    Column("ORDINAL_POSITION", "int"),
    Column("COLUMN_DEFAULT", "nvarchar", length=4000),
    Column("IS_NULLABLE", "varchar", length=3),
    Column("DATA_TYPE", "nvarchar", length=128),
    Column("CHARACTER_MAXIMUM_LENGTH", "int"),
    Column("CHARACTER_OCTET_LENGTH", "int"),
    Column("NUMERIC_PRECISION", "tinyint"),
    Column("NUMERIC_PRECISION_RADIX", "smallint"),
    Column("NUMERIC_SCALE", "int"),
    Column("DATETIME_PRECISION", "smallint"),
    Column("CHARACTER_SET_NAME", "nvarchar", length=128),
    Column("COLLATION_NAME", "nvarchar", length=128),
]
INFO_TABLES = [
    Column("TABLE_CATALOG", "nvarchar", length=128),
    Column("TABLE_SCHEMA", "nvarchar", length=128),
    Column("TABLE_NAME", "nvarchar", length=128, nullable=False),
    Column("TABLE_TYPE", "varchar", length=10),
]
INFO_VIEWS = [
    Column("TABLE_CATALOG", "nvarchar", length=128),
    Column("TABLE_SCHEMA", "nvarchar", length=128),
    Column("TABLE_NAME", "nvarchar", length=128, nullable=False),
    Column("VIEW_DEFINITION", "nvarchar", length=4000),
    Column("CHECK_OPTION", "varchar", length=7),
    Column("IS_UPDATABLE", "varchar", length=2),
]
INFO_SCHEMATA = [
    Column("CATALOG_NAME", "nvarchar", length=128),
    Column("SCHEMA_NAME", "nvarchar", length=128, nullable=False),
    Column("SCHEMA_OWNER", "nvarchar", length=128),
]
INFO_VIEWS_BY_NAME = {
    "columns": INFO_COLUMNS,
    "tables": INFO_TABLES,
    "views": INFO_VIEWS,
    "schemata": INFO_SCHEMATA,
}

BUILTIN_SCHEMAS = ("dbo", "guest", "INFORMATION_SCHEMA", "sys")


@dataclass
class TableDef:
    """A table or view as SQL Server would describe it."""

    database: str
    schema: str
    name: str
    kind: str  # "table" | "view"
    columns: list[Column]
    object_id: int
    primary_key: str | None = None
    key_columns: list[str] = field(default_factory=list)
    definition: str | None = None
    defaults: dict = field(default_factory=dict)

    @property
    def duck_name(self) -> str:
        return f'"{self.database}"."{self.schema}"."{self.name}"'

    def column(self, name: str) -> Column | None:
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)


class Catalog:
    """Databases, schemas and objects, with a version bumped by every write or DDL."""

    def __init__(self):
        self.lock = threading.RLock()
        self.databases: dict[str, str] = {}
        # database (lowered) -> its collation name (see collations.py for the interface)
        self.database_collations: dict[str, str] = {}
        self.schemas: dict[str, dict[str, str]] = {}
        self.schema_ids: dict[str, dict[str, int]] = {}  # database -> schema (lowered) -> schema_id
        self.objects: dict[tuple[str, str, str], TableDef] = {}
        self.version = 0
        self._ids = itertools.count(245575913)

    def bump(self) -> None:
        with self.lock:
            self.version += 1

    def next_object_id(self) -> int:
        return next(self._ids) * 7 % 2_000_000_000

    def database(self, name: str) -> str | None:
        return self.databases.get(name.lower())

    def database_collation(self, name: str) -> str:
        """The database's collation (CREATE DATABASE ... COLLATE), the server's if unknown."""
        return self.database_collations.get(name.lower(), DEFAULT_COLLATION)

    def schema(self, database: str, name: str) -> str | None:
        return self.schemas.get(database.lower(), {}).get(name.lower())

    def schema_id(self, database: str, name: str) -> int | None:
        return self.schema_ids.get(database.lower(), {}).get(name.lower())

    def find(self, database: str, schema: str, name: str) -> TableDef | None:
        return self.objects.get((database.lower(), schema.lower(), name.lower()))

    def find_by_id(self, object_id: int) -> TableDef | None:
        return next((t for t in list(self.objects.values()) if t.object_id == object_id), None)

    def add(self, table: TableDef) -> None:
        with self.lock:
            self.objects[(table.database.lower(), table.schema.lower(), table.name.lower())] = table
            self.version += 1

    def remove(self, table: TableDef) -> None:
        with self.lock:
            self.objects.pop((table.database.lower(), table.schema.lower(), table.name.lower()), None)
            self.version += 1

    def in_database(self, database: str) -> list[TableDef]:
        return [t for key, t in list(self.objects.items()) if key[0] == database.lower()]


def information_schema_rows(table: TableDef) -> tuple[list[tuple], tuple, tuple | None]:
    """Rows for INFORMATION_SCHEMA.COLUMNS, .TABLES and .VIEWS describing one object."""
    column_rows = []
    for position, col in enumerate(table.columns, start=1):
        facts = information_schema_facts(col)
        text = col.sql_type in ("nvarchar", "nchar", "varchar", "char") and col.legacy_lob != "xml"
        column_rows.append(
            (
                table.database,
                table.schema,
                table.name,
                col.name,
                position,
                table.defaults.get(col.name.lower()),
                "YES" if col.nullable else "NO",
                facts["DATA_TYPE"],
                facts["CHARACTER_MAXIMUM_LENGTH"],
                facts["CHARACTER_OCTET_LENGTH"],
                facts["NUMERIC_PRECISION"],
                facts["NUMERIC_PRECISION_RADIX"],
                facts["NUMERIC_SCALE"],
                facts["DATETIME_PRECISION"],
                ("UNICODE" if col.sql_type.startswith("n") else "iso_1") if text else None,
                (col.collation or DEFAULT_COLLATION) if text else None,
            )
        )
    kind = "VIEW" if table.kind == "view" else "BASE TABLE"
    table_row = (table.database, table.schema, table.name, kind)
    view_row = None
    if table.kind == "view":
        view_row = (table.database, table.schema, table.name, (table.definition or "")[:4000], "NONE", "NO")
    return column_rows, table_row, view_row
