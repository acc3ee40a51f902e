"""WAITFOR DELAY: a statement that waits, and stops early when the client sends ATTENTION.

https://learn.microsoft.com/en-us/sql/t-sql/language-elements/waitfor-transact-sql: "DELAY
'time_to_pass'": hh:mm[:ss[.mss]], at most 24 hours. The server gives the session a wait
function (``WAIT_OPTION``) that returns after the time or raises its ``Interrupted`` subclass
when ATTENTION arrives (MS-TDS 2.2.1.7), which the engine lets through untouched.
"""

from __future__ import annotations

import re
import time

from devtools.mssql_emulator.results import SqlServerError

WAIT_OPTION = "__wait_for_attention__"
_DELAY = re.compile(
    r"^\s*WAITFOR\s+DELAY\s+N?'(?P<h>\d{1,2}):(?P<m>\d{1,2})(?::(?P<s>\d{1,2})(?:\.(?P<f>\d{1,3}))?)?'\s*;?\s*$",
    re.I,
)


class Interrupted(Exception):
    """The client interrupted the batch (ATTENTION)."""


def delay_seconds(text: str) -> float | None:
    """The seconds a ``WAITFOR DELAY '...'`` statement waits; None for any other statement."""
    match = _DELAY.match(text)
    if match is None:
        if text.lstrip()[:7].upper() == "WAITFOR":
            raise SqlServerError(
                40517, "This form of the WAITFOR statement is not supported by the emulator."
            )
        return None
    hours, minutes, seconds = int(match["h"]), int(match["m"]), int(match["s"] or 0)
    fraction = int((match["f"] or "0").ljust(3, "0")) / 1000
    if minutes > 59 or seconds > 59 or hours > 23:
        # https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-0-to-999
        raise SqlServerError(
            148, f"Incorrect time syntax in time string '{text.split(chr(39))[1]}' used with WAITFOR."
        )
    return hours * 3600 + minutes * 60 + seconds + fraction


def wait(options: dict, seconds: float) -> None:
    options.get(WAIT_OPTION, time.sleep)(seconds)
