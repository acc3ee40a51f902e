"""Airflow glue for the sync engine: a DAG of extract -> validate -> replace (+ cleanup).

The engine in ``include/table_sync`` knows nothing of Airflow. This module supplies what only
Airflow has: connections (``MsSqlHook``/``PostgresHook``, so credentials come from Airflow
connections or a secrets backend), params, retries, timeouts, XCom, an Asset and callbacks.
A DAG file calls :func:`build_sync_dag` with a mapping file; nothing heavy runs at parse time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from airflow.sdk import Asset, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException

log = logging.getLogger("table_sync")

# A run ends inside its five-minute slot, so the task timeouts together stay within it: a hung
# task fails on its own timeout, with its own log, before the run's timeout kills everything.
# (A whole sync of 1M rows takes about 40 s; see docs/benchmarks.md.)
RUN_TIMEOUT = dt.timedelta(minutes=5)
EXTRACT_TIMEOUT = dt.timedelta(minutes=2)
VALIDATE_TIMEOUT = dt.timedelta(minutes=1)
REPLACE_TIMEOUT = dt.timedelta(minutes=1)
CLEANUP_TIMEOUT = dt.timedelta(minutes=1)


def _mapping(mapping_file: str):
    from include.table_sync.mapping import MAPPINGS_DIR, load_mapping

    return load_mapping(MAPPINGS_DIR / mapping_file)


def source_hook(conn_id: str):
    """A :class:`~include.source_connection.SourceHook` carrying the sync's defaults for missing extras.

    ``tds_version`` is normalised to the plain string pymssql wants: depending on where a URI is
    parsed its ``7.4`` arrives as a number, and a quoted ``"7.4"`` keeps its quotes.
    """
    from include.source_connection import SOURCE_CONNECT_DEFAULTS, SourceHook

    hook = SourceHook(mssql_conn_id=conn_id)
    apply_extra_defaults(hook.connection, SOURCE_CONNECT_DEFAULTS)
    return hook


def apply_extra_defaults(connection, defaults: dict[str, Any]) -> None:
    """Give an Airflow connection ``defaults`` for the extras it does not set (the status page too)."""
    extras = {**defaults, **connection.extra_dejson}
    if "tds_version" in extras:
        extras["tds_version"] = str(extras["tds_version"]).strip('"')
    connection.extra = json.dumps(extras)


def _sync_context(mapping_file: str):
    """Build the engine's context from Airflow connections (looked up at run time only)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from include.table_sync.pipeline import SyncContext

    mapping = _mapping(mapping_file)
    context = get_current_context()
    mssql_hook = source_hook(mapping.source.conn_id)
    target_hook = PostgresHook(postgres_conn_id=mapping.target.conn_id)
    secrets = tuple(s for s in (mssql_hook.connection.password, target_hook.connection.password) if s)
    return SyncContext(
        mapping=mapping,
        run_id=context["run_id"],
        connect_source=mssql_hook.get_conn,
        connect_target=target_hook.get_conn,
        secrets=secrets,
        log=log,
    )


@contextlib.contextmanager
def airflow_errors() -> Iterator[None]:
    """Turn engine errors into Airflow's: transient ones retry, the rest fail at once.

    A classified ``SyncError`` says everything in its message (driver text already redacted into
    it), so it carries no chain; a bug keeps its cause, so the task log shows where it happened.
    """
    from include.table_sync.errors import SyncError

    try:
        yield
    except SyncError as error:
        failure = AirflowException if error.transient else AirflowFailException
        raise failure(str(error)) from error.__cause__
    except Exception as error:
        raise AirflowFailException(f"{type(error).__name__}: {error}") from error


def _run_options():
    from include.table_sync.pipeline import RunOptions

    params = get_current_context()["params"]
    max_shrink = params.get("max_shrink")
    return RunOptions(
        allow_empty=bool(params.get("allow_empty", False)),
        max_shrink=None if max_shrink is None else float(max_shrink),
        dry_run=bool(params.get("dry_run", False)),
    )


def failure_summary(context: dict[str, Any]) -> str:
    ti = context.get("ti") or context.get("task_instance")
    exception = context.get("exception")
    first_line = str(exception).splitlines()[0] if exception else "unknown error"
    return (
        f"{getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')} failed "
        f"(run {context.get('run_id', '?')}, try {getattr(ti, 'try_number', '?')}): "
        f"{type(exception).__name__ if exception else 'Error'}: {first_line}"
    )


def log_failure(context: dict[str, Any]) -> None:
    """The first failure callback: one summary line an operator can grep for."""
    log.error("SYNC FAILED: %s", failure_summary(context))


def _run_started_at() -> dt.datetime:
    """When this DAG run started (the earliest its extract could have read the source)."""
    context = get_current_context()
    dag_run, ti = context.get("dag_run"), context["ti"]
    return getattr(dag_run, "start_date", None) or getattr(ti, "start_date", None) or dt.datetime.now(dt.UTC)


def failure_metric(table: str):
    """A failure callback counting the failed task as ``table_sync.<table>.failures``."""
    from include.sync_metrics import emit_sync_failure

    def count_failure(context: dict[str, Any]) -> None:
        emit_sync_failure(table)

    return count_failure


def build_sync_dag(
    *,
    dag_id: str,
    mapping_file: str,
    doc_md: str | None,
    schedule: str = "*/5 * * * *",
    tags: Sequence[str] = (),
    owner: str = "data-engineering",
    notifiers: Sequence[Any] = (),
    start_date: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
):
    """Build the extract -> validate -> replace DAG for one mapping file.

    ``notifiers`` are failure callbacks run after :func:`log_failure` and the failure metric;
    Airflow runs each on its own, so a broken one cannot stop the others.
    """
    mapping = _mapping(mapping_file)  # parse-time validation: a broken mapping is an import error
    target_asset = Asset(
        name=f"{mapping.target.conn_id}.{mapping.target.qualified_name}",
        uri=f"table-sync://{mapping.target.conn_id}/{mapping.target.schema}/{mapping.target.table}",
    )
    transient_retries = {
        "retries": 3,
        "retry_delay": dt.timedelta(seconds=15),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(minutes=1),
    }

    @dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=RUN_TIMEOUT,
        doc_md=doc_md,
        tags=list(tags),
        default_args={
            "owner": owner,
            "on_failure_callback": [log_failure, failure_metric(mapping.target.qualified_name), *notifiers],
            "retries": 0,
        },
        params={
            "dry_run": Param(
                False, type="boolean", description="Extract and validate only; leave the table as it is."
            ),
            "allow_empty": Param(
                False, type="boolean", description="Accept an empty source (empties the table)."
            ),
            "max_shrink": Param(
                None,
                type=["null", "number"],
                minimum=0,
                maximum=1,
                description="For this run only: the largest accepted shrink, 0 to 1 (1 = any).",
            ),
        },
    )
    def sync_dag():
        @task(execution_timeout=EXTRACT_TIMEOUT, **transient_retries)
        def extract() -> dict[str, Any]:
            """Read the source into a converted staging snapshot in PostgreSQL."""
            from include.table_sync.pipeline import extract as run_extract

            with airflow_errors():
                return run_extract(_sync_context(mapping_file)).to_dict()

        @task(execution_timeout=VALIDATE_TIMEOUT, **transient_retries)
        def validate(staged: dict[str, Any]) -> list[dict[str, Any]]:
            """Gate the snapshot: key, NOT NULL, minimum rows, shrink guard, mapping checks."""
            from include.table_sync.pipeline import StagedSnapshot
            from include.table_sync.pipeline import validate as run_validate

            with airflow_errors():
                results = run_validate(
                    _sync_context(mapping_file), StagedSnapshot.from_dict(staged), _run_options()
                )
            return [result.as_dict() for result in results]

        @task(execution_timeout=REPLACE_TIMEOUT, outlets=[target_asset], **transient_retries)
        def replace(staged: dict[str, Any], checks: list[dict[str, Any]]) -> dict[str, Any]:
            """Apply the snapshot to the live table in one transaction (skipped on dry runs)."""
            from include.sync_metrics import emit_sync_success
            from include.table_sync.pipeline import StagedSnapshot, mark_dry_run
            from include.table_sync.pipeline import replace as run_replace

            snapshot = StagedSnapshot.from_dict(staged)
            with airflow_errors():
                context = _sync_context(mapping_file)
                if _run_options().dry_run:
                    mark_dry_run(context, snapshot)
                    return {"dry_run": True, "rows_fetched": snapshot.rows_fetched}
                counts = run_replace(context, snapshot)
            emit_sync_success(
                mapping.target.qualified_name,
                snapshot.rows_fetched,
                counts,
                run_started_at=_run_started_at(),
                committed_at=dt.datetime.now(dt.UTC),
            )
            return {
                "inserted": counts.inserted,
                "updated": counts.updated,
                "deleted": counts.deleted,
                "unchanged": counts.unchanged,
                "rows_in_table": counts.rows_in_table,
            }

        @task(execution_timeout=CLEANUP_TIMEOUT, retries=1)
        def cleanup() -> None:
            """Drop this run's staging tables, whatever happened upstream."""
            from include.table_sync.pipeline import StagedSnapshot
            from include.table_sync.pipeline import cleanup as run_cleanup

            # Pulled by hand: when extract failed there is no XCom, and cleanup must still run.
            staged = get_current_context()["ti"].xcom_pull(task_ids="extract")
            run_cleanup(_sync_context(mapping_file), StagedSnapshot.from_dict(staged) if staged else None)

        staged = extract()
        checks = validate(staged)
        applied = replace(staged, checks)
        # A teardown: it runs whatever happened downstream of extract, and its own success does
        # not turn a failed sync into a successful DAG run.
        applied >> cleanup().as_teardown(setups=staged)

    return sync_dag()
