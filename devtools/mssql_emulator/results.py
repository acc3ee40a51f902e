"""What the SQL engine hands to the TDS layer: typed columns, streamed rows, counts, errors.

This module is the seam between ``engine`` (T-SQL on DuckDB) and ``protocol``/``server``
(MS-TDS). Neither side imports the other's internals; both import this.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One result-set column, carrying its declared SQL Server type.

    ``sql_type`` is the lower-case SQL Server type name: nvarchar, nchar, varchar, char, int,
    bigint, smallint, tinyint, bit, decimal, numeric, float, real, money, date, time, datetime,
    datetime2, datetimeoffset, uniqueidentifier, varbinary.
    ``length`` is the declared length in characters (bytes for varbinary), -1 for ``max``.
    ``scale`` is also the fractional-seconds precision of time/datetime2/datetimeoffset.
    ``collation`` is the SQL Server collation name of a text column (char, varchar, nchar,
    nvarchar), None for every other type: see ``collations`` for how it is chosen.
    ``legacy_lob`` is "text", "ntext" or "image" for a column declared with one of those
    deprecated types: the engine stores and computes it as varchar(max), nvarchar(max) or
    varbinary(max) (``sql_type``, length -1), and the TDS layer sends it as TEXTTYPE, NTEXTTYPE
    or IMAGETYPE with a text pointer ([MS-TDS] 2.2.5.4.3); it is "xml" for an xml column,
    held as nvarchar(max) and sent as XMLTYPE (2.2.5.5.3).
    ``variant_base`` is, for a ``sql_variant`` result (``CAST(x AS sql_variant)``), the type of
    ``x``: the rows hold x's values, and the TDS layer sends each with that base type.
    """

    name: str
    sql_type: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    nullable: bool = True
    collation: str | None = None
    legacy_lob: str | None = None
    variant_base: Column | None = None


@dataclass(frozen=True)
class DateTime2:
    """A datetime2/datetimeoffset value with SQL Server's 100 ns resolution.

    Python's datetime stops at microseconds; ``ticks`` holds the 100 ns units past
    ``value.microsecond`` (0-9), so 23:59:59.9999999 is (..59.999999, ticks=9).
    ``value`` may be timezone-aware (datetimeoffset).
    """

    value: dt.datetime
    ticks: int = 0


@dataclass(frozen=True)
class Time7:
    """A time(n) value with 100 ns resolution (see DateTime2)."""

    value: dt.time
    ticks: int = 0


@dataclass
class ResultSet:
    """A result set: columns, then rows streamed lazily as tuples of Python values.

    Row values: None, str, int, bool, decimal.Decimal, float, datetime.date, datetime.datetime,
    datetime.time, DateTime2, Time7, uuid.UUID, bytes. Rows must be produced lazily (never a
    whole result in memory). ``cache_key`` is set when the same key always yields the same rows
    (identical query over unchanged data), so the TDS layer may reuse encoded bytes; such rows
    are produced lazily: the query runs only when the first row is asked for, and may withdraw
    the key (set it to None) if the data changed before it ran. Never set for volatile
    functions (RAND, NEWID, GETDATE, @@SPID...).
    """

    columns: list[Column]
    rows: Iterator[tuple]
    cache_key: Hashable | None = None


@dataclass(frozen=True)
class RowCount:
    """A statement that affected rows (INSERT/UPDATE/DELETE): a DONE token with this count."""

    count: int


@dataclass(frozen=True)
class StatementDone:
    """A statement with no rows and no count (CREATE, SET, USE...)."""


@dataclass(frozen=True)
class EnvChange:
    """The session changed database or language (ENVCHANGE token)."""

    kind: str  # "database" | "language"
    old: str
    new: str


@dataclass
class SqlServerError(Exception):
    """An error as SQL Server words it: number, severity, state, message."""

    number: int
    message: str
    severity: int = 16
    state: int = 1
    line: int = 1

    def __str__(self) -> str:
        return f"Msg {self.number}, Level {self.severity}, State {self.state}: {self.message}"


@dataclass
class Session:
    """Per-connection state the engine needs."""

    user: str
    database: str
    spid: int
    language: str = "us_english"
    options: dict = field(default_factory=dict)


Outcome = ResultSet | RowCount | StatementDone | EnvChange
# engine.execute_batch(session, sql) -> Iterator[Outcome]; raises SqlServerError at the failing
# statement (after yielding the outcomes of the statements before it).
