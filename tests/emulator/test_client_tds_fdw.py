"""tds_fdw, PostgreSQL's foreign data wrapper for SQL Server (Debian's postgresql-15-tds-fdw,
on Debian's FreeTDS), reading the emulator from inside the tests' real PostgreSQL.

Values arrive as the PostgreSQL type the foreign table declares; tds_fdw reaches them through
FreeTDS's conversions. tds_fdw has no encryption option of its own: FreeTDS's default
(``encryption = request``, no freetds.conf entry) encrypts the login packet only, which
sys.dm_exec_connections reports as encrypt_option FALSE.

tds_fdw converts only the legacy datetime to a timestamp itself; date, time, datetime2 and
datetimeoffset come through FreeTDS's text conversion in its default date format
(``%b %e %Y %I:%M:%S:%z%p``, all seven fractional digits, no offset), which PostgreSQL's date
and timestamp input cannot read, so those columns are declared text and pinned as that text.
The CONVERT(..., 121) column shows the exact text a query can ask for instead.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from tests.emulator.test_clients import EVERY_TYPE, MISSING_OBJECT_QUERY, SYNTAX_ERROR_QUERY

DATABASE = "tds_fdw_client"
# (PostgreSQL type of the foreign column, the value psycopg returns) for every EVERY_TYPE column
PG_TYPES = {
    "nvarchar_text": ("text", "Grüße aus Köln, 東京 😀"),
    "nchar_padded": ("text", "DE "),
    "varchar_text": ("text", "Müller"),
    "char_padded": ("text", "ab  "),
    "nvarchar_max": ("text", "Grüße 😀 " * 1000),
    "int_max": ("integer", 2147483647),
    "int_min": ("integer", -2147483648),
    "bigint_max": ("bigint", 9223372036854775807),
    "smallint_min": ("smallint", -32768),
    "tinyint_max": ("smallint", 255),
    "bit_true": ("boolean", True),
    "bit_false": ("boolean", False),
    "decimal_38_0": ("numeric", Decimal("99999999999999999999999999999999999999")),
    "decimal_38_10": ("numeric", Decimal("-9999999999999999999999999999.9999999999")),
    "decimal_38_38": ("numeric", Decimal("0.00000000000000000000000000000000000001")),
    "numeric_15_3": ("numeric", Decimal("-12345.678")),
    "float_tenth": ("double precision", 0.1),
    "float_max": ("double precision", 1.7976931348623157e308),
    "real_value": ("real", 3.5),
    "money_max": ("numeric", Decimal("922337203685477.5807")),
    "money_min": ("numeric", Decimal("-922337203685477.5808")),
    "date_min": ("text", "Jan  1 1 12:00:00:AM"),
    "date_max": ("text", "Dec 31 9999 12:00:00:AM"),
    "time_0": ("text", "Jan  1 1900 12:34:56:PM"),
    "time_7": ("text", "Jan  1 1900 11:59:59:9999999PM"),
    "datetime_legacy": ("timestamp", dt.datetime(2026, 11, 29, 23, 59, 59, 997000)),  # cracked by tds_fdw
    "datetime2_max": ("text", "Dec 31 9999 11:59:59:9999999PM"),
    "datetime2_min": ("text", "Jan  1 1 12:00:00:0000000AM"),
    "datetime2_ticks": ("text", "Nov 29 2026 12:34:56:1234567PM"),
    "datetime2_3": ("text", "Nov 29 2026 12:34:56:123PM"),
    "datetime2_as_text_121": ("text", "9999-12-31 23:59:59.9999999"),
    "datetimeoffset_value": ("text", "Nov 29 2026 12:34:56:1234567PM"),
    "uniqueidentifier_value": ("uuid", uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FD430C8")),
    "varbinary_value": ("bytea", b"\xde\xad\xbe\xef\x00"),
}
TYPES_QUERY = "SELECT " + ", ".join(f"{expr} AS {name}" for name, expr, _ in EVERY_TYPE)


@pytest.fixture(scope="module")
def fdw(postgres, emulator):
    """A database of the session's PostgreSQL with tds_fdw pointed at the emulator."""
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(DATABASE)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    conn = psycopg.connect(postgres.dsn(DATABASE), autocommit=True)
    try:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("CREATE EXTENSION tds_fdw")
        for role, password in (("good", emulator.password), ("bad", "not-the-" + "password")):
            conn.execute(
                sql.SQL(
                    "CREATE SERVER {server} FOREIGN DATA WRAPPER tds_fdw OPTIONS "
                    "(servername {host}, port {port}, database {database}, tds_version '7.4', msg_handler 'notice')"
                ).format(
                    server=sql.Identifier(f"emulator_{role}"),
                    host=sql.Literal(emulator.host),
                    port=sql.Literal(str(emulator.port)),
                    database=sql.Literal(emulator.database),
                )
            )
            conn.execute(
                sql.SQL(
                    "CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (username {}, password {})"
                ).format(
                    sql.Identifier(f"emulator_{role}"), sql.Literal(emulator.user), sql.Literal(password)
                )
            )
        yield conn
    finally:
        conn.close()
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))


def foreign_table(
    conn, name: str, columns: list[tuple[str, str]], query: str, server: str = "emulator_good"
) -> None:
    conn.execute(
        sql.SQL("CREATE FOREIGN TABLE {name} ({columns}) SERVER {server} OPTIONS (query {query})").format(
            name=sql.Identifier(name),
            columns=sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(pg_type))
                for column, pg_type in columns
            ),
            server=sql.Identifier(server),
            query=sql.Literal(query),
        )
    )


def test_tds_fdw_logs_in_with_login_only_encryption(fdw, emulator):
    foreign_table(
        fdw,
        "session_facts",
        [("db", "text"), ("login_name", "text"), ("encrypt_option", "text")],
        "SELECT DB_NAME() AS db, SUSER_NAME() AS login_name, c.encrypt_option "
        "FROM sys.dm_exec_connections AS c WHERE c.session_id = @@SPID",
    )
    assert fdw.execute("SELECT * FROM session_facts").fetchall() == [
        (emulator.database, emulator.user, "FALSE")
    ]


def test_tds_fdw_reads_every_type(fdw):
    columns = [(name, PG_TYPES[name][0]) for name, _, _ in EVERY_TYPE]
    foreign_table(fdw, "every_type", columns, TYPES_QUERY)
    row = fdw.execute("SELECT * FROM every_type").fetchone()
    got = dict(zip([name for name, _ in columns], row, strict=True))
    assert got == {name: value for name, (_, value) in PG_TYPES.items()}


@pytest.mark.parametrize(
    ("server", "query", "number", "message"),
    [
        ("emulator_good", MISSING_OBJECT_QUERY, 208, "Invalid object name 'dbo.NoSuchTable'."),
        ("emulator_good", SYNTAX_ERROR_QUERY, 102, "Incorrect syntax near 'WHERE'."),
        ("emulator_bad", "SELECT 1 AS one", 18456, "Login failed for user 'demo'."),
    ],
)
def test_tds_fdw_gets_sql_servers_errors(fdw, server, query, number, message):
    notices: list[str] = []
    fdw.add_notice_handler(lambda diagnostic: notices.append(diagnostic.message_primary or ""))
    name = f"fails_{number}"
    foreign_table(fdw, name, [("one", "integer")], query, server=server)
    with pytest.raises(psycopg.Error) as failure:
        fdw.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(name)))
    seen = "\n".join([*notices, str(failure.value)])
    assert f"Msg #: {number}" in seen, seen
    assert message in seen, seen
