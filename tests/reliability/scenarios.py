"""The failure matrix as data: what breaks, what the operator sees, what happens to the data.

``test_failure_matrix.py`` runs every scenario against a populated ``open_orders`` and asserts
these very fields (exception class, history row, log words); ``docs/failure-matrix.md`` is
generated from them by ``python -m devtools.failure_matrix_doc``, so the document cannot drift
from what the tests prove.
"""

from __future__ import annotations

from dataclasses import dataclass

LAYERS = {
    "source": "SQL Server (the source view)",
    "target": "PostgreSQL (the target database)",
    "process": "The task process (killed with SIGKILL)",
}

UNCHANGED = (
    "`open_orders` and `last_success_at` unchanged; the Rails app keeps reading the last good snapshot."
)
ABANDONED = "Status `abandoned` (error class `Abandoned`) once the next run settles the attempt"


@dataclass(frozen=True)
class Scenario:
    name: str
    layer: str  # a key of LAYERS
    failure: str  # what goes wrong, in operator words
    operator_sees: str  # the task's end and the history / status-view row
    data_outcome: str  # what happens to the live table
    raises: str | None  # exception class the step raises; None when the process is killed
    history_status: str  # the attempt's status once the next run has settled it
    history_error_class: str | None
    log_says: str  # words the task log (and the history row) must contain


SCENARIOS: tuple[Scenario, ...] = (
    # -- source ------------------------------------------------------------------------------
    Scenario(
        name="connection_refused",
        layer="source",
        failure="Nothing listens on the SQL Server port.",
        operator_sees="extract fails at once (connection refused) and is retried (transient).",
        data_outcome=UNCHANGED,
        raises="SourceUnavailableError",
        history_status="failed",
        history_error_class="SourceUnavailableError",
        log_says="SQL Server unavailable",
    ),
    Scenario(
        name="login_delayed",
        layer="source",
        failure="The server accepts the connection but answers the login after the login timeout.",
        operator_sees="extract fails after `login_timeout` seconds and is retried (transient).",
        data_outcome=UNCHANGED,
        raises="SourceUnavailableError",
        history_status="failed",
        history_error_class="SourceUnavailableError",
        log_says="SQL Server unavailable",
    ),
    Scenario(
        name="wrong_password",
        layer="source",
        failure="The sync user's password was changed on the SQL Server side.",
        operator_sees="extract fails at once, no retry (terminal); history says `SQL Server login failed (error 18456)`.",
        data_outcome=UNCHANGED,
        raises="SourceQueryError",
        history_status="failed",
        history_error_class="SourceQueryError",
        log_says="SQL Server login failed (error 18456)",
    ),
    Scenario(
        name="unknown_database",
        layer="source",
        failure="The connection names a database the server does not have (or the login may not open).",
        operator_sees="extract fails at once, no retry (terminal); history says `SQL Server login failed`.",
        data_outcome=UNCHANGED,
        raises="SourceQueryError",
        history_status="failed",
        history_error_class="SourceQueryError",
        log_says="SQL Server login failed",
    ),
    Scenario(
        name="missing_view",
        layer="source",
        failure="The view was dropped or renamed.",
        operator_sees="extract fails at once, no retry; history says `Invalid object name` (error 208).",
        data_outcome=UNCHANGED,
        raises="SourceQueryError",
        history_status="failed",
        history_error_class="SourceQueryError",
        log_says="SQL Server error 208: Invalid object name",
    ),
    Scenario(
        name="query_syntax_error",
        layer="source",
        failure="The mapping's custom `source.query` has a syntax error.",
        operator_sees="extract fails at once, no retry; history carries SQL Server's syntax message (error 102).",
        data_outcome=UNCHANGED,
        raises="SourceQueryError",
        history_status="failed",
        history_error_class="SourceQueryError",
        log_says="SQL Server error 102: Incorrect syntax",
    ),
    Scenario(
        name="disconnect_mid_stream",
        layer="source",
        failure="The connection drops after some rows were sent.",
        operator_sees="extract fails and is retried (transient); the partial rows are discarded with the staging table.",
        data_outcome=UNCHANGED,
        raises="SourceUnavailableError",
        history_status="failed",
        history_error_class="SourceUnavailableError",
        log_says="SQL Server unavailable",
    ),
    Scenario(
        name="stall_mid_stream",
        layer="source",
        failure="The server stops sending rows mid-result and never resumes.",
        operator_sees="extract ends after the query `timeout` (it does not hang) and is retried (transient).",
        data_outcome=UNCHANGED,
        raises="SourceUnavailableError",
        history_status="failed",
        history_error_class="SourceUnavailableError",
        log_says="SQL Server unavailable",
    ),
    Scenario(
        name="column_removed",
        layer="source",
        failure="The view lost a mapped column.",
        operator_sees="extract fails before reading rows, no retry; history lists the missing column.",
        data_outcome=UNCHANGED,
        raises="SchemaDriftError",
        history_status="failed",
        history_error_class="SchemaDriftError",
        log_says="missing: NetPrice",
    ),
    Scenario(
        name="column_renamed",
        layer="source",
        failure="A mapped column of the view was renamed.",
        operator_sees="extract fails before reading rows, no retry; history lists the missing and the new name.",
        data_outcome=UNCHANGED,
        raises="SchemaDriftError",
        history_status="failed",
        history_error_class="SchemaDriftError",
        log_says="missing: NetPrice",
    ),
    Scenario(
        name="column_retyped",
        layer="source",
        failure="A mapped column now has another type (a wider decimal).",
        operator_sees="extract fails before reading rows, no retry; history shows expected and found type.",
        data_outcome=UNCHANGED,
        raises="SchemaDriftError",
        history_status="failed",
        history_error_class="SchemaDriftError",
        log_says="retyped: OrderQuantity (expected decimal(15,3)",
    ),
    Scenario(
        name="bad_dats_value",
        layer="source",
        failure="A DATS field holds text that is not a YYYYMMDD date.",
        operator_sees="extract fails, no retry; history names key, column and raw value.",
        data_outcome=UNCHANGED,
        raises="ConversionError",
        history_status="failed",
        history_error_class="ConversionError",
        log_says="column CustomerPODate = '2026ABCD'",
    ),
    Scenario(
        name="bad_flag",
        layer="source",
        failure="An SAP flag holds something other than 'X' or blank.",
        operator_sees="extract fails, no retry; history names key, column and raw value.",
        data_outcome=UNCHANGED,
        raises="ConversionError",
        history_status="failed",
        history_error_class="ConversionError",
        log_says="column CompleteDeliveryFlag = 'Y'",
    ),
    Scenario(
        name="decimal_out_of_range",
        layer="source",
        failure="A decimal value does not fit the target's numeric(15,3) (custom query widening the type).",
        operator_sees="extract fails, no retry; history names key, column and value.",
        data_outcome=UNCHANGED,
        raises="ConversionError",
        history_status="failed",
        history_error_class="ConversionError",
        log_says="column OrderQuantity",
    ),
    Scenario(
        name="null_key",
        layer="source",
        failure="A row has a NULL key part.",
        operator_sees="validate rejects the snapshot, no retry; history status `rejected`, check `key_present`.",
        data_outcome=UNCHANGED,
        raises="ValidationError",
        history_status="rejected",
        history_error_class="ValidationError",
        log_says="key_present: 1 row(s) with a NULL key",
    ),
    Scenario(
        name="duplicate_key",
        layer="source",
        failure="Two rows share a key.",
        operator_sees="validate rejects the snapshot, no retry; check `key_unique` lists the key.",
        data_outcome=UNCHANGED,
        raises="ValidationError",
        history_status="rejected",
        history_error_class="ValidationError",
        log_says="key_unique: duplicate key(s): 0000010000/000010 (x2)",
    ),
    Scenario(
        name="empty_result",
        layer="source",
        failure="The view returns no rows.",
        operator_sees="validate rejects the snapshot (`min_rows`); a run with `allow_empty` may empty the table on purpose.",
        data_outcome=UNCHANGED,
        raises="ValidationError",
        history_status="rejected",
        history_error_class="ValidationError",
        log_says="min_rows: 0 row(s), minimum 1",
    ),
    Scenario(
        name="shrunk_below_guard",
        layer="source",
        failure="The view returns far fewer rows than the table holds.",
        operator_sees="validate rejects the snapshot (`shrink_guard`); a run with a larger `max_shrink` may apply it.",
        data_outcome=UNCHANGED,
        raises="ValidationError",
        history_status="rejected",
        history_error_class="ValidationError",
        log_says="shrink_guard",
    ),
    # -- target ------------------------------------------------------------------------------
    Scenario(
        name="postgres_down_at_extract",
        layer="target",
        failure="PostgreSQL is down when extract starts.",
        operator_sees="extract fails and is retried (transient); no history row can be written, the task log says why.",
        data_outcome=UNCHANGED,
        raises="TargetUnavailableError",
        history_status="none",
        history_error_class=None,
        log_says="PostgreSQL unavailable",
    ),
    Scenario(
        name="postgres_down_at_replace",
        layer="target",
        failure="PostgreSQL goes down between validate and replace.",
        operator_sees="replace fails and is retried (transient); the task log shows the connection error; the attempt stays `running` until PostgreSQL is back. "
        + ABANDONED
        + ".",
        data_outcome=UNCHANGED,
        raises="TargetUnavailableError",
        history_status="abandoned",
        history_error_class="Abandoned",
        log_says="PostgreSQL unavailable",
    ),
    Scenario(
        name="backend_killed_mid_copy",
        layer="target",
        failure="The PostgreSQL session of extract is terminated while it copies rows.",
        operator_sees="extract fails and is retried (transient); the next run drops the half-filled staging table.",
        data_outcome=UNCHANGED,
        raises="TargetUnavailableError",
        history_status="failed",
        history_error_class="TargetUnavailableError",
        log_says="PostgreSQL unavailable",
    ),
    Scenario(
        name="reader_holds_lock",
        layer="target",
        failure="A reader holds a lock on `open_orders` that conflicts with the apply, past `lock_timeout_ms`.",
        operator_sees="replace gives up after the lock timeout and is retried (transient).",
        data_outcome=UNCHANGED,
        raises="LockTimeoutError",
        history_status="failed",
        history_error_class="LockTimeoutError",
        log_says="lock timeout on the target",
    ),
    Scenario(
        name="lock_held_before_run",
        layer="target",
        failure="A session (a migration, a long `LOCK TABLE`) holds `open_orders` exclusively from before the run.",
        operator_sees="extract (which reads the live rows' keys to tell unchanged rows) gives up after "
        "`lock_timeout_ms` instead of hanging, and is retried (transient).",
        data_outcome=UNCHANGED,
        raises="LockTimeoutError",
        history_status="failed",
        history_error_class="LockTimeoutError",
        log_says="extract failed for public.open_orders: lock timeout on the target",
    ),
    Scenario(
        name="staging_dropped",
        layer="target",
        failure="The staged snapshot is dropped between extract and validate.",
        operator_sees="validate fails, no retry; history says the snapshot is gone and to run again.",
        data_outcome=UNCHANGED,
        raises="StagingMissingError",
        history_status="failed",
        history_error_class="StagingMissingError",
        log_says="is gone; nothing was applied",
    ),
    # -- process -----------------------------------------------------------------------------
    Scenario(
        name="killed_during_extract",
        layer="process",
        failure="The task process is killed while rows stream from SQL Server to staging.",
        operator_sees="The task dies without a log line. "
        + ABANDONED
        + "; that run drops the orphaned staging.",
        data_outcome=UNCHANGED,
        raises=None,
        history_status="abandoned",
        history_error_class="Abandoned",
        log_says="task process killed or lost",
    ),
    Scenario(
        name="killed_during_validate",
        layer="process",
        failure="The task process is killed while the checks run.",
        operator_sees="The task dies without a log line. While its PostgreSQL session still runs the "
        "check, a new run stops with `ConcurrentSyncError` (transient, retried). " + ABANDONED + ".",
        data_outcome=UNCHANGED,
        raises=None,
        history_status="abandoned",
        history_error_class="Abandoned",
        log_says="task process killed or lost",
    ),
    Scenario(
        name="killed_inside_replace",
        layer="process",
        failure="The task process is killed inside the apply transaction, before it commits.",
        operator_sees="The task dies; PostgreSQL rolls the open transaction back. " + ABANDONED + ".",
        data_outcome=UNCHANGED + " Rows the apply had already changed are rolled back.",
        raises=None,
        history_status="abandoned",
        history_error_class="Abandoned",
        log_says="task process killed or lost",
    ),
    Scenario(
        name="killed_after_commit",
        layer="process",
        failure="The task process is killed right after the apply committed, before cleanup.",
        operator_sees="The attempt stays `success` (its commit carried the success record); the next run drops the staging "
        "its cleanup never dropped.",
        data_outcome="`open_orders` holds the new snapshot and `last_success_at` moved: the commit is the point of no return.",
        raises=None,
        history_status="success",
        history_error_class=None,
        log_says="",
    ),
)


def scenario_names() -> list[str]:
    return [scenario.name for scenario in SCENARIOS]
