"""A reader querying the live table in a loop while a sync runs: ``python -m bench.reader DSN``.

It stands in for the Rails app. It runs until its stdin closes, then prints one JSON line with
the number of queries and their latencies; the maximum shows whether the apply ever blocked
a reader (it should not: the apply takes row locks only, readers see the old rows until commit).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import psycopg

QUERY = "SELECT count(*), max(id) FROM (SELECT id FROM public.open_orders ORDER BY id LIMIT 200) AS page"
PAUSE_SECONDS = 0.02


def main() -> int:
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    latencies: list[float] = []
    errors = 0
    with psycopg.connect(sys.argv[1], autocommit=True) as conn:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                conn.execute(QUERY).fetchone()
                latencies.append(time.perf_counter() - started)
            except psycopg.errors.UndefinedTable:
                errors += 1  # the first sync has not created the table yet
            time.sleep(PAUSE_SECONDS)
    latencies.sort()
    print(
        json.dumps(
            {
                "queries": len(latencies),
                "not_yet_there": errors,
                "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
                "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1) if latencies else None,
                "pid": os.getpid(),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
