"""The render probe's cases and the read-path choice (render_probe.py; no server needed)."""

from __future__ import annotations

import pytest

from include.table_sync.errors import MappingError
from include.table_sync.render_probe import (
    ProbeDifference,
    ProbeReport,
    RenderProbeError,
    choose_read_path,
    probe_cases,
    read_in_python,
)
from include.table_sync.source import ServerFacts
from include.table_sync.sqlserver_types import SqlServerType
from tests.sync.support import open_orders_mapping
from tests.unit.builders import column, small_columns, small_mapping

SQL_2022 = ServerFacts("16.0.1000.6", "SQL_Latin1_General_CP1_CI_AS", "Microsoft SQL Server 2022")
SQL_2014 = ServerFacts("12.0.2000.8", "SQL_Latin1_General_CP1_CI_AS", "Microsoft SQL Server 2014")
SQL_2008 = ServerFacts("10.50.1600.1", "SQL_Latin1_General_CP1_CI_AS", "Microsoft SQL Server 2008 R2")
PASSED = ProbeReport(cases=3)
FAILED = ProbeReport(cases=3, differences=[ProbeDifference("float", "'0.1'", "0.1", "'0.1' -> 0.2")])


def _reading(read_path: str, columns=None):
    mapping = small_mapping(columns=columns or small_columns())
    return mapping.model_copy(update={"source": mapping.source.model_copy(update={"read_path": read_path})})


def test_every_mapped_type_is_probed_with_values_that_fit_it():
    mapping = open_orders_mapping()
    cases = probe_cases(mapping)
    assert {str(c.source_type) for c in cases} == {str(c.source_type) for c in mapping.columns}
    for case in cases:
        if case.source_type.is_text and isinstance(case.expected, str) and case.source_type.length != -1:
            assert len(case.expected.encode("utf-16-le")) // 2 <= case.source_type.length, case
    texts = [c.expected for c in cases if c.source_type.is_text and c.expected]
    assert any("\uff02" in text for text in texts)  # the full-width quote reaches the line
    assert any(c.literal == "NULL" for c in cases) and any(c.expected == "" for c in cases)


def test_nchar_values_are_expected_padded_as_sql_server_stores_them():
    nchar = next(c for c in probe_cases(open_orders_mapping()) if str(c.source_type) == "nchar(3)")
    assert len(nchar.expected) == 3


@pytest.mark.parametrize(
    ("read_path", "facts", "report", "path", "reason"),
    [
        ("auto", SQL_2022, PASSED, "csv_line", "auto: the render probe passed (3 edge values)"),
        ("auto", SQL_2022, FAILED, "columns", "auto: the render probe failed (see the log)"),
        ("auto", SQL_2008, PASSED, "columns", "auto: server version 10.50.1600.1 has no CONCAT"),
        ("columns", SQL_2022, None, "columns", "source.read_path is columns"),
        ("csv_line", SQL_2022, PASSED, "csv_line", "source.read_path is csv_line"),
    ],
)
def test_the_read_path_choice(read_path, facts, report, path, reason):
    plan = choose_read_path(_reading(read_path), facts, report)
    assert plan.path == path and plan.reason.startswith(reason)


def test_auto_reads_a_float_by_columns_before_sql_server_2016():
    floats = [*small_columns(), column("Ratio", "float", "ratio", "double precision", "none", True)]
    plan = choose_read_path(_reading("auto", floats), SQL_2014, PASSED)
    assert plan.path == "columns" and "style 3" in plan.reason and "2016" in plan.reason
    assert choose_read_path(_reading("auto"), SQL_2014, PASSED).path == "csv_line"  # no float mapped


def test_csv_line_forced_with_a_failing_probe_raises_the_report():
    with pytest.raises(RenderProbeError) as failure:
        choose_read_path(_reading("csv_line"), SQL_2022, FAILED)
    assert "float: literal '0.1' expected 0.1 received '0.1' -> 0.2" in str(failure.value)
    assert not failure.value.transient


def test_read_in_python_tells_null_from_empty_text():
    nvarchar = SqlServerType.parse("nvarchar(6)")
    cases = [c for c in probe_cases(small_mapping()) if c.source_type == nvarchar][:1]
    assert read_in_python(cases * 3, '"a,""b",,""') == ['a,"b', None, ""]


@pytest.mark.parametrize(("field", "value"), [("read_path", "fast"), ("isolation", "serializable")])
def test_an_unknown_read_path_or_isolation_names_the_field(field, value):
    source = {"conn_id": "mssql_demo", "database": "Demo", "schema": "dbo", "object": "vwOrder", field: value}
    with pytest.raises(MappingError) as failure:
        small_mapping(source=source)
    assert f"source.{field}" in str(failure.value) and value in str(failure.value)


def test_the_defaults_are_auto_and_read_committed():
    source = small_mapping().source
    assert (source.read_path, source.isolation) == ("auto", "read_committed")
