"""Expectations several checks share: a baseline sync, and a failure that changes nothing."""

from __future__ import annotations

from include.table_sync.errors import SyncError
from tests_manual import probes
from tests_manual.environment import Environment, SourceOverrides
from tests_manual.report import Report, checksum_text


def synced_baseline(report: Report, env: Environment, run_id: str):
    """Sync once so the target holds data a failure could damage; return the outcome."""
    outcome = env.sync(run_id)
    counts = outcome.counts
    report.note(
        f"baseline sync {run_id}: applied {counts.summary()}, {counts.rows_in_table} rows in the table"
    )
    return outcome


def failed_sync_changes_nothing(
    report: Report,
    env: Environment,
    run_id: str,
    expected_error: type[SyncError],
    expected_words: str,
    *,
    mapping=None,
    overrides: SourceOverrides | None = None,
    expect_history: bool = True,
) -> SyncError | None:
    """Run a sync that must fail, then show the table, last success and staging are as before."""
    before = probes.table_checksum(env)
    status_before = probes.sync_status(env) or {}
    report.note(f"before: public.open_orders {checksum_text(before)}")
    error = None
    try:
        outcome = env.sync(run_id, mapping=mapping, overrides=overrides)
        report.expect(False, f"the sync fails (it succeeded: {outcome.counts.summary()})")
    except SyncError as caught:
        error = caught
        first_line = str(caught).splitlines()[0]
        report.note(f"the sync failed: {type(caught).__name__}: {first_line}")
        report.expect(isinstance(caught, expected_error), f"the error is a {expected_error.__name__}")
        report.expect(expected_words in str(caught), f"the error says {expected_words!r}")
        kind = (
            "transient: Airflow retries it"
            if caught.transient
            else "terminal: Airflow fails the task at once"
        )
        report.note(f"classified {kind}")
        report.expect(
            not any(secret in str(caught) for secret in env.secrets()), "no password in the error message"
        )
    after = probes.table_checksum(env)
    report.note(f"after:  public.open_orders {checksum_text(after)}")
    report.expect(after == before, "public.open_orders is byte-for-byte unchanged (checksum before = after)")
    status_after = probes.sync_status(env) or {}
    report.expect(
        status_after.get("last_success_at") == status_before.get("last_success_at"),
        f"last_success_at unchanged ({status_after.get('last_success_at')})",
    )
    if expect_history:
        attempt = probes.last_attempt(env)
        report.note(f"table_sync.history: {probes.describe_attempt(attempt)}")
        report.expect(
            attempt is not None
            and attempt["run_id"] == run_id
            and attempt["status"] in {"failed", "rejected"}
            and attempt["error_class"] == expected_error.__name__,
            f"the attempt is recorded as failed with {expected_error.__name__}",
        )
    leftovers = probes.staging_tables(env)
    report.expect(not leftovers, f"no staging table left behind ({', '.join(leftovers) or 'none'})")
    return error
