"""Benchmarks: this project's sync against the other ways of copying the view into PostgreSQL.

    python -m bench            # 5,000 / 10,000 / 100,000 / 1,000,000 rows (make bench)
    python -m bench --quick    # 5,000 / 100,000 rows (make bench-quick)

Every contender runs in its own subprocess (``python -m bench.worker``, or the other tool's own
process: ingestr, sling, pgloader, dlt through bench/dlt_load.py), so its wall time and peak
RSS are its own; the harness measures what it wrote to PostgreSQL from the outside. ingestr,
sling and dlt come from bench/requirements-contenders.txt, installed once into .run/bench-venv
(bench.contenders_env); tds_fdw is Debian's, from devtools/sysdeps.sh.
The results go to ``bench/results.json`` and ``docs/benchmarks.md`` with a PNG chart.
"""
