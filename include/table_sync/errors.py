"""The sync engine's base exceptions, split into transient (worth a retry) and terminal.

Errors that carry a value type live beside it: ``SchemaDriftError`` in ``source.py``,
``ConversionError`` in ``staging.py``, ``ValidationError`` in ``checks.py``.

Each carries its fields as attributes so callers and the history table need not parse text.
Messages never contain a password: they are built from our own fields, and driver messages
pass through :func:`include.table_sync.redaction.redact` before they are stored or raised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn


class SyncError(Exception):
    """Base class. ``transient`` tells the scheduler whether a retry can help."""

    transient = False


class TransientSyncError(SyncError):
    transient = True


def raise_classified(error: SyncError, exc: BaseException, *, from_driver: bool) -> NoReturn:
    """Raise ``error``, the classified form of ``exc``.

    A driver's exception is not chained: its text, redacted, is in the message, and its own
    args could hold what redaction removed. Anything else is a bug and keeps its traceback as
    the cause, so the task log shows where it happened.
    """
    if error is exc:
        raise error
    if from_driver:
        raise error from None
    raise error from exc


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


class StagingMissingError(SyncError):
    """The staged snapshot this task expected is gone (dropped between tasks)."""
