"""Values rendered as text on the server, as the sync's CSV-line query asks for them, over pymssql.

The sync reads each source row as ONE CSV line built with CONCAT (see the query shape in
``_line_query``), so the emulator must write every type exactly as SQL Server 2019/2022 does:

- int/bigint/smallint/tinyint ``CONVERT(varchar(20), x)``: the digits, '-' for negatives.
- bit ``CONVERT(varchar(1), x)``: '0' / '1'.
- decimal/numeric ``CONVERT(varchar(41), x)``: every digit of the declared scale ('-12.340').
- money/smallmoney ``CONVERT(varchar(30), x, 2)``: four decimals, no separators.
- float ``CONVERT(varchar(30), x, 3)``: 17 significant digits, always scientific with a signed
  three-digit exponent ('1.0000000000000001e-001'); real: 9 digits ('1.00000001e-001').
- date style 23 'yyyy-mm-dd'; datetime/smalldatetime style 121 'yyyy-mm-dd hh:mi:ss.mmm'
  (1/300 s ticks shown rounded to .997); datetime2 121 with all declared digits;
  datetimeoffset 127 ('T', the offset, or 'Z' for +00:00); time 114 'hh:mi:ss:mmm'.
- uniqueidentifier ``CONVERT(char(36), x)``: upper-case.
- varbinary ``CONVERT(varchar(max), x, 2)``: upper-case hex digits without '0x'.
- CONCAT treats NULL as '' and returns nvarchar(max) when an argument is nvarchar(max);
  otherwise nvarchar of at most 4,000 characters, and SQL Server cuts longer values there
  (docs: CONCAT, "Return types" and Remarks). That is why the sync starts a line that may be
  long with ``CAST(N'' AS nvarchar(max))``.
"""

from __future__ import annotations

import csv
import io

import pymssql
import pytest

TABLE = "dbo.csv_text_types"

CREATE = f"""
IF OBJECT_ID('{TABLE}', 'U') IS NOT NULL DROP TABLE {TABLE};
CREATE TABLE {TABLE} (
    id int NOT NULL PRIMARY KEY,
    i int NULL, bi bigint NULL, si smallint NULL, ti tinyint NULL, b bit NULL,
    d decimal(38,10) NULL, n numeric(10,3) NULL, m money NULL, sm smallmoney NULL,
    f float NULL, r real NULL,
    dd date NULL, dt datetime NULL, sdt smalldatetime NULL, dt2 datetime2(7) NULL,
    dto datetimeoffset(7) NULL, t time(7) NULL,
    g uniqueidentifier NULL, vb varbinary(16) NULL,
    nv nvarchar(100) NULL, nc nchar(5) NULL, v varchar(100) NULL, c char(5) NULL
)
"""

# Text values with everything CSV must quote or keep: quote, comma, newline, tab, backslash,
# leading/trailing spaces, non-ASCII, the empty string. varchar holds only what its code page
# (1252) can: SQL Server would store '日本' in a varchar as '??', the emulator keeps it.
NV_TEXT = ' say "hi", then\nnew line\tand C:\\path\\ '
NV_WIDE = "Müller ÄÖÜ 日本 😀"
V_TEXT = 'Müller ÄÖÜ, "q"\r\n'

INSERT = f"""
INSERT INTO {TABLE} VALUES
(1, 2147483647, 9223372036854775807, 32767, 255, 1,
 9999999999999999999999999999.9999999999, 12.34, 922337203685477.5807, 214748.3647,
 1e300, 3.4e38,
 '9999-12-31', '9999-12-31 23:59:59.997', '2079-06-06 23:59', '9999-12-31 23:59:59.9999999',
 '9999-12-31 23:59:59.9999999 +14:00', '23:59:59.9999999',
 '6f9619ff-8b86-d011-b42d-00c04fc964ff', 0x0AFF00,
 N'{NV_TEXT}', N'ab', '{V_TEXT}', 'x,y'),
(2, -2147483648, -9223372036854775808, -32768, 0, 0,
 -0.0000000001, -12.34, -922337203685477.5808, -214748.3648,
 -2.5e-300, -3.4e38,
 '0001-01-01', '1753-01-01 00:00:00', '1900-01-01 00:00', '0001-01-01 00:00:00',
 '0001-01-01 00:00:00 +00:00', '00:00:00',
 '00000000-0000-0000-0000-000000000000', CAST('' AS varbinary(16)),  -- 0x: empty
 N'', N'', '', ''),
(3, 0, 0, 0, 0, 0,
 0, 0, 0, 1234.56,
 0.1, 0.1,
 '2026-11-29', '2026-11-29 10:11:12.345', '2026-11-29 10:11', '2026-11-29 10:11:12.1234567',
 '2026-11-29 12:34:56.1234567 +01:00', '13:45:01.1234567',
 '0a1B2c3D-4e5F-6a7B-8c9D-0e1F2a3B4c5D', 0x00,
 N'{NV_WIDE}', N'"x"', 'a\\b', ' z '),
(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
"""

# (column, expression the sync sends with {x} for the column, SQL Server's text for ids 1-3;
# id 4 is NULL throughout and must stay NULL).
RENDERED = [
    ("i", "CONVERT(varchar(20), {x})", ["2147483647", "-2147483648", "0"]),
    ("bi", "CONVERT(varchar(20), {x})", ["9223372036854775807", "-9223372036854775808", "0"]),
    ("si", "CONVERT(varchar(20), {x})", ["32767", "-32768", "0"]),
    ("ti", "CONVERT(varchar(20), {x})", ["255", "0", "0"]),
    ("b", "CONVERT(varchar(1), {x})", ["1", "0", "0"]),
    (
        "d",
        "CONVERT(varchar(41), {x})",
        ["9999999999999999999999999999.9999999999", "-0.0000000001", "0.0000000000"],
    ),
    ("n", "CONVERT(varchar(41), {x})", ["12.340", "-12.340", "0.000"]),
    (
        "m",
        "CONVERT(varchar(30), {x}, 2)",
        ["922337203685477.5807", "-922337203685477.5808", "0.0000"],
    ),
    ("sm", "CONVERT(varchar(30), {x}, 2)", ["214748.3647", "-214748.3648", "1234.5600"]),
    (
        "f",
        "CONVERT(varchar(30), {x}, 3)",
        ["1.0000000000000001e+300", "-2.5000000000000000e-300", "1.0000000000000001e-001"],
    ),
    ("r", "CONVERT(varchar(30), {x}, 3)", ["3.39999995e+038", "-3.39999995e+038", "1.00000001e-001"]),
    ("dd", "CONVERT(varchar(10), {x}, 23)", ["9999-12-31", "0001-01-01", "2026-11-29"]),
    (
        "dt",
        "CONVERT(varchar(23), {x}, 121)",
        ["9999-12-31 23:59:59.997", "1753-01-01 00:00:00.000", "2026-11-29 10:11:12.347"],
    ),
    (
        "sdt",
        "CONVERT(varchar(23), {x}, 121)",
        ["2079-06-06 23:59:00.000", "1900-01-01 00:00:00.000", "2026-11-29 10:11:00.000"],
    ),
    (
        "dt2",
        "CONVERT(varchar(27), {x}, 121)",
        ["9999-12-31 23:59:59.9999999", "0001-01-01 00:00:00.0000000", "2026-11-29 10:11:12.1234567"],
    ),
    (
        "dto",
        "CONVERT(varchar(34), {x}, 127)",
        [
            "9999-12-31T23:59:59.9999999+14:00",
            "0001-01-01T00:00:00.0000000Z",
            "2026-11-29T12:34:56.1234567+01:00",
        ],
    ),
    ("t", "CONVERT(varchar(16), {x}, 114)", ["23:59:59:999", "00:00:00:000", "13:45:01:123"]),
    (
        "g",
        "CONVERT(char(36), {x})",
        [
            "6F9619FF-8B86-D011-B42D-00C04FC964FF",
            "00000000-0000-0000-0000-000000000000",
            "0A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D",
        ],
    ),
    ("vb", "CONCAT(N'\\x', CONVERT(varchar(max), {x}, 2))", ["\\x0AFF00", "\\x", "\\x00"]),
]

# Text columns as stored (char/nchar padded to their length, as SQL Server keeps them).
TEXTS = [
    ("nv", [NV_TEXT, "", NV_WIDE]),
    ("nc", ["ab   ", "     ", '"x"  ']),
    ("v", [V_TEXT, "", "a\\b"]),
    ("c", ["x,y  ", "     ", " z   "]),
]

CSV_FIELD = "CONCAT(N'\"', REPLACE({x}, N'\"', N'\"\"'), N'\"')"


@pytest.fixture(scope="module")
def cursor(emulator):
    """One autocommit pymssql cursor on a table holding the edge values above."""
    conn = pymssql.connect(**emulator.connect_kwargs(login_timeout=10, timeout=60, autocommit=True))
    cur = conn.cursor()
    cur.execute(CREATE)
    cur.execute(INSERT)
    yield cur
    conn.close()


def column_values(cursor, expression: str) -> list:
    cursor.execute(f"SELECT {expression} FROM {TABLE} ORDER BY id")
    return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize(
    ("column", "template", "expected"), RENDERED, ids=[column for column, *_ in RENDERED]
)
def test_each_type_renders_as_sql_server_writes_it(cursor, column, template, expected):
    rendered = column_values(cursor, template.format(x=f"[{column}]"))
    if column == "vb":  # CONCAT makes NULL the empty string: only the hex digits follow \x
        assert rendered == [*expected, "\\x"]
    else:
        assert rendered == [*expected, None]


@pytest.mark.parametrize(("column", "stored"), TEXTS, ids=[column for column, _ in TEXTS])
def test_text_columns_become_quoted_csv_fields(cursor, column, stored):
    rendered = column_values(cursor, CSV_FIELD.format(x=f"[{column}]"))
    assert rendered == ['"' + value.replace('"', '""') + '"' for value in stored] + ['""']


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("CONVERT(varchar(30), CAST(0 AS float), 3)", "0.0000000000000000e+000"),
        ("CONVERT(varchar(30), CAST(0 AS real), 3)", "0.00000000e+000"),
        # Styles 1 and 2 (docs: 8 and 16 digits, always scientific).
        ("CONVERT(varchar(30), CAST(123456789.123456789 AS float), 1)", "1.2345679e+008"),
        ("CONVERT(varchar(30), CAST(123456789.123456789 AS float), 2)", "1.234567891234568e+008"),
        # money style 0 (also CAST): two decimals, rounded; style 1 adds thousands commas.
        ("CAST(CAST(1234567.555 AS money) AS varchar(30))", "1234567.56"),
        ("CONVERT(varchar(30), CAST(-1234567.555 AS money), 1)", "-1,234,567.56"),
        ("CONVERT(varchar(30), CAST(0.5 AS money), 1)", "0.50"),
        ("CONVERT(varchar(30), 0x0AFF, 1)", "0x0AFF"),
        ("CAST(CAST(1 AS bit) AS varchar(5))", "1"),
        ("CAST(N'ab' AS nchar(4)) + N'|'", "ab  |"),
        # Text to text: the style is ignored, even for text that is no date at all.
        ("CONVERT(varchar(27), N'2026-02-30 10:00:00.0000000', 121)", "2026-02-30 10:00:00.0000000"),
        ("CONVERT(varchar(10), N'not a date', 23)", "not a date"),
    ],
)
def test_other_styles_of_the_same_types(cursor, expression, expected):
    cursor.execute(f"SELECT {expression}")
    assert cursor.fetchone() == (expected,)


def test_concat_types_its_result_as_sql_server_does(cursor):
    cursor.execute(
        f"SELECT CONCAT(N'', CONVERT(varchar(20), [i])), CONCAT(CAST(N'' AS nvarchar(max)), [nv]), "
        f"CONCAT([b], [g], [m]) FROM {TABLE} WHERE id = 3"
    )
    assert cursor.fetchone() == ("0", NV_WIDE, "00A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D0.00")


def test_concat_takes_2_to_254_arguments(cursor):
    with pytest.raises(pymssql.Error) as caught:
        cursor.execute("SELECT CONCAT(" + ", ".join(["N'x'"] * 255) + ")")
    assert caught.value.args[0] == 189
    cursor.execute("SELECT CONCAT(" + ", ".join(["N'x'"] * 254) + ")")
    assert cursor.fetchone() == ("x" * 254,)


# ---- the whole line ----


def _field(column: str, text_form: str, needs_max: bool) -> str:
    """One CSV field of the line: '' for NULL, the value otherwise (the sync's shape)."""
    quoted = f"[{column}]"
    if text_form == "text":
        value = f"CAST({quoted} AS nvarchar(max))" if needs_max else quoted
        rendered = CSV_FIELD.format(x=value)
    else:
        rendered = text_form.format(x=quoted)
    return f"CASE WHEN {quoted} IS NULL THEN N'' ELSE {rendered} END"


def _concat(arguments: list[str], needs_max: bool, group: int = 100) -> str:
    """CONCAT over the arguments, nested in groups (SQL Server's CONCAT takes at most 254)."""
    start = ["CAST(N'' AS nvarchar(max))"] if needs_max else ["N''"]
    if len(arguments) <= group:
        return "CONCAT(" + ", ".join(start + arguments) + ")"
    parts = [arguments[i : i + group] for i in range(0, len(arguments), group)]
    return _concat([_concat(part, needs_max, group) for part in parts], needs_max, group)


def _line_query(columns: list[tuple[str, str]], table: str, needs_max: bool) -> str:
    arguments: list[str] = []
    for column, text_form in columns:
        if arguments:
            arguments.append("N','")
        arguments.append(_field(column, text_form, needs_max))
    return f"SELECT {_concat(arguments, needs_max)} AS [__csv_line] FROM {table} ORDER BY id"


ALL_COLUMNS = [(column, template) for column, template, _ in RENDERED] + [(c, "text") for c, _ in TEXTS]


def _expected_lines(repeat: int = 1) -> list[str]:
    lines = []
    for row in range(3):
        fields = [expected[row] for _, _, expected in RENDERED]
        fields += ['"' + stored[row].replace('"', '""') + '"' for _, stored in TEXTS]
        lines.append(",".join(fields * repeat))
    lines.append(",".join([""] * len(ALL_COLUMNS) * repeat))  # all NULL: empty, unquoted fields
    return lines


@pytest.mark.parametrize("needs_max", [False, True], ids=["nvarchar", "nvarchar_max"])
def test_csv_line_comes_back_whole(cursor, needs_max):
    cursor.execute(_line_query(ALL_COLUMNS, TABLE, needs_max))
    assert [d[0] for d in cursor.description] == ["__csv_line"]
    lines = [row[0] for row in cursor.fetchall()]
    assert lines == _expected_lines()
    # PostgreSQL's COPY csv reads it back: quoted text keeps its quotes, commas and newlines,
    # an unquoted empty field is NULL.
    parsed = next(csv.reader(io.StringIO(lines[0], newline="")))
    assert parsed[-4:] == [NV_TEXT, "ab   ", V_TEXT, "x,y  "]
    assert len(parsed) == len(ALL_COLUMNS)


@pytest.mark.parametrize("needs_max", [False, True], ids=["nvarchar", "nvarchar_max"])
def test_csv_line_with_nested_concat_groups(cursor, needs_max):
    # Three times every column: 3 * 23 fields and 68 commas, nested as CONCAT(CONCAT(...), ...).
    query = _line_query(ALL_COLUMNS * 3, TABLE, needs_max)
    assert query.count("CONCAT(N''") + query.count("CONCAT(CAST(N'' AS nvarchar(max))") == 3
    cursor.execute(query)
    assert [row[0] for row in cursor.fetchall()] == _expected_lines(repeat=3)


LONG_TABLE = "dbo.csv_text_long"
# 2,000 characters with quotes (doubled in the field), commas, non-ASCII letters.
LONG_TEXT = ('Grüße "Köln", 日本 ' * 200)[:2000]


@pytest.fixture(scope="module")
def long_lines(cursor):
    cursor.execute(
        f"IF OBJECT_ID('{LONG_TABLE}', 'U') IS NOT NULL DROP TABLE {LONG_TABLE}; "
        f"CREATE TABLE {LONG_TABLE} (id int NOT NULL PRIMARY KEY, a nvarchar(2000) NULL, "
        "b nvarchar(2000) NULL, c nvarchar(2000) NULL)"
    )
    cursor.execute(f"INSERT INTO {LONG_TABLE} VALUES (1, N'{LONG_TEXT}', N'{LONG_TEXT}', N'{LONG_TEXT}')")
    field = '"' + LONG_TEXT.replace('"', '""') + '"'
    return [(column, "text") for column in "abc"], ",".join([field] * 3)


def test_long_line_with_nvarchar_max_start_is_not_truncated(cursor, long_lines):
    columns, expected = long_lines
    assert len(expected) > 6000
    cursor.execute(_line_query(columns, LONG_TABLE, needs_max=True))
    (line,) = cursor.fetchone()
    assert isinstance(line, str)
    assert line == expected


def test_long_line_without_max_is_cut_at_4000_characters_as_sql_server_does(cursor, long_lines):
    # No argument is nvarchar(max): the result is nvarchar(4000) and SQL Server truncates,
    # silently. The sync must start such a line with CAST(N'' AS nvarchar(max)).
    columns, expected = long_lines
    cursor.execute(_line_query(columns, LONG_TABLE, needs_max=False))
    (line,) = cursor.fetchone()
    assert line == expected[:4000]
