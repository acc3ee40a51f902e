"""The demo SQL Server source: the T-SQL objects and a deterministic SAP open-order generator.

Library API: ``generate_rows``, ``BASE_COLUMNS`` (from ``rows``) and ``create_source``,
``seed_source``, ``apply_changes``, ``ChangeSet`` (from ``generate``).
"""

from __future__ import annotations

import importlib

# Imported on first use, so ``python -m devtools.demo_source.generate`` does not find its own
# module already imported by the package (runpy warns about that).
_EXPORTS = {
    "BASE_COLUMNS": "rows",
    "generate_rows": "rows",
    "ChangeSet": "generate",
    "apply_changes": "generate",
    "create_source": "generate",
    "seed_source": "generate",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
