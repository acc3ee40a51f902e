"""Debian's pgloader (FreeTDS inside) loads the demo view from the emulator into PostgreSQL.

pgloader's MS SQL source reads the catalog with COLUMNPROPERTY, OBJECT_ID and the sys.* and
INFORMATION_SCHEMA views, then SELECTs the rows; this is the end-to-end proof that the emulator
answers all of it. Two things the load needs that are pgloader's and FreeTDS's, not the emulator's:
MATERIALIZE VIEWS (pgloader otherwise only loads BASE TABLEs, and the source is a view, as on
the real server) and FreeTDS's ``client charset = UTF-8`` (pgloader decodes text as UTF-8;
FreeTDS's default client charset is ISO-8859-1, and pgloader 3.6.x crashes on the first
non-ASCII name).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess

import psycopg
import pymssql
import pytest

from devtools.demo_source.generate import create_source, seed_source

DATABASE = "PgloaderSource"
ROWS = 300


def load_command(emulator, postgres, target_db: str) -> str:
    return (
        "LOAD DATABASE\n"
        f"  FROM mssql://{emulator.user}:{emulator.password}@{emulator.host}:{emulator.port}/{DATABASE}\n"
        f"  INTO postgresql://{postgres.user}:{postgres.password}@{postgres.host}:{postgres.port}/{target_db}\n"
        "  WITH include drop, create tables, workers = 2, concurrency = 1\n"
        "  MATERIALIZE VIEWS 'dbo'.'vwZSDOrder_Advanced'\n"
        "  INCLUDING ONLY TABLE NAMES LIKE 'vwZSDOrder_Advanced' IN SCHEMA 'dbo'\n"
        "  ALTER SCHEMA 'dbo' RENAME TO 'pgloader';\n"
    )


@pytest.fixture(scope="module")
def source(mssql):
    """A database of its own in the session emulator, holding the seeded demo view."""
    kwargs = mssql.connect_kwargs(login_timeout=10, timeout=120)
    with contextlib.closing(pymssql.connect(**{**kwargs, "autocommit": True})) as conn:
        conn.cursor().execute(f"IF DB_ID('{DATABASE}') IS NULL CREATE DATABASE {DATABASE}")
    with contextlib.closing(pymssql.connect(**{**kwargs, "database": DATABASE})) as conn:
        create_source(conn)
        seed_source(conn, ROWS, seed=3)
        conn.commit()
        cursor = conn.cursor()
        cursor.execute(
            "SELECT SalesDocument, SalesDocumentItem, SoldToName, ShipToCity FROM dbo.vwZSDOrder_Advanced"
        )
        yield sorted(cursor.fetchall())


def test_pgloader_loads_every_row_of_the_view(source, mssql, postgres, orders_db, tmp_path):
    binary = shutil.which("pgloader")
    assert binary, "Debian's pgloader is not installed (apt-get install pgloader)"
    freetds_conf = tmp_path / "freetds.conf"
    freetds_conf.write_text("[global]\n\ttds version = 7.4\n\tclient charset = UTF-8\n")
    command = tmp_path / "view.load"
    command.write_text(load_command(mssql, postgres, orders_db.split("dbname=")[1].split()[0]))
    process = subprocess.run(
        [binary, "--root-dir", str(tmp_path / "log"), str(command)],
        env=dict(os.environ, FREETDSCONF=str(freetds_conf)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-3000:]
    assert not [line for line in output.splitlines() if " ERROR " in line or "FATAL" in line]
    with psycopg.connect(orders_db) as conn:
        loaded = conn.execute(
            "SELECT salesdocument, salesdocumentitem, soldtoname, shiptocity FROM pgloader.vwzsdorder_advanced"
        ).fetchall()
        columns = conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'pgloader'"
        ).fetchone()[0]
    assert len(loaded) == ROWS
    assert columns == 67
    assert sorted(loaded) == source  # text, including non-ASCII names, arrives unchanged
    assert any(not name.isascii() for _, _, name, _ in source if name), "seed has no non-ASCII name"
