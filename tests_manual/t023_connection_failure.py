"""T023: the SQL Server cannot be reached; the sync fails as transient and changes nothing.

The connection ``mssql_sap`` is used with its port replaced by one nobody listens on (host,
login and password as configured), as when a firewall or a stopped server is in the way.
Safe against a real server: nothing reaches it.
"""

from __future__ import annotations

import sys

from include.table_sync.errors import SourceUnavailableError
from tests_manual.environment import SourceOverrides
from tests_manual.expectations import failed_sync_changes_nothing, synced_baseline
from tests_manual.runner import single_check_main

TITLE = "connection failure leaves the data unchanged"
SUMMARY = "an unreachable SQL Server failed the sync as transient; the table and last success are unchanged"
CLOSED_PORT = 1  # tcpmux: nothing listens there on any ordinary host


def run(env, report, args) -> None:
    synced_baseline(report, env, "manual-T023-baseline")
    report.note(
        f"next sync: mssql_sap with port {CLOSED_PORT} instead of the configured one, login_timeout 5 s"
    )
    failed_sync_changes_nothing(
        report,
        env,
        "manual-T023",
        SourceUnavailableError,
        "SQL Server unavailable",
        overrides=SourceOverrides(port=CLOSED_PORT, login_timeout=5),
    )


main = single_check_main("T023")

if __name__ == "__main__":
    sys.exit(main())
