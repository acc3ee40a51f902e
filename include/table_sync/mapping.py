"""The mapping file: one synced table described as data, validated into typed objects.

A mapping names the source (a SQL Server view or table, or a query), the PostgreSQL target,
every column in source order with its conversion, the natural key, thresholds and optional SQL
checks. Loading fails with a :class:`MappingError` that names the file, the column and the bad
value, so a typo never reaches a run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from include.table_sync.conversions import CONVERSIONS
from include.table_sync.errors import MappingError
from include.table_sync.sqlserver_types import SqlServerType

_TARGET_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_TARGET_TYPE = re.compile(
    r"^(varchar\(\d+\)|text|date|time|timestamp\(6\)|smallint|integer|bigint|boolean"
    r"|numeric\(\d+,\d+\)|double precision|real)$"
)
# Columns the target table carries besides the mapped ones (Rails conventions).
RESERVED_TARGET_COLUMNS = ("id", "created_at", "updated_at")


@dataclass(frozen=True)
class ColumnMapping:
    """One source column, its PostgreSQL column and the conversion between them."""

    source: str
    source_type: SqlServerType
    target: str
    target_type: str
    conversion: str
    nullable: bool
    key: bool = False


@dataclass(frozen=True)
class SourceConfig:
    conn_id: str
    database: str
    schema: str
    object: str
    query: str | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.schema}.{self.object}"


@dataclass(frozen=True)
class TargetConfig:
    conn_id: str
    schema: str
    table: str

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class Thresholds:
    min_rows: int = 1
    max_shrink: float = 0.5
    batch_rows: int = 5000
    lock_timeout_ms: int = 5000
    max_error_examples: int = 20


@dataclass(frozen=True)
class SqlCheck:
    """A gate on the staged snapshot: ``sql`` counts offending rows; more than 0 rejects."""

    name: str
    sql: str


@dataclass(frozen=True)
class SyncMapping:
    name: str
    path: Path
    source: SourceConfig
    target: TargetConfig
    columns: tuple[ColumnMapping, ...]
    thresholds: Thresholds = field(default_factory=Thresholds)
    checks: tuple[SqlCheck, ...] = ()
    description: str = ""

    @property
    def key_columns(self) -> tuple[ColumnMapping, ...]:
        return tuple(column for column in self.columns if column.key)

    def column(self, source_name: str) -> ColumnMapping:
        for column in self.columns:
            if column.source == source_name:
                return column
        raise KeyError(source_name)


_TOP_LEVEL = {"name", "description", "source", "target", "thresholds", "checks", "key", "columns"}
_COLUMN_FIELDS = {"source", "source_type", "target", "target_type", "conversion", "nullable"}


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
    unknown = set(document) - _TOP_LEVEL
    if unknown:
        raise MappingError(path, f"unknown top-level field(s): {', '.join(sorted(unknown))}")
    for required in ("name", "source", "target", "key", "columns"):
        if required not in document:
            raise MappingError(path, f"missing required field '{required}'")

    source = _build(SourceConfig, document["source"], path, "source")
    target = _build(TargetConfig, document["target"], path, "target")
    thresholds = _build(Thresholds, document.get("thresholds") or {}, path, "thresholds")
    if not 0 <= thresholds.max_shrink <= 1:
        raise MappingError(
            path, f"thresholds.max_shrink must be between 0 and 1, got {thresholds.max_shrink}"
        )
    if thresholds.batch_rows < 1 or thresholds.min_rows < 0:
        raise MappingError(path, "thresholds.batch_rows must be >= 1 and thresholds.min_rows >= 0")

    key = document["key"]
    if not isinstance(key, list) or not key:
        raise MappingError(path, "'key' must be a non-empty list of source column names")

    columns = _parse_columns(document["columns"], set(key), path)
    known = {column.source for column in columns}
    for name in key:
        if name not in known:
            raise MappingError(path, f"key column '{name}' is not among the mapped columns", column=name)
    for column in columns:
        if column.key and column.nullable:
            raise MappingError(path, "a key column cannot be nullable", column=column.source)

    checks = tuple(_build(SqlCheck, entry, path, "checks") for entry in document.get("checks") or ())
    return SyncMapping(
        name=str(document["name"]),
        path=path,
        source=source,
        target=target,
        columns=columns,
        thresholds=thresholds,
        checks=checks,
        description=str(document.get("description") or ""),
    )


def _parse_columns(entries: Any, key: set[str], path: Path) -> tuple[ColumnMapping, ...]:
    if not isinstance(entries, list) or not entries:
        raise MappingError(path, "'columns' must be a non-empty list")
    columns: list[ColumnMapping] = []
    seen_source: set[str] = set()
    seen_target: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise MappingError(path, f"column #{position} must be a mapping, got {entry!r}")
        name = str(entry.get("source", f"#{position}"))
        missing = _COLUMN_FIELDS - set(entry)
        if missing:
            raise MappingError(path, f"missing field(s) {', '.join(sorted(missing))}", column=name)
        extra = set(entry) - _COLUMN_FIELDS
        if extra:
            raise MappingError(path, f"unknown field(s) {', '.join(sorted(extra))}", column=name)

        conversion = entry["conversion"]
        if conversion not in CONVERSIONS:
            raise MappingError(
                path,
                f"unknown conversion {conversion!r} (known: {', '.join(sorted(CONVERSIONS))})",
                column=name,
            )
        try:
            source_type = SqlServerType.parse(str(entry["source_type"]))
        except ValueError as exc:
            raise MappingError(path, str(exc), column=name) from exc
        target = str(entry["target"])
        if not _TARGET_NAME.match(target) or target in RESERVED_TARGET_COLUMNS:
            raise MappingError(path, f"invalid target column name {target!r}", column=name)
        target_type = str(entry["target_type"]).lower()
        if not _TARGET_TYPE.match(target_type):
            raise MappingError(path, f"unsupported target type {target_type!r}", column=name)
        if not CONVERSIONS[conversion].accepts(source_type):
            raise MappingError(
                path,
                f"conversion {conversion!r} cannot read source type {source_type}",
                column=name,
            )
        if name in seen_source:
            raise MappingError(path, "duplicate source column", column=name)
        if target in seen_target:
            raise MappingError(path, f"duplicate target column {target!r}", column=name)
        if not isinstance(entry["nullable"], bool):
            raise MappingError(
                path, f"'nullable' must be true or false, got {entry['nullable']!r}", column=name
            )
        seen_source.add(name)
        seen_target.add(target)
        columns.append(
            ColumnMapping(
                source=name,
                source_type=source_type,
                target=target,
                target_type=target_type,
                conversion=conversion,
                nullable=entry["nullable"],
                key=name in key,
            )
        )
    return tuple(columns)


def _build(cls, values: Any, path: Path, section: str):
    if not isinstance(values, dict):
        raise MappingError(path, f"'{section}' must be a mapping")
    try:
        return cls(**values)
    except TypeError as exc:
        raise MappingError(path, f"invalid '{section}': {exc}") from exc
