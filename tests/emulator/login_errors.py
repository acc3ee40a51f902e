"""A failed login's (number, message) as pymssql reports it, read in a fresh process."""

from __future__ import annotations

import subprocess
import sys


def pymssql_login_error(emulator, **overrides) -> tuple[int, str]:
    """(number, message) of a failed pymssql login, in a fresh process.

    pymssql keeps the last server message in process-wide state and only replaces it with a
    message of higher severity, so a second failed login in one process loses its text.
    """
    kwargs = emulator.connect_kwargs(login_timeout=10, **overrides)
    script = (
        "import pymssql, sys\n"
        "try:\n"
        f"    pymssql.connect(**{kwargs!r})\n"
        "except pymssql.OperationalError as e:\n"
        "    number, message = e.args[0]\n"
        "    print(number); print(message.decode())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    number, _, message = result.stdout.partition("\n")
    assert number, result.stderr
    return int(number), message
