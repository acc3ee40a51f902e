"""dlt's SQL database source into its Postgres destination, run by the contenders' Python.

    BENCH_SPEC='{...}' .run/bench-venv/bin/python bench/dlt_load.py

It imports dlt and SQLAlchemy only (not this project: it runs in bench.contenders_env's
environment). The view is reflected by SQLAlchemy's mssql+pymssql dialect and loaded with
``write_disposition="replace"`` under the ``insert-from-staging`` strategy: the rows go to a
staging dataset, then one transaction truncates the table and inserts them. It prints one JSON
line like bench.worker: ``seconds`` is ``pipeline.run`` only, without the imports.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time


def main() -> int:
    spec = json.loads(os.environ["BENCH_SPEC"])
    # dlt reads its configuration from the environment; telemetry would try the network.
    os.environ["DESTINATION__REPLACE_STRATEGY"] = "insert-from-staging"
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")

    import dlt
    import sqlalchemy as sa
    from dlt.sources.sql_database import sql_table

    source = spec["source"]
    engine = sa.create_engine(
        sa.URL.create(
            "mssql+pymssql",
            username=source["user"],
            password=source["password"],
            host=source["server"],
            port=source["port"],
            database=source["database"],
        ),
        connect_args={"tds_version": source.get("tds_version", "7.4"), "timeout": 3600},
    )
    schema, table = spec["dlt_table"].split(".")
    with tempfile.TemporaryDirectory(prefix="oos-bench-dlt-") as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name="bench_dlt",
            pipelines_dir=pipelines_dir,
            destination=dlt.destinations.postgres(credentials=spec["target_url"]),
            dataset_name=schema,
        )
        resource = sql_table(credentials=engine, schema=spec["source_schema"], table=spec["source_object"])
        started = time.perf_counter()
        info = pipeline.run(resource, write_disposition="replace", table_name=table)
        seconds = time.perf_counter() - started
    info.raise_on_failed_jobs()
    print(json.dumps({"seconds": seconds, "peak_rss_mb": _high_water_kib() / 1024}), flush=True)
    return 0


def _high_water_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
