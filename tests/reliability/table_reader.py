"""A reader process for the concurrency tests: what the Rails app does, in a tight loop.

    python -m tests.reliability.table_reader DSN

Each read is one statement on an autocommit connection (one snapshot): row count and an md5
over every row of ``public.open_orders``, with the wall-clock time it started and ended. The
loop stops when stdin closes (the test, or the test process dying); then one JSON list of
``[started, ended, count, md5]`` goes to stdout.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import psycopg

CHECKSUM_QUERY = (
    "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '') FROM public.open_orders t"
)

# A breath between reads, so the reader does not starve the writer on a small machine.
PAUSE_SECONDS = 0.002


def read_until_stdin_closes(dsn: str) -> list[tuple[float, float, int, str]]:
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    observations = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        print("ready", file=sys.stderr, flush=True)
        while not stop.is_set():
            started = time.time()
            count, checksum = conn.execute(CHECKSUM_QUERY).fetchone()
            observations.append((started, time.time(), count, checksum))
            time.sleep(PAUSE_SECONDS)
    return observations


if __name__ == "__main__":
    json.dump(read_until_stdin_closes(sys.argv[1]), sys.stdout)
