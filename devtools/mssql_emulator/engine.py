"""The emulator's SQL engine: T-SQL batches in, typed SQL Server outcomes out, DuckDB underneath.

Every SQL Server database is an in-memory DuckDB catalog (``ATTACH ':memory:'``) inside one
DuckDB instance; SQL Server schemas are DuckDB schemas. Each query runs on its own DuckDB
cursor, so a long streaming SELECT never holds up another session. Writes and DDL take the
engine lock, because the catalog next to DuckDB must change together with it.

Transactions are real (``transactions.py``): a session's writes and DDL inside BEGIN TRAN ...
COMMIT run on a DuckDB cursor of its own, which other sessions' snapshots do not see.

Text compares under its collation (``collations.py``): the translator rewrites comparisons,
ORDER BY and string functions, each stored column declares the nearest DuckDB collation, and
DuckDB's default ``nocase`` covers what neither reaches.
nchar/char values are stored unpadded and padded to their declared width on the way out.
The engine keeps its per-connection state in ``session.options["__engine_state__"]``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator

import duckdb
from sqlglot import exp

from devtools.mssql_emulator import (
    app_locks,
    batch,
    collations,
    dm_exec_sessions,
    errors,
    procedures,
    sqltypes,
    system_views,
    textsize,
    translate,
    waitfor,
)
from devtools.mssql_emulator.bulk_insert import MAX_VALUES_ROWS, insert_sql, too_many_rows, try_fast_insert
from devtools.mssql_emulator.catalog import INFO_SCHEMA, Catalog, TableDef, information_schema_rows
from devtools.mssql_emulator.plan_cache import Plan, PlanCache
from devtools.mssql_emulator.results import (
    Column,
    EnvChange,
    Outcome,
    ResultSet,
    RowCount,
    Session,
    SqlServerError,
    StatementDone,
)
from devtools.mssql_emulator.transactions import Transaction, transaction_error
from devtools.mssql_emulator.variables import BatchVariables

log = logging.getLogger(__name__)

DEFAULT_DATABASES = ("master", "tempdb", "model", "msdb", "ProcessStatus")
FETCH_CHUNK = 2048
_LOCK_POLL_SECONDS = 0.02  # how often a blocked writer tries again
_STATE_KEY = "__engine_state__"
_CREATE_TABLE = re.compile(r"\s*CREATE\s+TABLE\b", re.I)


class _SessionState:
    """What the engine remembers per connection: its transaction and last row count."""

    def __init__(self):
        self.transaction = Transaction()
        self.transaction_name = ""  # of the outermost BEGIN TRAN, which ROLLBACK TRAN may name
        self.rowcount = 0
        self.variables = BatchVariables()
        self.return_status = 0  # of the last procedure EXECuted

    @property
    def trancount(self) -> int:
        return self.transaction.trancount


class Engine:
    """One per server process; thread-safe. See the module docstring."""

    def __init__(self):
        # nocase: SQL Server's default collation (SQL_Latin1_General_CP1_CI_AS) compares and
        # sorts text case-insensitively. One thread: every session's statement runs on that
        # session's own thread anyway, and a worker pool only added CPU to the many small
        # statements (a 1,000-row INSERT costs a fifth more with two threads).
        self.db = duckdb.connect(":memory:", config={"threads": 1, "default_collation": "nocase"})
        self.catalog = Catalog()
        self.lock = self.catalog.lock
        self.plans = PlanCache()  # compiled SELECTs by text (plan_cache.py)
        # DDL and catalog upkeep run on their own cursor, always under the engine lock; queries
        # and writes each get a fresh cursor (DuckDB connections are not shared across threads).
        self._shared_ddl = self.db.cursor()
        self._cursor_lock = threading.Lock()
        # The transaction of the session whose statement runs on this thread (transactions.py).
        self._local = threading.local()
        # The live sessions by spid, for sys.dm_exec_sessions (added at their first batch).
        self._sessions: dict[int, Session] = {}
        # Rows of views that live outside DuckDB (dm_exec_connections.py registers its own),
        # by their empty table's name; see translate.Translator._append_live_rows.
        self.live_rows: dict[str, Callable[[], list[tuple]]] = {}
        self._created = datetime.datetime.now().replace(microsecond=0)  # sys.databases.create_date
        self._shared_ddl.execute(sqltypes.MACROS)
        self._shared_ddl.execute(translate.MACROS)
        collations.register_functions(self.db)
        for name in DEFAULT_DATABASES:
            self._create_database(name)

    # ---- public interface ----

    def database_exists(self, name: str) -> bool:
        return self.catalog.database(name) is not None

    def execute_batch(self, session: Session, sql: str) -> Iterator[Outcome]:
        """Run a batch statement by statement; raise SqlServerError at the failing one."""
        state = self._state(session)
        self._sessions[session.spid] = session
        self._local.session = session
        self._local.transaction = state.transaction
        state.variables = BatchVariables()
        try:
            fast = None
            # A statement that opens an implicit transaction takes the general path, which opens it.
            if not session.options.get("fmtonly") and not (
                session.options.get("implicit_transactions") and not self.in_transaction(session)
            ):
                fast = try_fast_insert(sql, lambda table: self._target(session, table)[0], self._write)
            if fast is not None:
                self._state(session).rowcount = fast
                yield StatementDone() if session.options.get("nocount") else RowCount(fast)
                return
            yield from self._run_all(session, batch.split(sql))
        except (SqlServerError, waitfor.Interrupted):
            raise
        except duckdb.Error as error:
            raise errors.from_duckdb(error) from None
        except Exception:  # an engine gap must reach the client as an error, not a traceback
            log.exception("spid %s: statement failed inside the engine", session.spid)
            raise errors.unsupported("Something in this batch") from None

    # ---- statement dispatch ----

    def _run_all(self, session: Session, statements: list) -> Iterator[Outcome]:
        for statement in statements:
            if isinstance(statement, batch.IfStatement):
                branch = (
                    statement.then if self._condition(session, statement.condition) else statement.otherwise
                )
                yield from self._run_all(session, branch)
            elif statement.text.strip():
                yield from self._run_text(session, statement.text)

    def _condition(self, session: Session, condition: str) -> bool:
        condition = self._state(session).variables.substitute(condition)
        query = translate.parse(f"SELECT CASE WHEN {condition} THEN 1 ELSE 0 END")[0]
        translation = self._translate_query(session, query)
        with self._cursor() as cursor:
            row = self._execute(cursor, translation.sql).fetchone()
        return bool(row and row[0])

    def _run_text(self, session: Session, text: str) -> Iterator[Outcome]:
        variables = self._state(session).variables
        kind = variables.run(
            text, lambda sql: self._evaluate(session, sql), lambda sql: self._exec_status(session, sql)
        )
        if kind is not None:
            if isinstance(kind, int):
                yield self._count(session, kind)
            elif kind != "declare":
                yield StatementDone()
            return
        text = variables.substitute(text)
        seconds = waitfor.delay_seconds(text)
        if seconds is not None:
            waitfor.wait(session.options, seconds)
            yield StatementDone()
            return
        handled = self._run_option(session, text)
        if handled is not None:
            yield from handled
            return
        transaction = self._state(session).transaction
        redo_mark = len(transaction.cursor.redo) if transaction.cursor else 0
        undo_mark = len(transaction.undo)
        try:
            yield from self._run_parsed(session, text)
        except (SqlServerError, duckdb.Error) as error:
            if transaction.active:
                self._statement_failed(session, transaction, redo_mark, undo_mark, error, text)
            raise

    def _evaluate(self, session: Session, sql: str) -> list[tuple]:
        """The rows of a query a variable statement runs to get its value."""
        rows: list[tuple] = []
        for outcome in self._run_text(session, sql):
            if isinstance(outcome, ResultSet):
                rows = list(outcome.rows)
        return rows

    def _exec_status(self, session: Session, sql: str) -> int:
        """EXEC @status = procedure ...: run it, its return status."""
        state = self._state(session)
        state.return_status = 0
        for _outcome in self._run_text(session, sql):
            pass
        return state.return_status

    def _statement_failed(
        self,
        session: Session,
        transaction: Transaction,
        redo_mark: int,
        undo_mark: int,
        error,
        text: str = "",
    ):
        """XACT_ABORT ON: "the entire transaction is terminated and rolled back"; OFF: "only the
        Transact-SQL statement that raised the error is rolled back"
        (https://learn.microsoft.com/en-us/sql/t-sql/statements/set-xact-abort-transact-sql).

        Some errors end the transaction whatever XACT_ABORT says: 3960 "Snapshot isolation
        transaction aborted" (its words), and 2714 from a CREATE TABLE of a name already taken.
        The second is not documented; two independent clients show it: python-tds' suite
        (tests/transaction_test.py, test_manual_commit, run against SQL Server in its CI) creates
        the same table again after the 2714 and expects that to work, in a new transaction; and a
        SqlClient user's migration (OrchardCMS/Orchard issue 955) got "The COMMIT TRANSACTION
        request has no corresponding BEGIN TRANSACTION" after creating a table that existed.
        """
        number = getattr(error, "number", None)
        ends_transaction = number == 3960 or (number == 2714 and _CREATE_TABLE.match(text) is not None)
        with self.lock:
            if session.options.get("xact_abort") or ends_transaction:
                transaction.end(commit=False)
            else:
                transaction.undo_catalog(undo_mark)
                cursor = transaction.cursor
                if cursor is not None and len(cursor.redo) > redo_mark:
                    cursor.replay(redo_mark)
            self.catalog.bump()

    def _run_parsed(self, session: Session, text: str) -> Iterator[Outcome]:
        key = self._plan_key(session, text)
        plan = self.plans.get(key) if key is not None else None
        if plan is not None:
            # Compiled from this very text, which then passed every check below.
            version = self.catalog.version
            with errors.for_statement(text):
                yield self._run_plan(session, plan, version)
            return
        refused = errors.unsupported_statement(text)
        if refused is not None:
            raise refused
        if procedures.is_system_procedure(text.split(None, 1)[0].strip("[]").removeprefix("sys.")):
            # "If the statement is the first one in a batch" EXECUTE may be left out
            # (https://learn.microsoft.com/en-us/sql/t-sql/language-elements/execute-transact-sql);
            # the emulator allows it for system procedures anywhere.
            text = f"EXEC {text}"
            key = None
        with errors.for_statement(text):
            statements = translate.parse(text)
            for statement in statements:
                yield from self._run_statement(
                    session, statement, text, key if len(statements) == 1 else None
                )

    def _run_option(self, session: Session, text: str):
        """SET options, transactions and PRINT: answered without sqlglot."""
        words = text.strip().rstrip(";").split()
        first = words[0].upper() if words else ""
        if first == "SET" and len(words) >= 2 and not words[1].startswith("@"):
            option = words[1].lower()
            value = " ".join(words[2:])
            if option == textsize.OPTION:
                session.options[option] = textsize.parse_set(value)
            else:
                session.options[option] = value.upper() == "ON" if value.upper() in ("ON", "OFF") else value
            if option == "language" and value:
                old, session.language = session.language, value.strip("'[]")
                return (
                    iter([EnvChange("language", old, session.language)])
                    if old != session.language
                    else iter([StatementDone()])
                )
            return iter([StatementDone()])
        if first in ("BEGIN", "COMMIT", "ROLLBACK", "SAVE") and (
            (len(words) == 1 and first != "BEGIN")
            or (len(words) > 1 and words[1].upper() in ("TRAN", "TRANSACTION", "WORK", "DISTRIBUTED"))
        ):
            if words[1:2] and words[1].upper() == "DISTRIBUTED":
                words = words[1:]
            name = words[2].strip("[]") if len(words) > 2 and words[2].upper() != "WITH" else ""
            return iter(self._transaction_statement(session, first, name))
        if first == "PRINT":
            return iter([StatementDone()])
        return None

    def _transaction_statement(self, session: Session, verb: str, name: str) -> list[Outcome]:
        """BEGIN/COMMIT/ROLLBACK/SAVE TRANSACTION, with the EnvChange a client tracks them by.

        BEGIN TRANSACTION: "increments @@TRANCOUNT by 1"; COMMIT: "If @@TRANCOUNT is 1, COMMIT
        TRANSACTION makes all data modifications ... a permanent part of the database ...
        When @@TRANCOUNT is greater than 1, COMMIT TRANSACTION decrements @@TRANCOUNT only";
        ROLLBACK without a savepoint name "rolls back to the beginning of the transaction" and
        sets @@TRANCOUNT to 0; with one it "doesn't decrement @@TRANCOUNT"
        (https://learn.microsoft.com/en-us/sql/t-sql/language-elements/begin-transaction-transact-sql,
        .../commit-transaction-transact-sql, .../rollback-transaction-transact-sql,
        .../save-transaction-transact-sql). The server turns the EnvChanges into ENVCHANGE
        types 8, 9 and 10 (MS-TDS 2.2.7.9), sent when a transaction starts or ends.
        """
        state = self._state(session)
        transaction = state.transaction
        if verb == "BEGIN":
            transaction.trancount += 1
            if transaction.trancount == 1:
                state.transaction_name = name.lower()
                return [EnvChange("begin_transaction", "", "")]
            return [StatementDone()]
        if verb == "SAVE":
            if not transaction.active:
                raise SqlServerError(
                    628, "Cannot issue SAVE TRANSACTION when there is no active transaction."
                )
            transaction.save(name)
            return [StatementDone()]
        if not transaction.active:
            number = 3902 if verb == "COMMIT" else 3903
            raise SqlServerError(
                number, f"The {verb} TRANSACTION request has no corresponding BEGIN TRANSACTION."
            )
        if verb == "ROLLBACK" and name and name.lower() != state.transaction_name:
            with self.lock:
                found = transaction.rollback_to(name)
                self.catalog.bump()
            if not found:
                raise SqlServerError(
                    6401, f"Cannot roll back {name}. No transaction or savepoint of that name was found."
                )
            return [StatementDone()]
        if verb == "COMMIT" and transaction.trancount > 1:
            transaction.trancount -= 1
            return [StatementDone()]
        return [self._end_transaction(transaction, commit=verb == "COMMIT")]

    def _end_transaction(self, transaction: Transaction, commit: bool) -> Outcome:
        wrote = transaction.cursor is not None
        with self.lock:
            try:
                transaction.end(commit)
            finally:
                if wrote:  # cached results of the old data must not be served again
                    self.catalog.bump()
        return EnvChange("commit_transaction" if commit else "rollback_transaction", "", "")

    def end_session(self, session: Session) -> None:
        """The connection is gone: its open transaction is rolled back, as SQL Server does."""
        self._sessions.pop(session.spid, None)
        transaction = self._state(session).transaction
        if transaction.active:
            try:
                self._end_transaction(transaction, commit=False)
            except SqlServerError as error:
                log.warning("spid %s: rolling back at disconnect failed: %s", session.spid, error)

    def in_transaction(self, session: Session) -> bool:
        """True while the session has an open transaction (@@TRANCOUNT > 0)."""
        return self._state(session).transaction.active

    def _run_statement(
        self, session: Session, statement: exp.Expression, text: str, plan_key=None
    ) -> Iterator[Outcome]:
        transaction = self._state(session).transaction
        if (
            session.options.get("implicit_transactions")
            and not transaction.active
            and _starts_implicit_transaction(statement)
        ):
            # https://learn.microsoft.com/en-us/sql/t-sql/statements/set-implicit-transactions-transact-sql
            transaction.trancount = 1
            yield EnvChange("begin_transaction", "", "")
        if session.options.get("fmtonly"):
            yield from self._describe_only(session, statement, text)
        else:
            yield from self._run_now(session, statement, text, plan_key)

    def _run_now(
        self, session: Session, statement: exp.Expression, text: str, plan_key=None
    ) -> Iterator[Outcome]:
        refused = errors.unsupported_clause(statement)
        if refused is not None:
            raise refused
        if isinstance(statement, (exp.Select, exp.SetOperation)) or (isinstance(statement, exp.Subquery)):
            yield self._query(session, statement, plan_key=plan_key)
        elif isinstance(statement, exp.Insert) and statement.args.get("returning"):
            yield self._insert_output(session, statement)
        elif isinstance(statement, exp.Insert):
            yield self._count(session, self._insert(session, statement))
        elif isinstance(statement, exp.Update):
            yield self._count(session, self._update(session, statement))
        elif isinstance(statement, exp.Delete):
            yield self._count(session, self._delete(session, statement))
        elif isinstance(statement, exp.TruncateTable):
            self._truncate(session, statement)
            yield StatementDone()
        elif isinstance(statement, exp.Create):
            self._create(session, statement, text)
            yield StatementDone()
        elif isinstance(statement, exp.Drop):
            self._drop(session, statement)
            yield StatementDone()
        elif isinstance(statement, exp.Use):
            yield self._use(session, statement.this.name if statement.this else statement.name)
        elif isinstance(statement, exp.Execute):
            yield from self._exec(session, statement)
        elif isinstance(statement, exp.Set) and statement.find(exp.Parameter):
            # SET @variable: the emulator has no DECLARE, so no variable is ever declared.
            name = statement.find(exp.Parameter).name
            raise SqlServerError(137, f'Must declare the scalar variable "@{name}".', 15)
        elif isinstance(statement, (exp.Transaction, exp.Commit, exp.Rollback, exp.Set)):
            yield StatementDone()
        else:
            first = text.strip().split()[0].upper() if text.strip() else "?"
            raise errors.unsupported_statement(text) or errors.unsupported(f"The {first} statement")

    def _describe_only(self, session: Session, statement: exp.Expression, text: str) -> Iterator[Outcome]:
        """SET FMTONLY ON: "Returns only metadata to the client ... No rows are processed or sent
        to the client" (https://learn.microsoft.com/en-us/sql/t-sql/statements/set-fmtonly-transact-sql).

        A query sends its column metadata and no rows; a write or DDL statement is checked for
        its target but changes nothing (SQL Server compiles it without running it).
        """
        if isinstance(statement, (exp.Select, exp.SetOperation, exp.Subquery)):
            yield self._query(session, statement, metadata_only=True)
        elif isinstance(statement, (exp.Insert, exp.Update, exp.Delete)):
            target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
            self._target(session, target)
            yield StatementDone()
        elif isinstance(statement, (exp.Create, exp.Drop, exp.TruncateTable)):
            yield StatementDone()
        else:  # USE, SET, EXEC (whose statements are described only, in turn) run as usual
            yield from self._run_now(session, statement, text)

    def _count(self, session: Session, count: int) -> Outcome:
        self._state(session).rowcount = count
        return StatementDone() if session.options.get("nocount") else RowCount(count)

    # ---- queries ----

    def _context(self, session: Session) -> translate.Context:
        state = self._state(session)
        return translate.Context(
            session.database,
            session.user,
            session.spid,
            state.trancount,
            state.rowcount,
            textsize.of_session(session.options),
            {**self.live_rows, dm_exec_sessions.TABLE: lambda: self._session_rows(session)},
        )

    def _session_rows(self, asking: Session) -> list[tuple]:
        """sys.dm_exec_sessions' rows (dm_exec_sessions.COLUMNS), the asking session running."""
        databases = sorted(self.catalog.databases)  # numbered as DB_ID() numbers them
        rows = []
        for session in sorted(list(self._sessions.values()), key=lambda s: s.spid):
            state = self._state(session)
            database = session.database.lower()
            rows.append(
                (
                    session.spid,
                    "running" if session is asking else "sleeping",
                    session.user,
                    session.user,
                    None,
                    True,
                    textsize.of_session(session.options),
                    session.language,
                    "mdy",
                    7,
                    dm_exec_sessions.isolation_level(session.options),
                    dm_exec_sessions.lock_timeout(session.options),
                    state.rowcount,
                    databases.index(database) + 1 if database in databases else 0,
                    state.trancount,
                )
            )
        return rows

    def _translate_query(self, session: Session, query: exp.Expression) -> translate.Translation:
        translator = translate.Translator(self.catalog, self._context(session))
        translator.qualify(query)
        columns = translator.output_columns(query)
        translator.rewrite(query)
        return translate.Translation(
            translate.to_duckdb(query), columns, translator.cacheable, translator.tables
        )

    def _query(
        self, session: Session, query: exp.Expression, metadata_only: bool = False, plan_key=None
    ) -> ResultSet:
        """Compile ``query`` and run it; with a ``plan_key`` (see _plan_key) the plan is kept."""
        version = self.catalog.version
        plan = self._compile(session, query)
        if plan_key is not None and plan.cacheable and self._may_keep_plans(session):
            self.plans.put(plan_key, plan)
        return self._run_plan(session, plan, version, metadata_only)

    def _compile(self, session: Session, query: exp.Expression) -> Plan:
        translation = self._translate_query(session, query)
        with self._cursor() as probe:
            description = self._execute(
                probe, f"SELECT * FROM ({translation.sql}) AS __probe LIMIT 0"
            ).description
        columns = self._merge_columns(translation.columns, description)
        fetch_sql, duck_types = _fetch_friendly(translation.sql, columns, description)
        return Plan(
            translation.sql,
            columns,
            description,
            fetch_sql,
            _chunk_converter(columns, duck_types),
            translation.cacheable,
        )

    def _plan_key(self, session: Session, text: str):
        """The plan cache's key for ``text`` in this session, or None where plans are not reused."""
        if session.options.get("fmtonly") or session.options.get("implicit_transactions"):
            return None
        return (text, session.database.lower(), session.user, self.catalog.version)

    def _may_keep_plans(self, session: Session) -> bool:
        # Tables a writing transaction created or changed are its own until it commits.
        return self._state(session).transaction.cursor is None

    def _run_plan(self, session: Session, plan: Plan, version: int, metadata_only: bool = False) -> ResultSet:
        if metadata_only:
            return ResultSet(plan.columns, iter(()))
        sql, fetch_sql = plan.sql, plan.fetch_sql
        limit = _rowcount_limit(session)
        if limit:
            # SET ROWCOUNT n: "stop processing the query after the specified number of rows are
            # returned" (https://learn.microsoft.com/en-us/sql/t-sql/statements/set-rowcount-transact-sql).
            # The limited text is the cache key too. INSERT/UPDATE/DELETE are not limited.
            sql = f"SELECT * FROM ({plan.sql}) AS __rowcount LIMIT {limit}"
            fetch_sql = _fetch_friendly(sql, plan.columns, plan.description)[0]
        transaction = self._transaction()
        if plan.cacheable and (transaction is None or transaction.cursor is None):
            # The TDS side may replay this result from its cache and never ask for a row, so
            # the query runs only when the first row is asked for. Binding errors surfaced in
            # the compile's probe; the TDS side asks for the first row before it sends anything.
            result = ResultSet(plan.columns, iter(()), ("select", sql, version))
            result.rows = self._lazy_stream(result, fetch_sql, plan.convert, version)
            return result
        cursor = self._new_cursor()
        try:
            duck_result = self._execute(cursor, fetch_sql)
            first = duck_result.fetchmany(FETCH_CHUNK)
        except SqlServerError:
            cursor.close()
            raise
        return ResultSet(plan.columns, _stream(cursor, duck_result, first, plan.convert))

    def _lazy_stream(self, result: ResultSet, sql: str, convert, version: int) -> Iterator[tuple]:
        """Run ``sql`` on the first row asked for; withdraw the cache key if the data moved on."""
        cursor = self._new_cursor()
        try:
            duck_result = self._execute(cursor, sql)
            first = duck_result.fetchmany(FETCH_CHUNK)
        except BaseException:
            cursor.close()
            raise
        if version != self.catalog.version:
            result.cache_key = None  # rows of a newer catalog version than the key names
        yield from _stream(cursor, duck_result, first, convert)

    def _merge_columns(self, declared: list[Column] | None, description) -> list[Column]:
        columns = []
        usable = declared if declared is not None and len(declared) == len(description) else None
        for index, (duck_name, duck_type, *_rest) in enumerate(description):
            wanted = usable[index] if usable else None
            if wanted is not None and wanted.sql_type != "?":
                columns.append(wanted)
            else:
                name = wanted.name if wanted is not None else duck_name
                columns.append(sqltypes.from_duckdb(name, duck_type))
        return columns

    def _execute(self, cursor, sql: str, table: TableDef | None = None):
        try:
            return cursor.execute(sql)
        except duckdb.TransactionException as error:  # a write conflict, outside a transaction
            raise transaction_error(error) from None
        except duckdb.Error as error:
            raise errors.from_duckdb(error, table) from None

    def _transaction(self) -> Transaction | None:
        """The open transaction of the session running on this thread, if any."""
        transaction = getattr(self._local, "transaction", None)
        return transaction if transaction is not None and transaction.active else None

    @property
    def _ddl(self):
        """DDL's cursor: the session's transaction once one is open, else the shared one."""
        transaction = self._transaction()
        return transaction.writing_cursor(self._plain_cursor) if transaction else self._shared_ddl

    @contextlib.contextmanager
    def _atomic(self):
        """One DDL statement outside a transaction is all or nothing, as on SQL Server: a CREATE
        TABLE that fails leaves no IDENTITY sequence or catalog row behind."""
        if self._transaction() is not None:
            yield
            return
        outer = getattr(self._local, "transaction", None)
        statement = self._local.transaction = Transaction()
        statement.trancount = 1
        try:
            yield
        except BaseException:
            statement.end(commit=False)
            raise
        else:
            statement.end(commit=True)
        finally:
            self._local.transaction = outer

    def _log_undo(self, undo) -> None:
        transaction = self._transaction()
        if transaction is not None:
            transaction.undo.append(undo)

    def _cursor(self):
        return _ClosingCursor(self._new_cursor())

    def _new_cursor(self):
        """A cursor to read on: the transaction's once it has written (it sees its own rows)."""
        transaction = self._transaction()
        if transaction is not None and transaction.cursor is not None:
            return transaction.cursor
        return self._plain_cursor()

    def _plain_cursor(self):
        with self._cursor_lock:
            return self.db.cursor()

    # ---- writes ----

    def _write(self, sql: str, table: TableDef | None = None) -> int:
        """Run one DuckDB write under the engine lock; the rows it touched."""
        row = self._write_fetching(
            sql, table, lambda result: result.fetchone() if result.description else None
        )
        return int(row[0]) if row and isinstance(row[0], int) else 0

    def _write_fetching(self, sql: str, table: TableDef | None, fetch: Callable):
        """Run one DuckDB write under the engine lock; what ``fetch`` reads of its result. A
        write that meets another transaction's uncommitted change waits for it when that is
        safe (_may_wait)."""
        blocked_since = None
        while True:
            try:
                with self.lock:
                    transaction = self._transaction()
                    if transaction is not None:
                        cursor = transaction.writing_cursor(self._plain_cursor)
                        result = self._execute(cursor, sql, table)
                        fetched = fetch(result)
                    else:
                        with self._cursor() as cursor:
                            result = self._execute(cursor, sql, table)
                            fetched = fetch(result)
                    self.catalog.bump()
                return fetched
            except SqlServerError as error:
                if error.number != 3960 or not self._may_wait():
                    raise
                blocked_since = blocked_since or time.monotonic()
                self._wait_for_lock(blocked_since)

    def _may_wait(self) -> bool:
        """Whether a write DuckDB refused for another transaction's change may wait and retry.

        SQL Server makes the writer wait for the other's lock (SET LOCK_TIMEOUT). DuckDB has no
        locks: it refuses the write and gives up the writer's whole DuckDB transaction. Retrying
        later is the same as waiting only while the writer holds nothing a lock would protect:
        outside a transaction, or in one that has not written yet (its reads take no locks
        here). A transaction with earlier writes would lose them while it waits (others could
        then change those rows, which SQL Server's locks forbid, and its replay would overwrite
        their work), so it gets 3960 and is rolled back, as before.
        """
        with self.lock:
            transaction = self._transaction()
            if transaction is None:
                return True
            cursor = transaction.cursor
            if transaction.undo or (cursor is not None and cursor.redo):
                return False
            if cursor is not None:
                cursor.replay(0)  # a fresh DuckDB transaction, whose snapshot the retry reads
            return True

    def _wait_for_lock(self, blocked_since: float) -> None:
        """Wait a little for the other transaction, or raise 1222 once SET LOCK_TIMEOUT's
        milliseconds have passed (-1, the default: wait for ever; 0: not at all), as
        https://learn.microsoft.com/en-us/sql/t-sql/statements/set-lock-timeout-transact-sql
        documents. ATTENTION ends the wait (waitfor.Interrupted)."""
        session = self._local.session
        timeout_ms = dm_exec_sessions.lock_timeout(session.options)
        if timeout_ms >= 0 and (time.monotonic() - blocked_since) * 1000 >= timeout_ms:
            # https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-1000-to-1999
            raise SqlServerError(1222, "Lock request time out period exceeded.", 16, 51)
        waitfor.wait(session.options, _LOCK_POLL_SECONDS)

    def _target(self, session: Session, table: exp.Table) -> tuple[TableDef, translate.Translator]:
        translator = translate.Translator(self.catalog, self._context(session))
        found = translator.resolve(table)
        if found.kind == "view" or found.schema == INFO_SCHEMA:
            raise SqlServerError(
                4406,
                f"Update or insert of view or function '{found.name}' failed because it contains a derived or constant field.",
            )
        return found, translator

    def _insert(self, session: Session, insert: exp.Insert) -> int:
        return self._write(*self._insert_sql(session, insert))

    def _insert_output(self, session: Session, insert: exp.Insert) -> ResultSet:
        """INSERT ... OUTPUT inserted.<column>: "Returns information from, or expressions based
        on, each row affected by an INSERT ... statement", sent to the client as a result set
        (https://learn.microsoft.com/en-us/sql/t-sql/queries/output-clause-transact-sql).

        DuckDB's RETURNING gives the rows the INSERT stored, so IDENTITY and DEFAULT values are
        the ones written. The rows are fetched whole: the write must finish under the engine
        lock, and OUTPUT answers are a statement's own rows. Never cached: each run inserts.
        """
        sql, table = self._insert_sql(session, insert)
        columns, picks = translate.output_columns(table, insert.args["returning"])
        description, rows = self._write_fetching(
            f"{sql} RETURNING {', '.join(picks)}",
            table,
            lambda result: (result.description, result.fetchall()),
        )
        self._state(session).rowcount = len(rows)
        convert = _chunk_converter(columns, [duck_type for _name, duck_type, *_rest in description])
        return ResultSet(columns, iter(rows if convert is None else convert(rows)))

    def _insert_sql(self, session: Session, insert: exp.Insert) -> tuple[str, TableDef]:
        target = insert.this
        names = None
        if isinstance(target, exp.Schema):
            names = [c.name for c in target.expressions]
            target = target.this
        table, translator = self._target(session, target)
        source = insert.expression
        if source is None:  # INSERT ... DEFAULT VALUES
            return f"INSERT INTO {table.duck_name} DEFAULT VALUES", table
        if names is None:
            names = [
                c.name for c in table.columns if c.name.lower() not in table.defaults.get("__identity__", ())
            ]
        columns = []
        for name in names:
            col = table.column(name)
            if col is None:
                raise SqlServerError(207, f"Invalid column name '{name}'.")
            columns.append(col)
        if isinstance(source, exp.Values):
            rows = source.expressions
            if len(rows) > MAX_VALUES_ROWS:
                raise too_many_rows()
            for row in rows:
                width = len(row.expressions) if isinstance(row, exp.Tuple) else 1
                if width != len(columns):
                    raise _width_error(width, len(columns))
        translator.qualify(source)
        translator.rewrite(source)
        source_sql = translate.to_duckdb(source)
        return insert_sql(table, columns, source_sql), table

    def _update(self, session: Session, update: exp.Update) -> int:
        table, translator = self._target(session, update.this)
        for assignment in update.expressions:
            column = assignment.this
            col = table.column(column.name)
            if col is None:
                raise SqlServerError(207, f"Invalid column name '{column.name}'.")
            assignment.set("this", exp.column(col.name, quoted=True))
        translator.qualify(update)
        translator.rewrite(update)
        for assignment in update.expressions:
            col = table.column(assignment.this.name)
            wrapped = sqltypes.normalizer(col, "__value__")
            if wrapped != "__value__":
                func, _ = wrapped.split("(", 1)
                assignment.set("expression", exp.func(func, assignment.expression))
        return self._write(translate.to_duckdb(update), table)

    def _delete(self, session: Session, delete: exp.Delete) -> int:
        target = delete.this
        table, translator = self._target(session, target)
        translator.qualify(delete)
        translator.rewrite(delete)
        sql = translate.to_duckdb(delete)
        if not sql.upper().startswith("DELETE FROM"):
            sql = "DELETE FROM " + sql[len("DELETE ") :]
        return self._write(sql, table)

    def _truncate(self, session: Session, truncate: exp.TruncateTable) -> None:
        for target in truncate.expressions:
            try:
                table, _ = self._target(session, target)
            except SqlServerError as error:
                if error.number != 208:
                    raise
                # https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-4000-to-4999
                raise SqlServerError(
                    4701,
                    f'Cannot find the object "{target.sql("tsql")}" because it does not exist or you do not have permissions.',
                ) from None
            self._write(f"DELETE FROM {table.duck_name}", table)

    # ---- DDL ----

    def _create(self, session: Session, create: exp.Create, text: str) -> None:
        kind = (create.args.get("kind") or "").upper()
        if kind == "TABLE":
            self._create_table(session, create)
        elif kind == "VIEW":
            self._create_view(session, create, text)
        elif kind == "SCHEMA":
            self._create_schema(session, create.this.db or create.this.name)
        elif kind == "DATABASE":
            self._refuse_in_transaction(session, "CREATE DATABASE")
            name = create.this.name
            if self.database_exists(name):
                raise SqlServerError(
                    1801, f"Database '{name}' already exists. Choose a different database name."
                )
            self._create_database(name, _collate_property(create))
        elif kind == "INDEX":
            return  # indexes change no result; accepted
        else:
            raise SqlServerError(102, f"Incorrect syntax near '{kind or 'CREATE'}'.", 15)

    def _refuse_in_transaction(self, session: Session, statement: str) -> None:
        """ "CREATE DATABASE ... isn't allowed in an explicit or implicit transaction"
        (https://learn.microsoft.com/en-us/sql/t-sql/statements/create-database-transact-sql),
        error 226 (https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-0-to-999).
        """
        if self._state(session).transaction.active:
            raise SqlServerError(
                226, f"{statement} statement not allowed within multi-statement transaction."
            )

    def _create_database(self, name: str, collation: str = collations.DEFAULT) -> None:
        with self.lock:
            self.catalog.database_collations[name.lower()] = collation
            self._ddl.execute(f"ATTACH ':memory:' AS \"{name}\"")
            self._ddl.execute(f'CREATE SCHEMA "{name}".dbo')
            self._ddl.execute(f'CREATE SCHEMA "{name}".{INFO_SCHEMA}')
            from devtools.mssql_emulator.catalog import INFO_COLUMNS, INFO_SCHEMATA, INFO_TABLES, INFO_VIEWS

            for table_name, columns in (
                ("columns", INFO_COLUMNS),
                ("tables", INFO_TABLES),
                ("views", INFO_VIEWS),
                ("schemata", INFO_SCHEMATA),
                *system_views.INFO_CONSTRAINT_VIEWS.items(),
                *((f"sys_{name}", columns) for name, columns in system_views.SYS_VIEWS_BY_NAME.items()),
            ):
                body = ", ".join(f'"{c.name}" {sqltypes.storage_type(c)}' for c in columns)
                self._ddl.execute(f'CREATE TABLE "{name}".{INFO_SCHEMA}.{table_name} ({body})')
            types = system_views.type_rows(self.catalog.database_collation(name))
            marks = ", ".join("?" * len(types[0]))
            self._ddl.executemany(f'INSERT INTO "{name}".{INFO_SCHEMA}.sys_types VALUES ({marks})', types)
            views = system_views.system_view_rows()
            marks = ", ".join("?" * len(views[0]))
            self._ddl.executemany(
                f'INSERT INTO "{name}".{INFO_SCHEMA}.sys_system_views VALUES ({marks})', views
            )
            self.catalog.databases[name.lower()] = name
            self.catalog.schemas[name.lower()] = {}
            self.catalog.schema_ids[name.lower()] = {}
            for schema in ("dbo", "guest", "INFORMATION_SCHEMA", "sys", *system_views.ROLE_SCHEMA_IDS):
                self._register_schema(name, schema)
            self._refresh_sys_databases()
            self.catalog.bump()

    def _refresh_sys_databases(self) -> None:
        """sys.databases is server-wide: every database's copy lists them all."""
        names = list(self.catalog.databases.values())
        rows = system_views.database_rows(
            [(n, self.catalog.database_collation(n)) for n in names], self._created
        )
        marks = ", ".join("?" * len(rows[0]))
        for database in names:
            self._ddl.execute(f'DELETE FROM "{database}".{INFO_SCHEMA}.sys_databases')
            self._ddl.executemany(
                f'INSERT INTO "{database}".{INFO_SCHEMA}.sys_databases VALUES ({marks})', rows
            )

    def _register_schema(self, database: str, schema: str) -> None:
        ids = self.catalog.schema_ids[database.lower()]
        builtin = {**system_views.BUILTIN_SCHEMA_IDS, **system_views.ROLE_SCHEMA_IDS}
        schema_id = builtin.get(schema.lower()) or 1 + max(
            [system_views.FIRST_USER_SCHEMA_ID - 1, *(i for i in ids.values() if i < 16384)]
        )
        ids[schema.lower()] = schema_id
        self._log_undo(lambda: ids.pop(schema.lower(), None))
        self._ddl.execute(
            f'INSERT INTO "{database}".{INFO_SCHEMA}.sys_schemas VALUES (?, ?, ?)',
            list(system_views.schema_row(schema, schema_id)),
        )
        if schema.lower() == "information_schema" or schema.lower() in system_views.ROLE_SCHEMA_IDS:
            return  # listed in sys.schemas only: no objects of the emulator's live there
        schemas = self.catalog.schemas[database.lower()]
        schemas[schema.lower()] = schema
        self._log_undo(lambda: schemas.pop(schema.lower(), None))
        if schema.lower() != "dbo":
            self._ddl.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"."{schema}"')
        self._ddl.execute(
            f'INSERT INTO "{database}".{INFO_SCHEMA}.schemata VALUES (?, ?, ?)', [database, schema, "dbo"]
        )

    def _create_schema(self, session: Session, name: str) -> None:
        with self.lock:
            if self.catalog.schema(session.database, name):
                raise SqlServerError(2714, f"There is already an object named '{name}' in the database.")
            self._register_schema(self.catalog.database(session.database), name)
            self.catalog.bump()

    def _schema_of(self, session: Session, table: exp.Table) -> tuple[str, str]:
        database = self.catalog.database(table.catalog or session.database)
        if database is None:
            raise SqlServerError(
                911,
                f"Database '{table.catalog}' does not exist. Make sure that the name is entered correctly.",
            )
        schema = self.catalog.schema(database, table.db or "dbo")
        if schema is None:
            raise SqlServerError(
                2760,
                f'The specified schema name "{table.db}" either does not exist or you do not have permission to use it.',
            )
        return database, schema

    def _create_table(self, session: Session, create: exp.Create) -> None:
        schema_node = create.this
        table_node = schema_node.this
        database, schema = self._schema_of(session, table_node)
        translator = translate.Translator(self.catalog, self._context(session))
        columns: list[Column] = []
        column_sql: list[str] = []
        key_columns: list[str] = []
        pk_name = None
        defaults: dict = {}
        identity: list[str] = []
        seeds: dict[str, tuple[int, int]] = {}
        for item in schema_node.expressions:
            if isinstance(item, exp.ColumnDef):
                col = translate.datatype_column(item.args["kind"], item.name)
                if col.sql_type in sqltypes.STRING_TYPES and col.legacy_lob != sqltypes.XML:  # xml has none
                    col = dataclasses.replace(col, collation=_column_collation(item, database, self.catalog))
                nullable = True
                default_sql = None
                for constraint in item.args.get("constraints") or []:
                    kind = constraint.args.get("kind")
                    if isinstance(kind, exp.NotNullColumnConstraint):
                        nullable = bool(kind.args.get("allow_null"))
                    elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
                        key_columns = [item.name]
                        pk_name = constraint.name or None
                        nullable = False
                    elif isinstance(kind, exp.DefaultColumnConstraint):
                        default = kind.this
                        defaults[item.name.lower()] = f"({default.sql('tsql')})"
                        default = translator.rewrite(default)
                        default_sql = sqltypes.normalizer(col, translate.to_duckdb(default))
                    elif isinstance(
                        kind, (exp.GeneratedAsIdentityColumnConstraint, exp.AutoIncrementColumnConstraint)
                    ):
                        identity.append(item.name)
                        nullable = False
                        # IDENTITY(seed, increment), both 1 when left out
                        # (https://learn.microsoft.com/en-us/sql/t-sql/statements/create-table-transact-sql-identity-property)
                        seeds[item.name.lower()] = tuple(
                            int(kind.args[part].sql("tsql")) if kind.args.get(part) is not None else 1
                            for part in ("start", "increment")
                        )
                columns.append(dataclasses.replace(col, nullable=nullable))
                column_sql.append((item.name, col, nullable, default_sql))
            elif isinstance(item, exp.Constraint) and any(
                isinstance(e, (exp.PrimaryKeyColumnConstraint, exp.PrimaryKey)) for e in item.expressions
            ):
                pk_name = item.name
                for e in item.expressions:
                    if isinstance(e, (exp.ClusteredColumnConstraint, exp.NonClusteredColumnConstraint)):
                        key_columns = [o.this.name if isinstance(o, exp.Ordered) else o.name for o in e.this]
                    elif isinstance(e, exp.PrimaryKey):
                        key_columns = [
                            o.this.name if isinstance(o, exp.Ordered) else o.name for o in e.expressions
                        ]
            elif isinstance(item, exp.PrimaryKey):
                key_columns = [
                    o.this.name if isinstance(o, exp.Ordered) else o.name for o in item.expressions
                ]
        if key_columns:
            lowered = {k.lower() for k in key_columns}
            columns = [
                dataclasses.replace(c, nullable=False) if c.name.lower() in lowered else c for c in columns
            ]
        name = table_node.name
        seen = set()
        for column in columns:
            if column.name.lower() in seen:
                # https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-2000-to-2999
                raise SqlServerError(
                    2705,
                    f"Column names in each table must be unique. Column name '{column.name}' in table "
                    f"'{name}' is specified more than once.",
                )
            seen.add(column.name.lower())
        with self.lock, self._atomic():
            if self.catalog.find(database, schema, name):
                raise SqlServerError(2714, f"There is already an object named '{name}' in the database.")
            definitions = []
            table = TableDef(database, schema, name, "table", columns, self.catalog.next_object_id())
            for (col_name, col, _nullable, default_sql), declared in zip(column_sql, columns, strict=False):
                piece = f'"{col_name}" {sqltypes.storage_type(col)}'
                if declared.collation:  # GROUP BY / DISTINCT follow case and accent (collations.py)
                    piece += f" COLLATE {collations.duckdb_collation(collations.lookup(declared.collation))}"
                if col_name in identity:
                    sequence = f'"{database}"."{schema}"."__seq_{name}_{col_name}"'
                    start, increment = seeds[col_name.lower()]
                    self._ddl.execute(
                        f"CREATE SEQUENCE {sequence} START WITH {start} INCREMENT BY {increment} "
                        f"MINVALUE {-(2**63)} MAXVALUE {2**63 - 1}"
                    )
                    piece += f" DEFAULT nextval('{sequence.replace(chr(34), '')}')"
                elif default_sql:
                    piece += f" DEFAULT ({default_sql})"
                if not declared.nullable:
                    piece += " NOT NULL"
                definitions.append(piece)
            # Declared lengths as CHECK constraints: cheaper than checking every inserted value
            # in the INSERT, and UPDATE is covered too.
            definitions.extend(filter(None, (sqltypes.length_check(c) for c in columns)))
            if key_columns:
                definitions.append("PRIMARY KEY (" + ", ".join(f'"{k}"' for k in key_columns) + ")")
                table.primary_key = pk_name or f"PK__{name[:8]}__{table.object_id:016X}"
                table.key_columns = key_columns
            table.defaults = dict(defaults)
            table.defaults["__identity__"] = tuple(i.lower() for i in identity)
            table.defaults["__identity_seed__"] = seeds
            self._execute(self._ddl, f"CREATE TABLE {table.duck_name} ({', '.join(definitions)})")
            self._register(table)

    def _create_view(self, session: Session, create: exp.Create, text: str) -> None:
        target = create.this
        names = None
        if isinstance(target, exp.Schema):
            names = [c.name for c in target.expressions]
            target = target.this
        database, schema = self._schema_of(session, target)
        query = create.expression
        translation = self._translate_query(session, query)
        with self.lock, self._atomic():
            existing = self.catalog.find(database, schema, target.name)
            if existing and not create.args.get("replace"):
                raise SqlServerError(
                    2714, f"There is already an object named '{target.name}' in the database."
                )
            if existing and existing.kind != "view":
                raise SqlServerError(
                    2714, f"There is already an object named '{target.name}' in the database."
                )
            duck_name = f'"{database}"."{schema}"."{target.name}"'
            column_list = "(" + ", ".join(f'"{n}"' for n in names) + ")" if names else ""
            self._execute(self._ddl, f"CREATE OR REPLACE VIEW {duck_name}{column_list} AS {translation.sql}")
            with self._cursor() as cursor:
                description = self._execute(cursor, f"SELECT * FROM {duck_name} LIMIT 0").description
            columns = self._merge_columns(translation.columns, description)
            columns = [dataclasses.replace(c, name=d[0]) for c, d in zip(columns, description, strict=False)]
            table = TableDef(
                database,
                schema,
                target.name,
                "view",
                columns,
                existing.object_id if existing else self.catalog.next_object_id(),
                definition=text.strip(),
            )
            if existing:
                self._unregister(existing, drop=False)
            self._register(table)

    def _register(self, table: TableDef) -> None:
        column_rows, table_row, view_row = information_schema_rows(table)
        info = f'"{table.database}".{INFO_SCHEMA}'
        if column_rows:
            self._ddl.executemany(
                f"INSERT INTO {info}.columns VALUES ({', '.join('?' * len(column_rows[0]))})", column_rows
            )
        self._ddl.execute(f"INSERT INTO {info}.tables VALUES (?, ?, ?, ?)", list(table_row))
        if view_row:
            self._ddl.execute(f"INSERT INTO {info}.views VALUES (?, ?, ?, ?, ?, ?)", list(view_row))
        schema_id = self.catalog.schema_id(table.database, table.schema)
        for name, rows in system_views.object_rows(table, schema_id, self.catalog.next_object_id).items():
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                self._ddl.executemany(f"INSERT INTO {info}.{name} VALUES ({marks})", [list(r) for r in rows])
        self.catalog.add(table)
        self._log_undo(lambda: self.catalog.remove(table))

    def _unregister(self, table: TableDef, drop: bool = True) -> None:
        info = f'"{table.database}".{INFO_SCHEMA}'
        for name in ("columns", "tables", "views", *system_views.ROWS_BY_TABLE_NAME):
            self._ddl.execute(
                f"DELETE FROM {info}.{name} WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                [table.schema, table.name],
            )
        for name, id_columns in system_views.ROWS_BY_OBJECT_ID.items():
            where = " OR ".join(f"{column} = ?" for column in id_columns)
            self._ddl.execute(f"DELETE FROM {info}.{name} WHERE {where}", [table.object_id] * len(id_columns))
        if drop:
            kind = "VIEW" if table.kind == "view" else "TABLE"
            self._ddl.execute(f"DROP {kind} {table.duck_name}")
            for identity in table.defaults.get("__identity__", ()):
                self._ddl.execute(
                    f'DROP SEQUENCE IF EXISTS "{table.database}"."{table.schema}"."__seq_{table.name}_{identity}"'
                )
        self.catalog.remove(table)
        self._log_undo(lambda: self.catalog.add(table))

    def _drop(self, session: Session, drop: exp.Drop) -> None:
        kind = (drop.args.get("kind") or "").upper()
        if kind in ("TABLE", "VIEW"):
            for target in drop.args.get("tables") or [drop.this]:
                translator = translate.Translator(self.catalog, self._context(session))
                with self.lock, self._atomic():
                    found = translator.resolve(target, must_exist=False)
                    if found is None or found.kind != kind.lower():
                        if drop.args.get("exists"):
                            continue
                        raise SqlServerError(
                            3701,
                            f"Cannot drop the {kind.lower()} '{target.sql('tsql')}', because it does not exist "
                            "or you do not have permission.",
                        )
                    self._unregister(found)
        elif kind == "SCHEMA":
            name = (drop.args.get("tables") or [drop.this])[0].db
            with self.lock:
                database = self.catalog.database(session.database)
                schema = self.catalog.schema(database, name)
                if schema is None:
                    if drop.args.get("exists"):
                        return
                    raise SqlServerError(
                        3701,
                        f"Cannot drop the schema '{name}', because it does not exist or you do not have permission.",
                    )
                users = [t for t in self.catalog.in_database(database) if t.schema.lower() == name.lower()]
                if users:
                    raise SqlServerError(
                        3729,
                        f"Cannot drop schema '{schema}' because it is being referenced by object '{users[0].name}'.",
                    )
                self._ddl.execute(f'DROP SCHEMA "{database}"."{schema}"')
                self._ddl.execute(
                    f'DELETE FROM "{database}".{INFO_SCHEMA}.schemata WHERE SCHEMA_NAME = ?', [schema]
                )
                schemas = self.catalog.schemas[database.lower()]
                del schemas[schema.lower()]
                self._log_undo(lambda: schemas.__setitem__(schema.lower(), schema))
                self.catalog.bump()
        elif kind == "DATABASE":
            self._refuse_in_transaction(session, "DROP DATABASE")
            name = (drop.args.get("tables") or [drop.this])[0].name
            with self.lock:
                found = self.catalog.database(name)
                if found is None:
                    if drop.args.get("exists"):
                        return
                    raise SqlServerError(
                        3701,
                        f"Cannot drop the database '{name}', because it does not exist or you do not have permission.",
                    )
                self._ddl.execute(f'DETACH "{found}"')
                for table in self.catalog.in_database(found):
                    self.catalog.remove(table)
                del self.catalog.databases[found.lower()]
                self._refresh_sys_databases()
                self.catalog.bump()
        else:
            raise SqlServerError(102, f"Incorrect syntax near '{kind or 'DROP'}'.", 15)

    # ---- session ----

    def _use(self, session: Session, name: str) -> Outcome:
        found = self.catalog.database(name)
        if found is None:
            raise SqlServerError(
                911, f"Database '{name}' does not exist. Make sure that the name is entered correctly."
            )
        old, session.database = session.database, found
        return EnvChange("database", old, found)

    def _exec(self, session: Session, statement: exp.Execute) -> Iterator[Outcome]:
        target = statement.this
        if isinstance(target, (exp.Literal, exp.National)) or (
            isinstance(target, exp.Paren) and isinstance(target.this, (exp.Literal, exp.National))
        ):
            text = target.name if not isinstance(target, exp.Paren) else target.this.name
            yield from self._run_all(session, batch.split(text))
            return
        name = target.sql("tsql") if target is not None else "?"
        procedure = target.name if isinstance(target, exp.Table) else name
        if procedure.lower() in ("sp_getapplock", "sp_releaseapplock"):
            arguments = {(k or "").lower(): v for k, v in (_argument(a) for a in statement.expressions)}
            take = app_locks.get if procedure.lower() == "sp_getapplock" else app_locks.release
            self._state(session).return_status = take(session.spid, arguments)
            yield StatementDone()
            return
        result = procedures.run(procedure, [_argument(a) for a in statement.expressions])
        if result is not None:
            yield result
            return
        if procedures.is_system_procedure(procedure):
            raise errors.unsupported(f"The system procedure '{procedure}'")
        raise SqlServerError(2812, f"Could not find stored procedure '{name}'.")

    def _state(self, session: Session) -> _SessionState:
        state = session.options.get(_STATE_KEY)
        if state is None:
            state = session.options[_STATE_KEY] = _SessionState()
        return state


def _rowcount_limit(session: Session) -> int:
    value = session.options.get("rowcount")
    try:
        return max(int(str(value).strip()), 0) if value not in (None, "", False) else 0
    except ValueError:
        return 0


def _collate_property(create: exp.Create) -> str:
    """CREATE DATABASE ... COLLATE name: the collation's canonical name (error 448 if unknown)."""
    for prop in (create.args.get("properties") or exp.Properties()).expressions:
        if isinstance(prop, exp.CollateProperty):
            return collations.lookup(prop.this.name).name
    return collations.DEFAULT


def _column_collation(item: exp.ColumnDef, database: str, catalog: Catalog) -> str:
    """A text column's COLLATE clause, or its database's collation (collations.py)."""
    for constraint in item.args.get("constraints") or []:
        kind = constraint.args.get("kind")
        if isinstance(kind, exp.CollateColumnConstraint):
            name = kind.this.name
            if name.lower() == "database_default":
                break
            return collations.lookup(name).name
    return catalog.database_collation(database)


def _argument(node: exp.Expression) -> tuple[str | None, object]:
    """One EXEC argument as (parameter name or None, constant value; None for DEFAULT/NULL)."""
    name = None
    if isinstance(node, exp.EQ) and isinstance(node.this, exp.Parameter):
        name, node = node.this.name, node.expression
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return name, -int(node.this.name)
    if isinstance(node, exp.Literal):
        return name, int(node.name) if not node.is_string and node.name.lstrip("-").isdigit() else node.name
    if isinstance(node, exp.National):
        return name, node.name
    return name, None


def _width_error(width: int, expected: int) -> SqlServerError:
    if width > expected:
        return SqlServerError(
            110,
            "There are fewer columns in the INSERT statement than values specified in the VALUES clause. "
            "The number of values in the VALUES clause must match the number of columns specified in the INSERT statement.",
            15,
        )
    return SqlServerError(
        109,
        "There are more columns in the INSERT statement than values specified in the VALUES clause. "
        "The number of values in the VALUES clause must match the number of columns specified in the INSERT statement.",
        15,
    )


class _ClosingCursor:
    def __init__(self, cursor):
        self.cursor = cursor

    def __enter__(self):
        return self.cursor

    def __exit__(self, *exc):
        self.cursor.close()


def _fetch_friendly(sql: str, columns: list[Column], description) -> tuple[str, list[str]]:
    """The query reshaped so DuckDB does vectorised what Python would do per value.

    DuckDB builds Python Decimals slowly (their text and Decimal(str) are ~3x faster), and
    nchar/char padding is cheaper as rpad() than as str.ljust per row.
    """
    picks, duck_types, changed = [], [], False
    for index, (col, (_name, duck_type, *_rest)) in enumerate(zip(columns, description, strict=True)):
        alias = f"__c{index}"
        duck = str(duck_type).upper()
        if duck.startswith("DECIMAL"):
            picks.append(f"CAST({alias} AS VARCHAR)")
            duck_types.append("DECIMAL_TEXT")
            changed = True
        elif col.sql_type in ("nchar", "char") and (col.length or 0) > 0 and duck == "VARCHAR":
            picks.append(f"rpad({alias}, {col.length}, ' ')")
            duck_types.append("VARCHAR_PADDED")
            changed = True
        else:
            picks.append(alias)
            duck_types.append(duck_type)
    if not changed:
        return sql, duck_types
    aliases = ", ".join(f"__c{i}" for i in range(len(columns)))
    return f"SELECT {', '.join(picks)} FROM ({sql}) AS __q({aliases})", duck_types


def _chunk_converter(columns: list[Column], duck_types: list):
    """One compiled function per result shape, converting a whole chunk of rows at a time."""
    converters = [sqltypes.converter(c, t) for c, t in zip(columns, duck_types, strict=False)]
    if not any(converters):
        return None
    parts = []
    env = {}
    for index, convert in enumerate(converters):
        if convert is None:
            parts.append(f"r[{index}]")
        else:
            env[f"c{index}"] = convert
            parts.append(f"(None if r[{index}] is None else c{index}(r[{index}]))")
    # Built from column indices only, never from query text.
    return eval(f"lambda rows: [({', '.join(parts)},) for r in rows]", env)  # noqa: S307


def _stream(cursor, result, first: list, convert) -> Iterator[tuple]:
    """Rows in chunks from DuckDB; the cursor closes when the stream ends or is dropped."""
    try:
        chunk = first
        while chunk:
            if convert is None:
                yield from chunk
            else:
                yield from convert(chunk)
            if len(chunk) < FETCH_CHUNK:
                break
            try:
                chunk = result.fetchmany(FETCH_CHUNK)
            except duckdb.Error as error:
                raise errors.from_duckdb(error) from None
            except Exception:
                log.exception("reading a result failed inside the engine")
                raise errors.unsupported("Something in this statement's result") from None
    finally:
        cursor.close()


# "SET IMPLICIT_TRANSACTIONS ON": these statements start a transaction; "SELECT statements that
# don't select from a table, such as SELECT GETDATE() or SELECT 1, 'ABC', don't require
# transactions" (https://learn.microsoft.com/en-us/sql/t-sql/statements/set-implicit-transactions-transact-sql).
_IMPLICIT_STARTERS = (exp.Insert, exp.Update, exp.Delete, exp.TruncateTable, exp.Create, exp.Drop)


def _starts_implicit_transaction(statement: exp.Expression) -> bool:
    if isinstance(statement, _IMPLICIT_STARTERS):
        return not (
            isinstance(statement, (exp.Create, exp.Drop))
            and (statement.args.get("kind") or "").upper() == "DATABASE"
        )
    return (
        isinstance(statement, (exp.Select, exp.SetOperation, exp.Subquery))
        and statement.find(exp.Table) is not None
    )
