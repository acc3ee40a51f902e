"""Engine errors become Airflow's: transient ones retry, the rest fail at once, bugs keep their cause."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from include.sync_dag import airflow_errors
from include.table_sync.errors import SourceQueryError, SourceUnavailableError, SyncError


def test_transient_error_is_retried_without_the_driver_chain():
    with pytest.raises(AirflowException) as caught, airflow_errors():
        raise SourceUnavailableError("SQL Server unavailable: connection refused")
    assert type(caught.value) is AirflowException
    assert str(caught.value) == "SQL Server unavailable: connection refused"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_terminal_error_fails_at_once():
    with pytest.raises(AirflowFailException, match="SQL Server error 208"), airflow_errors():
        raise SourceQueryError("SQL Server error 208: Invalid object name", 208)


def test_unexpected_bug_fails_with_its_cause():
    with pytest.raises(AirflowFailException) as caught, airflow_errors():
        {}["missing"]
    assert isinstance(caught.value.__cause__, KeyError)


def test_a_bug_the_engine_wrapped_keeps_its_cause():
    bug = ZeroDivisionError("division by zero")
    with pytest.raises(AirflowFailException) as caught, airflow_errors():
        raise SyncError("ZeroDivisionError while reading the source: division by zero") from bug
    assert caught.value.__cause__ is bug
