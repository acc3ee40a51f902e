"""The render probe against a server that renders one thing differently (issue 12).

The emulator can be started with a render deviation (devtools/mssql_emulator/README.md, "Render
deviations"). The probe must name it; ``auto`` must then read column by column and still land
every value exactly; ``csv_line`` forced must fail before reading, the table unchanged.
"""

from __future__ import annotations

import logging

import pytest

from devtools.mssql_emulator import MssqlEmulator
from include.table_sync.pipeline import sync_once
from include.table_sync.probe import main
from include.table_sync.render_probe import RenderProbeError, read_in_python, run_probe
from tests.sync.edge_rows import create_edge_view, edge_mapping, expected_rows, landed_rows
from tests.sync.support import history, make_context, source_connection, staging_tables, table_checksum

# deviation: what the probe's report must name (the source type of the differing field)
DEVIATIONS = {
    "float-style3-15-digits": "float: literal '0.30000000000000004'",
    "datetime2-6-digits": "datetime2(7): literal '9999-12-31 23:59:59.9999999'",
    "binary-replace-ignores-width": "nvarchar(60): literal N'\uff02",
}


@pytest.fixture(scope="module", params=sorted(DEVIATIONS))
def deviant(request):
    """An emulator rendering one thing unlike SQL Server, with the edge view; (server, deviation)."""
    with MssqlEmulator(
        user="demo", password="demo-password", database="ProcessStatus", render_deviation=request.param
    ) as emulator:
        with source_connection(emulator) as conn:
            keys = create_edge_view(conn)
        yield emulator, request.param, keys


def test_the_probe_names_the_difference_auto_reads_by_columns_and_the_table_is_exact(
    deviant, orders_db, tmp_path, caplog
):
    server, deviation, keys = deviant
    mapping = edge_mapping(tmp_path, "auto")

    with caplog.at_level(logging.INFO, logger="table_sync"):
        sync_once(make_context(mapping, server, orders_db, run_id=f"deviant-{deviation}"))

    failed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("render probe FAILED")]
    assert len(failed) == 1 and DEVIATIONS[deviation] in failed[0], failed
    assert "expected" in failed[0] and "received" in failed[0]
    attempt = history(orders_db)[-1]
    assert (attempt["status"], attempt["read_path"]) == ("success", "columns")
    assert attempt["read_path_reason"] == "auto: the render probe failed (see the log)"
    assert landed_rows(orders_db) == expected_rows(keys)


def test_the_probe_alone_names_the_difference_without_postgresql(deviant, tmp_path):
    server, deviation, _ = deviant
    with source_connection(server) as conn:
        report = run_probe(conn, edge_mapping(tmp_path, "auto"), read_in_python)
    assert not report.passed
    assert any(DEVIATIONS[deviation] in str(difference) for difference in report.differences), (
        report.summary()
    )


def test_csv_line_forced_fails_before_reading_and_leaves_the_table_unchanged(deviant, orders_db, tmp_path):
    server, deviation, _ = deviant
    sync_once(make_context(edge_mapping(tmp_path, "columns"), server, orders_db, run_id="columns-1"))
    before = table_checksum(orders_db, "public.edges")
    with source_connection(server) as conn:
        conn.cursor().execute("UPDATE dbo.Edges SET TxtDefault = N'changed' WHERE Id = N'E02'")
    try:
        with pytest.raises(RenderProbeError) as failure:
            sync_once(make_context(edge_mapping(tmp_path, "csv_line"), server, orders_db, run_id="forced-1"))
    finally:
        with source_connection(server) as conn:
            create_edge_view(conn)

    assert DEVIATIONS[deviation] in str(failure.value)
    assert table_checksum(orders_db, "public.edges") == before
    attempt = history(orders_db)[-1]
    assert (attempt["status"], attempt["error_class"]) == ("failed", "RenderProbeError")
    assert "render probe FAILED" in attempt["error_message"]
    assert staging_tables(orders_db) == []


def test_the_probe_command_reports_the_difference_and_exits_2(deviant, tmp_path, capsys):
    server, deviation, _ = deviant
    mapping_file = str(edge_mapping(tmp_path, "csv_line").path)
    status = main(
        ["--conn", "mssql_sap", "--mapping", mapping_file],
        connect=lambda conn_id: (source_connection(server), (server.password,)),
    )
    out = capsys.readouterr().out
    assert status == 2, out
    assert "render probe FAILED" in out and DEVIATIONS[deviation] in out
    assert "read path auto would choose: columns (auto: the render probe failed" in out
    assert "read path the mapping sets: csv_line, which would FAIL every run here" in out
