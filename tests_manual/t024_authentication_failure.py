"""T024: SQL Server rejects the login; the sync fails at once (no retry) and changes nothing.

The connection ``mssql_sap`` is used with a login that does not exist and a made-up password.
Against a real server this costs one failed login in its log (error 18456) for a login name
that no account has, so no real account moves toward a lockout.
"""

from __future__ import annotations

import sys

from include.table_sync.errors import SourceQueryError
from tests_manual.environment import SourceOverrides
from tests_manual.expectations import failed_sync_changes_nothing, synced_baseline
from tests_manual.runner import single_check_main

TITLE = "authentication failure leaves the data unchanged"
SUMMARY = "a rejected login failed the sync as terminal; the table and last success are unchanged"
UNKNOWN_LOGIN = "oos_manual_check_no_such_login"
MADE_UP_PASSWORD = "not-a-password-T024"


def run(env, report, args) -> None:
    synced_baseline(report, env, "manual-T024-baseline")
    report.note(f"next sync: mssql_sap with login {UNKNOWN_LOGIN!r} and a made-up password")
    error = failed_sync_changes_nothing(
        report,
        env,
        "manual-T024",
        SourceQueryError,
        "Login failed",
        overrides=SourceOverrides(login=UNKNOWN_LOGIN, password=MADE_UP_PASSWORD),
    )
    if error is not None:
        report.expect(not error.transient, "not retried: a wrong login does not heal by waiting")
        report.expect(MADE_UP_PASSWORD not in str(error), "the password tried is not in the message either")


main = single_check_main("T024")

if __name__ == "__main__":
    sys.exit(main())
