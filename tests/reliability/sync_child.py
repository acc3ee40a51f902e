"""Run one sync in a separate process, so a test can SIGKILL it at a chosen moment.

    MSSQL_PASSWORD=... python -m tests.reliability.sync_child '<json settings>'

Settings: ``dsn`` (PostgreSQL), ``mssql`` (pymssql connect kwargs without the password, which
comes from the environment so it never shows in ``ps``), ``run_id`` and ``variants`` (names of
mapping variants: ``gate_check``, ``long_lock_timeout``) and optionally ``fault_on_select``
(``{"kind": ..., "params": {...}}``: an emulator fault armed just before extract's SELECT).
Logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import sys

import psycopg
import pymssql

from include.table_sync.pipeline import SyncContext, sync_once
from tests.reliability.variants import ArmFaultBeforeSelect, with_gate_check, with_thresholds
from tests.sync.support import open_orders_mapping

VARIANTS = {
    "gate_check": with_gate_check,
    # The test parks the apply on a lock for as long as it needs, not for 5 s.
    "long_lock_timeout": lambda mapping: with_thresholds(mapping, lock_timeout_ms=120_000),
}


def main(argv: list[str]) -> int:
    settings = json.loads(argv[0])
    password = os.environ["MSSQL_PASSWORD"]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    mapping = open_orders_mapping()
    for name in settings.get("variants", ()):
        mapping = VARIANTS[name](mapping)

    def connect_source():
        conn = pymssql.connect(password=password, **settings["mssql"])
        conn.autocommit(True)
        return conn

    fault = settings.get("fault_on_select")
    if fault:
        logging.getLogger("table_sync").addHandler(
            ArmFaultBeforeSelect(connect_source, fault["kind"], **fault.get("params", {}))
        )
    context = SyncContext(
        mapping=mapping,
        run_id=settings["run_id"],
        connect_source=connect_source,
        connect_target=lambda: psycopg.connect(settings["dsn"]),
        secrets=(password,),
    )
    outcome = sync_once(context)
    print(json.dumps({"attempt_id": outcome.staged.attempt_id}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
