"""A session's SQL Server transaction on one DuckDB connection of its own.

SQL Server's transaction statements
(https://learn.microsoft.com/en-us/sql/t-sql/language-elements/transactions-transact-sql):
BEGIN TRANSACTION counts up ``@@TRANCOUNT``, COMMIT counts down and commits at zero, ROLLBACK
(without a savepoint name) undoes everything and sets it to zero, SAVE TRANSACTION marks a
point ROLLBACK TRANSACTION <name> returns to.

How that maps onto DuckDB's MVCC (one write snapshot per DuckDB connection):

- The DuckDB transaction starts at the SQL Server transaction's first write or DDL, on a
  DuckDB cursor the session keeps until it ends. Until then the session reads the latest
  committed data, as READ COMMITTED SNAPSHOT does; from the first write on it reads its own
  snapshot plus its own changes, as SNAPSHOT isolation does (whose snapshot SQL Server takes
  at the first data access). Other sessions never see uncommitted rows or tables.
- DuckDB gives up a whole transaction at any error, and has no savepoints. SQL Server (with
  XACT_ABORT OFF) undoes only the failing statement, and can return to a savepoint. So the
  writes of the transaction are logged and, after an error or for ROLLBACK TRANSACTION
  <savepoint>, replayed on a fresh DuckDB transaction up to the point wanted. Replayed
  statements run again: GETDATE() or NEWID() in them get new values, IDENTITY numbers move on.
- The emulator's own catalog (catalog.py) changes with DDL; each change logs how to undo it.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable

import duckdb

from devtools.mssql_emulator.results import SqlServerError

# Statements DuckDB runs to read only: never logged for replay.
_READS = ("SELECT", "WITH", "(", "DESCRIBE", "PRAGMA")
# A bulk INSERT reads a staged CSV file that is gone once it returns (bulk_insert.py): its
# replay needs the file's bytes.
_STAGED_FILE = re.compile(r"read_csv\('([^']+)'")


class TransactionCursor:
    """A DuckDB cursor inside one transaction that logs its writes, so they can be replayed."""

    def __init__(self, cursor):
        self._cursor = cursor
        self.redo: list[tuple[str, str, object]] = []  # (method, sql, parameters)
        self._cursor.execute("BEGIN TRANSACTION")

    def execute(self, sql: str, parameters=None):
        result = self._run("execute", sql, parameters)
        if not sql.lstrip().upper().startswith(_READS):
            staged = _STAGED_FILE.search(sql)
            if staged:
                with open(staged.group(1), "rb") as source:
                    self.redo.append(("staged", sql, (staged.group(1), source.read())))
            else:
                self.redo.append(("execute", sql, parameters))
        return result

    def executemany(self, sql: str, parameters):
        result = self._run("executemany", sql, parameters)
        self.redo.append(("executemany", sql, parameters))
        return result

    def _run(self, method: str, sql: str, parameters):
        call = getattr(self._cursor, method)
        try:
            return call(sql) if parameters is None else call(sql, parameters)
        except duckdb.TransactionException as error:
            if "Current transaction is aborted" not in str(error):
                raise transaction_error(error) from None
        # An earlier statement failed (a row stream, say): its statement alone is undone.
        self.replay(len(self.redo))
        return call(sql) if parameters is None else call(sql, parameters)

    def replay(self, upto: int) -> None:
        """A fresh DuckDB transaction holding the first ``upto`` logged writes."""
        self._cursor.execute("ROLLBACK")
        self._cursor.execute("BEGIN TRANSACTION")
        kept, self.redo = self.redo[:upto], []
        for method, sql, parameters in kept:
            if method == "staged":
                _run_staged(self._cursor, sql, *parameters)
            else:
                call = getattr(self._cursor, method)
                call(sql) if parameters is None else call(sql, parameters)
            self.redo.append((method, sql, parameters))

    def commit(self) -> None:
        try:
            self._cursor.execute("COMMIT")
        except duckdb.TransactionException as error:
            if "Current transaction is aborted" not in str(error):
                raise transaction_error(error) from None
            self.replay(len(self.redo))
            self._cursor.execute("COMMIT")
        finally:
            self._cursor.close()

    def rollback(self) -> None:
        try:
            self._cursor.execute("ROLLBACK")
        finally:
            self._cursor.close()

    def close(self) -> None:
        """Streams end by closing their cursor; this one lives until COMMIT or ROLLBACK."""

    def __getattr__(self, name):
        return getattr(self._cursor, name)


def _run_staged(cursor, sql: str, path: str, data: bytes) -> None:
    directory, suffix = os.path.split(path)[0], os.path.splitext(path)[1]
    with tempfile.NamedTemporaryFile("wb", suffix=suffix, dir=directory) as stage:
        stage.write(data)
        stage.flush()
        cursor.execute(sql.replace(path, stage.name))


def transaction_error(error: duckdb.TransactionException) -> SqlServerError:
    text = str(error)
    if "Conflict" in text:
        # https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/mssqlserver-3960-database-engine-error
        return SqlServerError(
            3960,
            "Snapshot isolation transaction aborted due to update conflict. You cannot use snapshot "
            "isolation to access table directly or indirectly in database to update, delete, or "
            "insert the row that has been modified or deleted by another transaction. Retry the "
            "transaction or change the isolation level for the update/delete statement.",
        )
    if "single transaction can only" in text:
        return SqlServerError(
            40517, "A transaction that writes to more than one database is not supported by the emulator."
        )
    return SqlServerError(40517, "Something in this transaction is not supported by the emulator.")


class Transaction:
    """One SQL Server transaction: its count, savepoints, DuckDB cursor and catalog undo log."""

    def __init__(self):
        self.trancount = 0
        self.cursor: TransactionCursor | None = None  # from the first write on
        self.undo: list[Callable[[], None]] = []
        self.savepoints: list[tuple[str, int, int]] = []  # (name, redo length, undo length)

    @property
    def active(self) -> bool:
        return self.trancount > 0

    def writing_cursor(self, new_cursor: Callable[[], object]) -> TransactionCursor:
        if self.cursor is None:
            self.cursor = TransactionCursor(new_cursor())
        return self.cursor

    def save(self, name: str) -> None:
        self.savepoints.append((name.lower(), len(self.cursor.redo) if self.cursor else 0, len(self.undo)))

    def rollback_to(self, name: str) -> bool:
        """Undo back to the newest savepoint ``name``; False if there is none."""
        for index in range(len(self.savepoints) - 1, -1, -1):
            saved, redo_length, undo_length = self.savepoints[index]
            if saved == name.lower():
                del self.savepoints[index + 1 :]
                self.undo_catalog(undo_length)
                if self.cursor is not None:
                    self.cursor.replay(redo_length)
                return True
        return False

    def end(self, commit: bool) -> None:
        cursor, self.cursor = self.cursor, None
        try:
            if cursor is not None:
                cursor.commit() if commit else cursor.rollback()
        except SqlServerError:
            self.undo_catalog(0)
            raise
        finally:
            if not commit:
                self.undo_catalog(0)
            self.trancount = 0
            self.undo = []
            self.savepoints = []

    def undo_catalog(self, keep: int) -> None:
        while len(self.undo) > keep:
            self.undo.pop()()
