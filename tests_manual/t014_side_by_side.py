"""T014: ten records, all 67 fields, source against target, side by side.

After a sync, ten keys spread over the table are read again: from SQL Server with pymssql (a
``datetime2`` as its full 7-digit text, so the truncation to microseconds is visible) and from
PostgreSQL with psycopg. Each field is printed as source value, target value, and whether the
target holds what the contract's conversion makes of the source value.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys

from tests_manual import probes
from tests_manual.contract import expected_value
from tests_manual.runner import single_check_main

TITLE = "10 records x 67 fields, source against target"
SUMMARY = "every shown field holds what the contract makes of its source value"
WIDTH = 34


def _cell(value) -> str:
    # Strings quoted, so trailing blanks show; dates and times in ISO form; NULL as NULL.
    if value is None:
        text = "NULL"
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, (dt.date, dt.time)):
        text = value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    else:
        text = str(value)
    return text if len(text) <= WIDTH else text[: WIDTH - 3] + "..."


def _sample_keys(env, count: int) -> list[tuple]:
    key_columns = ", ".join(f'"{c.target}"' for c in env.mapping.key_columns)
    with contextlib.closing(env.target_connection()) as conn:
        keys = conn.execute(
            f"SELECT {key_columns} FROM {env.mapping.target.qualified_name} ORDER BY {key_columns}"
        ).fetchall()
    if len(keys) <= count:
        return keys
    step = len(keys) / count
    return [keys[int(i * step)] for i in range(count)]


def _source_row(env, cursor, key: tuple) -> tuple | None:
    source = env.mapping.source
    select = ", ".join(
        f"CONVERT(varchar(27), [{c.source}], 121)" if c.source_type.name == "datetime2" else f"[{c.source}]"
        for c in env.mapping.columns
    )
    where = " AND ".join(f"RTRIM([{c.source}]) = %s" for c in env.mapping.key_columns)
    cursor.execute(
        f"SELECT {select} FROM [{source.database}].[{source.schema}].[{source.object}] WHERE {where}", key
    )
    return cursor.fetchone()


def _target_row(env, conn, key: tuple) -> tuple | None:
    columns = ", ".join(f'"{c.target}"' for c in env.mapping.columns)
    where = " AND ".join(f'"{c.target}" = %s' for c in env.mapping.key_columns)
    return conn.execute(
        f"SELECT {columns} FROM {env.mapping.target.qualified_name} WHERE {where}", key
    ).fetchone()


def run(env, report, args) -> None:
    outcome = env.sync("manual-T014")
    report.note(f"sync: applied {outcome.counts.summary()}, {outcome.counts.rows_in_table} rows")
    keys = _sample_keys(env, args.records)
    report.expect(
        len(keys) == min(args.records, probes.table_checksum(env)[0]), f"{len(keys)} records to compare"
    )
    mismatches = 0
    with (
        contextlib.closing(env.source_connection()) as source,
        contextlib.closing(env.target_connection()) as target,
    ):
        cursor = source.cursor()
        for number, key in enumerate(keys, start=1):
            raw, loaded = _source_row(env, cursor, key), _target_row(env, target, key)
            report.note("")
            report.note(f"record {number}: key {'/'.join(key)}")
            if raw is None or loaded is None:
                report.expect(False, f"key {'/'.join(key)} exists in both source and target")
                continue
            report.note(
                f"  {'#':>2}  {'source column':24} {'conversion':16} {'source value':{WIDTH}}  {'target value':{WIDTH}}  ok"
            )
            for position, (column, source_value, target_value) in enumerate(
                zip(env.mapping.columns, raw, loaded, strict=True), start=1
            ):
                matches = target_value == expected_value(column.conversion, source_value)
                mismatches += not matches
                report.note(
                    f"  {position:>2}  {column.source:24} {column.conversion:16} {_cell(source_value):{WIDTH}}  "
                    f"{_cell(target_value):{WIDTH}}  {'yes' if matches else 'NO'}"
                )
    fields = len(keys) * len(env.mapping.columns)
    report.note("")
    report.expect(
        mismatches == 0,
        f"{fields - mismatches} of {fields} fields as the contract says ({mismatches} differ)",
    )


main = single_check_main("T014")

if __name__ == "__main__":
    sys.exit(main())
