"""Running the peer clients (devtools/peer_clients) against the emulator from a test.

The clients live in their own pinned environment; ``probe`` runs one of them there and returns
what it saw, with values typed again (``untag``) so tests compare them to Python values.
"""

from __future__ import annotations

import json
import subprocess

from devtools.peer_clients import environment
from devtools.peer_clients.probe import untag

PROBE = environment.REPO_ROOT / "devtools" / "peer_clients" / "probe.py"
# What every client reads about its own connection: database, login and whether TLS is on.
SESSION_SQL = (
    "SELECT DB_NAME() AS db, SUSER_NAME() AS login_name, c.encrypt_option "
    "FROM sys.dm_exec_connections AS c WHERE c.session_id = @@SPID"
)


def probe(job: dict, timeout: float = 120) -> dict:
    """Run ``probe.py`` in the peer environment (built on first use); its JSON answer."""
    python = environment.peer_python()
    result = subprocess.run(
        [str(python), str(PROBE)], input=json.dumps(job), capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"probe of {job['client']} failed:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout)


def result_rows(answer: dict, name: str) -> tuple[list[str], list[list]]:
    """Column names and rows (Python values) of one query of a probe's answer."""
    result = answer["results"][name]
    return result["columns"], [[untag(value) for value in row] for row in result["rows"]]


def msodbcsql_driver() -> str:
    """Microsoft ODBC Driver 18 as shipped in the mssql-python-odbc wheel (Debian build)."""
    found = sorted(
        (environment.VENV / "lib").glob(
            "python*/site-packages/mssql_python_odbc/libs/linux/debian_ubuntu/x86_64/lib/libmsodbcsql-18.*.so*"
        )
    )
    assert found, f"no libmsodbcsql-18 under {environment.VENV}"
    return str(found[0])
