"""Fault injection, driven through TDS itself so any client (and any test) can arm it.

    EXEC emulator.inject_fault @kind = N'<kind>', <parameters>, @times = 1
    EXEC emulator.clear_faults

Faults are global to the server process. Each fires ``@times`` times (default 1) and is then
gone. Faults about queries apply to the next batch or RPC from any session (the one that armed
it included) that is neither an ``emulator.*`` command nor session housekeeping: a batch of only
SET, USE and transaction statements, such as the one pymssql sends while it connects, so a
fault armed before a client connects hits that client's first real query.

==========================  ===================  ==============================================
kind                        parameters           effect
==========================  ===================  ==============================================
refuse_connections          (none)               a new TCP connection is closed at once, before
                                                 PRELOGIN is read
drop_connections            (none)               a new connection gets its PRELOGIN answer, then
                                                 is closed before LOGIN7 is answered
delay_login                 @ms                  the next login waits @ms milliseconds before
                                                 its LOGINACK (or login error) is sent
fail_next_query             @error [@message]    the next batch fails with ERROR @error before
                            [@severity @state]   the engine sees it; known numbers get SQL
                                                 Server's wording, severity and state (see
                                                 ``KNOWN_ERRORS``), others "@message" at
                                                 severity 16. Severity >= 20 also closes the
                                                 connection, as SQL Server does.
disconnect_after_rows       @rows                the next result set sends @rows rows, then the
                                                 socket is closed mid-response (no DONE)
stall_after_rows            @rows @ms            the next result set to reach @rows rows
                                                 pauses after that row for @ms milliseconds (an
                                                 ATTENTION from the client ends the pause and
                                                 the response); shorter result sets pass
                                                 untouched and leave the fault armed, so one-row
                                                 probes before a big read cannot use it up
malformed_value             @column [@value]     the next result set with a column of that name
                                                 (case-insensitive) has its value replaced in
                                                 every row. String columns get @value (default
                                                 ``GARBAGE_STRING``). Other columns get @value
                                                 converted to the column's type (e.g. N'-1' for
                                                 int, N'9999-12-31' for date), or NULL when
                                                 @value is absent or does not convert; NULL is
                                                 sent even for a NOT NULL column.
==========================  ===================  ==============================================
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import threading
import uuid
from dataclasses import dataclass, field

from devtools.mssql_emulator.results import Column, SqlServerError

GARBAGE_STRING = "\ufffd#garbage#\u0000"

KINDS = {
    # kind: (required parameters, optional parameters)
    "refuse_connections": (set(), set()),
    "drop_connections": (set(), set()),
    "delay_login": ({"ms"}, set()),
    "fail_next_query": ({"error"}, {"message", "severity", "state"}),
    "disconnect_after_rows": ({"rows"}, set()),
    "stall_after_rows": ({"rows", "ms"}, set()),
    "malformed_value": ({"column"}, {"value"}),
}

# number: (severity, state, message). {spid} and {database} are filled in from the session.
KNOWN_ERRORS = {
    208: (16, 1, "Invalid object name 'dbo.vwZSDOrder_Advanced'."),
    229: (
        14,
        5,
        (
            "The SELECT permission was denied on the object 'vwZSDOrder_Advanced', "
            "database '{database}', schema 'dbo'."
        ),
    ),
    701: (
        17,
        123,
        ("There is insufficient system memory in resource pool 'default' to run this query."),
    ),
    1205: (
        13,
        51,
        (
            "Transaction (Process ID {spid}) was deadlocked on lock resources with "
            "another process and has been chosen as the deadlock victim. Rerun the "
            "transaction."
        ),
    ),
    1222: (16, 45, "Lock request time out period exceeded."),
    4060: (
        11,
        1,
        ('Cannot open database "{database}" requested by the login. The login failed.'),
    ),
    6005: (14, 2, "SHUTDOWN is in progress."),
    8115: (16, 2, "Arithmetic overflow error converting numeric to data type numeric."),
    8645: (
        17,
        1,
        (
            "A timeout occurred while waiting for memory resources to execute the "
            "query in resource pool 'default' (2). Rerun the query."
        ),
    ),
    40613: (
        17,
        1,
        (
            "Database '{database}' on server 'emulator' is not currently available. "
            "Please retry the connection later."
        ),
    ),
}


@dataclass
class Fault:
    kind: str
    params: dict
    remaining: int


@dataclass
class ResultFaults:
    """The faults that apply to one result set, taken (consumed) when it starts."""

    disconnect_after_rows: int | None = None
    stall_after_rows: int | None = None
    stall_ms: int = 0
    stall: Fault | None = None  # armed, not yet claimed: claimed when the row count gets there
    malformed: dict[int, object] = field(default_factory=dict)  # column index -> value

    @property
    def any(self) -> bool:
        return (
            self.disconnect_after_rows is not None
            or self.stall_after_rows is not None
            or bool(self.malformed)
        )


class FaultRegistry:
    """Armed faults, shared by all connection threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def inject(self, params: dict) -> None:
        kind = params.pop("kind", None)
        if kind is None:
            raise SqlServerError(
                201,
                "Procedure or function 'inject_fault' expects parameter '@kind', which was not supplied.",
                16,
                4,
            )
        kind = str(kind)
        if kind not in KINDS:
            raise SqlServerError(
                50000,
                f"Unknown fault kind '{kind}'. Known kinds: {', '.join(sorted(KINDS))}.",
                16,
                1,
            )
        times = params.pop("times", 1)
        required, optional = KINDS[kind]
        for name in sorted(required - params.keys()):
            raise SqlServerError(
                201,
                f"Procedure or function 'inject_fault' expects parameter '@{name}', which was not supplied.",
                16,
                4,
            )
        for name in sorted(params.keys() - required - optional):
            raise SqlServerError(8145, f"@{name} is not a parameter for procedure inject_fault.", 16, 2)
        for name in ("ms", "rows", "error", "severity", "state"):
            if name in params and not isinstance(params[name], int):
                raise SqlServerError(
                    8114,
                    f"Error converting data type nvarchar to int for parameter '@{name}'.",
                    16,
                    5,
                )
        if not isinstance(times, int) or times < 1:
            raise SqlServerError(50000, "@times must be a positive integer.", 16, 1)
        with self._lock:
            self._faults.append(Fault(kind, params, times))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take(self, predicate) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if predicate(fault):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _peek(self, kind: str) -> Fault | None:
        with self._lock:
            return next((f for f in self._faults if f.kind == kind), None)

    def claim(self, fault: Fault) -> bool:
        """Consume one firing of ``fault`` if another result set has not used it up meanwhile."""
        with self._lock:
            if not any(f is fault for f in self._faults):
                return False
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults = [f for f in self._faults if f is not fault]
            return True

    def take(self, kind: str) -> Fault | None:
        """Consume one firing of the oldest armed fault of ``kind``."""
        return self._take(lambda f: f.kind == kind)

    def take_query_error(self, spid: int, database: str) -> SqlServerError | None:
        fault = self.take("fail_next_query")
        if fault is None:
            return None
        number = fault.params["error"]
        severity, state, message = KNOWN_ERRORS.get(number, (16, 1, "Emulated failure."))
        message = fault.params.get("message", message)
        return SqlServerError(
            number,
            message.format(spid=spid, database=database),
            fault.params.get("severity", severity),
            fault.params.get("state", state),
        )

    def take_result_faults(self, columns: list[Column]) -> ResultFaults:
        result = ResultFaults()
        fault = self.take("disconnect_after_rows")
        if fault:
            result.disconnect_after_rows = fault.params["rows"]
        fault = self._peek("stall_after_rows")
        if fault:
            result.stall = fault
            result.stall_after_rows = fault.params["rows"]
            result.stall_ms = fault.params["ms"]
        names = {c.name.lower(): i for i, c in enumerate(columns)}
        fault = self._take(lambda f: f.kind == "malformed_value" and str(f.params["column"]).lower() in names)
        if fault:
            index = names[str(fault.params["column"]).lower()]
            result.malformed[index] = malformed_value(columns[index], fault.params.get("value"))
        return result


_STRING_TYPES = {"nvarchar", "nchar", "varchar", "char"}


def malformed_value(column: Column, value) -> object:
    """The replacement value for ``column`` (see the table in the module docstring)."""
    t = column.sql_type.lower()
    if t in _STRING_TYPES:
        return GARBAGE_STRING if value is None else str(value)
    if value is None:
        return None
    text = str(value)
    try:
        if t in ("int", "bigint", "smallint", "tinyint"):
            return int(text)
        if t == "bit":
            return text not in ("0", "false", "False", "")
        if t in ("decimal", "numeric", "money", "smallmoney"):
            return decimal.Decimal(text)
        if t in ("float", "real"):
            return float(text)
        if t == "date":
            return dt.date.fromisoformat(text)
        if t in ("datetime", "datetime2", "smalldatetime", "datetimeoffset"):
            return dt.datetime.fromisoformat(text)
        if t == "time":
            return dt.time.fromisoformat(text)
        if t == "uniqueidentifier":
            return uuid.UUID(text)
        if t in ("varbinary", "binary"):
            return text.encode("utf-8")
    except ValueError:
        return None
    return None


# --- parsing the emulator commands out of a batch --------------------------------------------
_COMMAND = re.compile(r"\s*(?:EXEC(?:UTE)?\s+)?\[?emulator\]?\s*\.\s*\[?(\w+)\]?", re.IGNORECASE)
_PARAM = re.compile(r"\s*@(\w+)\s*=\s*(N?'(?:[^']|'')*'|[-+]?\d+(?:\.\d+)?|NULL)\s*", re.IGNORECASE)
_SEPARATOR = re.compile(r"\s*(?:;|,|GO\b)?\s*", re.IGNORECASE)

COMMANDS = ("inject_fault", "clear_faults")


@dataclass
class EmulatorCommand:
    name: str  # inject_fault | clear_faults
    params: dict


def _literal(text: str):
    if text.upper() == "NULL":
        return None
    if text[0] in "Nn'":
        return text[text.index("'") + 1 : -1].replace("''", "'")
    if "." in text:
        return decimal.Decimal(text)
    return int(text)


def parse_emulator_batch(sql: str) -> list[EmulatorCommand] | None:
    """The emulator commands of a batch made only of them, or None for any other batch."""
    commands = []
    pos = 0
    sql = sql.rstrip()
    while pos < len(sql):
        match = _COMMAND.match(sql, pos)
        if not match:
            if commands:
                raise SqlServerError(
                    50000,
                    "emulator.* commands must be alone in their batch; "
                    "send other statements in a batch of their own.",
                    16,
                    1,
                )
            return None
        name = match.group(1).lower()
        pos = match.end()
        params = {}
        while True:
            param = _PARAM.match(sql, pos)
            if not param:
                break
            params[param.group(1).lower()] = _literal(param.group(2))
            pos = param.end()
            if pos < len(sql) and sql[pos] == ",":
                pos += 1
        commands.append(EmulatorCommand(name, params))
        pos = _SEPARATOR.match(sql, pos).end()
    return commands or None


_HOUSEKEEPING = re.compile(
    r"^(?:\s*(?:SET\s[^;\n]*|USE\s[^;\n]*|(?:BEGIN|COMMIT|ROLLBACK)(?:\s+TRAN(?:SACTION)?)?"
    r"|IF\s+@@TRANCOUNT\s*>\s*0\s+(?:COMMIT|ROLLBACK)[^;\n]*)[ \t]*(?:[;\n]|$))+\s*$",
    re.IGNORECASE,
)


def is_housekeeping(sql: str) -> bool:
    """A batch of only SET, USE and transaction statements (drivers send these on their own)."""
    return bool(_HOUSEKEEPING.match(sql))


def is_emulator_proc(proc_name: str) -> bool:
    """An RPC to emulator.* (python-tds ``callproc``)."""
    return proc_name.strip().lower().replace("[", "").replace("]", "").startswith("emulator.")


def run_command(registry: FaultRegistry, command: EmulatorCommand) -> None:
    if command.name == "inject_fault":
        registry.inject(dict(command.params))
    elif command.name == "clear_faults":
        if command.params:
            name = next(iter(command.params))
            raise SqlServerError(8145, f"@{name} is not a parameter for procedure clear_faults.", 16, 2)
        registry.clear()
    else:
        raise SqlServerError(2812, f"Could not find stored procedure 'emulator.{command.name}'.", 16, 62)
