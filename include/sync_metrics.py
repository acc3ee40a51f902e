"""Metrics of a sync, sent through Airflow's own metrics client.

Task code reaches Airflow's metrics through ``airflow.sdk.observability.stats``: the task runner
initialises it in every task process from the ``[metrics]`` settings (``statsd_on``,
``statsd_host``, ``statsd_port``, ``statsd_prefix``, or ``otel_on`` and its OpenTelemetry
settings; ``airflow/sdk/execution_time/task_runner.py``, ``main()``, calls
``stats.initialize(factory=stats_utils.get_stats_factory(), ...)``). A deployment that collects
Airflow's own metrics therefore collects these too, under the same prefix, with no setting of
ours. With metrics off the calls go to Airflow's no-op logger.

Names carry the target table (plain StatsD has no tags); the same values go as the tag
``table`` for backends that keep tags (OpenTelemetry, Datadog, InfluxDB-style StatsD):

- ``table_sync.<table>.rows_fetched``, ``rows_inserted``, ``rows_updated``, ``rows_deleted``:
  counters, added once per successful sync.
- ``table_sync.<table>.duration``: timer, from the run's start to the commit of the apply.
- ``table_sync.<table>.freshness_seconds``: gauge, the age at commit of the data just applied
  (read at most this long ago); ``table_sync.<table>.last_success_timestamp``: gauge, Unix
  seconds of that commit, so a dashboard can alert on ``now - last_success_timestamp``.
- ``table_sync.<table>.failures``: counter, one per task that fails for good (Airflow runs failure
  callbacks once the retries are used up).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from include.table_sync.apply import ApplyCounts

METRIC_NAMESPACE = "table_sync"

log = logging.getLogger("table_sync")


def metric_name(table: str, measure: str) -> str:
    """``table_sync.<table>.<measure>``, with the table made safe for StatsD (``public.x`` -> ``public_x``)."""
    from airflow.sdk.observability.stats import normalize_name_for_stats

    return (
        f"{METRIC_NAMESPACE}.{normalize_name_for_stats(table.replace('.', '_'), log_warning=False)}.{measure}"
    )


def emit_sync_success(
    table: str,
    rows_fetched: int,
    counts: ApplyCounts,
    run_started_at: dt.datetime,
    committed_at: dt.datetime,
) -> None:
    """Send the metrics of one successful sync; a metrics failure never fails the sync."""
    from airflow.sdk.observability import stats

    tags = {"table": table}
    elapsed = committed_at - run_started_at
    try:
        for measure, value in (
            ("rows_fetched", rows_fetched),
            ("rows_inserted", counts.inserted),
            ("rows_updated", counts.updated),
            ("rows_deleted", counts.deleted),
        ):
            stats.incr(metric_name(table, measure), count=value, tags=tags)
        stats.timing(metric_name(table, "duration"), elapsed, tags=tags)
        stats.gauge(metric_name(table, "freshness_seconds"), elapsed.total_seconds(), tags=tags)
        stats.gauge(metric_name(table, "last_success_timestamp"), committed_at.timestamp(), tags=tags)
    except Exception as error:  # noqa: BLE001 - the table is already committed
        log.warning("could not send the sync metrics of %s: %s", table, error)


def emit_sync_failure(table: str) -> None:
    """Count one failed task of the sync of ``table``."""
    from airflow.sdk.observability import stats

    try:
        stats.incr(metric_name(table, "failures"), tags={"table": table})
    except Exception as error:  # noqa: BLE001 - a failure callback must not raise
        log.warning("could not send the failure metric of %s: %s", table, error)
