"""The source session settings the sync sends before it reads (source.prepare_session).

A recording stand-in for a DB-API connection: the order of the statements and the SNAPSHOT
refusal, checked without a server; the statements themselves are tsql.py's. Against a server
that cuts at TEXTSIZE: tests/sync/test_textsize.py.
"""

from __future__ import annotations

import pytest

from include.table_sync.source import SnapshotIsolationError, prepare_session
from include.table_sync.tsql import SNAPSHOT_ISOLATION_STATEMENT, SNAPSHOT_STATE_STATEMENT, TEXTSIZE_STATEMENT
from tests.unit.builders import small_mapping


class RecordingConnection:
    def __init__(self, snapshot_state=None, autocommit_state=True):
        self.sent: list[tuple[str, tuple | None]] = []
        self.snapshot_state = snapshot_state
        self.autocommit_state = autocommit_state
        self.commits = 0

    def cursor(self):
        return self

    def execute(self, statement, params=None):
        self.sent.append((statement, params))

    def fetchone(self):
        return None if self.snapshot_state is None else (self.snapshot_state,)

    def close(self):
        pass

    def commit(self):
        self.commits += 1


def _with_isolation(isolation: str):
    mapping = small_mapping()
    return mapping.model_copy(update={"source": mapping.source.model_copy(update={"isolation": isolation})})


def test_textsize_is_set_by_the_sync_before_anything_is_read():
    conn = RecordingConnection()
    prepare_session(conn, small_mapping())
    assert conn.sent == [("SET TEXTSIZE 2147483647", None)]
    assert TEXTSIZE_STATEMENT == "SET TEXTSIZE 2147483647"


def test_snapshot_isolation_is_checked_then_set_and_a_pending_transaction_restarted():
    conn = RecordingConnection(snapshot_state="ON", autocommit_state=False)
    prepare_session(conn, _with_isolation("snapshot"))
    assert conn.sent == [
        (TEXTSIZE_STATEMENT, None),
        (SNAPSHOT_STATE_STATEMENT, ("Demo",)),
        (SNAPSHOT_ISOLATION_STATEMENT, None),
    ]
    assert conn.commits == 1  # the transaction begun at connect ran under the old level


@pytest.mark.parametrize("state", ["OFF", "IN_TRANSITION_TO_ON", None])
def test_snapshot_isolation_not_allowed_is_a_clear_terminal_error(state):
    conn = RecordingConnection(snapshot_state=state)
    with pytest.raises(SnapshotIsolationError) as failure:
        prepare_session(conn, _with_isolation("snapshot"))
    message = str(failure.value)
    assert "Demo" in message and "ALLOW_SNAPSHOT_ISOLATION ON" in message
    assert not failure.value.transient
    assert SNAPSHOT_ISOLATION_STATEMENT not in [statement for statement, _ in conn.sent]
