"""Create the demo source objects and fill them with deterministic SAP open-order data.

    MSSQL_PASSWORD=... python -m devtools.demo_source.generate --rows 5000 --seed 1 \\
        [--server 127.0.0.1 --port 1433 --user demo --database ProcessStatus]

Works the same against the project's emulator and a real SQL Server: it only sends the
T-SQL script (split on GO lines, as sqlcmd does) and plain multi-row INSERT statements.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import random
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from devtools.demo_source.rows import (
    BASE_COLUMNS,
    EXTRACT_DATE,
    FIRST_DOCUMENT,
    build_row,
    generate_rows,
)
from include.table_sync.transfer import read_ahead

log = logging.getLogger(__name__)

SCRIPT_PATH = Path(__file__).with_name("create_source.sql")
BASE_TABLE = "dbo.ZSDOrderItem"
VIEW = "dbo.vwZSDOrder_Advanced"
# SQL Server accepts at most 1,000 row value expressions in one INSERT ... VALUES.
ROWS_PER_INSERT = 1000
INSERTS_PER_COMMIT = 10
CHANGE_STATEMENTS_PER_BATCH = 500


# --- SQL text --------------------------------------------------------------------------------


def script_batches(script: str | None = None) -> list[str]:
    """The batches of the creation script, split on GO lines the way sqlcmd splits them."""
    text = SCRIPT_PATH.read_text(encoding="utf-8") if script is None else script
    batches = re.split(r"^[ \t]*GO[ \t]*$", text, flags=re.IGNORECASE | re.MULTILINE)
    return [batch.strip() for batch in batches if _code_of(batch)]


def _code_of(batch: str) -> str:
    """The batch without comment lines and blank lines."""
    lines = (line for line in batch.splitlines() if not line.strip().startswith("--"))
    return "\n".join(line for line in lines if line.strip())


def sql_literal(value) -> str:
    """A T-SQL literal that SQL Server converts exactly into the target column's type."""
    if value is None:
        return "NULL"
    kind = type(value)
    if kind is str:
        return "N'" + value.replace("'", "''") + "'"
    if kind is Decimal:
        return format(value, "f")
    if kind is int:
        return str(value)
    if kind is bool:
        return "1" if value else "0"
    if kind is dt.datetime:
        # ISO 8601 with the T is read the same under every SET LANGUAGE / DATEFORMAT.
        return "'" + value.isoformat(timespec="milliseconds") + "'"
    if kind is dt.date:
        return "'" + value.isoformat() + "'"
    raise TypeError(f"no T-SQL literal for {kind.__name__}")


def insert_statements(
    rows: Iterable[tuple],
    table: str = BASE_TABLE,
    columns: tuple[str, ...] = BASE_COLUMNS,
    rows_per_statement: int = ROWS_PER_INSERT,
) -> Iterator[tuple[str, int]]:
    """(INSERT ... VALUES statement, row count) for up to ``rows_per_statement`` rows each."""
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES\n"
    values: list[str] = []
    for row in rows:
        # No spaces: a million rows are ~650 MB of SQL text, and the server scans all of it.
        values.append("(" + ",".join([sql_literal(value) for value in row]) + ")")
        if len(values) == rows_per_statement:
            yield head + ",\n".join(values), len(values)
            values = []
    if values:
        yield head + ",\n".join(values), len(values)


def _key_condition(key: tuple[str, str]) -> str:
    return f"SalesDocument = {sql_literal(key[0])} AND SalesDocumentItem = {sql_literal(key[1])}"


# --- database steps --------------------------------------------------------------------------


def create_source(conn) -> None:
    """(Re)create the base table and the view in the connection's current database.

    The script's ``USE ProcessStatus`` is for sqlcmd/SSMS; here the connection already points
    at the chosen database, so USE batches are skipped.
    """
    cursor = conn.cursor()
    for batch in script_batches():
        if re.fullmatch(r"USE\s+\[?\w+\]?\s*;?", _code_of(batch), flags=re.IGNORECASE):
            continue
        cursor.execute(batch)
    conn.commit()


def seed_source(conn, rows: int, seed: int, start: int = 0) -> int:
    """Insert ``rows`` generated rows; commits every INSERTS_PER_COMMIT statements.

    Expects autocommit off (pymssql's default), so each group of statements is one
    transaction. Logs progress in rows/s and, at the end, where the time went: waiting for
    the server (execute + commit) or waiting for the builder thread's next INSERT.
    """
    progress = _SeedProgress(rows)
    cursor = conn.cursor()
    pending = 0
    # Generating and formatting 1,000 rows costs half as much CPU as the emulator spends storing
    # them; pymssql releases the GIL while it waits for the server, so with two cores a thread
    # building the next statements is hidden behind the server's work.
    statements = read_ahead(
        insert_statements(generate_rows(rows, seed, start)), depth=4, name="demo-source-builder"
    )
    while (built := progress.timed_build(next, statements, None)) is not None:
        statement, count = built
        progress.timed_server(cursor.execute, statement)
        pending += 1
        if pending == INSERTS_PER_COMMIT:
            progress.timed_server(conn.commit)
            pending = 0
        progress.rows_done(count)
    progress.timed_server(conn.commit)
    progress.finish()
    return progress.inserted


class _SeedProgress:
    """Counts rows and the seconds spent waiting on the server and on the row builder."""

    LOG_EVERY_SECONDS = 5.0

    def __init__(self, total: int):
        self.total = total
        self.inserted = 0
        self.server_seconds = self.build_seconds = 0.0
        self.started = self.last_log = time.perf_counter()

    def timed_server(self, call, *args):
        begin = time.perf_counter()
        result = call(*args)
        self.server_seconds += time.perf_counter() - begin
        return result

    def timed_build(self, call, *args):
        begin = time.perf_counter()
        result = call(*args)
        self.build_seconds += time.perf_counter() - begin
        return result

    def rows_done(self, count: int) -> None:
        self.inserted += count
        now = time.perf_counter()
        if now - self.last_log >= self.LOG_EVERY_SECONDS:
            self.last_log = now
            self._log()

    def finish(self) -> None:
        self._log()
        log.info(
            "of which %.1f s waiting for the server, %.1f s waiting for rows to be built",
            self.server_seconds,
            self.build_seconds,
        )

    def _log(self) -> None:
        elapsed = time.perf_counter() - self.started
        rate = self.inserted / elapsed if elapsed else 0.0
        log.info("seeded %d/%d rows in %.1f s (%.0f rows/s)", self.inserted, self.total, elapsed, rate)


@dataclass(frozen=True)
class ChangeSet:
    """The keys ``apply_changes`` touched, sorted, and the rows it inserted."""

    inserted: list[tuple[str, str]]
    updated: list[tuple[str, str]]
    deleted: list[tuple[str, str]]
    inserted_rows: list[tuple]


def apply_changes(conn, seed: int, inserts: int = 0, updates: int = 0, deletes: int = 0) -> ChangeSet:
    """Mutate the source like a day in SAP: new items, changed items, items gone. One commit.

    Updated and deleted keys are drawn (by ``seed``) from the keys present now; inserted rows
    get document numbers above the highest one present, so they never collide. Every updated
    row gets a LastChangedAt after the demo's extract date, so it always differs from before.
    """
    cursor = conn.cursor()
    cursor.execute(
        f"SELECT DISTINCT SalesDocument, SalesDocumentItem FROM {BASE_TABLE} "
        "WHERE SalesDocument IS NOT NULL AND SalesDocumentItem IS NOT NULL"
    )
    existing = sorted({(document, item) for document, item in cursor.fetchall()})
    if updates + deletes > len(existing):
        raise ValueError(
            f"{updates} updates + {deletes} deletes, but the source has only {len(existing)} keys"
        )
    rng = random.Random(f"{seed}:changes")
    touched = rng.sample(existing, updates + deletes)
    deleted, updated = sorted(touched[:deletes]), sorted(touched[deletes:])

    numeric_documents = [int(document) for document, _ in existing if document.isdigit()]
    next_document = max(numeric_documents, default=FIRST_DOCUMENT - 1) + 1
    inserted_rows = []
    for index in range(inserts):
        # Three items per new document: new orders, not stray items added to old ones.
        document = f"{next_document + index // 3:010d}"
        item = f"{(index % 3 + 1) * 10:06d}"
        inserted_rows.append(build_row(seed, index, document, item))

    statements = [f"DELETE FROM {BASE_TABLE} WHERE {_key_condition(key)}" for key in deleted]
    statements += [_update_statement(seed, key) for key in updated]
    for first in range(0, len(statements), CHANGE_STATEMENTS_PER_BATCH):
        cursor.execute(";\n".join(statements[first : first + CHANGE_STATEMENTS_PER_BATCH]))
    for statement, _ in insert_statements(inserted_rows):
        cursor.execute(statement)
    conn.commit()
    return ChangeSet(
        inserted=[(row[0], row[1]) for row in inserted_rows],
        updated=updated,
        deleted=deleted,
        inserted_rows=inserted_rows,
    )


def _update_statement(seed: int, key: tuple[str, str]) -> str:
    """What a change in SAP typically touches: delivery progress, blocks, status, timestamps."""
    rng = random.Random(f"{seed}:update:{key[0]}:{key[1]}")
    changed_day = EXTRACT_DATE + dt.timedelta(days=1 + int(rng.random() * 3))
    changed_at = (
        f"{changed_day.isoformat()} {rng.randrange(24):02d}:{rng.randrange(60):02d}:"
        f"{rng.randrange(60):02d}.{rng.randrange(10_000_000):07d}"
    )
    assignments = {
        "OpenQuantity": Decimal(rng.randrange(-1_000, 1_000_000)).scaleb(-3),
        "DeliveryBlock": rng.choice(("", "01", "Z1")),
        "OverallStatus": rng.choice(("A", "B", "C")),
        "LastChangedOn": changed_day.strftime("%Y%m%d"),
        "LastChangedAt": changed_at,
    }
    settings = ", ".join(f"{column} = {sql_literal(value)}" for column, value in assignments.items())
    return f"UPDATE {BASE_TABLE} SET {settings} WHERE {_key_condition(key)}"


# --- command line ----------------------------------------------------------------------------


def connect(server: str, port: int, user: str, password: str, database: str):
    """A pymssql connection (FreeTDS, TDS 7.4) with autocommit off."""
    import pymssql  # only the command line needs the driver; the row builders stay pure

    return pymssql.connect(
        server=server,
        port=port,
        user=user,
        password=password,
        database=database,
        tds_version="7.4",
        autocommit=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="rows to generate")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same rows")
    parser.add_argument("--server", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1433)
    parser.add_argument("--user", default="demo")
    parser.add_argument("--database", default="ProcessStatus")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    password = os.environ.get("MSSQL_PASSWORD")
    if not password:
        parser.error("set MSSQL_PASSWORD to the SQL Server login's password")
    conn = connect(args.server, args.port, args.user, password, args.database)
    try:
        create_source(conn)
        log.info("created %s and %s in %s", BASE_TABLE, VIEW, args.database)
        seed_source(conn, args.rows, args.seed)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
