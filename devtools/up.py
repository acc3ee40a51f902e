"""`make up`: the embedded stack and a real Airflow with its UI, running until Ctrl-C.

Starts PostgreSQL and the SQL Server emulator with 5,000 demo rows, migrates Airflow's metadata
database, creates the demo login, and runs Airflow's API server (the UI), scheduler, DAG
processor and triggerer with the LocalExecutor. sync_open_orders is unpaused on its five-minute
schedule. Once its first run has loaded the seeded rows, the demo source changes a few rows
(inserts, updates, deletes) every few minutes, so the next runs have something to apply. Ctrl-C (or SIGTERM) stops
everything it started; the services' logs stay under .run/up/.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import sys
import time

import psycopg
from psycopg.rows import dict_row

from devtools.airflow_services import ALL_SERVICES, AirflowServices, free_port
from devtools.demo_source.generate import apply_changes
from devtools.stack import DEMO_PASSWORD, DEMO_USER, REPO_ROOT, EmbeddedStack

DAG_ID = "sync_open_orders"
LOG_DIR = REPO_ROOT / ".run" / "up"
DEFAULT_PORT = 8080
# The compose stack's auth manager, so the login here is the one a deployment has.
AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
# A few rows per change: enough to see inserts, updates and deletes in the status page.
CHANGE_SIZE = {"inserts": 6, "updates": 10, "deletes": 4}
POLL_SECONDS = 2


def airflow_settings() -> dict[str, str]:
    """What this local Airflow adds to the stack's environment (all values are demo values)."""
    return {
        "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER,
        "AIRFLOW__API__SECRET_KEY": "demo-api-secret-key-not-for-production",
        # The DAG processor stores the DAG unpaused, so its first scheduled run starts at once.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    }


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM stop once: a second Ctrl-C must not cut the clean-up short."""

    def interrupt(signum, frame):
        for name in (signal.SIGINT, signal.SIGTERM):
            signal.signal(name, signal.SIG_IGN)
        print("\nstopping everything make up started ...", flush=True)
        raise KeyboardInterrupt

    for name in (signal.SIGINT, signal.SIGTERM):
        signal.signal(name, interrupt)


def finished_attempts(stack: EmbeddedStack, after_id: int) -> list[dict]:
    """Sync attempts that ended after history row ``after_id`` (none before the first run)."""
    with (
        contextlib.suppress(psycopg.errors.UndefinedTable),
        psycopg.connect(stack.orders_dsn, row_factory=dict_row) as conn,
    ):
        return conn.execute(
            "SELECT id, run_id, status, rows_inserted, rows_updated, rows_deleted, rows_in_table "
            "FROM table_sync.history WHERE id > %s AND status <> 'running' ORDER BY id",
            (after_id,),
        ).fetchall()
    return []


def describe(attempt: dict) -> str:
    if attempt["status"] != "success":
        return f"run {attempt['run_id']}: {attempt['status']} (see the Sync status page)"
    return (
        f"run {attempt['run_id']}: success, +{attempt['rows_inserted']} ~{attempt['rows_updated']} "
        f"-{attempt['rows_deleted']}, {attempt['rows_in_table']} rows in public.open_orders"
    )


def change_source(stack: EmbeddedStack, seed: int) -> str:
    with contextlib.closing(stack.source_connection()) as conn:
        changes = apply_changes(conn, seed=seed, **CHANGE_SIZE)
    return (
        f"source changed: {len(changes.inserted)} inserted, {len(changes.updated)} updated, "
        f"{len(changes.deleted)} deleted"
    )


def serve(stack: EmbeddedStack, services: AirflowServices, change_every: float) -> None:
    """Report finished runs; after the first success, change the source every ``change_every`` s."""
    last_attempt = 0
    next_change = None  # the first run loads the seeded rows as they are
    seed = 1000
    while True:
        services.check_alive()
        for attempt in finished_attempts(stack, last_attempt):
            print(describe(attempt), flush=True)
            last_attempt = attempt["id"]
            if next_change is None and attempt["status"] == "success":
                next_change = time.monotonic() + change_every
        if next_change is not None and time.monotonic() >= next_change:
            seed += 1
            try:
                print(change_source(stack, seed), flush=True)
            except Exception as error:  # a demo keeps running; the next change may work
                print(f"source change failed: {str(error).splitlines()[0]}", flush=True)
            next_change = time.monotonic() + change_every
        time.sleep(POLL_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"the UI's port (default {DEFAULT_PORT} if free; 0: any free one)",
    )
    parser.add_argument(
        "--change-every", type=float, default=180.0, help="seconds between source changes (default 180)"
    )
    args = parser.parse_args(argv)
    if args.port is None:
        port = DEFAULT_PORT if port_is_free(DEFAULT_PORT) else free_port()
    else:
        port = args.port or free_port()
    stop_on_signals()

    started = time.monotonic()
    try:
        print(f"starting PostgreSQL and the SQL Server emulator, seeding {args.rows} rows ...", flush=True)
        with EmbeddedStack(seed_rows=args.rows, migrate=False, extra_env=airflow_settings()) as stack:
            print("migrating Airflow's metadata database, creating the demo login ...", flush=True)
            stack.airflow("db", "migrate", quiet=True)
            # Before the services: the API server and this command would both create FAB's roles.
            stack.airflow(
                *("users", "create", "--role", "Admin", "--username", DEMO_USER),
                *("--password", DEMO_PASSWORD, "--firstname", "Demo", "--lastname", "User"),
                *("--email", "demo@example.invalid"),
                quiet=True,
            )
            print("starting Airflow: api-server, scheduler, dag-processor, triggerer ...", flush=True)
            with AirflowServices(stack.env(), LOG_DIR, api_port=port, services=ALL_SERVICES) as services:
                services.start_all()
                services.wait_for_api(timeout=300)
                url = f"http://{services.host}:{services.api_port}/"
                print(
                    f"Airflow UI: {url} - log in as {DEMO_USER} / {DEMO_PASSWORD}; "
                    f"Sync status: {url}sync-status/ - ready in {time.monotonic() - started:.0f} s, "
                    "Ctrl-C stops everything",
                    flush=True,
                )
                serve(stack, services, args.change_every)
    except KeyboardInterrupt:
        print(f"stopped; everything make up started is gone (service logs: {LOG_DIR})", flush=True)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
