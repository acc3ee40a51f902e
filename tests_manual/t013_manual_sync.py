"""T013: a manual sync, and a rollback when the source disconnects in the middle of the read.

1. A sync on demand: the table then holds exactly the source's rows, the attempt is recorded
   as a success, and no staging table is left.
2. (Emulator only) The source changes, then the emulator closes the socket after 1,000 rows of
   the next read (fault ``disconnect_after_rows``). The sync fails as transient, and the table
   is byte-for-byte what it was: nothing of the partial read, nothing of the changes. A clean
   sync afterwards applies the changes. Against a real SQL Server nobody can cut the stream
   on cue, so this part is skipped there, with a note.
"""

from __future__ import annotations

import contextlib
import sys

from devtools.demo_source.generate import apply_changes
from include.table_sync.errors import SourceUnavailableError
from tests_manual import probes
from tests_manual.expectations import failed_sync_changes_nothing
from tests_manual.runner import single_check_main

TITLE = "manual sync; rollback when the source disconnects mid-read"
SUMMARY = "a manual sync made the table equal the source; a read cut mid-stream changed nothing"
ROWS_BEFORE_DISCONNECT = 1000


def run(env, report, args) -> None:
    source_rows = probes.source_row_count(env)
    report.note(f"source {env.mapping.source.qualified_name}: {source_rows} rows")
    outcome = env.sync("manual-T013")
    counts = outcome.counts
    report.note(
        f"manual sync: fetched {outcome.staged.rows_fetched}, applied {counts.summary()} "
        f"(+inserted ~updated -deleted =unchanged)"
    )
    table_rows = probes.table_checksum(env)[0]
    report.expect(
        table_rows == source_rows, f"public.open_orders holds the source's {source_rows} rows ({table_rows})"
    )
    attempt = probes.last_attempt(env)
    report.note(f"table_sync.history: {probes.describe_attempt(attempt)}")
    report.expect(attempt["status"] == "success", "the attempt is recorded as a success")
    report.expect(not probes.staging_tables(env), "no staging table left behind")

    if not env.can_break_source:
        report.skip(
            "rollback on a mid-read disconnect: needs the emulator's disconnect_after_rows fault "
            "(run without --use-env to see it)"
        )
        return "a manual sync made the table equal the source"
    with contextlib.closing(env.source_connection()) as source:
        changes = apply_changes(source, seed=13, inserts=7, updates=11, deletes=5)
    report.note(
        f"source changed: {len(changes.inserted)} inserted, {len(changes.updated)} updated, "
        f"{len(changes.deleted)} deleted; next read is cut after {ROWS_BEFORE_DISCONNECT} rows"
    )
    env.inject_fault("disconnect_after_rows", rows=ROWS_BEFORE_DISCONNECT)
    failed_sync_changes_nothing(
        report, env, "manual-T013-disconnect", SourceUnavailableError, "SQL Server unavailable"
    )
    outcome = env.sync("manual-T013-after")
    counts = outcome.counts
    report.note(f"clean sync afterwards: applied {counts.summary()}")
    report.expect(
        (counts.inserted, counts.updated, counts.deleted)
        == (len(changes.inserted), len(changes.updated), len(changes.deleted)),
        "the clean sync applies exactly the source's changes",
    )


main = single_check_main("T013")

if __name__ == "__main__":
    sys.exit(main())
