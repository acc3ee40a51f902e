"""The catalog views tools read to discover objects (pgloader, SQLAlchemy's MSSQL dialect, dlt):
sys.schemas, objects, tables, views, columns, types, indexes, index_columns, key_constraints,
default_constraints, identity_columns, computed_columns, extended_properties, sql_modules, and
INFORMATION_SCHEMA.TABLE_CONSTRAINTS, KEY_COLUMN_USAGE, CONSTRAINT_COLUMN_USAGE and
REFERENTIAL_CONSTRAINTS.

Like INFORMATION_SCHEMA.COLUMNS, each is a DuckDB table in the database's hidden ``__info``
schema, filled when an object is created and emptied when it is dropped (sys.types once, when
the database is created). Only the columns tools ask for are kept, named and typed as
Microsoft's page for each view says (cited above each); their values are what SQL Server
reports for the same objects (type ids from sys.types, byte lengths, a clustered index for a
primary key, a heap otherwise, a system-named object for each constraint).

The emulator has no computed columns, extended properties (sp_addextendedproperty) or foreign
keys: those views exist, because asking for them is legal and tools do, and are always empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from devtools.mssql_emulator import dm_exec_connections, dm_exec_sessions
from devtools.mssql_emulator.catalog import INFO_VIEWS_BY_NAME, TableDef
from devtools.mssql_emulator.collations import DEFAULT as DEFAULT_COLLATION
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
    Column("default_object_id", "int", nullable=False),
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
# https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-tables-transact-sql
# (the sys.objects columns, then the table's own)
SYS_TABLES = [
    *SYS_OBJECTS,
    Column("max_column_id_used", "int", nullable=False),
    Column("uses_ansi_nulls", "bit"),
    Column("is_replicated", "bit"),
    Column("is_memory_optimized", "bit"),
    Column("temporal_type", "tinyint"),
    Column("temporal_type_desc", "nvarchar", length=60),
    Column("is_external", "bit", nullable=False),
]
# https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-views-transact-sql
SYS_VIEWS = [
    *SYS_OBJECTS,
    Column("is_replicated", "bit"),
    Column("has_opaque_metadata", "bit", nullable=False),
    Column("with_check_option", "bit", nullable=False),
    Column("is_date_correlation_view", "bit", nullable=False),
]
# https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-key-constraints-transact-sql
SYS_KEY_CONSTRAINTS = [
    *SYS_OBJECTS,
    Column("unique_index_id", "int"),
    Column("is_system_named", "bit", nullable=False),
    Column("is_enforced", "bit"),
]
# https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-default-constraints-transact-sql
SYS_DEFAULT_CONSTRAINTS = [
    *SYS_OBJECTS,
    Column("parent_column_id", "int", nullable=False),
    Column("definition", "nvarchar", length=-1),
    Column("is_system_named", "bit", nullable=False),
]
# https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-identity-columns-transact-sql
# seed_value, increment_value and last_value are sql_variant there (of the column's type); the
# emulator has no sql_variant and sends them as the bigint they hold.
SYS_IDENTITY_COLUMNS = [
    *SYS_COLUMNS[:3],  # object_id, name, column_id: these views extend sys.columns
    Column("is_identity", "bit", nullable=False),
    Column("seed_value", "bigint"),
    Column("increment_value", "bigint"),
    Column("last_value", "bigint"),
    Column("is_not_for_replication", "bit"),
]
# https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-computed-columns-transact-sql
SYS_COMPUTED_COLUMNS = [
    *SYS_COLUMNS[:3],
    Column("is_computed", "bit", nullable=False),
    Column("definition", "nvarchar", length=-1),
    Column("uses_database_collation", "bit", nullable=False),
    Column("is_persisted", "bit", nullable=False),
]
# https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/extended-properties-catalog-views-sys-extended-properties
# value is sql_variant there; nvarchar(max) here (no property is ever set).
SYS_EXTENDED_PROPERTIES = [
    Column("class", "tinyint", nullable=False),
    Column("class_desc", "nvarchar", length=60),
    Column("major_id", "int", nullable=False),
    Column("minor_id", "int", nullable=False),
    Column("name", "nvarchar", length=128, nullable=False),
    Column("value", "nvarchar", length=-1),
]
# https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-sql-modules-transact-sql
SYS_SQL_MODULES = [
    Column("object_id", "int", nullable=False),
    Column("definition", "nvarchar", length=-1),
    Column("uses_ansi_nulls", "bit"),
    Column("uses_quoted_identifier", "bit"),
    Column("is_schema_bound", "bit"),
]
# https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-types-transact-sql
SYS_TYPES = [
    Column("name", "nvarchar", length=128, nullable=False),
    Column("system_type_id", "tinyint", nullable=False),
    Column("user_type_id", "int", nullable=False),
    Column("schema_id", "int", nullable=False),
    Column("principal_id", "int"),
    Column("max_length", "smallint", nullable=False),
    Column("precision", "tinyint", nullable=False),
    Column("scale", "tinyint", nullable=False),
    Column("collation_name", "nvarchar", length=128),
    Column("is_nullable", "bit"),
    Column("is_user_defined", "bit", nullable=False),
    Column("is_assembly_type", "bit", nullable=False),
    Column("default_object_id", "int", nullable=False),
    Column("rule_object_id", "int", nullable=False),
    Column("is_table_type", "bit", nullable=False),
]
# https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-databases-transact-sql
# Server-wide: every database's sys.databases lists every database. The snapshot columns say
# what the emulator's transactions do (README: Transactions and sessions).
SYS_DATABASES = [
    Column("name", "nvarchar", length=128, nullable=False),
    Column("database_id", "int", nullable=False),
    Column("create_date", "datetime", nullable=False),
    Column("compatibility_level", "tinyint", nullable=False),
    Column("collation_name", "nvarchar", length=128),
    Column("user_access", "tinyint"),
    Column("user_access_desc", "nvarchar", length=60),
    Column("is_read_only", "bit"),
    Column("state", "tinyint"),
    Column("state_desc", "nvarchar", length=60),
    Column("recovery_model", "tinyint"),
    Column("recovery_model_desc", "nvarchar", length=60),
    Column("snapshot_isolation_state", "tinyint"),
    Column("snapshot_isolation_state_desc", "nvarchar", length=60),
    Column("is_read_committed_snapshot_on", "bit"),
]
# https://learn.microsoft.com/en-us/sql/relational-databases/system-catalog-views/sys-system-views-transact-sql
SYS_SYSTEM_VIEWS = [
    Column("name", "nvarchar", length=128, nullable=False),
    Column("object_id", "int", nullable=False),
    Column("schema_id", "int", nullable=False),
    Column("type", "char", length=2),
    Column("type_desc", "nvarchar", length=60),
]
# sys.fn_listextendedproperty's result (a function, not a view: never in sys.system_views).
# It lists extended properties, which the emulator has none of, so it always returns no rows.
# https://learn.microsoft.com/en-us/sql/relational-databases/system-functions/sys-fn-listextendedproperty-transact-sql
# value is sql_variant there; the emulator has no sql_variant, so it is nvarchar(4000) here.
FN_LISTEXTENDEDPROPERTY = [
    Column("objtype", "nvarchar", length=128),
    Column("objname", "nvarchar", length=128),
    Column("name", "nvarchar", length=128),
    Column("value", "nvarchar", length=4000),
]
SYS_VIEWS_BY_NAME = {
    # Rows kept by the TDS server (dm_exec_connections.py), not by the engine's DDL.
    "dm_exec_connections": dm_exec_connections.COLUMNS,
    # Rows made per query from the live sessions (dm_exec_sessions.py); the table stays empty.
    "dm_exec_sessions": dm_exec_sessions.COLUMNS,
    "databases": SYS_DATABASES,
    "system_views": SYS_SYSTEM_VIEWS,
    "schemas": SYS_SCHEMAS,
    "objects": SYS_OBJECTS,
    "columns": SYS_COLUMNS,
    "indexes": SYS_INDEXES,
    "index_columns": SYS_INDEX_COLUMNS,
    "tables": SYS_TABLES,
    "views": SYS_VIEWS,
    "types": SYS_TYPES,
    "key_constraints": SYS_KEY_CONSTRAINTS,
    "default_constraints": SYS_DEFAULT_CONSTRAINTS,
    "identity_columns": SYS_IDENTITY_COLUMNS,
    "computed_columns": SYS_COMPUTED_COLUMNS,
    "extended_properties": SYS_EXTENDED_PROPERTIES,
    "sql_modules": SYS_SQL_MODULES,
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
# https://learn.microsoft.com/en-us/sql/relational-databases/system-information-schema-views/table-constraints-transact-sql
INFO_TABLE_CONSTRAINTS = [
    Column("CONSTRAINT_CATALOG", "nvarchar", length=128),
    Column("CONSTRAINT_SCHEMA", "nvarchar", length=128),
    Column("CONSTRAINT_NAME", "nvarchar", length=128, nullable=False),
    Column("TABLE_CATALOG", "nvarchar", length=128),
    Column("TABLE_SCHEMA", "nvarchar", length=128),
    Column("TABLE_NAME", "nvarchar", length=128, nullable=False),
    Column("CONSTRAINT_TYPE", "varchar", length=11),
    Column("IS_DEFERRABLE", "varchar", length=2, nullable=False),
    Column("INITIALLY_DEFERRED", "varchar", length=2, nullable=False),
]
# https://learn.microsoft.com/en-us/sql/relational-databases/system-information-schema-views/constraint-column-usage-transact-sql
INFO_CONSTRAINT_COLUMN_USAGE = [
    Column("TABLE_CATALOG", "nvarchar", length=128),
    Column("TABLE_SCHEMA", "nvarchar", length=128),
    Column("TABLE_NAME", "nvarchar", length=128, nullable=False),
    Column("COLUMN_NAME", "nvarchar", length=128),
    Column("CONSTRAINT_CATALOG", "nvarchar", length=128),
    Column("CONSTRAINT_SCHEMA", "nvarchar", length=128),
    Column("CONSTRAINT_NAME", "nvarchar", length=128, nullable=False),
]
# https://learn.microsoft.com/en-us/sql/relational-databases/system-information-schema-views/routines-transact-sql
# Always empty: the emulator has no procedures or functions (CREATE PROCEDURE is 40517).
INFO_ROUTINES = [
    Column("SPECIFIC_CATALOG", "nvarchar", length=128),
    Column("SPECIFIC_SCHEMA", "nvarchar", length=128),
    Column("SPECIFIC_NAME", "nvarchar", length=128, nullable=False),
    Column("ROUTINE_CATALOG", "nvarchar", length=128),
    Column("ROUTINE_SCHEMA", "nvarchar", length=128),
    Column("ROUTINE_NAME", "nvarchar", length=128, nullable=False),
    Column("ROUTINE_TYPE", "nvarchar", length=20),
    Column("DATA_TYPE", "nvarchar", length=128),
    Column("ROUTINE_DEFINITION", "nvarchar", length=4000),
    Column("CREATED", "datetime", nullable=False),
    Column("LAST_ALTERED", "datetime", nullable=False),
]
# The INFORMATION_SCHEMA views kept in the engine's own tables besides catalog.py's four.
INFO_CONSTRAINT_VIEWS = {
    "key_column_usage": INFO_KEY_COLUMN_USAGE,
    "referential_constraints": INFO_REFERENTIAL_CONSTRAINTS,
    "table_constraints": INFO_TABLE_CONSTRAINTS,
    "constraint_column_usage": INFO_CONSTRAINT_COLUMN_USAGE,
    "routines": INFO_ROUTINES,
}

# What drop removes: the __info tables holding rows of one object, by the columns naming it
# (a constraint's rows name the table as parent_object_id), and those named by schema and name.
ROWS_BY_OBJECT_ID = {
    "sys_objects": ("object_id", "parent_object_id"),
    "sys_columns": ("object_id",),
    "sys_indexes": ("object_id",),
    "sys_index_columns": ("object_id",),
    "sys_tables": ("object_id",),
    "sys_views": ("object_id",),
    "sys_key_constraints": ("parent_object_id",),
    "sys_default_constraints": ("parent_object_id",),
    "sys_identity_columns": ("object_id",),
    "sys_sql_modules": ("object_id",),
}
ROWS_BY_TABLE_NAME = ("key_column_usage", "table_constraints", "constraint_column_usage")

# sys.types ids of the types the emulator declares (system_type_id = user_type_id for these).
TYPE_IDS = {
    "image": 34, "text": 35, "uniqueidentifier": 36, "date": 40, "time": 41, "datetime2": 42,
    "datetimeoffset": 43, "tinyint": 48, "smallint": 52, "int": 56, "smalldatetime": 58,
    "real": 59, "money": 60, "datetime": 61, "float": 62, "ntext": 99, "bit": 104,
    "decimal": 106, "numeric": 108, "smallmoney": 122, "bigint": 127, "varbinary": 165,
    "varchar": 167, "binary": 173, "char": 175, "nvarchar": 231, "nchar": 239, "xml": 241,
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
    t = col.legacy_lob or col.sql_type  # text, ntext, image: the 16-byte text pointer
    if t == "xml":
        return -1
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


# The built-in rows of sys.types in a SQL Server 2022 database: (name, system_type_id,
# user_type_id, max_length, precision, scale), per the sys.types page and the data type pages it
# links. Text types carry the database's collation; sysname is nvarchar(128) NOT NULL; the CLR
# types (hierarchyid, geometry, geography) are assembly types under system type 240.
_BUILTIN_TYPES = [
    ("image", 34, 34, 16, 0, 0), ("text", 35, 35, 16, 0, 0), ("uniqueidentifier", 36, 36, 16, 0, 0),
    ("date", 40, 40, 3, 10, 0), ("time", 41, 41, 5, 16, 7), ("datetime2", 42, 42, 8, 27, 7),
    ("datetimeoffset", 43, 43, 10, 34, 7), ("tinyint", 48, 48, 1, 3, 0), ("smallint", 52, 52, 2, 5, 0),
    ("int", 56, 56, 4, 10, 0), ("smalldatetime", 58, 58, 4, 16, 0), ("real", 59, 59, 4, 24, 0),
    ("money", 60, 60, 8, 19, 4), ("datetime", 61, 61, 8, 23, 3), ("float", 62, 62, 8, 53, 0),
    ("sql_variant", 98, 98, 8016, 0, 0), ("ntext", 99, 99, 16, 0, 0), ("bit", 104, 104, 1, 1, 0),
    ("decimal", 106, 106, 17, 38, 38), ("numeric", 108, 108, 17, 38, 38),
    ("smallmoney", 122, 122, 4, 10, 4), ("bigint", 127, 127, 8, 19, 0),
    ("hierarchyid", 240, 128, 892, 0, 0), ("geometry", 240, 129, -1, 0, 0),
    ("geography", 240, 130, -1, 0, 0), ("varbinary", 165, 165, 8000, 0, 0),
    ("varchar", 167, 167, 8000, 0, 0), ("binary", 173, 173, 8000, 0, 0), ("char", 175, 175, 8000, 0, 0),
    ("timestamp", 189, 189, 8, 0, 0), ("nvarchar", 231, 231, 8000, 0, 0), ("nchar", 239, 239, 8000, 0, 0),
    ("xml", 241, 241, -1, 0, 0), ("sysname", 231, 256, 256, 0, 0),
]  # fmt: skip
_TEXT_TYPE_IDS = {35, 99, 167, 175, 231, 239}
SYS_SCHEMA_ID = BUILTIN_SCHEMA_IDS["sys"]


def builtin_type_ids() -> dict[str, int]:
    """Each built-in type's name and user_type_id, what TYPE_ID() and TYPE_NAME() map between."""
    return {name: user_id for name, _system_id, user_id, *_sizes in _BUILTIN_TYPES}


def type_rows(collation: str) -> list[tuple]:
    """The sys.types rows of a database whose collation is ``collation``."""
    return [
        (
            name, system_id, user_id, SYS_SCHEMA_ID, None, max_length, precision, scale,
            collation if system_id in _TEXT_TYPE_IDS else None,
            name != "sysname", False, system_id == 240, 0, 0, False,
        )
        for name, system_id, user_id, max_length, precision, scale in _BUILTIN_TYPES
    ]  # fmt: skip


def _object_row(name: str, object_id: int, schema_id: int, parent: int, kind: str, desc: str) -> tuple:
    """A sys.objects row; sys.tables, views and the constraint views start with the same columns."""
    return (name, object_id, None, schema_id, parent, kind, desc, False)


def default_constraint_name(table: str, column: str, object_id: int) -> str:
    """The name SQL Server gives an unnamed DEFAULT: DF__, nine characters of the table, five of
    the column, the object id in hex (as in its sys.default_constraints, e.g. DF__Orders__Statu__3B75D760)."""
    return f"DF__{table[:9]}__{column[:5]}__{object_id:08X}"


def object_rows(table: TableDef, schema_id: int, new_object_id: Callable[[], int]) -> dict[str, list[tuple]]:
    """Rows describing one table or view, by the ``__info`` table that holds them.

    ``new_object_id`` numbers the constraint objects (primary key, defaults), which SQL Server
    lists in sys.objects with the table as their parent.
    """
    is_view = table.kind == "view"
    identity = table.defaults.get("__identity__", ())
    kind, desc = ("V ", "VIEW") if is_view else ("U ", "USER_TABLE")
    own = _object_row(table.name, table.object_id, schema_id, 0, kind, desc)
    rows: dict[str, list[tuple]] = {name: [] for name in ROWS_BY_OBJECT_ID}
    rows.update({name: [] for name in ROWS_BY_TABLE_NAME})
    rows["sys_objects"].append(own)
    if is_view:
        rows["sys_views"].append((*own, False, False, False, False))
        rows["sys_sql_modules"].append((table.object_id, table.definition, True, True, False))
    else:
        rows["sys_tables"].append(
            (*own, len(table.columns), True, False, False, 0, "NON_TEMPORAL_TABLE", False)
        )
    for column_id, col in enumerate(table.columns, start=1):
        precision, scale = _precision_scale(col)
        type_id = TYPE_IDS.get(col.legacy_lob or col.sql_type, 0)
        text = col.sql_type in ("nvarchar", "nchar", "varchar", "char") and col.legacy_lob != "xml"
        is_identity = not is_view and col.name.lower() in identity
        default_id = 0
        if not is_view and col.name.lower() in table.defaults:
            default_id = new_object_id()
            name = default_constraint_name(table.name, col.name, default_id)
            constraint = _object_row(name, default_id, schema_id, table.object_id, "D ", "DEFAULT_CONSTRAINT")
            rows["sys_objects"].append(constraint)
            rows["sys_default_constraints"].append(
                (*constraint, column_id, table.defaults[col.name.lower()], True)
            )
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
                (col.collation or DEFAULT_COLLATION) if text else None,
                col.nullable,
                is_identity,
                False,
                default_id,
            )
        )
        if is_identity:
            seed, increment = table.defaults.get("__identity_seed__", {}).get(col.name.lower(), (1, 1))
            rows["sys_identity_columns"].append(
                (table.object_id, col.name, column_id, True, seed, increment, None, False)
            )
    if is_view:
        return rows  # a view without an index of its own has no sys.indexes rows
    if not table.primary_key:
        rows["sys_indexes"].append((table.object_id, None, 0, 0, "HEAP", False, False, False, False, None))
        return rows
    rows["sys_indexes"].append(
        (table.object_id, table.primary_key, 1, 1, "CLUSTERED", True, True, False, False, None)
    )
    key_id = new_object_id()
    key = _object_row(table.primary_key, key_id, schema_id, table.object_id, "PK", "PRIMARY_KEY_CONSTRAINT")
    rows["sys_objects"].append(key)
    system_named = table.primary_key.startswith(f"PK__{table.name[:8]}__")
    rows["sys_key_constraints"].append((*key, 1, system_named, True))
    rows["table_constraints"].append(
        (table.database, table.schema, table.primary_key, table.database, table.schema, table.name,
         "PRIMARY KEY", "NO", "NO")
    )  # fmt: skip
    positions = {c.name.lower(): i for i, c in enumerate(table.columns, start=1)}
    for ordinal, key_column in enumerate(table.key_columns, start=1):
        column_id = positions[key_column.lower()]
        name = table.columns[column_id - 1].name
        rows["sys_index_columns"].append((table.object_id, 1, ordinal, column_id, ordinal, 0, False, False))
        rows["key_column_usage"].append(
            (table.database, table.schema, table.primary_key, table.database, table.schema, table.name,
             name, ordinal)
        )  # fmt: skip
        rows["constraint_column_usage"].append(
            (table.database, table.schema, table.name, name, table.database, table.schema, table.primary_key)
        )
    return rows


def database_rows(names_and_collations: list[tuple[str, str]], created: dt.datetime) -> list[tuple]:
    """sys.databases rows; database_id numbers the names in sorted order, as DB_ID() does."""
    ordered = sorted(names_and_collations, key=lambda pair: pair[0].lower())
    return [
        (
            name,
            index,
            created,
            160,
            collation,
            0,
            "MULTI_USER",
            False,
            0,
            "ONLINE",
            3,
            "SIMPLE",
            1,
            "ON",
            True,
        )
        for index, (name, collation) in enumerate(ordered, start=1)
    ]


def system_view_rows() -> list[tuple]:
    """sys.system_views: the sys and INFORMATION_SCHEMA views the emulator answers. Their
    object_id is a stable negative number of the emulator's, not SQL Server's."""
    names = [("sys", name) for name in SYS_VIEWS_BY_NAME] + [
        ("INFORMATION_SCHEMA", name.upper()) for name in (*INFO_VIEWS_BY_NAME, *INFO_CONSTRAINT_VIEWS)
    ]
    return [
        (name, -100 - index, BUILTIN_SCHEMA_IDS[schema.lower()], "V", "VIEW")
        for index, (schema, name) in enumerate(names)
    ]
