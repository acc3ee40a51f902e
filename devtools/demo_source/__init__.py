"""The demo SQL Server source: the T-SQL objects and a deterministic SAP open-order generator."""

from devtools.demo_source.generate import (
    ChangeSet,
    apply_changes,
    create_source,
    seed_source,
)
from devtools.demo_source.rows import BASE_COLUMNS, generate_rows

__all__ = [
    "BASE_COLUMNS",
    "ChangeSet",
    "apply_changes",
    "create_source",
    "generate_rows",
    "seed_source",
]
