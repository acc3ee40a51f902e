"""The bench session: servers up, the view seeded size by size, every contender measured.

One emulator and one PostgreSQL serve the whole session. The view grows cumulatively (rows
0..N-1 of seed 1, so a size's rows are a prefix of the next size's), and every size gets a
fresh PostgreSQL database. Contenders run one at a time, each in its own subprocess.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
import pymssql
from psycopg import sql

from bench import contenders_env, measure
from bench.contenders import RELOADERS, ROW_BY_ROW, SYNCS
from bench.worker import COLUMNS_PATH_TABLE
from devtools.embedded_postgres import EmbeddedPostgres
from devtools.mssql_emulator import MssqlEmulator
from devtools.pinned_venv import PinnedVenvError
from devtools.stack import mssql_connection, postgres_connection

log = logging.getLogger("bench")

REPO_ROOT = Path(__file__).resolve().parents[1]
FULL_SIZES = (5_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (5_000, 100_000)
# Only the syncs run at these sizes: the 10,000-row run is the baseline of the memory target.
SYNC_ONLY_SIZES = (10_000,)
# sync_1pct_changed: the items of documents whose number ends so (about 1% of the rows) change.
CHANGED_TABLE = "dbo.ZSDOrderItem"  # the view's base table (devtools/demo_source/create_source.sql)
CHANGED_DOCUMENT_SUFFIX = "37"
# The emulator's result cache holds the queries a size needs warm at the largest size: the
# CSV lines (about 1.2 kB a row), the typed rows (about 0.8 kB), and the other tools' queries
# (each tool runs its two runs back to back; LRU drops the oldest), with room to spare.
CACHE_BYTES_PER_ROW = 6_000
MIN_CACHE_MB = 512
FETCHMANY_MAX_ROWS = 100_000  # the read-path comparison needs no million-row run
# The row-by-row baselines (contenders.ROW_BY_ROW) are 8 to 20 times slower than the sync at
# 100,000 rows (docs/benchmarks.md), so quick mode, which CI runs, measures them at its smallest
# size only.
QUICK_ROW_BY_ROW_MAX_ROWS = 5_000
DAGS_TEST_ROWS = 5_000
LIVE_TABLE = "public.open_orders"


@dataclass
class Measurement:
    """One contender's run at one size: the row of the report's table."""

    size: int
    contender: str
    run: str  # "first load" or "re-sync" (of unchanged data)
    ok: bool
    seconds: float | None = None  # the work itself, timed inside the worker
    wall_seconds: float | None = None  # the whole process, start-up included
    rows: int | None = None
    rows_in_table: int | None = None
    peak_rss_mb: float | None = None
    rows_written: int | None = None
    wal_bytes: int | None = None
    reader: dict | None = None
    rows_changed: int | None = None  # rows of the source changed before this run
    source_cache: str | None = None  # "cold": the emulator computed this query's rows; "warm": replayed
    load_before: float | None = None  # the machine's 1-minute load average as the run started
    load_after: float | None = None
    note: str = ""
    error: str = ""

    @property
    def rows_per_second(self) -> float | None:
        if not self.ok or not self.seconds or not self.rows:
            return None
        return self.rows / self.seconds

    def to_dict(self) -> dict:
        return {**asdict(self), "rows_per_second": self.rows_per_second}


@dataclass
class Session:
    sizes: tuple[int, ...]
    contenders: tuple[str, ...]
    timeout: float = 3600.0
    reload_timeout: float = 600.0  # the full-reload contenders: a million rows may take them long
    row_by_row_max_rows: int | None = None  # ROW_BY_ROW run only at sizes up to this; None: all
    measurements: list[Measurement] = field(default_factory=list)
    environment: dict = field(default_factory=dict)


class Bench:
    def __init__(self, session: Session):
        self.session = session
        self.postgres = EmbeddedPostgres(databases=())
        self.cache_mb = cache_mb_for(max(session.sizes))
        self.mssql = MssqlEmulator(
            user="demo", password="demo-password", database="ProcessStatus", cache_mb=self.cache_mb
        )
        self.seeded = 0
        self.airflow_home = Path(tempfile.mkdtemp(prefix="oos-bench-airflow-"))
        self.pgloader_failure: str | None = None
        self.contenders_env_failure: str | None = None

    # -- the session --------------------------------------------------------------------------
    def run(self) -> Session:
        with contextlib.ExitStack() as stack:
            stack.callback(shutil.rmtree, self.airflow_home, True)
            stack.enter_context(self.postgres)
            stack.enter_context(self.mssql)
            self._create_source()
            self.session.environment = self._environment()
            if DAGS_TEST_ROWS in self.session.sizes and "airflow_dags_test" in self.session.contenders:
                self._run_dags_test()
            for size in sorted(self.session.sizes):
                self._seed_up_to(size)
                self._run_size(size)
        return self.session

    def _record(self, measurement: Measurement) -> None:
        self.session.measurements.append(measurement)
        rate = measurement.rows_per_second
        log.info(
            "%9d rows  %-22s %-10s %s",
            measurement.size,
            measurement.contender,
            measurement.run,
            f"{measurement.seconds:.2f} s, {rate:,.0f} rows/s, {measurement.peak_rss_mb:.0f} MB"
            if measurement.ok
            else f"FAILED: {measurement.error.splitlines()[-1] if measurement.error else '?'}",
        )

    def _wanted(self, name: str, size: int) -> bool:
        if name not in self.session.contenders:
            return False
        if size in SYNC_ONLY_SIZES and size not in QUICK_SIZES and name not in SYNCS:
            return False
        if name == "fetch_only_fetchmany":
            return size <= FETCHMANY_MAX_ROWS
        if name in ROW_BY_ROW and self.session.row_by_row_max_rows is not None:
            return size <= self.session.row_by_row_max_rows
        return name != "airflow_dags_test"

    def _run_size(self, size: int) -> None:
        dsn = self._fresh_database(size)
        # The emulator caches a repeated query's encoded result (a real SQL Server caches pages,
        # not results), so the sync's CSV-line query is read once, unmeasured, before any run
        # that reads it: every sync and limit figure then reads the same warm source. The typed
        # path's first load is the first read of the column-by-column query (most contenders'
        # query) and is marked cold; everything after it reads that query warm.
        if any(self._wanted(other, size) for other, reads in _READS.items() if reads == "fetch_only_lines"):
            warm = self._run_worker("fetch_only_lines", size, dsn, table=None, run="warm-up")
            log.info("warmed the CSV-line query in %.1f s", warm.wall_seconds or 0)
        if self._wanted("sync", size):
            self._run_sync("sync", size, dsn, "first load", "warm")
        if self._wanted("sync_columns", size):
            self._run_sync("sync_columns", size, dsn, "first load", "cold")
        elif any(self._wanted(other, size) for other, reads in _READS.items() if reads == "fetch_only"):
            warm = self._run_worker("fetch_only", size, dsn, table=None, run="warm-up")
            log.info("warmed the column-by-column query in %.1f s", warm.wall_seconds or 0)
        for name in self.session.contenders:
            if not self._wanted(name, size):
                continue
            if name in SYNCS:
                self._run_sync(name, size, dsn, "re-sync", "warm")
            elif name == "sync_1pct_changed":
                continue  # last: changing the source withdraws every cached result
            elif name == "pgloader":
                self._record(self._run_pgloader(size, dsn))
            elif name in ("generic_transfer", "seed_delete_insert"):
                self._run_full_reload(name, size, dsn)
            elif name in RELOADERS:
                self._run_reloader(name, size, dsn)
            else:
                measurement = self._run_worker(
                    name, size, dsn, table=None, run="read" if "fetch" in name else "load"
                )
                measurement.source_cache = "warm"
                self._record(measurement)
        if self._wanted("sync_1pct_changed", size):
            self._run_changed_resync(size, dsn)

    # -- servers and data -----------------------------------------------------------------------
    def _source_kwargs(self) -> dict:
        return self.mssql.connect_kwargs(login_timeout=10, timeout=3600)

    def _create_source(self) -> None:
        from devtools.demo_source.generate import create_source

        with contextlib.closing(pymssql.connect(**self._source_kwargs())) as conn:
            create_source(conn)

    def _seed_up_to(self, size: int) -> None:
        from devtools.demo_source.generate import seed_source

        if size <= self.seeded:
            return
        started = time.perf_counter()
        with contextlib.closing(pymssql.connect(**self._source_kwargs())) as conn:
            seed_source(conn, size - self.seeded, seed=1, start=self.seeded)
            conn.commit()
        log.info("seeded rows %d..%d in %.0f s", self.seeded, size - 1, time.perf_counter() - started)
        self.seeded = size

    def _fresh_database(self, size: int) -> str:
        name = f"bench_{size}"
        with psycopg.connect(self.postgres.dsn("postgres"), autocommit=True) as conn:
            # Earlier sizes' databases are dropped: a million-row run needs the disk.
            for (old,) in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'"
            ).fetchall():
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(old)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        dsn = self.postgres.dsn(name)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA bench")
        return dsn

    # -- running a worker ---------------------------------------------------------------------
    def _worker_env(self, size: int, dsn: str, table: str | None) -> dict[str, str]:
        spec = {"source": self._source_kwargs(), "target_dsn": dsn, "rows": size, "table": table}
        database = dsn.split("dbname=")[1].split()[0]
        connections = {
            "AIRFLOW_CONN_BENCH_MSSQL": mssql_connection(self.mssql, timeout=3600),
            "AIRFLOW_CONN_BENCH_POSTGRES": postgres_connection(self.postgres, database),
        }
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update({key: json.dumps(value) for key, value in connections.items()})
        env.update(
            BENCH_SPEC=json.dumps(spec),
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            AIRFLOW_HOME=str(self.airflow_home),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__UNIT_TEST_MODE="False",
        )
        return env

    def _run_worker(
        self,
        name: str,
        size: int,
        dsn: str,
        table: str | None,
        run: str,
        reader: bool = False,
        timeout: float | None = None,
    ) -> Measurement:
        timeout = timeout or self.session.timeout
        command = [sys.executable, "-m", "bench.worker", name]
        lsn = measure.wal_lsn(dsn)
        written_before = measure.rows_written(dsn, table) if table else None
        with _reader(dsn) if reader else contextlib.nullcontext() as reading:
            process = measure.run_measured(
                command, self._worker_env(size, dsn, table), str(REPO_ROOT), timeout
            )
        measurement = Measurement(
            size=size,
            contender=name,
            run=run,
            ok=process.returncode == 0 and not process.timed_out,
            wall_seconds=process.wall_seconds,
            peak_rss_mb=process.peak_rss_mb,
            reader=reading.result if reader else None,
            load_before=process.load_before,
            load_after=process.load_after,
        )
        if not measurement.ok:
            timed_out = f"timed out after {timeout:.0f} s\n" if process.timed_out else ""
            measurement.error = _redact(process.tail(), self.mssql.password) + (
                "\n" + timed_out.strip() if timed_out else ""
            )
            return measurement
        result = process.result()
        measurement.seconds = result.get("seconds")
        measurement.peak_rss_mb = result.get("peak_rss_mb", measurement.peak_rss_mb)
        measurement.rows = result.get("rows")
        measurement.wal_bytes = measure.wal_bytes_since(dsn, lsn)
        if table:
            measurement.rows_written = measure.rows_written(dsn, table) - (written_before or 0)
            measurement.rows_in_table = measure.row_count(dsn, table)
        phases = result.get("phases") or {}
        if {"read_and_copy", "copy_waited_for_source", "extract", "apply"} <= phases.keys():
            measurement.note = (
                f"read+COPY {phases['read_and_copy']:.1f} s (COPY idle {phases['copy_waited_for_source']:.1f} s "
                f"waiting for the source), whole extract {phases['extract']:.1f} s, apply {phases['apply']:.2f} s"
            )
        if result.get("read_path"):
            measurement.note = "; ".join(filter(None, [f"read by {result['read_path']}", measurement.note]))
        if "block_rows" in result and result["block_rows"] < size:
            measurement.note = (
                f"{result['block_rows']:,} rows in memory, COPY'd {size // result['block_rows']} times"
            )
        return measurement

    # -- the contenders ---------------------------------------------------------------------------
    def _run_sync(self, name: str, size: int, dsn: str, run: str, source_cache: str) -> Measurement:
        table = LIVE_TABLE if name == "sync" else f"public.{COLUMNS_PATH_TABLE}"
        measurement = self._run_worker(name, size, dsn, table, run, reader=name == "sync")
        _check_rows(measurement, size)
        measurement.source_cache = source_cache
        self._record(measurement)
        return measurement

    def _run_changed_resync(self, size: int, dsn: str) -> None:
        """The sync after about 1% of the source's rows changed (warm source, read path auto).

        The change withdraws the emulator's cached results, so the CSV-line query is read once,
        unmeasured, before the sync: the figure compares with the unchanged re-sync's warm read.
        The changed rows stay changed; every later run reads the source as it now is.
        """
        changed = self._change_source_rows(size)
        warm = self._run_worker("fetch_only_lines", size, dsn, table=None, run="warm-up")
        log.info("changed %d rows; warmed the CSV-line query in %.1f s", changed, warm.wall_seconds or 0)
        measurement = self._run_worker("sync", size, dsn, LIVE_TABLE, "re-sync, 1% changed", reader=True)
        measurement.contender = "sync_1pct_changed"
        measurement.rows_changed = changed
        _check_rows(measurement, size)
        measurement.source_cache = "warm"
        self._record(measurement)

    def _change_source_rows(self, size: int) -> int:
        """One set-based UPDATE of the items of every hundredth sales document; returns its row count.

        A statement per row (devtools.demo_source.generate.apply_changes) takes the emulator
        minutes at these sizes. The new LastChangedAt differs from every seeded one (they are
        before the extract date) and from an earlier size's change, so every matched row changes.
        """
        from devtools.demo_source.rows import EXTRACT_DATE

        stamp = f"{EXTRACT_DATE + dt.timedelta(days=4)} 00:00:00.{size % 10_000_000:07d}"
        with contextlib.closing(pymssql.connect(**self._source_kwargs())) as conn:
            cursor = conn.cursor()
            cursor.execute(
                f"UPDATE {CHANGED_TABLE} SET LastChangedAt = %s WHERE RIGHT(SalesDocument, 2) = %s",
                (stamp, CHANGED_DOCUMENT_SUFFIX),
            )
            changed = cursor.rowcount
            conn.commit()
        return changed

    def _run_reloader(self, name: str, size: int, dsn: str) -> None:
        """Another tool's full reload, twice: cold for its own query, then warm (the figure compared).

        A failed first run is not repeated (a timeout would cost the session as long again):
        the second is recorded as failed, never left out.
        """
        first = self._run_one_reload(name, size, dsn, "first load", "cold")
        if first.ok:
            self._run_one_reload(name, size, dsn, "re-sync", "warm")
        else:
            self._record(
                Measurement(
                    size, name, "re-sync", False, source_cache="warm", error="not run: its first run failed"
                )
            )

    def _run_one_reload(self, name: str, size: int, dsn: str, run: str, source_cache: str) -> Measurement:
        if name == "tds_fdw":
            measurement = self._run_tds_fdw(size, dsn, run)
        else:
            measurement = self._run_tool(name, size, dsn, run)
        measurement.source_cache = source_cache
        self._record(measurement)
        return measurement

    def _run_full_reload(self, name: str, size: int, dsn: str) -> None:
        """A contender that replaces the whole table; measured as a re-sync of unchanged data.

        Its table is shaped like the view (raw types, no conversions, no key) and pre-filled
        with the same rows by an earlier contender's load, so the run is the re-sync a
        schedule repeats. GenericTransfer's TRUNCATE makes its first load and a re-sync alike.
        """
        table = f"bench.{name}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            prefill = "bench.generic_transfer" if name != "generic_transfer" else None
            has_prefill = prefill and measure.row_count(dsn, prefill) == size
            if has_prefill:
                conn.execute(f"CREATE TABLE {table} AS TABLE {prefill}")
            else:
                conn.execute(_view_shaped_table(table))
        run = "re-sync" if has_prefill else "first load"
        measurement = self._run_worker(name, size, dsn, table, run, timeout=self.session.reload_timeout)
        if measurement.ok and measurement.rows_in_table != size:
            measurement.ok, measurement.error = (
                False,
                f"table holds {measurement.rows_in_table} rows, not {size}",
            )
        if measurement.ok:
            measurement.rows = size
        measurement.source_cache = "warm"
        self._record(measurement)

    def _run_tds_fdw(self, size: int, dsn: str, run: str) -> Measurement:
        table = "bench.tds_fdw"
        if run == "first load":
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(_view_shaped_table(table))
        measurement = self._run_worker("tds_fdw", size, dsn, table, run, timeout=self.session.reload_timeout)
        _check_rows(measurement, size)
        return measurement

    def _run_tool(self, name: str, size: int, dsn: str, run: str) -> Measurement:
        """ingestr, sling (whole CLI processes) or dlt (its pipeline timed in its own process)."""
        table = TOOL_TABLES[name]
        if self.contenders_env_failure:
            return Measurement(
                size, name, run, False, error=self.contenders_env_failure, note="not installed"
            )
        try:
            command, env, timed_inside = self._tool_command(name, size, dsn, table)
        except PinnedVenvError as exc:
            # One failed build is enough: the next tool would wait for the same failure.
            self.contenders_env_failure = str(exc)
            return Measurement(size, name, run, False, error=str(exc), note="not installed")
        workdir = Path(tempfile.mkdtemp(prefix=f"oos-bench-{name}-"))
        env["HOME"] = str(workdir)  # sling and ingestr keep their state and logs under HOME
        lsn = measure.wal_lsn(dsn)
        written_before = measure.rows_written(dsn, table)
        try:
            process = measure.run_measured(command, env, str(workdir), self.session.reload_timeout)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        measurement = Measurement(
            size,
            name,
            run,
            ok=process.returncode == 0 and not process.timed_out,
            seconds=process.wall_seconds,
            wall_seconds=process.wall_seconds,
            peak_rss_mb=process.peak_rss_mb,
            load_before=process.load_before,
            load_after=process.load_after,
            note="" if timed_inside else "whole CLI process",
        )
        if not measurement.ok:
            timed_out = f"\ntimed out after {self.session.reload_timeout:.0f} s" if process.timed_out else ""
            measurement.error = _redact(process.tail(), self.mssql.password) + timed_out
            return measurement
        if timed_inside:
            result = process.result()
            measurement.seconds = result.get("seconds", measurement.seconds)
            measurement.peak_rss_mb = result.get("peak_rss_mb", measurement.peak_rss_mb)
        measurement.wal_bytes = measure.wal_bytes_since(dsn, lsn)
        measurement.rows_written = measure.rows_written(dsn, table) - written_before
        measurement.rows_in_table = measure.row_count(dsn, table)
        measurement.rows = measurement.rows_in_table
        _check_rows(measurement, size)
        return measurement

    def _tool_command(self, name: str, size: int, dsn: str, table: str) -> tuple[list[str], dict, bool]:
        """(command, environment, whether it times its own work); URLs travel in the environment."""
        database = dsn.split("dbname=")[1].split()[0]
        pg = self.postgres
        target_url = f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{database}?sslmode=disable"
        ms = self.mssql
        # go-mssqldb (ingestr, sling): encrypt=disable is FreeTDS's pymssql session after the
        # login; TLS of the whole session would be a cost the sync does not pay.
        source_url = (
            f"sqlserver://{ms.user}:{ms.password}@{ms.host}:{ms.port}?database={ms.database}&encrypt=disable"
        )
        base = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "PG"))}
        view = "dbo.vwZSDOrder_Advanced"
        if name == "ingestr":
            command = [
                str(contenders_env.ingestr_binary()), "ingest", "--source-table", view,
                "--dest-table", table, "--full-refresh", "--yes", "--progress", "log",
            ]  # fmt: skip
            env = dict(
                base,
                INGESTR_SOURCE_URI=source_url.replace("sqlserver://", "mssql://", 1),
                INGESTR_DESTINATION_URI=target_url,
                INGESTR_DISABLE_TELEMETRY="true",
            )
            return command, env, False
        if name == "sling":
            command = [
                str(contenders_env.sling_binary()), "run", "--src-conn", "BENCH_MSSQL", "--src-stream", view,
                "--tgt-conn", "BENCH_PG", "--tgt-object", table, "--mode", "full-refresh",
            ]  # fmt: skip
            env = dict(base, BENCH_MSSQL=source_url, BENCH_PG=target_url, SLING_DISABLE_TELEMETRY="true")
            return command, env, False
        spec = {
            "source": self._source_kwargs(),
            "source_schema": "dbo",
            "source_object": "vwZSDOrder_Advanced",
            "target_url": target_url,
            "dlt_table": table,
            "rows": size,
        }
        command = [str(contenders_env.contenders_python()), str(REPO_ROOT / "bench" / "dlt_load.py")]
        return command, dict(base, BENCH_SPEC=json.dumps(spec)), True

    def _run_pgloader(self, size: int, dsn: str) -> Measurement:
        if self.pgloader_failure:
            return Measurement(
                size,
                "pgloader",
                "first load",
                False,
                error=self.pgloader_failure,
                note="not retried: failed at a smaller size",
            )
        binary = ensure_pgloader()
        database = dsn.split("dbname=")[1].split()[0]
        workdir = Path(tempfile.mkdtemp(prefix="oos-bench-pgloader-"))
        load_file = workdir / "view.load"
        load_file.write_text(
            "LOAD DATABASE\n"
            f"  FROM mssql://{self.mssql.user}:{self.mssql.password}@{self.mssql.host}:{self.mssql.port}/"
            f"{self.mssql.database}\n"
            f"  INTO postgresql://{self.postgres.user}:{self.postgres.password}@{self.postgres.host}:"
            f"{self.postgres.port}/{database}\n"
            "  WITH include drop, create tables, workers = 2, concurrency = 1\n"
            # pgloader reads only base tables unless told to materialize a view.
            "  MATERIALIZE VIEWS 'dbo'.'vwZSDOrder_Advanced'\n"
            "  INCLUDING ONLY TABLE NAMES LIKE 'vwZSDOrder_Advanced' IN SCHEMA 'dbo'\n"
            "  ALTER SCHEMA 'dbo' RENAME TO 'pgloader';\n"
        )
        # pgloader decodes text as UTF-8; FreeTDS's default client charset is ISO-8859-1.
        freetds_conf = workdir / "freetds.conf"
        freetds_conf.write_text("[global]\n\ttds version = 7.4\n\tclient charset = UTF-8\n")
        env = dict(os.environ, TDSVER="7.4", FREETDSCONF=str(freetds_conf))
        lsn = measure.wal_lsn(dsn)
        try:
            process = measure.run_measured(
                [binary, "--root-dir", str(workdir / "log"), str(load_file)],
                env,
                str(workdir),
                # A full reload like GenericTransfer's: the same cap, recorded as a timeout.
                self.session.reload_timeout,
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        rows = measure.row_count(dsn, "pgloader.vwzsdorder_advanced")
        output = _redact(process.stdout + process.stderr, self.mssql.password)
        errors = [line for line in output.splitlines() if " ERROR " in line or "FATAL" in line]
        measurement = Measurement(
            size,
            "pgloader",
            "first load",
            ok=not errors and rows == size,
            seconds=process.wall_seconds,
            wall_seconds=process.wall_seconds,
            rows=rows,
            rows_in_table=rows,
            peak_rss_mb=process.peak_rss_mb,
            wal_bytes=measure.wal_bytes_since(dsn, lsn),
            source_cache="cold",  # its own query, run once
            load_before=process.load_before,
            load_after=process.load_after,
        )
        if not measurement.ok:
            measurement.error = "\n".join(errors[-5:] or [process.tail()])
            self.pgloader_failure = measurement.error
        return measurement

    def _run_dags_test(self) -> None:
        from devtools.stack import EmbeddedStack, airflow_bin

        log.info("starting the embedded stack for airflow dags test (%d rows)", DAGS_TEST_ROWS)
        with EmbeddedStack(seed_rows=DAGS_TEST_ROWS) as stack:
            for run in ("first load", "re-sync"):
                lsn = measure.wal_lsn(stack.orders_dsn)
                before = measure.rows_written(stack.orders_dsn, LIVE_TABLE)
                process = measure.run_measured(
                    [airflow_bin(), "dags", "test", "sync_open_orders"],
                    stack.env(),
                    str(REPO_ROOT),
                    self.session.timeout,
                )
                ok = process.returncode == 0 and "state=success" in process.stdout + process.stderr
                rows = measure.row_count(stack.orders_dsn, LIVE_TABLE)
                self._record(
                    Measurement(
                        DAGS_TEST_ROWS,
                        "airflow_dags_test",
                        run,
                        ok and rows == DAGS_TEST_ROWS,
                        seconds=process.wall_seconds,
                        wall_seconds=process.wall_seconds,
                        rows=rows,
                        rows_in_table=rows,
                        peak_rss_mb=process.peak_rss_mb,
                        rows_written=measure.rows_written(stack.orders_dsn, LIVE_TABLE) - before,
                        wal_bytes=measure.wal_bytes_since(stack.orders_dsn, lsn),
                        source_cache="cold" if run == "first load" else "warm",
                        load_before=process.load_before,
                        load_after=process.load_after,
                        note="whole CLI process: interpreter, Airflow start-up, DAG parse, three tasks",
                        error="" if ok else _redact(process.tail(), stack.password),
                    )
                )

    # -- what the report says about the machine -----------------------------------------------------
    def _environment(self) -> dict:
        with psycopg.connect(self.postgres.dsn("postgres"), autocommit=True) as conn:
            server_version = conn.execute("SHOW server_version").fetchone()[0]
            tds_fdw = conn.execute(
                "SELECT default_version FROM pg_available_extensions WHERE name = 'tds_fdw'"
            ).fetchone()
        found = environment(server_version)
        found["tds_fdw"] = tds_fdw[0] if tds_fdw else "not installed"
        found.update(contenders_env.pinned_versions())
        found["emulator result cache"] = f"{self.cache_mb:,} MiB"
        return found


# Where each tool writes (dlt: its dataset is the schema).
TOOL_TABLES = {"ingestr": "bench.ingestr", "sling": "bench.sling", "dlt": "bench_dlt.orders"}
# Which warm-up worker runs the same source query as each contender: the CSV-line query
# (fetch_only_lines) or the column-by-column one (fetch_only). Contenders not listed run their own.
_READS = {
    "sync": "fetch_only_lines",
    "sync_1pct_changed": "fetch_only_lines",
    "sync_columns": "fetch_only",
    "fetch_only_lines": "fetch_only_lines",
    "copy_only_lines": "fetch_only_lines",
    "fetch_only": "fetch_only",
    "fetch_only_fetchmany": "fetch_only",
    "copy_only": "fetch_only",
    "generic_transfer": "fetch_only",
    "seed_delete_insert": "fetch_only",
}


def cache_mb_for(largest_size: int) -> int:
    """The emulator's result cache for a session whose largest size is ``largest_size`` rows."""
    return max(MIN_CACHE_MB, -(-largest_size * CACHE_BYTES_PER_ROW // 2**20))


def _check_rows(measurement: Measurement, size: int) -> None:
    """A run that left the wrong number of rows in its table failed, whatever its exit code."""
    if measurement.ok and measurement.rows_in_table != size:
        measurement.ok = False
        measurement.error = f"table holds {measurement.rows_in_table} rows, not {size}"


def _view_shaped_table(table: str) -> str:
    """DDL of a table with the view's columns in their raw PostgreSQL types (no key, no conversions)."""
    from include.table_sync.conversions import raw_type
    from include.table_sync.mapping import load_mapping

    mapping = load_mapping(REPO_ROOT / "include" / "mappings" / "open_orders.yaml")
    columns = ", ".join(f'"{c.source}" {raw_type(c.source_type)}' for c in mapping.columns)
    return f"CREATE TABLE {table} ({columns})"


@contextlib.contextmanager
def _reader(dsn: str):
    """A reader process querying the live table while the block runs; ``.result`` after."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.reader", dsn],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )

    class Reading:
        result: dict | None = None

    reading = Reading()
    try:
        yield reading
    finally:
        out, _ = process.communicate(input="", timeout=60)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        reading.result = json.loads(lines[-1]) if lines else None


def _redact(text: str, password: str) -> str:
    return text.replace(password, "***") if password else text


def ensure_pgloader() -> str:
    """The pgloader binary; installs Debian's package when missing (bench only, needs root)."""
    found = shutil.which("pgloader")
    if found:
        return found
    log.info("installing Debian's pgloader for the bench")
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "pgloader"],
        check=True,
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        capture_output=True,
    )
    return shutil.which("pgloader") or "pgloader"


def environment(postgres_version: str) -> dict:
    """The machine and the versions of everything measured."""
    from importlib import metadata

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pgloader = "not installed"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        pgloader = subprocess.run(
            ["pgloader", "--version"], capture_output=True, text=True, timeout=30
        ).stdout
        pgloader = " ".join(pgloader.split())
    freetds = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        output = subprocess.run(["tsql", "-C"], capture_output=True, text=True, timeout=30).stdout
        freetds = next(
            (line.split(":", 1)[1].strip() for line in output.splitlines() if "Version" in line), freetds
        )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "kernel": os.uname().release,
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "python": sys.version.split()[0],
        "postgresql": postgres_version,
        "pymssql": version("pymssql"),
        "freetds": freetds,
        "psycopg": version("psycopg"),
        "apache-airflow": version("apache-airflow"),
        "apache-airflow-providers-common-sql": version("apache-airflow-providers-common-sql"),
        "pgloader": pgloader,
        "duckdb (emulator)": version("duckdb"),
        "started_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def run_session(
    sizes: Iterable[int],
    contenders: Iterable[str],
    timeout: float,
    reload_timeout: float = 600.0,
    row_by_row_max_rows: int | None = None,
) -> Session:
    session = Session(
        tuple(sizes), tuple(contenders), timeout, reload_timeout, row_by_row_max_rows=row_by_row_max_rows
    )
    return Bench(session).run()
