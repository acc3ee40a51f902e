"""The render probe: does this server render values the way the line path needs? And the path choice.

The line path (tsql.csv_line_statement) is exact only if the server renders every value as
documented. Before each read the probe asks the live server to render one derived row of
literal edge values, one field per edge value of every source type the mapping reads, through
the very expression the line query uses (tsql.line_expression), loads the line the way the data
is loaded (COPY csv into raw-typed columns) and compares each value with the one it sent. A
difference can then only send the run down the typed path (slower), never load a wrong value.
"""

from __future__ import annotations

import csv
import datetime as dt
import struct
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from include.table_sync.conversions import raw_type
from include.table_sync.errors import SyncError
from include.table_sync.mapping import AUTO, COLUMNS, CSV_LINE, SyncMapping
from include.table_sync.source import ServerFacts, check_line_result, classify_source_error, is_driver_error
from include.table_sync.sqlserver_types import SqlServerType
from include.table_sync.tsql import line_needs_max, probe_statement

# Text next to which escaping or collations go wrong, packed into one value per text type (cut
# to the declared length, so the most telling come first): the full-width quote U+FF02 that
# width-insensitive collations equate with '"', quotes, a full-width letter, combining marks
# after a quote, emoji (surrogate pairs), CSV's separators, CR/LF, tabs, backslashes, COPY's
# markers and trailing spaces. The empty string and NULL get a field of their own.
EDGE_TEXT = '\uff02"ａ"\u0301,e\u0301""🙂\r\n\t\\N\\.,"\uff02🙂" say "hi", then\r\nleave  '
# The first SQL Server versions with CONCAT (2012) and with CONVERT style 3 for float/real (2016).
CONCAT_MAJOR_VERSION = 11
FLOAT_STYLE3_MAJOR_VERSION = 13


@dataclass(frozen=True)
class ProbeCase:
    """One field of the probe row: a literal of ``source_type`` and the value it must load as."""

    name: str
    source_type: SqlServerType
    literal: str  # T-SQL, CAST to source_type by the probe statement
    expected: Any  # as the raw staging column holds it (conversions.raw_type), None for NULL


@dataclass(frozen=True)
class ProbeDifference:
    source_type: str
    literal: str
    expected: str
    received: str

    def __str__(self) -> str:
        return f"{self.source_type}: literal {self.literal} expected {self.expected} received {self.received}"


@dataclass
class ProbeReport:
    """What the probe found: the line as received, every difference, and what it cost."""

    cases: int
    line: str | None = None
    differences: list[ProbeDifference] = field(default_factory=list)
    failure: str | None = None  # the probe could not run or the line could not be loaded at all
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.failure is None and not self.differences

    def summary(self) -> str:
        if self.passed:
            return f"render probe passed: {self.cases} edge values rendered exactly ({self.seconds * 1000:.0f} ms)"
        lines = [f"render probe FAILED ({self.cases} edge values, {self.seconds * 1000:.0f} ms):"]
        if self.failure:
            lines.append(f"  {self.failure}")
        lines.extend(f"  {difference}" for difference in self.differences)
        return "\n".join(lines)


class RenderProbeError(SyncError):
    """``read_path: csv_line`` forced, and the server renders a value differently: nothing read."""

    def __init__(self, source: str, report: ProbeReport):
        self.source = source
        self.report = report
        super().__init__(
            f"source.read_path is csv_line, but {source}'s server fails the render probe; nothing was "
            f"read (use read_path auto or columns):\n{report.summary()}"
        )


# -- the cases ------------------------------------------------------------------------------


def _text_literal(value: str) -> str:
    return "N'" + value.replace("'", "''") + "'"


def _utf16_length(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


def _text_cases(source_type: SqlServerType) -> list[tuple[str, Any]]:
    unicode = source_type.name.startswith("n")
    packed = EDGE_TEXT if unicode else "".join(c for c in EDGE_TEXT if c.isascii())
    value = ""
    for char in packed:
        if source_type.length not in (None, -1) and _utf16_length(value + char) > source_type.length:
            break
        value += char
    expected = value
    if source_type.name in {"nchar", "char"}:
        expected = value + " " * (source_type.length - _utf16_length(value))  # SQL Server pads
    return [(_text_literal(value), expected)]


def _decimal_cases(source_type: SqlServerType) -> list[tuple[str, Any]]:
    whole, scale = source_type.precision - source_type.scale, source_type.scale
    largest = ("9" * whole or "0") + ("." + "9" * scale if scale else "")
    smallest_step = "0." + "0" * (scale - 1) + "1" if scale else "1"
    return [(f"'{value}'", Decimal(value)) for value in ("-" + largest, smallest_step)]


def _float32(value: float) -> float:
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


_INTEGER_RANGES = {
    "tinyint": (0, 255),
    "smallint": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
# (literal, expected) per fixed type; every literal a string CAST to the type.
_FIXED_CASES: dict[str, list[tuple[str, Any]]] = {
    "bit": [("'0'", False), ("'1'", True)],
    # 17 significant digits are needed to round-trip these (style 3 promises them).
    "float": [
        (f"'{text}'", float(text))
        for text in ("1.7976931348623157E+308", "-2.2250738585072014E-308", "0.30000000000000004")
    ],
    "real": [(f"'{text}'", _float32(float(text))) for text in ("3.40282347E+38", "-1.17549435E-38", "0.1")],
    "money": [
        (f"'{text}'", Decimal(text)) for text in ("-922337203685477.5808", "922337203685477.5807", "0.0001")
    ],
    "date": [("'0001-01-01'", dt.date(1, 1, 1)), ("'9999-12-31'", dt.date(9999, 12, 31))],
    # datetime keeps 1/300 s: .998 rounds down to .997 and .999 up to the next day
    # (learn.microsoft.com/sql/t-sql/data-types/datetime-transact-sql, "Rounding of datetime").
    "datetime": [
        ("'1753-01-01T00:00:00.000'", dt.datetime(1753, 1, 1)),
        ("'9999-12-31T23:59:59.997'", dt.datetime(9999, 12, 31, 23, 59, 59, 997000)),
        ("'2026-11-29T23:59:59.998'", dt.datetime(2026, 11, 29, 23, 59, 59, 997000)),
        ("'2026-11-29T23:59:59.999'", dt.datetime(2026, 11, 30)),
    ],
    "uniqueidentifier": [
        ("'6F9619FF-8B86-D011-B42D-00C04FC964FF'", uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FC964FF"))
    ],
}


def _datetime2_cases(source_type: SqlServerType) -> list[tuple[str, Any]]:
    digits = source_type.scale
    cases = []
    for day, time_of_day, fraction in (
        ("9999-12-31", "23:59:59", "9" * digits),
        ("0001-01-01", "00:00:00", "0" * digits),
    ):
        text = f"{day} {time_of_day}" + (f".{fraction}" if digits else "")
        cases.append((f"'{text}'", text))  # raw text, style 121: every declared digit, never rounded
    return cases


def _varbinary_cases(source_type: SqlServerType) -> list[tuple[str, Any]]:
    value = bytes([0x00, 0x0A, 0xFF, 0x2C, 0x22])
    if source_type.length not in (None, -1):
        value = value[: source_type.length]
    return [("0x" + value.hex().upper(), value)]


def _cases_for(source_type: SqlServerType) -> list[tuple[str, Any]]:
    name = source_type.name
    if source_type.is_text:
        return _text_cases(source_type)
    if name in {"decimal", "numeric"}:
        return _decimal_cases(source_type)
    if name in _INTEGER_RANGES:
        low, high = _INTEGER_RANGES[name]
        return [(f"'{low}'", low), (f"'{high}'", high)]
    if name == "datetime2":
        return _datetime2_cases(source_type)
    if name == "varbinary":
        return _varbinary_cases(source_type)
    return _FIXED_CASES.get(name, [])  # time, datetimeoffset: read as text on both paths alike


def probe_cases(mapping: SyncMapping) -> list[ProbeCase]:
    """The probe row for ``mapping``: edge values of every distinct source type, an empty
    string and a NULL. Kept small: on a real server it costs a few milliseconds."""
    seen: dict[str, SqlServerType] = {}
    for column in mapping.columns:
        seen.setdefault(str(column.source_type), column.source_type)
    pairs: list[tuple[SqlServerType, str, Any]] = [
        (source_type, literal, expected)
        for source_type in seen.values()
        for literal, expected in _cases_for(source_type)
    ]
    first = next(iter(seen.values()))
    text = next((t for t in seen.values() if t.is_text and t.name.startswith("nv")), None)
    if text is not None:
        pairs.append((text, "N''", ""))  # a quoted empty field, unlike NULL's unquoted one
    pairs.append((first, "NULL", None))
    return [
        ProbeCase(f"p{number:03d}", source_type, literal, expected)
        for number, (source_type, literal, expected) in enumerate(pairs, start=1)
    ]


# -- running it -----------------------------------------------------------------------------


def render_probe_line(source_conn: Any, mapping: SyncMapping, cases: Sequence[ProbeCase]) -> str:
    """Ask the server to render the probe row; the line exactly as it arrived."""
    statement = probe_statement(
        [(case.name, case.source_type, case.literal) for case in cases], needs_max=line_needs_max(mapping)
    )
    cursor = source_conn.cursor()
    cursor.execute(statement)
    check_line_result(cursor.description)
    rows = cursor.fetchall()
    cursor.close()
    if len(rows) != 1 or not isinstance(rows[0][0], str):
        raise SyncError(f"the render probe returned {rows!r}, expected one line")
    return rows[0][0]


def load_through_postgres(target: psycopg.Connection, cases: Sequence[ProbeCase], line: str) -> list[Any]:
    """COPY the probe line (CSV) into a temporary table of the raw staging types; its values.

    The same COPY format and column types as the raw staging table, in a transaction that is
    rolled back: nothing stays behind.
    """
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(case.name), sql.SQL(raw_type(case.source_type)))
        for case in cases
    )
    with target.transaction(force_rollback=True):
        target.execute(sql.SQL("CREATE TEMP TABLE table_sync_render_probe ({})").format(columns))
        with target.cursor() as cursor:
            # Labelled, so pg_stat_activity tells it from the COPY of the rows.
            with cursor.copy(
                "/* table_sync render probe */ COPY table_sync_render_probe FROM STDIN (FORMAT csv)"
            ) as copy:
                copy.write(line + "\n")
            cursor.execute("SELECT * FROM table_sync_render_probe")
            rows = cursor.fetchall()
    if len(rows) != 1:
        raise SyncError(f"the probe line loaded as {len(rows)} rows, expected 1")
    return list(rows[0])


def read_in_python(cases: Sequence[ProbeCase], line: str) -> list[Any]:
    """The probe line's values as PostgreSQL's input functions read them, without PostgreSQL.

    For the probe command (no PostgreSQL at hand); a run loads through PostgreSQL itself.
    """
    fields = next(csv.reader([line], strict=True))
    if len(fields) != len(cases):
        raise SyncError(f"the probe line has {len(fields)} fields, expected {len(cases)}")
    quoted = _quoted_fields(line)
    return [
        None if text == "" and not is_quoted else _READERS.get(raw_type(case.source_type), str)(text)
        for case, text, is_quoted in zip(cases, fields, quoted, strict=True)
    ]


def _quoted_fields(line: str) -> list[bool]:
    # An unquoted empty field is NULL in CSV COPY, a quoted one an empty string.
    flags, inside, start = [], False, True
    for char in line:
        if start:
            flags.append(char == '"')
            start = False
        if char == '"':
            inside = not inside
        elif char == "," and not inside:
            start = True
    if start:
        flags.append(False)
    return flags


_READERS: dict[str, Callable[[str], Any]] = {
    "integer": int,
    "bigint": int,
    "smallint": int,
    "boolean": lambda text: {"0": False, "1": True}[text],
    "numeric": Decimal,
    "double precision": float,
    "real": lambda text: _float32(float(text)),
    "date": dt.date.fromisoformat,
    "timestamp": dt.datetime.fromisoformat,
    "uuid": uuid.UUID,
    "bytea": lambda text: bytes.fromhex(text.removeprefix("\\x")),
}


def run_probe(
    source_conn: Any,
    mapping: SyncMapping,
    load: Callable[[Sequence[ProbeCase], str], list[Any]],
    secrets: tuple[str, ...] = (),
) -> ProbeReport:
    """Render, load with ``load`` and compare; a server refusing the probe is a failed probe.

    Never raises for a rendering difference or an error of the server: either only means the
    line path is not safe here.
    """
    started = time.monotonic()
    cases = probe_cases(mapping)
    report = ProbeReport(cases=len(cases))
    try:
        report.line = render_probe_line(source_conn, mapping, cases)
    except Exception as exc:
        if not (isinstance(exc, SyncError) or is_driver_error(exc)):
            raise  # a bug: its traceback matters more than the fallback
        error = classify_source_error(exc, secrets)
        if error.transient:
            raise error from None  # the server or network failed: a retry, not a fallback
        report.failure = f"the server did not render the probe: {error}"
    if report.line is not None:
        _compare(report, cases, load)
    report.seconds = time.monotonic() - started
    return report


def _compare(report: ProbeReport, cases: Sequence[ProbeCase], load) -> None:
    try:
        received = load(cases, report.line)
    except (psycopg.DataError, SyncError, ValueError, KeyError, csv.Error) as exc:
        # A value PostgreSQL refuses (22xxx) is a rendering difference; a lost connection is not.
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        report.failure = f"the probe line could not be loaded ({type(exc).__name__}: {first_line})"
        try:
            # Name the fields anyway, read as PostgreSQL's input functions would read them.
            received = read_in_python(cases, report.line)
        except (SyncError, ValueError, KeyError, csv.Error):
            return
    fields = _field_texts(report.line, len(cases))
    for case, value, text in zip(cases, received, fields, strict=True):
        if case.source_type.name == "real" and isinstance(value, float):
            value = _float32(value)  # PostgreSQL's real prints its shortest text, read back as a double
        if not _same(value, case.expected):
            report.differences.append(
                ProbeDifference(
                    str(case.source_type), case.literal, repr(case.expected), f"{text!r} -> {value!r}"
                )
            )


def _field_texts(line: str, count: int) -> list[str]:
    try:
        fields = next(csv.reader([line]))
    except csv.Error:
        fields = []
    return fields + ["?"] * (count - len(fields))


def _same(received: Any, expected: Any) -> bool:
    if expected is None or received is None:
        return received is None and expected is None
    if isinstance(expected, Decimal):
        return (
            isinstance(received, Decimal)
            and received == expected
            and received.is_signed() == expected.is_signed()
        )
    return type(received) is type(expected) and received == expected


# -- choosing the path ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReadPlan:
    """How this run reads the source, and why (logged and stored in the history row)."""

    path: str  # CSV_LINE or COLUMNS
    reason: str
    report: ProbeReport | None = None


def version_reason(mapping: SyncMapping, facts: ServerFacts) -> str | None:
    """Why this server's version cannot take the line path, or None when it can."""
    major = facts.major_version
    if major is None:
        return f"unknown server version {facts.product_version!r}"
    if major < CONCAT_MAJOR_VERSION:
        return f"server version {facts.product_version} has no CONCAT (SQL Server 2012+ needed)"
    floats = any(column.source_type.name in {"float", "real"} for column in mapping.columns)
    if floats and major < FLOAT_STYLE3_MAJOR_VERSION:
        return (
            f"server version {facts.product_version} has no CONVERT style 3 for the mapped "
            "float/real columns (SQL Server 2016+ needed)"
        )
    return None


def choose_read_path(mapping: SyncMapping, facts: ServerFacts | None, report: ProbeReport | None) -> ReadPlan:
    """The path a run takes: the mapping's ``read_path``, the server's version and the probe.

    ``csv_line`` forced with a failing probe raises RenderProbeError (nothing is read).
    """
    wanted = mapping.source.read_path
    if wanted == COLUMNS:
        return ReadPlan(COLUMNS, "source.read_path is columns", report)
    too_old = version_reason(mapping, facts) if facts is not None else None
    probe_failed = report is not None and not report.passed
    if wanted == CSV_LINE:
        if probe_failed:
            raise RenderProbeError(mapping.source.qualified_name, report)
        return ReadPlan(
            CSV_LINE, "source.read_path is csv_line" + (f" ({too_old})" if too_old else ""), report
        )
    assert wanted == AUTO
    if too_old:
        return ReadPlan(COLUMNS, f"auto: {too_old}", report)
    if report is None:
        return ReadPlan(COLUMNS, "auto: no render probe ran", report)
    if probe_failed:
        return ReadPlan(COLUMNS, "auto: the render probe failed (see the log)", report)
    return ReadPlan(CSV_LINE, f"auto: the render probe passed ({report.cases} edge values)", report)
