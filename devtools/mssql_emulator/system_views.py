"""The catalog views tools such as pgloader read: sys.schemas/objects/columns/indexes/index_columns
and INFORMATION_SCHEMA.KEY_COLUMN_USAGE/REFERENTIAL_CONSTRAINTS.

Like INFORMATION_SCHEMA.COLUMNS, each is a DuckDB table in the database's hidden ``__info``
schema, filled when an object is created and emptied when it is dropped. Only the columns a
migration tool asks for are kept; their values are what SQL Server reports for the same objects
(type ids from sys.types, byte lengths, a clustered index for a primary key, a heap otherwise).
"""

from __future__ import annotations

from devtools.mssql_emulator import dm_exec_connections
from devtools.mssql_emulator.catalog import TableDef
from devtools.mssql_emulator.results import Column

# Schema ids SQL Server gives the schemas every database starts with; user schemas follow.
BUILTIN_SCHEMA_IDS = {"dbo": 1, "guest": 2, "information_schema": 3, "sys": 4}
FIRST_USER_SCHEMA_ID = 5
# The fixed database roles' schemas: listed in sys.schemas, never used by the emulator's objects.
ROLE_SCHEMA_IDS = {
    "db_owner": 16384, "db_accessadmin": 16385, "db_securityadmin": 16386, "db_ddladmin": 16387,
    "db_backupoperator": 16389, "db_datareader": 16390, "db_datawriter": 16391,
    "db_denydatareader": 16392, "db_denydatawriter": 16393,
}  # fmt: skip

SYS_SCHEMAS = [
    Column("name", "nvarchar", length=128, nullable=False),
    Column("schema_id", "int", nullable=False),
    Column("principal_id", "int"),
]
SYS_OBJECTS = [
    Column("name", "nvarchar", length=128, nullable=False),
    Column("object_id", "int", nullable=False),
    Column("principal_id", "int"),
    Column("schema_id", "int", nullable=False),
    Column("parent_object_id", "int", nullable=False),
    Column("type", "char", length=2),
    Column("type_desc", "nvarchar", length=60),
    Column("is_ms_shipped", "bit", nullable=False),
]
SYS_COLUMNS = [
    Column("object_id", "int", nullable=False),
    Column("name", "nvarchar", length=128),
    Column("column_id", "int", nullable=False),
    Column("system_type_id", "tinyint", nullable=False),
    Column("user_type_id", "int", nullable=False),
    Column("max_length", "smallint", nullable=False),
    Column("precision", "tinyint", nullable=False),
    Column("scale", "tinyint", nullable=False),
    Column("collation_name", "nvarchar", length=128),
    Column("is_nullable", "bit"),
    Column("is_identity", "bit", nullable=False),
    Column("is_computed", "bit", nullable=False),
]
SYS_INDEXES = [
    Column("object_id", "int", nullable=False),
    Column("name", "nvarchar", length=128),
    Column("index_id", "int", nullable=False),
    Column("type", "tinyint", nullable=False),
    Column("type_desc", "nvarchar", length=60),
    Column("is_unique", "bit"),
    Column("is_primary_key", "bit"),
    Column("is_unique_constraint", "bit"),
    Column("has_filter", "bit"),
    Column("filter_definition", "nvarchar", length=-1),
]
SYS_INDEX_COLUMNS = [
    Column("object_id", "int", nullable=False),
    Column("index_id", "int", nullable=False),
    Column("index_column_id", "int", nullable=False),
    Column("column_id", "int", nullable=False),
    Column("key_ordinal", "tinyint", nullable=False),
    Column("partition_ordinal", "tinyint", nullable=False),
    Column("is_descending_key", "bit"),
    Column("is_included_column", "bit"),
]
SYS_VIEWS_BY_NAME = {
    # Rows kept by the TDS server (dm_exec_connections.py), not by the engine's DDL.
    "dm_exec_connections": dm_exec_connections.COLUMNS,
    "schemas": SYS_SCHEMAS,
    "objects": SYS_OBJECTS,
    "columns": SYS_COLUMNS,
    "indexes": SYS_INDEXES,
    "index_columns": SYS_INDEX_COLUMNS,
}

INFO_KEY_COLUMN_USAGE = [
    Column("CONSTRAINT_CATALOG", "nvarchar", length=128),
    Column("CONSTRAINT_SCHEMA", "nvarchar", length=128),
    Column("CONSTRAINT_NAME", "nvarchar", length=128, nullable=False),
    Column("TABLE_CATALOG", "nvarchar", length=128),
    Column("TABLE_SCHEMA", "nvarchar", length=128),
    Column("TABLE_NAME", "nvarchar", length=128, nullable=False),
    Column("COLUMN_NAME", "nvarchar", length=128),
    Column("ORDINAL_POSITION", "int", nullable=False),
]
# The emulator has no foreign keys, so this view is always empty; it exists because asking
# for it is legal and tools do.
INFO_REFERENTIAL_CONSTRAINTS = [
    Column("CONSTRAINT_CATALOG", "nvarchar", length=128),
    Column("CONSTRAINT_SCHEMA", "nvarchar", length=128),
    Column("CONSTRAINT_NAME", "nvarchar", length=128, nullable=False),
    Column("UNIQUE_CONSTRAINT_CATALOG", "nvarchar", length=128),
    Column("UNIQUE_CONSTRAINT_SCHEMA", "nvarchar", length=128),
    Column("UNIQUE_CONSTRAINT_NAME", "nvarchar", length=128),
    Column("MATCH_OPTION", "varchar", length=7),
    Column("UPDATE_RULE", "varchar", length=11),
    Column("DELETE_RULE", "varchar", length=11),
]

# sys.types ids of the types the emulator declares (system_type_id = user_type_id for these).
TYPE_IDS = {
    "image": 34, "text": 35, "uniqueidentifier": 36, "date": 40, "time": 41, "datetime2": 42,
    "datetimeoffset": 43, "tinyint": 48, "smallint": 52, "int": 56, "smalldatetime": 58,
    "real": 59, "money": 60, "datetime": 61, "float": 62, "ntext": 99, "bit": 104,
    "decimal": 106, "numeric": 108, "smallmoney": 122, "bigint": 127, "varbinary": 165,
    "varchar": 167, "binary": 173, "char": 175, "nvarchar": 231, "nchar": 239,
}  # fmt: skip
_FIXED_BYTES = {
    "tinyint": 1, "smallint": 2, "int": 4, "bigint": 8, "bit": 1, "real": 4, "float": 8,
    "money": 8, "smallmoney": 4, "date": 3, "datetime": 8, "smalldatetime": 4,
    "uniqueidentifier": 16, "text": 16, "ntext": 16, "image": 16,
}  # fmt: skip
# sys.columns.precision of the fixed types (0 for strings and binaries).
_PRECISION = {
    "tinyint": 3, "smallint": 5, "int": 10, "bigint": 19, "bit": 1, "real": 24, "float": 53,
    "money": 19, "smallmoney": 10, "date": 10, "datetime": 23, "smalldatetime": 16,
}  # fmt: skip


def _max_length(col: Column) -> int:
    t = col.sql_type
    if t in _FIXED_BYTES:
        return _FIXED_BYTES[t]
    if t in ("nvarchar", "nchar"):
        return -1 if col.length == -1 else 2 * (col.length or 1)
    if t in ("varchar", "char", "varbinary", "binary"):
        return col.length or 1
    if t in ("decimal", "numeric"):
        return next(
            size for limit, size in ((9, 5), (19, 9), (28, 13), (38, 17)) if (col.precision or 18) <= limit
        )
    scale = col.scale if col.scale is not None else 7
    tick_bytes = 3 if scale <= 2 else 4 if scale <= 4 else 5
    return {"time": tick_bytes, "datetime2": tick_bytes + 3, "datetimeoffset": tick_bytes + 5}.get(t, 0)


def _precision_scale(col: Column) -> tuple[int, int]:
    t = col.sql_type
    if t in ("decimal", "numeric"):
        return col.precision or 18, col.scale or 0
    if t in ("time", "datetime2", "datetimeoffset"):
        scale = col.scale if col.scale is not None else 7
        base = {"time": 8, "datetime2": 19, "datetimeoffset": 26}[t]
        return base + (scale + 1 if scale else 0), scale
    if t == "datetime":
        return 23, 3
    if t == "money":
        return 19, 4
    return _PRECISION.get(t, 0), 0


def schema_row(schema: str, schema_id: int) -> tuple:
    """The sys.schemas row of one schema: built-in ones are owned by the principal of the same
    id (dbo, guest, INFORMATION_SCHEMA, sys, the roles), user schemas by dbo."""
    builtin = schema.lower() in BUILTIN_SCHEMA_IDS or schema.lower() in ROLE_SCHEMA_IDS
    return (schema, schema_id, schema_id if builtin else 1)


def object_rows(table: TableDef, schema_id: int) -> dict[str, list[tuple]]:
    """Rows describing one table or view, by the ``__info`` table that holds them."""
    is_view = table.kind == "view"
    identity = table.defaults.get("__identity__", ())
    rows: dict[str, list[tuple]] = {
        "sys_objects": [
            (
                table.name,
                table.object_id,
                None,
                schema_id,
                0,
                "V " if is_view else "U ",
                "VIEW" if is_view else "USER_TABLE",
                False,
            )
        ],
        "sys_columns": [],
        "sys_indexes": [],
        "sys_index_columns": [],
        "key_column_usage": [],
    }
    for column_id, col in enumerate(table.columns, start=1):
        precision, scale = _precision_scale(col)
        type_id = TYPE_IDS.get(col.sql_type, 0)
        text = col.sql_type in ("nvarchar", "nchar", "varchar", "char")
        rows["sys_columns"].append(
            (
                table.object_id,
                col.name,
                column_id,
                type_id,
                type_id,
                _max_length(col),
                precision,
                scale,
                "SQL_Latin1_General_CP1_CI_AS" if text else None,
                col.nullable,
                not is_view and col.name.lower() in identity,
                False,
            )
        )
    if is_view:
        return rows  # a view without an index of its own has no sys.indexes rows
    if not table.primary_key:
        rows["sys_indexes"].append((table.object_id, None, 0, 0, "HEAP", False, False, False, False, None))
        return rows
    rows["sys_indexes"].append(
        (table.object_id, table.primary_key, 1, 1, "CLUSTERED", True, True, False, False, None)
    )
    positions = {c.name.lower(): i for i, c in enumerate(table.columns, start=1)}
    for ordinal, key in enumerate(table.key_columns, start=1):
        column_id = positions[key.lower()]
        rows["sys_index_columns"].append((table.object_id, 1, ordinal, column_id, ordinal, 0, False, False))
        rows["key_column_usage"].append(
            (
                table.database,
                table.schema,
                table.primary_key,
                table.database,
                table.schema,
                table.name,
                table.columns[column_id - 1].name,
                ordinal,
            )
        )
    return rows
