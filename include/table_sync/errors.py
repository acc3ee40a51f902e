"""Exceptions of the sync engine, split into transient (worth a retry) and terminal.

Each carries its fields as attributes so callers and the history table need not parse text.
Messages never contain a password: they are built from our own fields, and driver messages
pass through :func:`include.table_sync.redaction.redact` before they are stored or raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SyncError(Exception):
    """Base class. ``transient`` tells the scheduler whether a retry can help."""

    transient = False


class TransientSyncError(SyncError):
    transient = True


class MappingError(SyncError, ValueError):
    """A mapping file that cannot be used: names the file, the column or key, and the value."""

    _NO_VALUE = object()

    def __init__(
        self,
        path: Path | str,
        message: str,
        column: str | None = None,
        field: str | None = None,
        value: Any = _NO_VALUE,
    ):
        self.path = Path(path)
        self.column = column
        self.field = field
        self.value = None if value is self._NO_VALUE else value
        where = f"{self.path}" + (f", column {column!r}" if column else "")
        what = f"{field}: {message}" if field else message
        got = "" if value is self._NO_VALUE else f", got {value!r}"
        super().__init__(f"{where}: {what}{got}")


class SourceUnavailableError(TransientSyncError):
    """The SQL Server could not be reached, logged into, or dropped/stalled the stream."""


class SourceQueryError(SyncError):
    """SQL Server rejected the query (missing object, syntax, permissions...)."""

    def __init__(self, message: str, number: int | None = None):
        self.number = number
        super().__init__(message)


class TargetUnavailableError(TransientSyncError):
    """PostgreSQL could not be reached or the connection was lost."""


class LockTimeoutError(TransientSyncError):
    """A conflicting lock on the target (a reader holding it) outlasted lock_timeout."""


class ConcurrentSyncError(TransientSyncError):
    """Another sync of the same target is applying right now."""


class SupersededSnapshotError(SyncError):
    """A newer snapshot was applied while this one waited; applying it would go back in time."""


class StagingMissingError(SyncError):
    """The staged snapshot this task expected is gone (dropped between tasks)."""


@dataclass(frozen=True)
class SchemaDifference:
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    retyped: tuple[tuple[str, str, str], ...]  # (column, expected, actual)


class SchemaDriftError(SyncError):
    def __init__(self, source: str, difference: SchemaDifference):
        self.source = source
        self.difference = difference
        parts = []
        if difference.missing:
            parts.append("missing: " + ", ".join(difference.missing))
        if difference.unexpected:
            parts.append("unexpected: " + ", ".join(difference.unexpected))
        if difference.retyped:
            parts.append(
                "retyped: " + ", ".join(f"{c} (expected {e}, found {a})" for c, e, a in difference.retyped)
            )
        super().__init__(f"schema drift in {source}: " + "; ".join(parts))


@dataclass(frozen=True)
class BadValue:
    key: tuple[Any, ...]
    column: str
    value: Any
    reason: str


class ConversionError(SyncError):
    """Values that the contract's conversions cannot load; nothing was loaded."""

    def __init__(self, source: str, examples: list[BadValue], total: int):
        self.source = source
        self.examples = examples
        self.total = total
        lines = [f"{total} value(s) in {source} failed conversion; nothing was loaded. Examples:"]
        for bad in examples:
            key = "/".join(str(part) for part in bad.key)
            lines.append(f"  key {key}: column {bad.column} = {bad.value!r} ({bad.reason})")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


class ValidationError(SyncError):
    """The snapshot failed a gate; the live table was not touched."""

    def __init__(self, target: str, results: list[CheckResult]):
        self.target = target
        self.results = results
        failed = [r for r in results if not r.passed]
        super().__init__(
            f"snapshot for {target} rejected: " + "; ".join(f"{r.name}: {r.detail}" for r in failed)
        )
