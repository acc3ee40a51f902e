"""T026: a value the contract cannot convert; the import fails, names it, and changes nothing.

The sync reads the view through the mapping's ``source.query`` with one column replaced by a
bad SAP date: ``CustomerPODate`` is ``N'2026ABCD'`` in one row. The conversion check names the
key, the column and the value, and nothing is loaded. Read-only against a real server (the
source is not modified, only what this one sync selects).
"""

from __future__ import annotations

import contextlib
import sys

from include.table_sync.staging import ConversionError
from tests_manual.expectations import failed_sync_changes_nothing, synced_baseline
from tests_manual.runner import single_check_main

TITLE = "import failure (a bad value) leaves the data unchanged"
SUMMARY = "a value that cannot be converted failed the import, named key, column and value; nothing changed"
BAD_COLUMN = "CustomerPODate"
BAD_VALUE = "2026ABCD"


def bad_value_query(mapping, key: tuple[str, ...]) -> str:
    """The view's columns, with BAD_COLUMN replaced by BAD_VALUE in the row of ``key``."""
    source = mapping.source
    in_row = " AND ".join(
        f"RTRIM([{c.source}]) = N'{value}'" for c, value in zip(mapping.key_columns, key, strict=True)
    )
    columns = ", ".join(
        f"CASE WHEN {in_row} THEN N'{BAD_VALUE}' ELSE [{c.source}] END AS [{c.source}]"
        if c.source == BAD_COLUMN
        else f"[{c.source}]"
        for c in mapping.columns
    )
    return f"SELECT {columns} FROM [{source.database}].[{source.schema}].[{source.object}]"


def first_key(env) -> tuple[str, ...]:
    key_columns = ", ".join(f'"{c.target}"' for c in env.mapping.key_columns)
    with contextlib.closing(env.target_connection()) as conn:
        return tuple(
            conn.execute(
                f"SELECT {key_columns} FROM {env.mapping.target.qualified_name} ORDER BY {key_columns} LIMIT 1"
            ).fetchone()
        )


def run(env, report, args) -> None:
    synced_baseline(report, env, "manual-T026-baseline")
    mapping = env.mapping
    key = first_key(env)
    query = bad_value_query(mapping, key)
    broken = mapping.model_copy(update={"source": mapping.source.model_copy(update={"query": query})})
    shown_key = "/".join(key)
    report.note(
        f"next sync reads {BAD_COLUMN} of key {shown_key} as {BAD_VALUE!r} (not a DATS date YYYYMMDD)"
    )
    error = failed_sync_changes_nothing(
        report,
        env,
        "manual-T026",
        ConversionError,
        f"key {shown_key}: column {BAD_COLUMN} = '{BAD_VALUE}'",
        mapping=broken,
    )
    if error is not None:
        report.note("the error as the task log shows it:")
        for line in str(error).splitlines()[:4]:
            report.note(f"  {line}")
        report.expect(error.total == 1, f"exactly the one bad value is counted ({error.total})")


main = single_check_main("T026")

if __name__ == "__main__":
    sys.exit(main())
