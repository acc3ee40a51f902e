"""The T-SQL the sync sends, read exactly as it will run (tsql.py; no server needed)."""

from __future__ import annotations

from include.table_sync.sqlserver_types import SqlServerType
from include.table_sync.tsql import (
    columns_statement,
    csv_line_statement,
    line_expression,
    line_needs_max,
    probe_statement,
    quote_name,
    select_statement,
    value_text,
    value_text_width,
)
from tests.unit.builders import column, small_columns, small_mapping


def test_quote_name_doubles_the_closing_bracket():
    assert quote_name("Odd]Name") == "[Odd]]Name]"
    assert quote_name("plain") == "[plain]"


def test_csv_line_statement_reads_every_column_as_one_line():
    assert csv_line_statement(small_mapping()) == (
        "SELECT\n"
        "  CONCAT(N'',\n"
        "    CASE WHEN [OrderNo] IS NULL THEN N'' ELSE CONCAT(N'\"', REPLACE(CAST([OrderNo] AS nvarchar(10)) "
        "COLLATE Latin1_General_100_BIN2, N'\"', N'\"\"'), N'\"') END,\n"
        "    N',',\n"
        "    CASE WHEN [Item] IS NULL THEN N'' ELSE CONCAT(N'\"', REPLACE(CAST([Item] AS nvarchar(6)) "
        "COLLATE Latin1_General_100_BIN2, N'\"', N'\"\"'), N'\"') END,\n"
        "    N',',\n"
        "    CASE WHEN [Changed] IS NULL THEN N'' ELSE CONVERT(varchar(27), [Changed], 121) "
        "COLLATE Latin1_General_100_BIN2 END,\n"
        "    N',',\n"
        "    CASE WHEN [Qty] IS NULL THEN N'' ELSE CONVERT(varchar(41), [Qty]) COLLATE Latin1_General_100_BIN2 END,\n"
        "    N',',\n"
        "    CASE WHEN [Odd]]Name] IS NULL THEN N'' ELSE CONVERT(varchar(20), [Odd]]Name]) "
        "COLLATE Latin1_General_100_BIN2 END) AS [__csv_line]\n"
        "FROM [Demo].[dbo].[vwOrder]"
    )


def test_an_unbounded_column_builds_the_line_from_nvarchar_max():
    columns = [*small_columns(), column("Note", "nvarchar(max)", "note", "text", "trim_empty_null", True)]
    statement = csv_line_statement(small_mapping(columns=columns))
    assert statement.startswith("SELECT\n  CONCAT(CAST(N'' AS nvarchar(max)),\n")
    binary = "COLLATE Latin1_General_100_BIN2"
    assert f"REPLACE(CAST([OrderNo] AS nvarchar(max)) {binary}, N'\"', N'\"\"')" in statement
    assert f"REPLACE(CAST([Note] AS nvarchar(max)) {binary}, N'\"', N'\"\"')" in statement


def test_a_custom_query_is_read_as_a_derived_table():
    mapping = small_mapping()
    source = mapping.source.model_copy(update={"query": "SELECT * FROM dbo.Orders WHERE Open = 1"})
    statement = csv_line_statement(mapping.model_copy(update={"source": source}))
    assert statement.endswith("FROM (\nSELECT * FROM dbo.Orders WHERE Open = 1\n) AS src")


def test_select_statement_reads_column_by_column_with_ticks_as_text():
    assert select_statement(small_mapping()) == (
        "SELECT\n"
        "  [OrderNo],\n"
        "  [Item],\n"
        "  CONVERT(varchar(27), [Changed], 121) AS [Changed],\n"
        "  [Qty],\n"
        "  [Odd]]Name]\n"
        "FROM [Demo].[dbo].[vwOrder]"
    )


def test_columns_statement_reads_the_catalog_of_the_source_database():
    assert columns_statement(small_mapping()) == (
        "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
        "NUMERIC_SCALE, DATETIME_PRECISION FROM [Demo].INFORMATION_SCHEMA.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION"
    )


def test_value_text_and_its_width_per_type():
    cases = {
        "bit": ("CONVERT(varchar(1), [x])", 1),
        "money": ("CONVERT(varchar(30), [x], 2)", 21),
        "float": ("CONVERT(varchar(30), [x], 3)", 24),
        "datetime": ("CONVERT(varchar(23), [x], 121)", 23),
        "time(7)": ("CONVERT(varchar(16), [x], 114)", 16),
        "datetimeoffset(7)": ("CONVERT(varchar(34), [x], 127)", 34),
        "varbinary(16)": ("CONCAT(N'\\x', CONVERT(varchar(max), [x], 2))", 34),
        "varbinary(max)": ("CONCAT(N'\\x', CONVERT(varchar(max), [x], 2))", None),
        "nvarchar(12)": ("[x]", 12),
        "nvarchar(max)": ("[x]", None),
    }
    for type_name, (text, width) in cases.items():
        source_type = SqlServerType.parse(type_name)
        assert (value_text("x", source_type), value_text_width(source_type)) == (text, width), type_name


def test_every_field_of_the_line_carries_the_one_binary_collation():
    # Escaping compares code points only (no width-insensitive twin of '"'), and columns of
    # different collations cannot conflict (error 468): each field names the same collation.
    statement = csv_line_statement(small_mapping())
    assert statement.count("COLLATE Latin1_General_100_BIN2") == len(small_columns())
    assert statement.count("COLLATE") == len(small_columns())


def test_the_probe_renders_literals_through_the_line_expression():
    nvarchar, decimal = SqlServerType.parse("nvarchar(6)"), SqlServerType.parse("decimal(15,3)")
    statement = probe_statement(
        [("p001", nvarchar, "N'a\"b'"), ("p002", decimal, "'-1.500'")], needs_max=False
    )
    assert statement == (
        "SELECT\n  "
        + line_expression([("p001", nvarchar), ("p002", decimal)], needs_max=False)
        + " AS [__csv_line]\nFROM (SELECT\n    CAST(N'a\"b' AS nvarchar(6)) AS [p001],\n"
        "    CAST('-1.500' AS decimal(15,3)) AS [p002]) AS probe"
    )
    # The mapping's own choice of nvarchar(max) is kept, whatever the probe's fields would need.
    assert "nvarchar(max)" in probe_statement([("p001", nvarchar, "N'x'")], needs_max=True)
    assert not line_needs_max(small_mapping())
