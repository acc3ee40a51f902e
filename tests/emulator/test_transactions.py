"""Transactions through real drivers: undo, visibility between sessions, savepoints, the wire.

Behaviour from Microsoft's pages on BEGIN/COMMIT/ROLLBACK/SAVE TRANSACTION, SET XACT_ABORT and
SET IMPLICIT_TRANSACTIONS (cited in devtools/mssql_emulator/engine.py and transactions.py).
"""

from __future__ import annotations

import threading
import time
import uuid

import pymssql
import pytds
import pytest


def _table(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _scalar(conn, sql: str):
    cursor = conn.cursor()
    cursor.execute(sql)
    return cursor.fetchone()[0]


def _error_number(conn, sql: str) -> int:
    cursor = conn.cursor()
    with pytest.raises(pymssql.DatabaseError) as caught:
        cursor.execute(sql)
    return caught.value.args[0]


def test_rollback_undoes_rows_and_trancount_follows(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    t = _table("tx_rows")
    cursor = conn.cursor()
    cursor.execute(f"CREATE TABLE {t} (a int)")
    cursor.execute(f"INSERT {t} VALUES (1)")
    cursor.execute(f"BEGIN TRAN; INSERT {t} VALUES (2); UPDATE {t} SET a = 10 WHERE a = 1")
    assert _scalar(conn, "SELECT @@TRANCOUNT") == 1
    assert _scalar(conn, f"SELECT SUM(a) FROM {t}") == 12  # the transaction sees its own rows
    cursor.execute("ROLLBACK")
    assert _scalar(conn, "SELECT @@TRANCOUNT") == 0
    assert _scalar(conn, f"SELECT SUM(a) FROM {t}") == 1


def test_other_sessions_see_only_committed_rows(pymssql_connect):
    writer, reader = pymssql_connect(autocommit=True), pymssql_connect(autocommit=True)
    t = _table("tx_seen")
    writer.cursor().execute(f"CREATE TABLE {t} (a int)")
    writer.cursor().execute(f"BEGIN TRAN; INSERT {t} VALUES (1), (2)")
    assert _scalar(reader, f"SELECT COUNT(*) FROM {t}") == 0
    writer.cursor().execute("COMMIT")
    assert _scalar(reader, f"SELECT COUNT(*) FROM {t}") == 2


def test_a_cached_answer_is_not_served_after_another_session_commits(pymssql_connect):
    writer, reader = pymssql_connect(autocommit=True), pymssql_connect(autocommit=True)
    t = _table("tx_cache")
    writer.cursor().execute(f"CREATE TABLE {t} (a int); INSERT {t} VALUES (1)")
    writer.cursor().execute(f"BEGIN TRAN; INSERT {t} VALUES (2)")
    # The writer's own answer (2 rows) must not reach the reader, nor the reader's stay after COMMIT.
    assert _scalar(writer, f"SELECT COUNT(*) FROM {t}") == 2
    assert _scalar(reader, f"SELECT COUNT(*) FROM {t}") == 1
    assert _scalar(reader, f"SELECT COUNT(*) FROM {t}") == 1
    writer.cursor().execute("COMMIT")
    assert _scalar(reader, f"SELECT COUNT(*) FROM {t}") == 2


def test_ddl_rolls_back_and_is_invisible_until_commit(pymssql_connect):
    conn, other = pymssql_connect(autocommit=True), pymssql_connect(autocommit=True)
    t = _table("tx_ddl")
    conn.cursor().execute(
        f"BEGIN TRAN; CREATE TABLE {t} (id int IDENTITY(1,1), a int); INSERT {t} (a) VALUES (5)"
    )
    assert _scalar(conn, f"SELECT COUNT(*) FROM {t}") == 1
    assert _error_number(other, f"SELECT COUNT(*) FROM {t}") == 208
    conn.cursor().execute("ROLLBACK")
    assert _error_number(conn, f"SELECT COUNT(*) FROM {t}") == 208
    assert _scalar(conn, f"SELECT COUNT(*) FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = '{t}'") == 0
    # The name is free again, identity sequence included.
    conn.cursor().execute(f"CREATE TABLE {t} (id int IDENTITY(1,1), a int); INSERT {t} (a) VALUES (7)")
    assert _scalar(conn, f"SELECT id FROM {t}") == 1


def test_drop_table_rolls_back(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    t = _table("tx_drop")
    conn.cursor().execute(f"CREATE TABLE {t} (a int); INSERT {t} VALUES (3)")
    conn.cursor().execute(f"BEGIN TRAN; DROP TABLE {t}")
    assert _error_number(conn, f"SELECT a FROM {t}") == 208
    conn.cursor().execute("ROLLBACK")
    assert _scalar(conn, f"SELECT a FROM {t}") == 3


def test_nested_commit_only_counts_down(pymssql_connect):
    conn, other = pymssql_connect(autocommit=True), pymssql_connect(autocommit=True)
    t = _table("tx_nest")
    conn.cursor().execute(f"CREATE TABLE {t} (a int)")
    conn.cursor().execute(f"BEGIN TRAN; BEGIN TRAN; INSERT {t} VALUES (1); COMMIT")
    assert _scalar(conn, "SELECT @@TRANCOUNT") == 1
    assert _scalar(other, f"SELECT COUNT(*) FROM {t}") == 0
    conn.cursor().execute("COMMIT")
    assert _scalar(other, f"SELECT COUNT(*) FROM {t}") == 1


def test_savepoint_rollback_keeps_the_earlier_work(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    t = _table("tx_save")
    conn.cursor().execute(f"CREATE TABLE {t} (a int)")
    conn.cursor().execute(
        f"BEGIN TRAN; INSERT {t} VALUES (1); SAVE TRANSACTION s1; INSERT {t} VALUES (2); ROLLBACK TRAN s1"
    )
    assert _scalar(conn, "SELECT @@TRANCOUNT") == 1
    assert _scalar(conn, f"SELECT SUM(a) FROM {t}") == 1
    conn.cursor().execute("COMMIT")
    assert _scalar(conn, f"SELECT SUM(a) FROM {t}") == 1
    assert _error_number(conn, "BEGIN TRAN; ROLLBACK TRAN nosuch") == 6401
    conn.cursor().execute("ROLLBACK")


def test_a_failed_statement_alone_is_undone_unless_xact_abort(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    t = _table("tx_fail")
    conn.cursor().execute(f"CREATE TABLE {t} (a int PRIMARY KEY)")
    conn.cursor().execute(f"BEGIN TRAN; INSERT {t} VALUES (1)")
    assert _error_number(conn, f"INSERT {t} VALUES (1)") == 2627
    assert _scalar(conn, "SELECT @@TRANCOUNT") == 1
    conn.cursor().execute(f"INSERT {t} VALUES (2); COMMIT")
    assert _scalar(conn, f"SELECT COUNT(*) FROM {t}") == 2

    conn.cursor().execute(f"SET XACT_ABORT ON; BEGIN TRAN; INSERT {t} VALUES (3)")
    assert _error_number(conn, f"INSERT {t} VALUES (1)") == 2627
    assert _scalar(conn, "SELECT @@TRANCOUNT") == 0
    assert _scalar(conn, f"SELECT COUNT(*) FROM {t}") == 2


def test_create_table_of_a_taken_name_ends_the_transaction(pytds_connect):
    """What python-tds' own suite expects of SQL Server (transaction_test.py, test_manual_commit):
    after 2714 the transaction is gone, so the table it created can be created again. The
    rollback ENVCHANGE tells the client, which begins its next transaction itself."""
    conn = pytds_connect(autocommit=False)
    t = _table("tx_taken")
    conn.cursor().execute(f"CREATE TABLE {t} (x int)")
    with pytest.raises(pytds.OperationalError) as caught:
        conn.cursor().execute(f"CREATE TABLE {t} (x int)")
    assert caught.value.msg_no == 2714
    assert conn._tds_socket.tds72_transaction == 0  # the ENVCHANGE said: rolled back
    assert _scalar(conn, "SELECT @@TRANCOUNT") == 1  # python-tds began the next one
    conn.cursor().execute(f"CREATE TABLE {t} (x int)")  # the first one was rolled back with it
    conn.rollback()


def test_other_errors_in_a_create_table_leave_the_transaction_open(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    t = _table("tx_bad_create")
    conn.cursor().execute(f"BEGIN TRAN; CREATE TABLE {t} (a int)")
    assert _error_number(conn, f"CREATE TABLE {t}_2 (a int, a int)") == 2705
    assert _scalar(conn, "SELECT @@TRANCOUNT") == 1
    assert _scalar(conn, f"SELECT COUNT(*) FROM {t}") == 0
    conn.cursor().execute("ROLLBACK")


def test_implicit_transactions(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    t = _table("tx_impl")
    conn.cursor().execute(f"CREATE TABLE {t} (a int)")
    conn.cursor().execute("SET IMPLICIT_TRANSACTIONS ON")
    assert _scalar(conn, "SELECT @@TRANCOUNT") == 0  # a SELECT without a table starts none
    conn.cursor().execute(f"INSERT {t} VALUES (1)")
    assert _scalar(conn, "SELECT @@TRANCOUNT") == 1
    conn.cursor().execute("ROLLBACK; SET IMPLICIT_TRANSACTIONS OFF")
    assert _scalar(conn, f"SELECT COUNT(*) FROM {t}") == 0


def test_transaction_errors(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    assert _error_number(conn, "COMMIT") == 3902
    assert _error_number(conn, "ROLLBACK") == 3903
    assert _error_number(conn, "SAVE TRANSACTION s") == 628
    conn.cursor().execute("BEGIN TRAN")
    assert _error_number(conn, "CREATE DATABASE tx_never") == 226
    conn.cursor().execute("ROLLBACK")


def test_pymssql_commit_and_rollback(pymssql_connect):
    conn, other = pymssql_connect(), pymssql_connect(autocommit=True)  # pymssql's default: a transaction
    t = _table("tx_driver")
    other.cursor().execute(f"CREATE TABLE {t} (a int)")
    conn.cursor().execute(f"INSERT {t} VALUES (1)")
    conn.rollback()
    conn.cursor().execute(f"INSERT {t} VALUES (2)")
    assert _scalar(other, f"SELECT COUNT(*) FROM {t}") == 0
    conn.commit()
    assert _scalar(other, f"SELECT SUM(a) FROM {t}") == 2


def test_pytds_transaction_manager_requests(pytds_connect):
    """python-tds sends TM_BEGIN_XACT / TM_COMMIT_XACT / TM_ROLLBACK_XACT (MS-TDS 2.2.6.9) and
    keeps the descriptor the ENVCHANGE of type 8 carries (MS-TDS 2.2.7.9)."""
    conn, other = pytds_connect(autocommit=False), pytds_connect()
    t = _table("tx_tm")
    other.cursor().execute(f"CREATE TABLE {t} (a int)")
    assert conn._tds_socket.tds72_transaction  # the descriptor of the TM_BEGIN_XACT response
    conn.cursor().execute(f"INSERT {t} VALUES (1)")
    conn.rollback()
    assert _scalar(other, f"SELECT COUNT(*) FROM {t}") == 0
    conn.cursor().execute(f"INSERT {t} VALUES (2)")
    conn.commit()
    assert _scalar(other, f"SELECT SUM(a) FROM {t}") == 2
    assert _scalar(conn, "SELECT @@TRANCOUNT") == 1  # commit with fBeginXact began the next one


def test_a_failed_create_table_with_identity_leaves_nothing_behind(pymssql_connect):
    conn = pymssql_connect(autocommit=True)
    t = _table("tx_ident")
    assert _error_number(conn, f"CREATE TABLE {t} (id int IDENTITY(1,1), a int, a int)") == 2705
    # A key on a missing column: DuckDB refuses the table after the IDENTITY's sequence exists.
    assert _error_number(conn, f"CREATE TABLE {t} (id int IDENTITY(1,1), PRIMARY KEY (nosuch))") != 2714
    conn.cursor().execute(f"CREATE TABLE {t} (id int IDENTITY(1,1), a int); INSERT {t} (a) VALUES (1)")
    assert _scalar(conn, f"SELECT id FROM {t}") == 1


def test_a_failed_query_keeps_the_transactions_rows(pymssql_connect):
    """DuckDB gives up its transaction at any error; SQL Server keeps it (XACT_ABORT OFF)."""
    conn = pymssql_connect(autocommit=True)
    t = _table("tx_keep")
    conn.cursor().execute(f"BEGIN TRAN; CREATE TABLE {t} (k int)")
    conn.cursor().execute(f"INSERT INTO {t} VALUES (0)")  # a one-statement batch: the bulk path
    for _ in range(2):
        assert _error_number(conn, f"SELECT 10 / k FROM {t}") == 8134
    assert _scalar(conn, f"SELECT COUNT(*) FROM {t}") == 1
    conn.cursor().execute("COMMIT")
    assert _scalar(conn, f"SELECT COUNT(*) FROM {t}") == 1


def _blocked_table(first, name: str) -> str:
    """A table whose row k = 1 the open transaction of ``first`` has changed."""
    t = _table(name)
    first.cursor().execute(f"CREATE TABLE {t} (k int, v int); INSERT {t} VALUES (1, 0)")
    first.cursor().execute(f"BEGIN TRAN; UPDATE {t} SET v = 1 WHERE k = 1")
    return t


# SET LOCK_TIMEOUT: -1 (the default) waits for ever, 0 does not wait, n waits n ms; then
# "an error is returned" (1222) and the transaction is not rolled back.
# https://learn.microsoft.com/en-us/sql/t-sql/statements/set-lock-timeout-transact-sql
def test_a_blocked_writer_gets_1222_after_lock_timeout(pymssql_connect):
    first, second = pymssql_connect(autocommit=True), pymssql_connect(autocommit=True)
    t = _blocked_table(first, "tx_timeout")
    second.cursor().execute("SET LOCK_TIMEOUT 300")
    started = time.monotonic()
    assert _error_number(second, f"UPDATE {t} SET v = 2 WHERE k = 1") == 1222
    assert time.monotonic() - started >= 0.3
    second.cursor().execute("SET LOCK_TIMEOUT 0")
    started = time.monotonic()
    second.cursor().execute("BEGIN TRAN")
    assert _error_number(second, f"UPDATE {t} SET v = 2 WHERE k = 1") == 1222
    assert time.monotonic() - started < 0.3
    assert _scalar(second, "SELECT @@TRANCOUNT") == 1  # 1222 leaves the transaction open
    second.cursor().execute("ROLLBACK")
    first.cursor().execute("COMMIT")
    assert _scalar(second, f"SELECT v FROM {t}") == 1


def test_a_blocked_writer_waits_for_the_other_transaction_by_default(pymssql_connect):
    first, second = pymssql_connect(autocommit=True), pymssql_connect(autocommit=True)
    t = _blocked_table(first, "tx_wait")
    outcome = {}

    def blocked_update():
        try:
            second.cursor().execute(f"UPDATE {t} SET v = v + 10 WHERE k = 1")
            outcome["done"] = time.monotonic()
        except pymssql.Error as error:  # reported by the assert below
            outcome["error"] = error

    waiter = threading.Thread(target=blocked_update)
    waiter.start()
    time.sleep(0.4)
    assert not outcome, "the writer did not wait for the open transaction"
    committed = time.monotonic()
    first.cursor().execute("COMMIT")
    waiter.join(10)
    assert "done" in outcome, outcome
    assert outcome["done"] >= committed
    assert _scalar(first, f"SELECT v FROM {t}") == 11  # it ran on the committed row


def test_a_conflict_after_the_transactions_own_writes_is_3960_and_ends_it(pymssql_connect):
    # Waiting is not modelled for a transaction that has written: DuckDB gives up its writes at
    # the conflict, so it could not hold them while waiting (README: Transactions and sessions).
    first, second = pymssql_connect(autocommit=True), pymssql_connect(autocommit=True)
    t = _blocked_table(first, "tx_conflict")
    other = _table("tx_other")
    second.cursor().execute(f"CREATE TABLE {other} (a int)")
    second.cursor().execute(f"BEGIN TRAN; INSERT {other} VALUES (1)")
    assert _error_number(second, f"UPDATE {t} SET v = 2 WHERE k = 1") == 3960
    assert _scalar(second, "SELECT @@TRANCOUNT") == 0
    assert _scalar(second, f"SELECT COUNT(*) FROM {other}") == 0
    first.cursor().execute("COMMIT")
    assert _scalar(second, f"SELECT v FROM {t}") == 1


def test_a_disconnect_rolls_the_open_transaction_back(pymssql_connect):
    conn, other = pymssql_connect(autocommit=True), pymssql_connect(autocommit=True)
    t = _table("tx_gone")
    conn.cursor().execute(f"BEGIN TRAN; CREATE TABLE {t} (a int); INSERT {t} VALUES (1)")
    conn.close()
    for _ in range(50):  # the server notices the closed socket on its own thread
        if _scalar(other, f"SELECT OBJECT_ID('{t}')") is None:  # the catalog has let go of the name
            break
        time.sleep(0.05)
    other.cursor().execute(f"CREATE TABLE {t} (a int)")
    assert _scalar(other, f"SELECT COUNT(*) FROM {t}") == 0


def test_sp_reset_connection_rolls_back_and_answers(pytds_connect):
    """python-tds' connection pool calls sp_reset_connection (an RPC) before reusing a connection."""
    conn, other = pytds_connect(), pytds_connect()
    t = _table("tx_reset")
    other.cursor().execute(f"CREATE TABLE {t} (a int)")
    cursor = conn.cursor()
    cursor.execute(f"BEGIN TRAN; INSERT {t} VALUES (1)")
    cursor.callproc("sp_reset_connection", [])
    assert _scalar(conn, "SELECT @@TRANCOUNT") == 0
    assert _scalar(other, f"SELECT COUNT(*) FROM {t}") == 0
