"""T025: SQL Server rejects the query; the sync fails at once and changes nothing.

The sync runs with the mapping's source object renamed to one that does not exist, so the
real server answers with its own error 208 ("Invalid object name"), exactly as when the view is
dropped or the login lost access. Read-only against a real server.
"""

from __future__ import annotations

import sys

from include.table_sync.errors import SourceQueryError
from tests_manual.expectations import failed_sync_changes_nothing, synced_baseline
from tests_manual.runner import single_check_main

TITLE = "query failure leaves the data unchanged"
SUMMARY = "a query SQL Server rejected (error 208) failed the sync as terminal; the table is unchanged"
MISSING_OBJECT = "vwZSDOrder_Advanced_missing_T025"


def run(env, report, args) -> None:
    synced_baseline(report, env, "manual-T025-baseline")
    mapping = env.mapping
    broken = mapping.model_copy(
        update={"source": mapping.source.model_copy(update={"object": MISSING_OBJECT})}
    )
    report.note(f"next sync reads {broken.source.qualified_name}, which does not exist")
    error = failed_sync_changes_nothing(
        report, env, "manual-T025", SourceQueryError, "Invalid object name", mapping=broken
    )
    if error is not None:
        report.expect(error.number == 208, f"SQL Server's error number is kept: {error.number}")
        report.expect(not error.transient, "not retried: a missing object does not appear by waiting")


main = single_check_main("T025")

if __name__ == "__main__":
    sys.exit(main())
