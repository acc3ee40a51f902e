"""SQL Server type names as the mapping file and INFORMATION_SCHEMA spell them."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TYPE = re.compile(r"^\s*([a-z0-9]+)\s*(?:\(\s*(max|\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$", re.IGNORECASE)

TEXT_TYPES = {"nvarchar", "nchar", "varchar", "char"}
DECIMAL_TYPES = {"decimal", "numeric"}
KNOWN_TYPES = (
    TEXT_TYPES
    | DECIMAL_TYPES
    | {
        "int",
        "bigint",
        "smallint",
        "tinyint",
        "bit",
        "float",
        "real",
        "money",
        "date",
        "time",
        "datetime",
        "datetime2",
        "datetimeoffset",
        "uniqueidentifier",
        "varbinary",
    }
)


@dataclass(frozen=True)
class SqlServerType:
    name: str
    length: int | None = None  # characters for text types; -1 for max
    precision: int | None = None
    scale: int | None = None

    @classmethod
    def parse(cls, text: str) -> SqlServerType:
        match = _TYPE.match(text)
        if not match or match.group(1).lower() not in KNOWN_TYPES:
            raise ValueError(f"unknown SQL Server type {text!r}")
        name, first, second = match.group(1).lower(), match.group(2), match.group(3)
        if name in DECIMAL_TYPES:
            return cls(name, precision=int(first or 18), scale=int(second or 0))
        if name in TEXT_TYPES or name == "varbinary":
            return cls(name, length=-1 if first == "max" else int(first or 1))
        if name in {"time", "datetime2", "datetimeoffset"}:
            return cls(name, scale=int(first if first is not None else 7))
        if first is not None:
            raise ValueError(f"type {name} takes no length: {text!r}")
        return cls(name)

    @classmethod
    def from_information_schema(
        cls,
        data_type: str,
        char_length: int | None,
        precision: int | None,
        scale: int | None,
        datetime_precision: int | None,
    ) -> SqlServerType:
        name = data_type.lower()
        if name in DECIMAL_TYPES:
            return cls(name, precision=precision, scale=scale)
        if name in TEXT_TYPES or name == "varbinary":
            return cls(name, length=char_length)
        if name in {"time", "datetime2", "datetimeoffset"}:
            return cls(name, scale=datetime_precision)
        return cls(name)

    @property
    def is_text(self) -> bool:
        return self.name in TEXT_TYPES

    def __str__(self) -> str:
        if self.precision is not None:
            return f"{self.name}({self.precision},{self.scale})"
        if self.length is not None:
            return f"{self.name}({'max' if self.length == -1 else self.length})"
        if self.scale is not None:
            return f"{self.name}({self.scale})"
        return self.name
