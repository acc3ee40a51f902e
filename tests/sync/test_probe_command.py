"""``python -m include.table_sync.probe``: the DBA's evidence, against the emulator (issue 12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from devtools.stack import mssql_connection
from include.table_sync.probe import main
from tests.conftest import REPO_ROOT
from tests.sync.support import source_connection


def test_the_probe_prints_version_collation_report_and_auto_choice(mssql, capsys):
    started = time.monotonic()
    status = main(
        ["--conn", "mssql_sap"], connect=lambda conn_id: (source_connection(mssql), (mssql.password,))
    )
    seconds = time.monotonic() - started

    out = capsys.readouterr().out
    assert status == 0, out
    assert "version:    16.0" in out and "collation:  SQL_Latin1_General_CP1_CI_AS" in out
    assert "render probe passed" in out
    assert "read path auto would choose: csv_line (auto: the render probe passed" in out
    assert mssql.password not in out
    assert seconds < 10, seconds


def test_the_command_runs_through_the_airflow_connection(mssql, tmp_path):
    # The real command line, the connection from an AIRFLOW_CONN_ variable as a deployment has it.
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW_CONN_MSSQL_SAP": json.dumps(mssql_connection(mssql, timeout=30)),
        "PYTHONPATH": str(REPO_ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-m", "include.table_sync.probe", "--conn", "mssql_sap"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "read path auto would choose: csv_line" in result.stdout
    assert mssql.password not in result.stdout + result.stderr


def test_an_unreachable_server_is_one_clear_line_and_status_1(capsys):
    def refuse(conn_id):
        raise ConnectionRefusedError("connection refused")

    assert main(["--conn", "mssql_sap"], connect=refuse) == 1
    assert "no answer from mssql_sap" in capsys.readouterr().err
