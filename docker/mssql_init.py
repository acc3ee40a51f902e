"""Prepare the compose stack's SQL Server for the demo source.

Runs once in the mssql-init container, after SQL Server reports healthy:

1. as ``sa``: create the ``ProcessStatus`` database and the demo login that Airflow's
   ``mssql_sap`` connection uses (owner of that database, because the generator recreates
   the source objects);
2. as the demo login: run ``devtools/demo_source/create_source.sql`` batch by batch.

The data generator (``python -m devtools.demo_source.generate``) fills the table afterwards.
Every step is idempotent, so a restart on an existing volume changes nothing but the demo
login's password, which follows ``.env``.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pymssql

DATABASE = "ProcessStatus"
DEFAULT_SCRIPT = Path(__file__).resolve().parent.parent / "devtools/demo_source/create_source.sql"

# sqlcmd's batch separator: GO alone on its line (a trailing comment allowed). It is a client
# convention, never sent to the server, so a script runner has to split on it.
_GO_LINE = re.compile(r"^[ \t]*GO[ \t]*(?:--[^\n]*)?$", re.IGNORECASE | re.MULTILINE)

ENSURE_DATABASE = f"IF DB_ID(N'{DATABASE}') IS NULL CREATE DATABASE {DATABASE};"

# DDL takes no parameters, so the statement is built on the server: QUOTENAME quotes the
# name and the password, pymssql quotes the values bound to the variables. CHECK_POLICY is
# off because the sample password (demo-password) is weaker than SQL Server's policy; a
# real server's login belongs to its DBA, not to this script.
ENSURE_LOGIN = f"""
DECLARE @login sysname = %(login)s, @password nvarchar(128) = %(password)s;
DECLARE @sql nvarchar(max) =
    CASE WHEN SUSER_ID(@login) IS NULL THEN N'CREATE LOGIN ' ELSE N'ALTER LOGIN ' END
    + QUOTENAME(@login) + N' WITH PASSWORD = ' + QUOTENAME(@password, N'''')
    + N', CHECK_POLICY = OFF, DEFAULT_DATABASE = {DATABASE}';
EXEC (@sql);
"""

ENSURE_DATABASE_OWNER = """
DECLARE @login sysname = %(login)s;
DECLARE @sql nvarchar(max) = N'';
IF DATABASE_PRINCIPAL_ID(@login) IS NULL
    SET @sql = N'CREATE USER ' + QUOTENAME(@login) + N' FOR LOGIN ' + QUOTENAME(@login) + N'; ';
SET @sql = @sql + N'ALTER ROLE db_owner ADD MEMBER ' + QUOTENAME(@login) + N';';
EXEC (@sql);
"""

log = logging.getLogger("mssql_init")


def split_batches(script: str) -> list[str]:
    """Split a T-SQL script at its GO lines into the batches sqlcmd would send."""
    return [batch.strip() for batch in _GO_LINE.split(script) if batch.strip()]


def _connect(host: str, port: int, user: str, password: str, database: str) -> pymssql.Connection:
    # Autocommit: CREATE DATABASE refuses to run inside a transaction.
    return pymssql.connect(
        server=host,
        port=str(port),
        user=user,
        password=password,
        database=database,
        tds_version="7.4",
        login_timeout=30,
        autocommit=True,
    )


def ensure_database_and_login(host: str, port: int, sa_password: str, login: str, password: str) -> None:
    """Create ProcessStatus and the demo login (as its db_owner) if they are missing."""
    with _connect(host, port, "sa", sa_password, "master") as conn:
        cursor = conn.cursor()
        cursor.execute(ENSURE_DATABASE)
        cursor.execute(ENSURE_LOGIN, {"login": login, "password": password})
    with _connect(host, port, "sa", sa_password, DATABASE) as conn:
        conn.cursor().execute(ENSURE_DATABASE_OWNER, {"login": login})
    log.info("database %s and login %s are ready", DATABASE, login)


def run_script(host: str, port: int, login: str, password: str, script: Path) -> int:
    """Run a T-SQL script against ProcessStatus, one GO batch at a time; return the batch count."""
    batches = split_batches(script.read_text(encoding="utf-8"))
    with _connect(host, port, login, password, DATABASE) as conn:
        cursor = conn.cursor()
        for batch in batches:
            cursor.execute(batch)
    log.info("ran %s (%d batches)", script.name, len(batches))
    return len(batches)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    host = os.environ.get("MSSQL_HOST", "mssql")
    port = int(os.environ.get("MSSQL_PORT", "1433"))
    login = os.environ.get("MSSQL_USER", "demo")
    password = os.environ["MSSQL_PASSWORD"]
    script = Path(os.environ.get("MSSQL_SOURCE_SCRIPT", DEFAULT_SCRIPT))
    ensure_database_and_login(host, port, os.environ["MSSQL_SA_PASSWORD"], login, password)
    run_script(host, port, login, password, script)


if __name__ == "__main__":
    main()
