"""One contender's work, run in a subprocess: ``python -m bench.worker`` with BENCH_SPEC set.

BENCH_SPEC is a JSON object (source connection, target DSN, rows, table); passing it in the
environment keeps the sample password out of the process list. The worker prints one JSON
line with its own measurements: ``seconds`` covers the work only, not interpreter start-up or
imports, so a contender is not charged for loading Airflow.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pymssql
from psycopg import sql

from bench.measure import high_water_kib
from include.table_sync.mapping import load_mapping
from include.table_sync.tsql import csv_line_statement, select_statement

REPO_ROOT = Path(__file__).resolve().parents[1]
MAPPING_PATH = REPO_ROOT / "include" / "mappings" / "open_orders.yaml"
# The COPY-only limit holds at most this many rows in memory and replays them up to the size.
COPY_ONLY_BLOCK_ROWS = 100_000
SEED_INSERT_ROWS = 500

CONTENDERS: dict[str, Callable[[dict], dict]] = {}


def contender(name: str):
    def register(function):
        CONTENDERS[name] = function
        return function

    return register


def _mapping():
    return load_mapping(MAPPING_PATH)


def _source(spec: dict):
    conn = pymssql.connect(**spec["source"])
    conn.autocommit(True)
    return conn


def _timed(work: Callable[[], dict]) -> dict:
    started = time.perf_counter()
    result = work()
    result["seconds"] = time.perf_counter() - started
    return result


# -- the limits ---------------------------------------------------------------------------


@contender("fetch_only")
def fetch_only(spec: dict) -> dict:
    """Every row through pymssql, read by iterating the cursor, and dropped."""
    query = select_statement(_mapping())

    def work() -> dict:
        with contextlib.closing(_source(spec)) as conn:
            cursor = conn.cursor()
            cursor.execute(query)
            rows = sum(1 for _ in cursor)
        return {"rows": rows}

    return _timed(work)


def _fetchmany_and_drop(spec: dict, query: str, batch_rows: int) -> dict:
    def work() -> dict:
        rows = 0
        with contextlib.closing(_source(spec)) as conn:
            cursor = conn.cursor()
            cursor.execute(query)
            while batch := cursor.fetchmany(batch_rows):
                rows += len(batch)
        return {"rows": rows}

    return _timed(work)


@contender("fetch_only_fetchmany")
def fetch_only_fetchmany(spec: dict) -> dict:
    """The same read with ``fetchmany(batch_rows)``, to compare the two pymssql read paths."""
    mapping = _mapping()
    return _fetchmany_and_drop(spec, select_statement(mapping), mapping.thresholds.batch_rows)


@contender("fetch_only_lines")
def fetch_only_lines(spec: dict) -> dict:
    """The sync's own read: the view rendered as one CSV line per row, fetched and dropped."""
    mapping = _mapping()
    return _fetchmany_and_drop(spec, csv_line_statement(mapping), mapping.thresholds.batch_rows)


def _raw_table_ddl(mapping, table: sql.Identifier) -> sql.Composed:
    from include.table_sync.conversions import raw_type

    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.source), sql.SQL(raw_type(c.source_type)))
        for c in mapping.columns
    )
    return sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(table, columns)


@contender("copy_only")
def copy_only(spec: dict) -> dict:
    """COPY rows already in memory into an UNLOGGED table shaped like the sync's raw staging.

    Only the COPY is timed. Up to COPY_ONLY_BLOCK_ROWS real rows are held; larger sizes replay
    that block (the table has no key, as the staging table has none).
    """
    mapping = _mapping()
    table = sql.Identifier("bench", "copy_only")
    with contextlib.closing(_source(spec)) as conn:
        cursor = conn.cursor()
        cursor.execute(select_statement(mapping))
        block = cursor.fetchmany(min(spec["rows"], COPY_ONLY_BLOCK_ROWS))
    columns = sql.SQL(", ").join(sql.Identifier(c.source) for c in mapping.columns)
    with psycopg.connect(spec["target_dsn"], autocommit=True) as target:
        target.execute("CREATE SCHEMA IF NOT EXISTS bench")
        target.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        target.execute(_raw_table_ddl(mapping, table))

        def work() -> dict:
            written = 0
            with (
                target.cursor() as cursor,
                cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(table, columns)) as copy,
            ):
                while written < spec["rows"]:
                    for row in block[: spec["rows"] - written]:
                        copy.write_row(row)
                    written += min(len(block), spec["rows"] - written)
            return {"rows": written, "block_rows": len(block)}

        result = _timed(work)
        target.execute(sql.SQL("DROP TABLE {}").format(table))
    return result


@contender("copy_only_lines")
def copy_only_lines(spec: dict) -> dict:
    """COPY of the sync's own CSV lines, already in memory, into a raw table like its staging.

    The other half of the sync's transport (fetch_only_lines is the first): the lines go to
    ``COPY ... (FORMAT csv)`` joined into one string per batch, as include/table_sync/transfer.py
    writes them (joined before the clock starts). Up to COPY_ONLY_BLOCK_ROWS lines are held;
    larger sizes replay that block.
    """
    mapping = _mapping()
    table = sql.Identifier("bench", "copy_only_lines")
    with contextlib.closing(_source(spec)) as conn:
        cursor = conn.cursor()
        cursor.execute(csv_line_statement(mapping))
        block = [line for (line,) in cursor.fetchmany(min(spec["rows"], COPY_ONLY_BLOCK_ROWS))]
    batch_rows = mapping.thresholds.batch_rows
    batches = [block[i : i + batch_rows] for i in range(0, len(block), batch_rows)]
    texts = ["\n".join(batch) + "\n" for batch in batches]
    columns = sql.SQL(", ").join(sql.Identifier(c.source) for c in mapping.columns)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(table, columns)
    with psycopg.connect(spec["target_dsn"], autocommit=True) as target:
        target.execute("CREATE SCHEMA IF NOT EXISTS bench")
        target.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        target.execute(_raw_table_ddl(mapping, table))

        def work() -> dict:
            written = 0
            with target.cursor() as cursor, cursor.copy(statement) as copy:
                while written < spec["rows"]:
                    for lines, text in zip(batches, texts, strict=True):
                        left = spec["rows"] - written
                        if left <= 0:
                            break
                        if len(lines) > left:
                            lines = lines[:left]
                            text = "\n".join(lines) + "\n"
                        copy.write(text)
                        written += len(lines)
            return {"rows": written, "block_rows": len(block)}

        result = _timed(work)
        target.execute(sql.SQL("DROP TABLE {}").format(table))
    return result


# -- this project -------------------------------------------------------------------------


# The typed path's own live table, so its first load meets an empty table as the default's does.
COLUMNS_PATH_TABLE = "open_orders_columns"


@contender("sync")
def sync(spec: dict) -> dict:
    """The engine's sync_once: extract, validate, replace, cleanup (read path auto)."""
    return _sync(spec, _mapping())


@contender("sync_columns")
def sync_columns(spec: dict) -> dict:
    """sync_once with source.read_path forced to ``columns`` (the typed column-by-column read)."""
    mapping = _mapping()
    mapping = mapping.model_copy(
        update={
            "source": mapping.source.model_copy(update={"read_path": "columns"}),
            "target": mapping.target.model_copy(update={"table": COLUMNS_PATH_TABLE}),
        }
    )
    return _sync(spec, mapping)


def _sync(spec: dict, mapping) -> dict:
    from include.table_sync.pipeline import SyncContext, sync_once

    log = logging.getLogger("table_sync.bench")
    log.setLevel(logging.INFO)
    phases = _PhaseLog()
    log.addHandler(phases)
    ctx = SyncContext(
        mapping=mapping,
        run_id=f"bench-{spec['rows']}-{time.time_ns()}",
        connect_source=lambda: _source(spec),
        connect_target=lambda: psycopg.connect(spec["target_dsn"]),
        secrets=(spec["source"]["password"],),
        log=log,
    )

    def work() -> dict:
        outcome = sync_once(ctx)
        counts = outcome.counts
        return {
            "rows": outcome.staged.rows_fetched,
            "inserted": counts.inserted,
            "updated": counts.updated,
            "deleted": counts.deleted,
        }

    result = _timed(work)
    result["phases"] = phases.seconds
    result["read_path"] = phases.read_path
    return result


class _PhaseLog(logging.Handler):
    """Picks the step durations out of the engine's own log lines (no engine change needed)."""

    PATTERNS = {
        "read_and_copy": re.compile(r"^fetched \d+ rows (?:by \S+ )?in ([\d.]+) s"),
        "copy_waited_for_source": re.compile(r"COPY waited ([\d.]+) s"),
        "extract": re.compile(r"^extract done: .* in ([\d.]+) s"),
        "apply": re.compile(r"^applied .* in ([\d.]+) s"),
    }

    READ_PATH = re.compile(r"^reading the source by (\S+): (.*)$")

    def __init__(self):
        super().__init__(logging.INFO)
        self.seconds: dict[str, float] = {}
        self.read_path: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if match := self.READ_PATH.search(message):
            self.read_path = f"{match.group(1)} ({match.group(2)})"
        for name, pattern in self.PATTERNS.items():
            if match := pattern.search(message):
                self.seconds[name] = float(match.group(1))


# -- the other ways -----------------------------------------------------------------------


@contender("seed_delete_insert")
def seed_delete_insert(spec: dict) -> dict:
    """The seed's way: fetch everything, then DELETE all and INSERT 500 rows a statement, one transaction."""
    mapping = _mapping()
    table = sql.Identifier(*spec["table"].split("."))
    columns = sql.SQL(", ").join(sql.Identifier(c.source) for c in mapping.columns)
    one_row = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(mapping.columns)))

    def work() -> dict:
        with contextlib.closing(_source(spec)) as conn:
            cursor = conn.cursor()
            cursor.execute(select_statement(mapping))
            rows = cursor.fetchall()
        with psycopg.connect(spec["target_dsn"]) as target, target.transaction():
            target.execute(sql.SQL("DELETE FROM {}").format(table))
            for start in range(0, len(rows), SEED_INSERT_ROWS):
                batch = rows[start : start + SEED_INSERT_ROWS]
                statement = sql.SQL("INSERT INTO {} ({}) VALUES {}").format(
                    table, columns, sql.SQL(", ").join([one_row] * len(batch))
                )
                target.execute(statement, [value for row in batch for value in row])
        return {"rows": len(rows)}

    return _timed(work)


@contender("generic_transfer")
def generic_transfer(spec: dict) -> dict:
    """Airflow's GenericTransfer with a TRUNCATE preoperator, as the common-sql docs show it."""
    from airflow.providers.common.sql.operators.generic_transfer import GenericTransfer

    logging.getLogger("airflow").setLevel(logging.WARNING)
    operator = GenericTransfer(
        task_id="bench_generic_transfer",
        sql=select_statement(_mapping()),
        source_conn_id="bench_mssql",
        destination_conn_id="bench_postgres",
        destination_table=spec["table"],
        preoperator=f"TRUNCATE TABLE {spec['table']}",
    )
    return _timed(lambda: (operator.execute(context={}), {"rows": spec["rows"]})[1])


@contender("tds_fdw")
def tds_fdw(spec: dict) -> dict:
    """PostgreSQL reads the view through tds_fdw (FreeTDS): BEGIN, TRUNCATE, INSERT … SELECT, COMMIT.

    The foreign table's query is the column-by-column select, with date columns asked for as
    ISO text: tds_fdw hands a date over in FreeTDS's default format (``Jan  1 2026 12:00:00:AM``),
    which PostgreSQL's date input cannot read (tests/emulator/test_client_tds_fdw.py). The
    server's ``use_remote_estimate '0'`` keeps tds_fdw from running the query once more to
    estimate its rows (its documented default estimates by executing). Only the reload is timed.
    """
    from include.table_sync.conversions import raw_type
    from include.table_sync.tsql import column_expression, source_origin

    mapping = _mapping()
    source = spec["source"]
    table = sql.Identifier(*spec["table"].split("."))
    foreign = sql.Identifier("bench", "tds_fdw_view")

    def remote(column) -> str:
        if column.source_type.name == "date":
            return f"CONVERT(varchar(10), [{column.source}], 23) AS [{column.source}]"
        return column_expression(column.source, column.source_type)

    def foreign_type(column) -> str:
        return "text" if column.source_type.name == "date" else raw_type(column.source_type)

    query = "SELECT " + ", ".join(remote(c) for c in mapping.columns) + f" FROM {source_origin(mapping)}"
    with psycopg.connect(spec["target_dsn"], autocommit=True) as target:
        target.execute("CREATE EXTENSION IF NOT EXISTS tds_fdw")
        target.execute("DROP SERVER IF EXISTS bench_mssql CASCADE")
        target.execute(
            sql.SQL(
                "CREATE SERVER bench_mssql FOREIGN DATA WRAPPER tds_fdw OPTIONS (servername {}, port {}, "
                "database {}, tds_version '7.4', use_remote_estimate '0', msg_handler 'notice')"
            ).format(
                sql.Literal(source["server"]),
                sql.Literal(str(source["port"])),
                sql.Literal(source["database"]),
            )
        )
        target.execute(
            sql.SQL(
                "CREATE USER MAPPING FOR CURRENT_USER SERVER bench_mssql OPTIONS (username {}, password {})"
            ).format(sql.Literal(source["user"]), sql.Literal(source["password"]))
        )
        target.execute(
            sql.SQL("CREATE FOREIGN TABLE {} ({}) SERVER bench_mssql OPTIONS (query {})").format(
                foreign,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c.source), sql.SQL(foreign_type(c)))
                    for c in mapping.columns
                ),
                sql.Literal(query),
            )
        )
        select_list = sql.SQL(", ").join(
            sql.SQL("{}::date").format(sql.Identifier(c.source))
            if c.source_type.name == "date"
            else sql.Identifier(c.source)
            for c in mapping.columns
        )
        columns = sql.SQL(", ").join(sql.Identifier(c.source) for c in mapping.columns)

        def work() -> dict:
            with target.transaction():
                target.execute(sql.SQL("TRUNCATE {}").format(table))
                inserted = target.execute(
                    sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                        table, columns, select_list, foreign
                    )
                ).rowcount
            return {"rows": inserted}

        return _timed(work)


def main() -> int:
    name = sys.argv[1]
    spec = json.loads(os.environ["BENCH_SPEC"])
    result = CONTENDERS[name](spec)
    result["peak_rss_mb"] = high_water_kib() / 1024
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
