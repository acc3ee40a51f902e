"""Mapping and view variants the failure scenarios need (shared by the tests and the child driver)."""

from __future__ import annotations

import logging
import re

from devtools.demo_source.generate import script_batches
from include.table_sync.mapping import SqlCheck, SyncMapping

# An advisory-lock key the test holds to park a child's validate inside a check (see gate_check).
VALIDATE_GATE_KEY = 4242


def view_body() -> str:
    """The demo view's SELECT, as create_source.sql defines it."""
    batch = next(b for b in script_batches() if "CREATE VIEW dbo.vwZSDOrder_Advanced" in b)
    return re.split(r"\bAS\s*\n", batch, maxsplit=1)[1].strip().rstrip(";")


def altered_view(old: str, new: str) -> str:
    """CREATE OR ALTER VIEW with one select-list line of the demo view replaced."""
    body = view_body()
    assert old in body, f"{old!r} is not in the demo view"
    return "CREATE OR ALTER VIEW dbo.vwZSDOrder_Advanced AS\n" + body.replace(old, new, 1)


def with_query(mapping: SyncMapping, query: str) -> SyncMapping:
    return mapping.model_copy(update={"source": mapping.source.model_copy(update={"query": query})})


def with_thresholds(mapping: SyncMapping, **values) -> SyncMapping:
    return mapping.model_copy(update={"thresholds": mapping.thresholds.model_copy(update=values)})


def with_gate_check(mapping: SyncMapping) -> SyncMapping:
    """A check that waits for VALIDATE_GATE_KEY: validate stays parked while the test holds it."""
    gate = SqlCheck(
        name="wait_for_test_gate",
        sql=f"SELECT count(*) - 1 FROM (SELECT pg_advisory_xact_lock_shared({VALIDATE_GATE_KEY})) AS gate",
    )
    return mapping.model_copy(update={"checks": (*mapping.checks, gate)})


class ArmFaultBeforeSelect(logging.Handler):
    """Arm an emulator fault the moment extract logs that the schema check passed.

    Faults hit the next batch of any session, and extract's first batch is the schema check;
    arming on this log line makes the fault hit the row stream itself.
    """

    def __init__(self, connect_admin, kind: str, **params):
        super().__init__(logging.INFO)
        self.connect_admin, self.kind, self.params = connect_admin, kind, params
        self.armed = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.armed or not record.getMessage().startswith("schema check passed"):
            return
        arguments = "".join(f", @{name} = {value}" for name, value in self.params.items())
        with self.connect_admin() as admin:
            admin.cursor().execute(f"EXEC emulator.inject_fault @kind = N'{self.kind}'{arguments}")
        self.armed = True
