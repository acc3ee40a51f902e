"""The command line of the manual checks.

    python -m tests_manual run T013 T014 ...   # several checks on one environment
    python -m tests_manual run all
    python -m tests_manual.t013_manual_sync    # one check
    python -m tests_manual list

By default the embedded stack is started (PostgreSQL, the SQL Server emulator with demo rows,
an Airflow home) and stopped afterwards. With ``--use-env``, or whenever both
``AIRFLOW_CONN_MSSQL_SAP`` and ``AIRFLOW_CONN_POSTGRES_ORDERS`` are set, the checks use those
connections instead; ``--embedded`` forces the stack. Exit status 1 when any check failed.
"""

from __future__ import annotations

import argparse
import importlib
import time
import traceback

from tests_manual.environment import connections_in_environment, open_environment, prepare_airflow_home
from tests_manual.report import FAIL, Report, exit_code

CHECKS = {
    "T013": "tests_manual.t013_manual_sync",
    "T014": "tests_manual.t014_side_by_side",
    "T017": "tests_manual.t017_schedule",
    "T018": "tests_manual.t018_restart_recovery",
    "T023": "tests_manual.t023_connection_failure",
    "T024": "tests_manual.t024_authentication_failure",
    "T025": "tests_manual.t025_query_failure",
    "T026": "tests_manual.t026_import_failure",
    "T030": "tests_manual.t030_status_visibility",
}


def add_environment_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--use-env", action="store_true", help="use the AIRFLOW_CONN_* connections of this shell"
    )
    where.add_argument(
        "--embedded", action="store_true", help="start the embedded stack even if connections are set"
    )
    parser.add_argument(
        "--rows", type=int, default=5000, help="demo rows in the embedded stack (default 5000)"
    )
    parser.add_argument("--records", type=int, default=10, help="T014: records to show side by side")
    parser.add_argument("--runs", type=int, default=3, help="T017: scheduled runs to wait for (embedded)")


def run_checks(check_ids: list[str], args: argparse.Namespace) -> int:
    prepare_airflow_home()
    use_env = args.use_env or (connections_in_environment() and not args.embedded)
    statuses: list[str] = []
    started = time.monotonic()
    with open_environment(use_env, seed_rows=args.rows) as env:
        for check_id in check_ids:
            module = importlib.import_module(CHECKS[check_id])
            report = Report(check_id, module.TITLE)
            report.start(env.description)
            try:
                # A check that could run only in part returns a summary of that part.
                summary = module.run(env, report, args) or module.SUMMARY
                statuses.append(report.verdict(summary))
            except Exception as exc:  # noqa: BLE001 - an unexpected error is this check's FAIL
                report.note(traceback.format_exc(limit=6))
                print(
                    f"{FAIL} {check_id}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                )
                statuses.append(FAIL)
    counts = {status: statuses.count(status) for status in sorted(set(statuses))}
    print(
        f"\n{len(statuses)} check(s) in {time.monotonic() - started:.0f} s: "
        + ", ".join(f"{n} {status}" for status, n in counts.items()),
        flush=True,
    )
    return exit_code(statuses)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests_manual", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run checks (T013 ... or all)")
    run.add_argument("checks", nargs="+", metavar="CHECK")
    add_environment_arguments(run)
    commands.add_parser("list", help="list the checks")
    args = parser.parse_args(argv)
    if args.command == "list":
        for check_id, module_name in CHECKS.items():
            print(f"{check_id}  {importlib.import_module(module_name).TITLE}")
        return 0
    wanted = list(CHECKS) if [c.lower() for c in args.checks] == ["all"] else [c.upper() for c in args.checks]
    unknown = [c for c in wanted if c not in CHECKS]
    if unknown:
        parser.error(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    return run_checks(wanted, args)


def single_check_main(check_id: str):
    """The ``main`` of one check's module: the same options as ``run``, for that check only."""

    def main(argv: list[str] | None = None) -> int:
        parser = argparse.ArgumentParser(prog=CHECKS[check_id], description=f"manual check {check_id}")
        add_environment_arguments(parser)
        return run_checks([check_id], parser.parse_args(argv))

    return main
