"""`make demo`: a real sync on the embedded stack, then a short summary; everything stopped after.

Starts PostgreSQL and the SQL Server emulator, seeds 5,000 demo rows into
ProcessStatus.dbo.vwZSDOrder_Advanced, migrates an Airflow metadata database, runs
`airflow dags test sync_open_orders` with the connections given as AIRFLOW_CONN_* variables,
and prints the apply summary and the status view the Rails app reads.
"""

from __future__ import annotations

import argparse
import re
import sys
import time

import psycopg

from devtools.stack import EmbeddedStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    started = time.monotonic()
    print(f"starting PostgreSQL and the SQL Server emulator, seeding {args.rows} rows ...", flush=True)
    with EmbeddedStack(seed_rows=args.rows, seed=args.seed) as stack:
        print(
            f"stack ready in {time.monotonic() - started:.0f} s "
            f"(SQL Server emulator on {stack.mssql.host}:{stack.mssql.port}, "
            f"PostgreSQL on {stack.postgres.host}:{stack.postgres.port})",
            flush=True,
        )
        print("running: airflow dags test sync_open_orders", flush=True)
        result = stack.airflow("dags", "test", "sync_open_orders", quiet=True, check=False)
        output = result.stdout + result.stderr
        for line in output.splitlines():
            if re.search(r"\[table_sync\]", line) or "DagRun Finished" in line:
                print("  " + re.sub(r"^\S+\s+\[\w+\s*\]\s+", "", line.split(" [table_sync]")[0]))
        with psycopg.connect(stack.orders_dsn, row_factory=psycopg.rows.dict_row) as conn:
            status = conn.execute("SELECT * FROM public.open_orders_sync_status").fetchone()
            rows = conn.execute("SELECT count(*) AS n FROM public.open_orders").fetchone()["n"]
        print("\npublic.open_orders_sync_status:")
        for key, value in status.items():
            print(f"  {key:28} {value}")
        print(f"\npublic.open_orders holds {rows} rows")
        if result.returncode != 0:
            print("\nthe sync FAILED; last lines of the run:\n" + "\n".join(output.splitlines()[-30:]))
            return 1
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s; everything it started is stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
