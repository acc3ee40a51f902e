"""Run the render probe against a configured SQL Server and print what the sync would do there.

    python -m include.table_sync.probe --conn mssql_sap [--mapping open_orders.yaml]

Evidence for the customer's DBA before the first sync: the server's version and collation, the
probe's report (every edge value of every mapped type rendered by the line query's own
expressions), and the read path ``auto`` would choose. It reads no table and never touches
PostgreSQL: the probe line is read back as PostgreSQL's input functions read it
(render_probe.read_in_python). The connection is the Airflow connection ``--conn``, through the
DAG's own hook and defaults (include/sync_dag.source_hook), imported only here: the engine
itself imports nothing from Airflow. Exit status: 0 probe passed, 2 probe failed, 1 no answer.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from typing import Any, TextIO

from include.table_sync.errors import SyncError
from include.table_sync.mapping import MAPPINGS_DIR, SyncMapping, load_mapping
from include.table_sync.redaction import redact
from include.table_sync.render_probe import RenderProbeError, choose_read_path, read_in_python, run_probe
from include.table_sync.source import classify_source_error, prepare_session, server_facts


def probe_server(conn: Any, mapping: SyncMapping, out: TextIO, secrets: tuple[str, ...] = ()) -> bool:
    """Print the server's facts, the probe's report and auto's choice; True when the probe passed."""
    prepare_session(conn, mapping)
    facts = server_facts(conn)
    print(f"server:     {facts.first_line}", file=out)
    print(f"version:    {facts.product_version}", file=out)
    print(f"collation:  {facts.collation}", file=out)
    report = run_probe(conn, mapping, read_in_python, secrets)
    print(redact(report.summary(), secrets), file=out)
    if report.line is not None:
        print(f"line received: {redact(report.line, secrets)!r}", file=out)
    auto = mapping.model_copy(update={"source": mapping.source.model_copy(update={"read_path": "auto"})})
    plan = choose_read_path(auto, facts, report)
    print(f"read path auto would choose: {plan.path} ({plan.reason})", file=out)
    if mapping.source.read_path != "auto":
        try:
            configured = choose_read_path(mapping, facts, report)
            print(f"read path the mapping sets: {configured.path} ({configured.reason})", file=out)
        except RenderProbeError:
            print("read path the mapping sets: csv_line, which would FAIL every run here", file=out)
    return report.passed


def main(
    argv: list[str] | None = None, connect: Callable[[str], tuple[Any, tuple[str, ...]]] | None = None
) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.table_sync.probe", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--conn", required=True, help="Airflow connection id of the SQL Server (e.g. mssql_sap)"
    )
    parser.add_argument(
        "--mapping", default="open_orders.yaml", help="mapping file, in include/mappings or a path"
    )
    args = parser.parse_args(argv)
    path = MAPPINGS_DIR / args.mapping if (MAPPINGS_DIR / args.mapping).exists() else args.mapping
    mapping = load_mapping(path)
    print(f"mapping:    {mapping.path} ({mapping.source.qualified_name}, {len(mapping.columns)} columns)")
    secrets: tuple[str, ...] = ()
    try:
        conn, secrets = (connect or _airflow_connection)(args.conn)
        with contextlib.closing(conn):
            passed = probe_server(conn, mapping, sys.stdout, secrets)
    except Exception as exc:  # noqa: BLE001 - reported as the sync would classify it
        error = exc if isinstance(exc, SyncError) else classify_source_error(exc, secrets)
        print(f"no answer from {args.conn}: {redact(str(error), secrets)}", file=sys.stderr)
        return 1
    return 0 if passed else 2


def _airflow_connection(conn_id: str) -> tuple[Any, tuple[str, ...]]:
    from include.sync_dag import source_hook

    hook = source_hook(conn_id)
    password = hook.connection.password
    return hook.get_conn(), (password,) if password else ()


if __name__ == "__main__":
    sys.exit(main())
