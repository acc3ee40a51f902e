"""The mapping file: one synced table described as data, validated into typed objects.

A mapping names the source (a SQL Server view or table, or a query), the PostgreSQL target,
every column in source order with its conversion, the natural key, thresholds and optional SQL
checks. The models below say what each field accepts (``extra="forbid"``, strict types, ranges);
loading fails with a :class:`MappingError` that names the file, the column or key and the bad
value, so a typo never reaches a run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from include.table_sync.conversions import CONVERSIONS
from include.table_sync.errors import MappingError
from include.table_sync.sqlserver_types import SqlServerType

# Where the DAG and the status page find the mapping files.
MAPPINGS_DIR = Path(__file__).resolve().parents[1] / "mappings"
# Columns the target table carries besides the mapped ones (Rails conventions).
RESERVED_TARGET_COLUMNS = ("id", "created_at", "updated_at")
_TARGET_TYPE = (
    r"^(varchar\(\d+\)|text|date|time|timestamp\(6\)|smallint|integer|bigint|boolean"
    r"|numeric\(\d+,\d+\)|double precision|real)$"
)


class _Model(BaseModel):
    # strict: "5000" is not a number and "yes" not a boolean; a YAML typo fails the load.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True)


def _list_as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# YAML has lists, the mapping keeps tuples (immutable, like the rest of it).
Sequence = BeforeValidator(_list_as_tuple)


def _parse_source_type(value: Any) -> Any:
    return SqlServerType.parse(value) if isinstance(value, str) else value


def _known_conversion(name: str) -> str:
    if name not in CONVERSIONS:
        raise ValueError(f"unknown conversion {name!r} (known: {', '.join(sorted(CONVERSIONS))})")
    return name


def _target_column_name(name: str) -> str:
    if not re.match(r"^[a-z_][a-z0-9_]{0,62}$", name) or name in RESERVED_TARGET_COLUMNS:
        raise ValueError(f"invalid target column name {name!r}")
    return name


def _target_type(name: str) -> str:
    name = name.lower()
    if not re.match(_TARGET_TYPE, name):
        raise ValueError(f"unsupported target type {name!r}")
    return name


class ColumnMapping(_Model):
    """One source column, its PostgreSQL column and the conversion between them."""

    source: str
    source_type: Annotated[SqlServerType, BeforeValidator(_parse_source_type)]
    target: Annotated[str, pydantic.AfterValidator(_target_column_name)]
    target_type: Annotated[str, pydantic.AfterValidator(_target_type)]
    conversion: Annotated[str, pydantic.AfterValidator(_known_conversion)]
    nullable: bool
    key: bool = False  # set from the mapping's ``key`` list, never written per column

    @pydantic.model_validator(mode="after")
    def _conversion_reads_source_type(self) -> ColumnMapping:
        if not CONVERSIONS[self.conversion].accepts(self.source_type):
            raise ValueError(f"conversion {self.conversion!r} cannot read source type {self.source_type}")
        return self


class _InSchema(_Model):
    """Something in a database schema: ``schema`` in the file (pydantic keeps that name itself)."""

    model_config = ConfigDict(populate_by_name=True)

    conn_id: str
    schema_: str = Field(alias="schema")

    @property
    def schema(self) -> str:
        return self.schema_


# How the source is read (source.read_path; docs/configuration.md). The line path has SQL Server
# render every row as one CSV line (fast); the typed path reads column by column (exact whatever
# the server renders); auto takes the line path only when the render probe passed.
AUTO, CSV_LINE, COLUMNS = "auto", "csv_line", "columns"
ReadPath = Literal["auto", "csv_line", "columns"]


class SourceConfig(_InSchema):
    database: str
    object: str
    query: str | None = None
    read_path: ReadPath = AUTO
    # snapshot: the whole read sees one committed state of the database, whatever SAP writes
    # meanwhile; the database must allow it (ALLOW_SNAPSHOT_ISOLATION ON).
    isolation: Literal["read_committed", "snapshot"] = "read_committed"

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.schema}.{self.object}"


class TargetConfig(_InSchema):
    table: str

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.table}"


class Thresholds(_Model):
    min_rows: int = Field(1, ge=0)
    max_shrink: float = Field(0.5, ge=0, le=1)
    batch_rows: int = Field(5000, ge=1)
    lock_timeout_ms: int = Field(5000, ge=1)
    max_error_examples: int = Field(20, ge=1)
    # SET LOCAL work_mem of the sync's own conversion, checks and apply (target.tuning_statements).
    work_mem_mb: int = Field(256, ge=1, le=65536)
    # SET LOCAL max_parallel_workers_per_gather of the same statements; 0 turns parallel query off.
    parallel_workers: int = Field(2, ge=0, le=64)


class SqlCheck(_Model):
    """A gate on the staged snapshot: ``sql`` counts offending rows; more than 0 rejects.

    ``{snapshot}`` in ``sql`` stands for the staged table; nothing else in it is interpreted.
    """

    name: str
    sql: str


class SyncMapping(_Model):
    name: str
    path: Path
    source: SourceConfig
    target: TargetConfig
    key: Annotated[tuple[str, ...], Sequence] = Field(min_length=1)
    columns: Annotated[tuple[ColumnMapping, ...], Sequence] = Field(min_length=1)
    thresholds: Thresholds = Thresholds()
    checks: Annotated[tuple[SqlCheck, ...], Sequence] = ()
    description: str = ""

    @property
    def key_columns(self) -> tuple[ColumnMapping, ...]:
        return tuple(column for column in self.columns if column.key)

    def column(self, source_name: str) -> ColumnMapping:
        for column in self.columns:
            if column.source == source_name:
                return column
        raise KeyError(source_name)


def load_mapping(path: str | Path) -> SyncMapping:
    """Read and validate a mapping file."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(path, f"cannot read mapping: {exc}") from exc
    if not isinstance(document, dict):
        raise MappingError(path, "a mapping file must be a YAML mapping at the top level")
    return parse_mapping(document, path)


def parse_mapping(document: dict[str, Any], path: Path) -> SyncMapping:
    """Validate a parsed mapping document (see :func:`load_mapping`)."""
    # ``path`` and a column's ``key`` are set here, from the file's name and its ``key`` list.
    if "path" in document:
        raise MappingError(path, "unknown field 'path'", field="path", value=document["path"])
    entries = document.get("columns")
    key = document.get("key")
    if isinstance(entries, list) and isinstance(key, list):
        for entry in entries:
            if isinstance(entry, dict) and "key" in entry:
                raise MappingError(
                    path,
                    "unknown field (list key columns in 'key')",
                    column=str(entry.get("source")),
                    field="key",
                    value=entry["key"],
                )
        entries = [
            {**entry, "key": entry.get("source") in key} if isinstance(entry, dict) else entry
            for entry in entries
        ]
        document = {**document, "columns": entries}
    try:
        mapping = SyncMapping.model_validate({**document, "path": path})
    except pydantic.ValidationError as exc:
        raise _mapping_error(path, document, exc.errors()[0]) from None
    _check_columns_agree(mapping)
    return mapping


def _mapping_error(path: Path, document: dict[str, Any], error: dict[str, Any]) -> MappingError:
    location = list(error["loc"])
    column = None
    if len(location) >= 2 and location[0] == "columns" and isinstance(location[1], int):
        entry = document["columns"][location[1]]
        column = str(entry.get("source", f"#{location[1] + 1}")) if isinstance(entry, dict) else None
        location = location[2:] or [f"#{location[1] + 1}"]
    field = ".".join(str(part) for part in location) or None
    if error["type"] == "missing":
        return MappingError(path, f"missing required field {location[-1]!r}", column=column, field=field)
    message = f"unknown field {location[-1]!r}" if error["type"] == "extra_forbidden" else error["msg"]
    message = message.removeprefix("Value error, ")
    return MappingError(path, message, column=column, field=field, value=error["input"])


def _check_columns_agree(mapping: SyncMapping) -> None:
    """The rules that span columns: unique names, a key among them, never nullable."""
    seen_source: set[str] = set()
    seen_target: set[str] = set()
    for column in mapping.columns:
        if column.source in seen_source:
            raise MappingError(mapping.path, "duplicate source column", column=column.source)
        if column.target in seen_target:
            raise MappingError(
                mapping.path, f"duplicate target column {column.target!r}", column=column.source
            )
        seen_source.add(column.source)
        seen_target.add(column.target)
        if column.key and column.nullable:
            raise MappingError(mapping.path, "a key column cannot be nullable", column=column.source)
    for name in mapping.key:
        if name not in seen_source:
            raise MappingError(
                mapping.path, f"key column '{name}' is not among the mapped columns", column=name
            )
