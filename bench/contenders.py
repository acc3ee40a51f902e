"""The contenders' names by kind, shared by the harness (which runs them) and the report (which
compares them); no imports, so the report can be rendered from a results file alone."""

from __future__ import annotations

# The sync itself, by read path.
SYNCS = ("sync", "sync_columns")
# Limits: the sync's own transport without the rest of the sync.
LIMITS = ("fetch_only", "fetch_only_fetchmany", "fetch_only_lines", "copy_only", "copy_only_lines")
# Full reloads by other tools, each run twice: the first reads its own query cold, the second
# (the figure compared) warm. bench.contenders_env installs the three that are not Debian's.
RELOADERS = ("tds_fdw", "ingestr", "sling", "dlt")
# Row-by-row baselines: a statement per row (GenericTransfer's executemany, the seed's DELETE and
# INSERT).
ROW_BY_ROW = ("generic_transfer", "seed_delete_insert")
# Every tool that is not this project's: the contenders a "faster than every other" target judges.
OTHER_TOOLS = (*RELOADERS, *ROW_BY_ROW, "pgloader")
ALL_CONTENDERS = (*LIMITS, *SYNCS, "sync_1pct_changed", "airflow_dags_test", *OTHER_TOOLS)
