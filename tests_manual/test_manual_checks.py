"""Run the manual-check scripts on the embedded stack and require ``PASS`` from each.

The scripts run as an operator runs them (``python -m tests_manual ...`` in a subprocess), with
any ``AIRFLOW_CONN_*``/``AIRFLOW_API_*`` variables removed so they never touch a real server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests_manual.report import Report

REPO_ROOT = Path(__file__).resolve().parents[1]
FAST_CHECKS = ("T013", "T014", "T018", "T023", "T024", "T025", "T026", "T030")
ROWS = "2000"


def run_script(*args: str, timeout: float) -> subprocess.CompletedProcess:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW_CONN_", "AIRFLOW_API_", "OPEN_ORDERS_SYNC_SCHEDULE"))
    }
    result = subprocess.run(
        [sys.executable, "-m", *args, "--embedded", "--rows", ROWS],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result


def verdicts(output: str) -> dict[str, tuple[str, str]]:
    return {
        match["check"]: (match["status"], match["summary"])
        for match in re.finditer(
            r"^(?P<status>PASS|FAIL|SKIP) (?P<check>T\d{3}): (?P<summary>.*)$", output, re.M
        )
    }


@pytest.fixture(scope="module")
def fast_checks():
    """All checks but T017, in one run of the CLI (one embedded stack)."""
    return run_script("tests_manual", "run", *FAST_CHECKS, timeout=900)


def test_the_run_exits_zero(fast_checks):
    assert fast_checks.returncode == 0, (fast_checks.stdout + fast_checks.stderr)[-4000:]


@pytest.mark.parametrize("check_id", FAST_CHECKS)
def test_check_passes(fast_checks, check_id):
    found = verdicts(fast_checks.stdout)
    assert check_id in found, fast_checks.stdout[-3000:]
    status, summary = found[check_id]
    assert status == "PASS", f"{check_id}: {status} {summary}"
    assert "skipped here" not in summary, "on the embedded stack every part of a check runs"


def test_evidence_is_printed(fast_checks):
    output = fast_checks.stdout
    assert "public.open_orders is byte-for-byte unchanged (checksum before = after)" in output
    assert re.search(r"\[ok\] 670 of 670 fields as the contract says", output), "T014 compares 10 x 67 fields"
    assert "GET /sync-status/api/status -> HTTP 200" in output


@pytest.mark.slow
def test_t017_schedule_passes():
    """The real scheduler on a one-minute schedule until two runs finished (one interval to judge).

    tests/scheduler/ drives the scheduler at length; this proves the manual script's verdict.
    """
    result = run_script("tests_manual.t017_schedule", "--runs", "2", timeout=600)
    found = verdicts(result.stdout)
    assert found.get("T017", ("missing", ""))[0] == "PASS", (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0


def test_a_failed_expectation_makes_the_verdict_fail(capsys):
    report = Report("T999", "self-test")
    report.expect(True, "holds")
    report.expect(False, "does not hold")
    assert report.verdict("all good") == "FAIL"
    assert "FAIL T999: 1 of 2 expectation(s) failed: does not hold" in capsys.readouterr().out
