"""Benchmarks: this project's sync against the other ways of copying the view into PostgreSQL.

    python -m bench            # 5,000 / 10,000 / 100,000 / 1,000,000 rows (make bench)
    python -m bench --quick    # 5,000 / 100,000 rows (make bench-quick)

Every contender runs in its own subprocess (``python -m bench.worker``), so its wall time and
peak RSS are its own; the harness measures what it wrote to PostgreSQL from the outside.
The results go to ``bench/results.json`` and ``docs/benchmarks.md`` with a PNG chart.
"""
