"""Measuring a contender from the outside: its process's peak RSS, and what it wrote to PostgreSQL.

The machine's 1-minute load average is read as each process starts and ends: the machine is
shared, and a figure taken under load says so. Peak RSS is the child's ``VmHWM`` (the high-water mark of its own address space). Not
``wait4``'s ``ru_maxrss``: Linux carries the parent's high-water mark into a forked child
across exec, so every child of the harness would report at least the harness's size. Python
workers read their own ``VmHWM`` as they finish; other programs are sampled every 50 ms (the
mark never goes down, so only growth in the last 50 ms could be missed). Rows written come
from ``pg_stat_user_tables`` of the table the contender fills; WAL from the LSN difference.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

import psycopg


@dataclass
class ProcessRun:
    returncode: int | None
    wall_seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    timed_out: bool = False
    load_before: float | None = None  # the machine's 1-minute load average as it started
    load_after: float | None = None

    def result(self) -> dict:
        """The last JSON line the process printed (a worker's own figures), or {}."""
        for line in reversed(self.stdout.splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        return {}

    def tail(self, lines: int = 15) -> str:
        return "\n".join((self.stdout + "\n" + self.stderr).strip().splitlines()[-lines:])


def run_measured(command: list[str], env: dict[str, str], cwd: str, timeout: float) -> ProcessRun:
    """Run ``command`` to completion; output goes to files, so a chatty child never blocks on a pipe."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        timed_out = False
        peak_kib = 0
        while True:
            peak_kib = max(peak_kib, high_water_kib(process.pid))
            pid, status, _usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                timed_out = True
                os.killpg(process.pid, signal.SIGKILL)
                pid, status, _usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ProcessRun(
            returncode=process.returncode,
            wall_seconds=wall,
            peak_rss_mb=peak_kib / 1024,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            timed_out=timed_out,
            load_before=round(load_before, 2),
            load_after=round(os.getloadavg()[0], 2),
        )


def high_water_kib(pid: int | str = "self") -> int:
    """``VmHWM`` of a process in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wal_lsn(dsn: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]


def wal_bytes_since(dsn: str, lsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return int(
            conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", (lsn,)).fetchone()[0]
        )


def rows_written(dsn: str, table: str) -> int:
    """Inserted + updated + deleted tuples of ``table`` so far (0 if it does not exist yet).

    The writer's backend reports its counts when it ends; poll until two reads agree.
    """
    schema, name = table.split(".")
    query = (
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables "
        "WHERE schemaname = %s AND relname = %s"
    )
    previous = None
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(20):
            conn.execute("SELECT pg_stat_clear_snapshot()")
            value = int(conn.execute(query, (schema, name)).fetchone()[0])
            if value == previous:
                return value
            previous = value
            time.sleep(0.25)
    return previous or 0


def row_count(dsn: str, table: str) -> int | None:
    schema, name = table.split(".")
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{name}"',)).fetchone()[0] is None:
            return None
        return conn.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
