"""T-SQL to DuckDB: parse with sqlglot, resolve names against the catalog, rewrite what differs.

``Translation`` carries the DuckDB SQL plus what the engine needs besides: the declared SQL
Server types of a query's result columns, and whether the result may be cached. Table names
are resolved here (so an unknown table is SQL Server's error 208, not DuckDB's wording), and
session facts such as DB_NAME() or @@SPID become literals.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import sqlglot
from sqlglot import exp
from sqlglot.dialects.tsql import TSQL
from sqlglot.tokens import TokenType

from devtools.mssql_emulator import binding, collations, sqltypes
from devtools.mssql_emulator.catalog import INFO_SCHEMA, INFO_VIEWS_BY_NAME, Catalog, TableDef
from devtools.mssql_emulator.collations import COERCIBLE, EXPLICIT, IMPLICIT, NONE, Label
from devtools.mssql_emulator.results import Column, SqlServerError
from devtools.mssql_emulator.system_views import (
    FN_LISTEXTENDEDPROPERTY,
    INFO_CONSTRAINT_VIEWS,
    SYS_VIEWS_BY_NAME,
    builtin_type_ids,
)

# Catalog views answered from a database's __info tables: (schema, view) -> (table, columns).
_CATALOG_VIEWS = {
    **{("information_schema", name): (name, columns) for name, columns in INFO_VIEWS_BY_NAME.items()},
    **{("information_schema", name): (name, columns) for name, columns in INFO_CONSTRAINT_VIEWS.items()},
    **{("sys", name): (f"sys_{name}", columns) for name, columns in SYS_VIEWS_BY_NAME.items()},
}

VERSION = (
    "Microsoft SQL Server 2022 (RTM) - 16.0.1000.6 (X64) \n\tOct  8 2022 05:58:25 \n\t"
    "Copyright (C) 2022 Microsoft Corporation\n\tDeveloper Edition (64-bit) on Linux (emulated)"
)
SERVER_PROPERTIES = {
    "productversion": "16.0.1000.6",
    "productlevel": "RTM",
    "edition": "Developer Edition (64-bit)",
    "engineedition": 3,
    "servername": "mssql-emulator",
    "machinename": "mssql-emulator",
    "collation": "SQL_Latin1_General_CP1_CI_AS",
    "productmajorversion": "16",
    "isintegratedsecurityonly": 0,
    # The server collation's facts (SERVERPROPERTY page): sort order 52 is nocase_iso.
    "lcid": 1033,
    "comparisonstyle": 196609,
    "sqlcharset": 1,
    "sqlcharsetname": "iso_1",
    "sqlsortorder": 52,
    "sqlsortordername": "nocase_iso",
}

# One deliberately wrong rendering, for testing a client's render probe against a server that
# differs from the documentation (issue 12). Set before the emulator starts, e.g.
# MSSQL_EMULATOR_RENDER_DEVIATION=float-style3-15-digits. README: "Render deviations".
RENDER_DEVIATION_ENV = "MSSQL_EMULATOR_RENDER_DEVIATION"
RENDER_DEVIATIONS = {
    "float-style3-15-digits": "CONVERT(varchar, <float>, 3) gives 15 significant digits, not 17",
    "datetime2-6-digits": "CONVERT(varchar, <datetime2(7)>, 121/126/127) gives 6 fraction digits, not 7",
    "binary-replace-ignores-width": "REPLACE under a _BIN/_BIN2 collation matches full-width twins",
}


def render_deviation() -> str | None:
    """The deviation named by MSSQL_EMULATOR_RENDER_DEVIATION, None when unset."""
    wanted = os.environ.get(RENDER_DEVIATION_ENV, "").strip().lower()
    if not wanted:
        return None
    if wanted not in RENDER_DEVIATIONS:
        raise SqlServerError(
            50000,
            f"The emulator was started with {RENDER_DEVIATION_ENV}={wanted!r}; expected one of {', '.join(RENDER_DEVIATIONS)}.",
        )
    return wanted


# DuckDB macros behind calls this module writes (after sqltypes.MACROS, whose ms_fail and
# ms_dto_text they use); the engine creates them once.
MACROS = r"""
-- SYSDATETIMEOFFSET(): the server's local time and its offset from UTC, "+hh:mm"
-- (https://learn.microsoft.com/en-us/sql/t-sql/functions/sysdatetimeoffset-transact-sql).
CREATE OR REPLACE MACRO ms_offset_text(m) AS
  (CASE WHEN m < 0 THEN '-' ELSE '+' END) || lpad(CAST(abs(m) // 60 AS VARCHAR), 2, '0')
  || ':' || lpad(CAST(abs(m) % 60 AS VARCHAR), 2, '0');
CREATE OR REPLACE MACRO ms_now_offset_text() AS
  strftime(CAST(now() AS TIMESTAMP), '%Y-%m-%d %H:%M:%S.%f') || ' '
  || ms_offset_text(CAST(round((epoch(CAST(now() AS TIMESTAMP)) - epoch(now())) / 60) AS INTEGER));
-- A datetime or smalldatetime outside its range is error 242, naming the converted type:
-- "The conversion of a varchar data type to a datetime data type resulted in an out-of-range
-- value." (ranges: the datetime and smalldatetime pages; message: sys.messages 242,
-- https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-0-to-999).
CREATE OR REPLACE MACRO ms_in_range(t, low, high, source, target) AS CASE
  WHEN t < low OR t > high THEN ms_fail(242, 'The conversion of a ' || source || ' data type to a '
    || target || ' data type resulted in an out-of-range value.')
  ELSE t END;
"""


# Functions T-SQL has that sqlglot would otherwise fold into look-alikes (GETDATE and
# SYSDATETIME both into CURRENT_TIMESTAMP); kept as plain calls so this module decides.
_OWN_FUNCTIONS = {
    "SYSDATETIME",
    "GETDATE",
    "GETUTCDATE",
    "SYSUTCDATETIME",
    "SYSDATETIMEOFFSET",
    "LEN",
    "DB_NAME",
    "SCHEMA_NAME",
    "SUSER_SNAME",
    "SUSER_NAME",
    "USER_NAME",
    "OBJECT_ID",
    "NEWID",
    "SERVERPROPERTY",
    "DB_ID",
    "SCHEMA_ID",
    "HOST_NAME",
    "APP_NAME",
    "DATALENGTH",
    "COLUMNPROPERTY",
    "DATABASEPROPERTYEX",
    "COLLATIONPROPERTY",
    "PATINDEX",
    "NCHAR",
    "STR",
    "ISDATE",
    "QUOTENAME",
    "CHOOSE",
}


# Expressions whose value changes between two runs of the same query over the same data (or
# between sessions): a result holding one must never be replayed from the cache.
_VOLATILE_NODES = (
    exp.Rand,
    exp.Randn,
    exp.Uuid,
    exp.CurrentTimestamp,
    exp.CurrentDate,
    exp.CurrentTime,
    exp.CurrentDatetime,
    exp.CurrentTimestampLTZ,
    exp.Localtimestamp,
    exp.Localtime,
    exp.UtcTimestamp,
    exp.UtcDate,
    exp.UtcTime,
    exp.Systimestamp,
    exp.UnixSeconds,
    exp.CurrentUser,
    exp.SessionUser,
    exp.Parameter,  # @@SPID, @@TRANCOUNT, @@ROWCOUNT, ...
)
_VOLATILE_FUNCTIONS = {
    "RAND",
    "RANDOM",
    "NEWID",
    "NEWSEQUENTIALID",
    "CRYPT_GEN_RANDOM",
    "UUID",
    "GEN_RANDOM_UUID",
    "NOW",
    "GETDATE",
    "GETUTCDATE",
    "SYSDATETIME",
    "SYSUTCDATETIME",
    "SYSDATETIMEOFFSET",
    "CURRENT_TIMESTAMP",
    "CURRENT_TRANSACTION_ID",
    "SCOPE_IDENTITY",
    "IDENT_CURRENT",
    "ROWCOUNT_BIG",
    "ERROR_MESSAGE",
    "ERROR_NUMBER",
    "SESSION_CONTEXT",
    "CONTEXT_INFO",
    "NEXTVAL",
}


def is_volatile(node: exp.Expression) -> bool:
    """True for RAND(), NEWID(), GETDATE(), @@SPID and the like (see _VOLATILE_NODES)."""
    if isinstance(node, _VOLATILE_NODES):
        return True
    if isinstance(node, exp.Anonymous):
        return node.name.upper() in _VOLATILE_FUNCTIONS
    if isinstance(node, exp.Column) and not node.table:
        # sqlglot reads the niladic CURRENT_USER / SYSTEM_USER as column names.
        return node.name.upper() in ("CURRENT_USER", "SYSTEM_USER", "SESSION_USER")
    return False


class Dialect(TSQL):
    """T-SQL as the emulator parses it."""

    class Tokenizer(TSQL.Tokenizer):
        # sqlglot reads both FLOAT and REAL as its FLOAT; SQL Server's float is 8 bytes.
        # ... and NTEXT as TEXT; left out, ntext parses as a named type that sqltypes knows.
        KEYWORDS = {
            **{k: v for k, v in TSQL.Tokenizer.KEYWORDS.items() if k != "NTEXT"},
            "FLOAT": TokenType.DOUBLE,
        }

    class Parser(TSQL.Parser):
        FUNCTIONS = {k: v for k, v in TSQL.Parser.FUNCTIONS.items() if k not in _OWN_FUNCTIONS}
        NO_PAREN_FUNCTIONS = {
            k: v for k, v in TSQL.Parser.NO_PAREN_FUNCTIONS.items() if v is not exp.CurrentUser
        }
        # DEFAULT is a reserved word in T-SQL, never an alias: "INSERT t OUTPUT inserted.id
        # DEFAULT VALUES" (https://learn.microsoft.com/en-us/sql/t-sql/statements/insert-transact-sql)
        # must not read as inserted.id AS [DEFAULT].
        ALIAS_TOKENS = TSQL.Parser.ALIAS_TOKENS - {TokenType.DEFAULT}


def parse(sql: str) -> list[exp.Expression]:
    """Parse T-SQL into statements; sqlglot's errors become SQL Server's 102."""
    try:
        return [e for e in sqlglot.parse(sql, read=Dialect) if e is not None]
    except sqlglot.errors.ParseError as error:
        near = ""
        if error.errors:
            near = (error.errors[0].get("highlight") or "").strip()
        raise SqlServerError(102, f"Incorrect syntax near '{near or sql.strip()[:20]}'.", 15) from None
    except sqlglot.errors.TokenError:
        raise SqlServerError(
            105, f"Unclosed quotation mark after the character string '{sql[-20:]}'.", 15
        ) from None


@dataclass
class Context:
    """The session facts a statement may ask about."""

    database: str
    user: str
    spid: int
    trancount: int = 0
    rowcount: int = 0
    textsize: int = 4096  # @@TEXTSIZE: the engine passes the session's (textsize.py)
    # Rows of views kept outside DuckDB (sys.dm_exec_sessions, sys.dm_exec_connections) by
    # their empty table's name, asked for only by a query that reads one
    live_rows: dict[str, Callable[[], list[tuple]]] = field(default_factory=dict)


def datatype_column(datatype: exp.DataType, name: str = "", *, in_cast: bool = False) -> Column:
    """A sqlglot DataType (parsed from T-SQL) as a declared SQL Server type."""
    kind = datatype.this.name
    base = {
        "DOUBLE": "float",
        "FLOAT": "real",
        "UTINYINT": "tinyint",
        "UUID": "uniqueidentifier",
        "TIMESTAMPTZ": "datetimeoffset",
        "BOOLEAN": "bit",
        "VARIANT": "sql_variant",
    }.get(kind, kind.lower())
    if kind == "USERDEFINED":
        base = datatype.args.get("kind") or datatype.sql("tsql")
    params = [p.this.name if isinstance(p, exp.DataTypeParam) else p.name for p in datatype.expressions]
    if base == "float" and params and params[0].isdigit():
        base, params = ("real" if int(params[0]) <= 24 else "float"), []
    # text, image and xml are their own types (sqltypes.LEGACY_LOBS, sqltypes.XML).
    text = base + (f"({','.join(params)})" if params else "")
    try:
        return sqltypes.parse_type(text, name, in_cast=in_cast)
    except sqltypes.TypeError_ as error:
        raise SqlServerError(2715, str(error)) from None


@dataclass
class Translation:
    sql: str
    columns: list[Column] | None = None  # declared result types (None: take DuckDB's)
    cacheable: bool = True
    tables: list[TableDef] = field(default_factory=list)


class Translator:
    """Rewrites one parsed T-SQL statement for DuckDB in a session's context."""

    def __init__(self, catalog: Catalog, context: Context):
        render_deviation()  # a misspelt deviation fails every statement, not just the one it names
        self.catalog = catalog
        self.context = context
        self.cacheable = True
        self.tables: list[TableDef] = []
        # While the tree's shape stands still (the passes that only write node.meta), the
        # sources of a SELECT are worked out once: a wide select list asks for them per node,
        # and each answer types every column of every subquery again (the render probe's
        # 39-field line took ~1.4 s to translate without this).
        self._sources_memo: dict[int, dict[str, list[Column] | None]] | None = None

    # ---- names ----

    def resolve(self, table: exp.Table, *, must_exist: bool = True) -> TableDef | None:
        """The catalog entry for a (one, two or three part) table name."""
        database = table.catalog or self.context.database
        schema = table.db or "dbo"
        db_name = self.catalog.database(database)
        view = _CATALOG_VIEWS.get((schema.lower(), table.name.lower()))
        if db_name and view:
            return TableDef(db_name, INFO_SCHEMA, view[0], "view", view[1], object_id=0)
        found = self.catalog.find(database, schema, table.name) if db_name else None
        if found is None and must_exist:
            written = ".".join(part for part in (table.catalog, table.db, table.name) if part)
            raise SqlServerError(208, f"Invalid object name '{written}'.")
        return found

    def qualify(self, tree: exp.Expression) -> None:
        """Point every table reference at its DuckDB name and remember its declared columns."""
        binding.bind_columns(tree, self.context.database)
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        for table in list(tree.find_all(exp.Table)):
            if _is_call(table.this, "FN_LISTEXTENDEDPROPERTY") and (table.db or "sys").lower() in (
                "sys",
                "dbo",
            ):
                table.meta["columns"] = FN_LISTEXTENDEDPROPERTY  # replaced by no rows in rewrite()
                continue
            if not table.name or (not table.db and table.name.lower() in ctes):
                continue
            if isinstance(table.parent, exp.Schema) and isinstance(table.parent.parent, exp.Create):
                continue
            found = self.resolve(table)
            self.tables.append(found)
            table.meta["columns"] = found.columns
            if not table.alias and found.name.lower() != table.name.lower():
                # A catalog view's DuckDB table (sys_objects) keeps the name columns qualify it by.
                table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
            table.set("this", exp.to_identifier(found.name, quoted=True))
            table.set("db", exp.to_identifier(found.schema, quoted=True))
            table.set("catalog", exp.to_identifier(found.database, quoted=True))

    # ---- result types ----

    def output_columns(self, query: exp.Expression) -> list[Column] | None:
        """Declared types of a query's result columns, None where unknown (DuckDB decides)."""
        if isinstance(query, exp.SetOperation):
            return self.output_columns(query.left)
        if isinstance(query, exp.Subquery):
            return self.output_columns(query.this)
        if not isinstance(query, exp.Select):
            return None
        sources = self._sources(query)
        result: list[Column | None] = []
        for projection in query.expressions:
            if isinstance(projection, exp.Star):
                for columns in sources.values():
                    result.extend(columns or [])
                continue
            if isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                result.extend(sources.get(projection.table.lower()) or [])
                continue
            name = projection.alias_or_name if isinstance(projection, (exp.Alias, exp.Column)) else ""
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            typed = self.infer(inner, sources)
            if typed is not None and typed.sql_type in sqltypes.STRING_TYPES:
                label = self.label(inner, sources)
                if label is not None and label.kind == NONE and query.parent is None:
                    raise SqlServerError(
                        451,
                        f"Cannot resolve collation conflict for column {len(result) + 1} in SELECT statement.",
                    )
                named = label.name if label is not None and label.name else None
                typed = replace(typed, collation=named or typed.collation or self.default_label().name)
            result.append(replace(typed, name=name) if typed else Column(name, "?"))
        return result

    def _sources(self, select: exp.Select) -> dict[str, list[Column] | None]:
        if self._sources_memo is None:
            return self._work_out_sources(select)
        key = id(select)
        if key not in self._sources_memo:
            self._sources_memo[key] = self._work_out_sources(select)
        return self._sources_memo[key]

    def _work_out_sources(self, select: exp.Select) -> dict[str, list[Column] | None]:
        sources: dict[str, list[Column] | None] = {}
        from_ = select.args.get("from_")
        items = ([from_.this] if from_ else []) + [j.this for j in select.args.get("joins") or []]
        with_ = select.args.get("with_") or (select.parent.args.get("with_") if select.parent else None)
        ctes = {c.alias_or_name.lower(): c.this for c in (with_.expressions if with_ else [])}
        for item in items:
            alias = item.alias_or_name.lower()
            if isinstance(item, exp.Table):
                columns = item.meta.get("columns")
                if columns is None and item.name.lower() in ctes:
                    columns = self.output_columns(ctes[item.name.lower()])
                sources[alias] = columns
            elif isinstance(item, exp.Subquery):
                sources[alias] = self.output_columns(item.this)
            else:
                sources[alias] = None
        return sources

    def infer(self, node: exp.Expression, sources) -> Column | None:
        """The SQL Server type of an expression, where this module can tell."""
        if isinstance(node, exp.Paren):
            return self.infer(node.this, sources)
        if isinstance(node, exp.Column):
            wanted = node.name.lower()
            candidates = [sources.get(node.table.lower())] if node.table else list(sources.values())
            for columns in candidates:
                for col in columns or []:
                    if col.name.lower() == wanted and col.sql_type != "?":
                        return col
            return None
        if isinstance(node, (exp.Cast, exp.TryCast, exp.Convert)):
            try:
                col = datatype_column(node.this if isinstance(node, exp.Convert) else node.to, in_cast=True)
            except SqlServerError:
                return None
            if col.sql_type == "sql_variant":  # keeps the value and its type (tokens.py sends both)
                value = node.expression if isinstance(node, exp.Convert) else node.this
                return replace(col, variant_base=self.infer(value, sources))
            return col
        if isinstance(node, exp.National):
            return Column("", "nvarchar", length=max(len(node.name), 1))
        if isinstance(node, exp.HexString):
            return Column("", "varbinary", length=max(len(node.name) // 2, 1))
        if isinstance(node, exp.Literal):
            if node.is_string:
                return Column("", "varchar", length=max(len(node.name), 1))
            text = node.name
            if "." in text:
                digits = text.replace("-", "").replace("+", "")
                whole, _, frac = digits.partition(".")
                return Column(
                    "", "numeric", precision=max(len(whole.lstrip("0")) + len(frac), 1), scale=len(frac)
                )
            if "e" in text.lower():
                return Column("", "float")
            if abs(int(text)) < 2**31:
                return Column("", "int")
            # A whole number beyond int is a numeric constant, not a bigint (SQL_VARIANT_PROPERTY
            # of 2147483648 is numeric(10,0)); https://learn.microsoft.com/en-us/sql/t-sql/data-types/constants-transact-sql
            return Column("", "numeric", precision=len(text.lstrip("+-").lstrip("0")) or 1, scale=0)
        if isinstance(node, (exp.Add, exp.DPipe)):
            sides = [self.infer(node.this, sources), self.infer(node.expression, sources)]
            if all(side is not None and side.sql_type in sqltypes.STRING_TYPES for side in sides):
                wide = any(side.sql_type.startswith("n") for side in sides)
                unbounded = any(side.length == -1 for side in sides)
                length = (
                    -1 if unbounded else min(sum(side.length or 1 for side in sides), 4000 if wide else 8000)
                )
                return Column("", "nvarchar" if wide else "varchar", length=length)
            return None
        if isinstance(node, exp.Concat):
            return _concat_type([self.infer(arg, sources) for arg in node.expressions])
        if isinstance(node, exp.Replace):
            inner = self.infer(node.this, sources)
            if inner is None or inner.sql_type not in sqltypes.STRING_TYPES:
                return None
            wide = inner.sql_type.startswith("n")
            # Not (max): the result may grow, so SQL Server types it at the 8,000-byte limit.
            length = -1 if inner.length == -1 else (4000 if wide else 8000)
            return Column("", "nvarchar" if wide else "varchar", length=length)
        if isinstance(node, exp.Repeat):
            inner = self.infer(node.this, sources)
            if inner is None or inner.sql_type not in sqltypes.STRING_TYPES:
                return None
            wide = inner.sql_type.startswith("n")
            return Column(
                "",
                "nvarchar" if wide else "varchar",
                length=-1 if inner.length == -1 else (4000 if wide else 8000),
            )
        if isinstance(node, exp.Collate):
            inner = self.infer(node.this, sources)
            if inner is None:
                return None
            return replace(inner, collation=self._collation_name(node.expression))
        if isinstance(node, exp.Neg):
            return self.infer(node.this, sources)
        if isinstance(node, (exp.Coalesce,)):
            return self.infer(node.this, sources)
        if isinstance(node, (exp.DateDiff, exp.Year, exp.Month, exp.Day, exp.Extract, exp.StrPosition)):
            return Column("", "int")
        if isinstance(node, exp.DateAdd):
            inner = self.infer(node.this, sources)
            return inner if inner and inner.sql_type in ("date", "datetime", "datetime2") else None
        if isinstance(node, (exp.Round, exp.Abs)):
            return self.infer(node.this, sources)
        if isinstance(node, exp.Avg):
            inner = self.infer(node.this, sources)
            if inner and inner.sql_type in ("decimal", "numeric"):
                return Column("", "decimal", precision=38, scale=max(inner.scale or 0, 6))
            if inner and inner.sql_type in _INTEGERS | {"money", "float"}:
                return Column("", "int" if inner.sql_type in ("smallint", "tinyint") else inner.sql_type)
            return None
        if isinstance(node, exp.Case):
            branches = [self.infer(i.args.get("true"), sources) for i in node.args.get("ifs") or []]
            if node.args.get("default") is not None:
                branches.append(self.infer(node.args["default"], sources))
            if branches and all(b is not None and b.sql_type in sqltypes.STRING_TYPES for b in branches):
                wide = any(b.sql_type.startswith("n") for b in branches)
                length = -1 if any(b.length == -1 for b in branches) else max(b.length or 1 for b in branches)
                return Column("", "nvarchar" if wide else "varchar", length=length)
            if branches and branches[0] is not None and all(b == branches[0] for b in branches):
                return branches[0]
            return None
        if isinstance(node, exp.Count):
            return Column("", "int")
        if isinstance(node, (exp.Max, exp.Min)):
            return self.infer(node.this, sources)
        if isinstance(node, exp.Sum):
            inner = self.infer(node.this, sources)
            if inner and inner.sql_type in ("decimal", "numeric"):
                return Column("", "decimal", precision=38, scale=inner.scale)
            if inner and inner.sql_type in ("int", "smallint", "tinyint", "bigint", "money", "float"):
                return Column(
                    "",
                    "bigint"
                    if inner.sql_type == "bigint"
                    else inner.sql_type.replace("smallint", "int").replace("tinyint", "int"),
                )
            return None
        if isinstance(node, (exp.Trim, exp.Upper, exp.Lower, exp.Substring, exp.Left, exp.Right)):
            inner = self.infer(node.this, sources)
            if inner and inner.sql_type in sqltypes.STRING_TYPES:
                return Column(
                    "", "nvarchar" if inner.sql_type.startswith("n") else "varchar", length=inner.length
                )
            return None
        if isinstance(node, exp.CurrentTimestamp):
            return Column("", "datetime")
        if isinstance(node, exp.Anonymous):
            name = node.name.upper()
            if name in ("MS_DT2", "MS_TIME", "MS_DTO"):  # already rewritten casts
                kind = {"MS_DT2": "datetime2", "MS_TIME": "time", "MS_DTO": "datetimeoffset"}[name]
                return Column("", kind, scale=7)
            if name in ("MS_DATE", "MS_DATETIME"):  # rewritten CAST(... AS date/datetime)
                return Column("", "date" if name == "MS_DATE" else "datetime")
            if name == "GETDATE" or name == "GETUTCDATE":
                return Column("", "datetime")
            if name in ("SYSDATETIME", "SYSUTCDATETIME"):
                return Column("", "datetime2", scale=7)
            if name == "SYSDATETIMEOFFSET":
                return Column("", "datetimeoffset", scale=7)
            if name == "TYPE_NAME":
                return Column("", "nvarchar", length=128)
            if name == "TYPE_ID":
                return Column("", "int")
            if name == "LEN":
                return Column("", "int")
            if name == "NEWID":
                return Column("", "uniqueidentifier")
            if name in (
                "DB_NAME",
                "SCHEMA_NAME",
                "SUSER_SNAME",
                "SUSER_NAME",
                "USER_NAME",
                "HOST_NAME",
                "APP_NAME",
            ):
                return Column("", "nvarchar", length=128)
            if name in ("OBJECT_ID", "DB_ID", "SCHEMA_ID", "DATALENGTH", "COLUMNPROPERTY", "PATINDEX"):
                return Column("", "int")
            if name in ("COLLATIONPROPERTY",):
                return Column("", "int")
            if name == "NCHAR":
                return Column("", "nchar", length=1)
            if name == "STR":
                return Column("", "varchar", length=10)
            if name == "QUOTENAME":
                return Column("", "nvarchar", length=258)
            if name == "DATABASEPROPERTYEX":
                wanted = (_constant(node.expressions[1]) or "").lower() if len(node.expressions) == 2 else ""
                text = wanted in ("collation", "status", "updateability", "useraccess", "recovery")
                return Column("", "nvarchar", length=128) if text else Column("", "int")
            if name == "SERVERPROPERTY":
                return Column("", "nvarchar", length=128)
        if isinstance(node, exp.Parameter):
            name = node.this.name.upper()
            if name == "VERSION":
                return Column("", "nvarchar", length=300)
            if name in ("SPID", "TRANCOUNT", "ROWCOUNT", "ERROR"):
                return Column("", "int" if name != "SPID" else "smallint")
            if name in ("SERVERNAME", "SERVICENAME", "LANGUAGE"):
                return Column("", "nvarchar", length=128)
        return None

    # ---- rewriting ----

    def rewrite(self, tree: exp.Expression) -> exp.Expression:
        """Rewrite T-SQL functions and casts into DuckDB expressions with SQL Server's meaning."""
        if any(is_volatile(node) for node in tree.walk()):
            self.cacheable = False
        for division in tree.find_all(exp.Div):
            # T-SQL divides integers as integers (7/2 is 3); DuckDB's / would give 3.5.
            select = division.find_ancestor(exp.Select)
            sources = self._sources(select) if select else {}
            left, right = self.infer(division.this, sources), self.infer(division.expression, sources)
            if left and right and left.sql_type in _INTEGERS and right.sql_type in _INTEGERS:
                division.meta["integer"] = True
        for addition in tree.find_all(exp.Add):
            # T-SQL's + also concatenates strings; DuckDB spells that ||.
            select = addition.find_ancestor(exp.Select)
            sources = self._sources(select) if select else {}
            sides = (self.infer(addition.this, sources), self.infer(addition.expression, sources))
            numeric = any(side is not None and side.sql_type in _NUMBER_TYPES for side in sides)
            if not numeric and any(
                side is not None and side.sql_type in sqltypes.STRING_TYPES for side in sides
            ):
                addition.meta["concat"] = True
            if numeric:
                # A number + a string is arithmetic: the string converts to the number's type
                # (data type precedence), or fails with 245.
                addition.meta["arithmetic"] = True
                number = next(side for side in sides if side is not None and side.sql_type in _NUMBER_TYPES)
                for operand, side in zip((addition.this, addition.expression), sides, strict=True):
                    if side is not None and side.sql_type in sqltypes.STRING_TYPES:
                        operand.replace(_cast_to(operand.copy(), number))
        for concat in list(tree.find_all(exp.Concat)):
            self._prepare_concat(concat)
        for replace_ in list(tree.find_all(exp.Replace)):
            # REPLACE sees a char/nchar value with its padding, as SQL Server stores it.
            select = replace_.find_ancestor(exp.Select)
            typed = self.infer(replace_.this, self._sources(select) if select else {})
            if typed is not None and typed.sql_type in _FIXED_TEXT:
                replace_.this.replace(_cast_to(replace_.this.copy(), typed))
        # From here to the node rewrites below, passes only annotate (node.meta).
        self._sources_memo = {}
        try:
            self._annotate(tree)
        finally:
            self._sources_memo = None
        # Children first, so a rewritten outer node keeps its rewritten arguments.
        for node in reversed(list(tree.dfs())):
            replacement = self._rewrite_node(node)
            if replacement is not node:
                if node is tree:
                    tree = replacement
                else:
                    node.replace(replacement)
        self._append_live_rows(tree)
        for table in list(tree.find_all(exp.Table)):
            if table.meta.get("columns") is FN_LISTEXTENDEDPROPERTY:
                empty = exp.select(
                    *(exp.cast(exp.Null(), "VARCHAR").as_(col.name) for col in FN_LISTEXTENDEDPROPERTY)
                ).where(exp.false())
                alias = table.args.get("alias") or exp.TableAlias(
                    this=exp.to_identifier("fn_listextendedproperty")
                )
                table.replace(exp.Subquery(this=empty, alias=alias.copy()))
        return tree

    def _append_live_rows(self, tree: exp.Expression) -> None:
        """A view kept outside DuckDB: its empty table (for the columns' types) plus the rows."""
        for table in list(tree.find_all(exp.Table)):
            live = self.context.live_rows.get(table.name) if table.db == INFO_SCHEMA else None
            if live is None:
                continue
            self.cacheable = False
            rows = live()
            columns = table.meta.get("columns") or []
            bare = exp.Table(
                this=table.this.copy(), db=table.args["db"].copy(), catalog=table.args["catalog"].copy()
            )
            query: exp.Expression = exp.select("*").from_(bare)
            if rows:
                types = [sqltypes.storage_type(col) for col in columns]
                values = exp.Values(
                    expressions=[
                        exp.Tuple(
                            expressions=[exp.cast(_literal(v), t) for v, t in zip(row, types, strict=True)]
                        )
                        for row in rows
                    ],
                    alias=exp.TableAlias(this=exp.to_identifier("live")),
                )
                query = exp.union(query, exp.select("*").from_(values), distinct=False)
            alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
            table.replace(exp.Subquery(this=query, alias=alias.copy()))

    def _rewrite_node(self, node: exp.Expression) -> exp.Expression:
        ctx = self.context
        if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Parameter):
            name = node.this.name.upper()
            self.cacheable = False
            values = {
                "VERSION": VERSION,
                "SPID": ctx.spid,
                "TRANCOUNT": ctx.trancount,
                "SERVERNAME": SERVER_PROPERTIES["servername"],
                "SERVICENAME": "MSSQLSERVER",
                "LANGUAGE": "us_english",
                "ROWCOUNT": ctx.rowcount,
                "ERROR": 0,
                "MAX_PRECISION": 38,
                "OPTIONS": 5496,
                "TEXTSIZE": ctx.textsize,
            }
            return _literal(values.get(name))
        collated = self._rewrite_collated(node)
        if collated is not None:
            return collated
        if isinstance(node, exp.Anonymous):
            return self._rewrite_function(node)
        if isinstance(node, exp.Literal) and not node.is_string and node.name.isdigit():
            digits = len(node.name.lstrip("0"))
            if int(node.name) >= 2**31 and digits <= 38:
                # numeric(p, 0), as infer() types it; DuckDB would make it a BIGINT or HUGEINT.
                return exp.cast(node.copy(), exp.DataType.build(f"DECIMAL({digits},0)"))
        if isinstance(node, exp.CurrentTimestamp):
            # T-SQL's CURRENT_TIMESTAMP is GETDATE(): local time without an offset.
            return exp.cast(exp.func("now"), "TIMESTAMP")
        if isinstance(node, exp.Div):
            divisor = exp.func("ms_nonzero", node.expression)
            if node.meta.get("integer"):
                return exp.IntDiv(this=node.this, expression=divisor)
            node.set("expression", divisor)
            return node
        if isinstance(node, exp.Like) and not isinstance(node.parent, exp.Not):
            return exp.ILike(this=node.this, expression=node.expression)
        if isinstance(node, (exp.Cast, exp.TryCast, exp.Convert)):
            return self._rewrite_cast(node)
        if isinstance(node, exp.Repeat):
            return _replicate(node)
        if isinstance(node, exp.Extract):
            return _datepart(node)
        if isinstance(node, (exp.DateAdd, exp.DateDiff, exp.TimeToStr, exp.TimeStrToTime)):
            _normalize_date_literals(node)
        if isinstance(node, exp.TimeToStr) and _is_call(node.this, "MS_DT2"):
            # DATENAME's cast to datetime2 became the emulator's datetime2 text; strftime wants
            # a timestamp.
            node.set("this", exp.cast(node.this.expressions[0], "TIMESTAMP"))
        if isinstance(node, exp.Ascii):
            # ASCII converts a non-string argument to text first (ASCII page, "ASCII(1)" is 49).
            return exp.Ascii(this=exp.cast(node.this, "VARCHAR"))
        if isinstance(node, exp.Round) and node.args.get("truncate") is not None:
            return _round_toward_zero(node)
        if isinstance(node, (exp.If, exp.Case)):
            _check_not_all_null(node)
        if isinstance(node, exp.Concat):
            result = node.meta.get("sql_type")
            if result is not None and result.length != -1:
                # Without a (max) argument SQL Server cuts the result at 8,000 bytes.
                limit = 4000 if result.sql_type == "nvarchar" else 8000
                return exp.func("left", node, exp.Literal.number(limit))
            return node
        if isinstance(node, exp.Add) and node.meta.get("arithmetic"):
            return node
        if isinstance(node, exp.Add) and (
            node.meta.get("concat") or _is_text(node.this) or _is_text(node.expression)
        ):
            return exp.DPipe(this=node.this, expression=node.expression)
        return node

    # ---- collations (collations.py; labels per the collation precedence page) ----

    def default_label(self) -> Label:
        """Literals, variables and non-string functions: the current database's collation."""
        return Label(COERCIBLE, self.catalog.database_collation(self.context.database))

    def label(self, node: exp.Expression, sources) -> Label | None:
        """The collation label of a string expression, None for a non-string one.

        Collation-sensitive operations inside ``node`` raise SQL Server's conflict errors.
        """
        if isinstance(node, exp.Paren):
            return self.label(node.this, sources)
        if isinstance(node, exp.Collate):
            inner = self.label(node.this, sources)
            if inner is not None and inner.kind == EXPLICIT and isinstance(node.this, exp.Collate):
                raise SqlServerError(102, "Incorrect syntax near 'COLLATE'.", 15)
            return Label(EXPLICIT, self._collation_name(node.expression))
        if isinstance(node, exp.Column):
            col = self.infer(node, sources)
            if col is None or col.sql_type not in sqltypes.STRING_TYPES:
                return None
            return Label(IMPLICIT, col.collation) if col.collation else self.default_label()
        if isinstance(node, exp.National) or (isinstance(node, exp.Literal) and node.is_string):
            return self.default_label()
        if isinstance(node, (exp.Parameter, exp.Placeholder)):
            typed = self.infer(node, sources)
            return self.default_label() if typed and typed.sql_type in sqltypes.STRING_TYPES else None
        if isinstance(node, (exp.Cast, exp.TryCast, exp.Convert)):
            target = node.this if isinstance(node, exp.Convert) else node.to
            value = node.expression if isinstance(node, exp.Convert) else node.this
            try:
                if datatype_column(target, in_cast=True).sql_type not in sqltypes.STRING_TYPES:
                    return None
            except SqlServerError:
                return None
            return self.label(value, sources) or self.default_label()
        operation, operands = _collation_operands(node)
        if operands is None:
            typed = self.infer(node, sources)
            return self.default_label() if typed and typed.sql_type in sqltypes.STRING_TYPES else None
        result = None
        for operand in operands:
            result = collations.combine(result, self.label(operand, sources), operation)
        return result

    def _single_byte_code_page(self) -> str | None:
        """The Python codec of the database's code page when it has one byte a character."""
        collation = collations.lookup(self.catalog.database_collation(self.context.database))
        codec = f"cp{collation.code_page}"
        try:
            return codec if len(bytes(range(256)).decode(codec, errors="replace")) == 256 else None
        except LookupError:
            return None

    def _collation_name(self, node: exp.Expression) -> str:
        name = node.name
        if name.lower() == "database_default":
            return self.catalog.database_collation(self.context.database)
        return collations.lookup(name).name

    def _annotate(self, tree: exp.Expression) -> None:
        """The passes that only read the tree and note what the rewrites need in node.meta."""
        self._note_collations(tree)
        for node in list(tree.find_all(exp.Anonymous, exp.Repeat)):
            if isinstance(node, exp.Repeat) or node.name.upper() == "DATALENGTH":
                value = node.this if isinstance(node, exp.Repeat) else (node.expressions or [None])[0]
                node.meta["source_type"] = self.infer(value, self._sources_near(node)) if value else None
        for cast in list(tree.find_all(exp.Cast, exp.TryCast, exp.Convert)):
            # The converted value's T-SQL type, read before its own casts are rewritten.
            value = cast.expression if isinstance(cast, exp.Convert) else cast.this
            select = cast.find_ancestor(exp.Select)
            cast.meta["source_type"] = self.infer(value, self._sources(select) if select else {})
        for aggregate in tree.find_all(exp.Sum, exp.Avg):
            # SUM and AVG take numbers only (errors 8000-8999: 8117).
            typed = self.infer(aggregate.this, self._sources_near(aggregate))
            if typed is not None and typed.sql_type in sqltypes.STRING_TYPES | {
                "uniqueidentifier",
                "date",
                "datetime",
            }:
                operator = "sum" if isinstance(aggregate, exp.Sum) else "avg"
                raise SqlServerError(
                    8117, f"Operand data type {typed.sql_type} is invalid for {operator} operator."
                )

    def _sources_near(self, node: exp.Expression):
        select = node.find_ancestor(exp.Select)
        if select is not None:
            return self._sources(select)
        root = node.root()
        if isinstance(root, (exp.Update, exp.Delete)) and isinstance(root.this, exp.Table):
            return {root.this.alias_or_name.lower(): root.this.meta.get("columns")}
        return {}

    def _note_collations(self, tree: exp.Expression) -> None:
        """Before rewriting: the collation each collation-sensitive node compares under."""
        for node in list(tree.walk()):
            if (
                isinstance(node, exp.EQ)
                and isinstance(node.parent, exp.Update)
                and node.arg_key == "expressions"
            ):
                continue  # UPDATE ... SET column = value assigns; it compares nothing
            if isinstance(node, exp.Union) and node.args.get("distinct"):
                self._check_union(node)
                continue
            if isinstance(node, _COMPARISONS):
                sides = [node.this, node.expression]
            elif isinstance(node, exp.Between):
                sides = [node.this, node.args["low"], node.args["high"]]
            elif isinstance(node, exp.In) and not node.args.get("query"):
                sides = [node.this, *node.expressions]
            elif isinstance(node, (exp.Replace, exp.StrPosition)):
                sides = [node.this, node.args.get("substr") or node.expression]
                if isinstance(node, exp.Replace):
                    sides.append(node.args.get("replacement"))
            elif isinstance(node, exp.Anonymous) and node.name.upper() in ("PATINDEX", "LEN"):
                sides = list(node.expressions[:2])
            elif isinstance(node, (exp.Ordered, exp.Max, exp.Min)) or (
                isinstance(node, (exp.Concat, exp.Collate, exp.Case, exp.Add, exp.DPipe))
            ):
                sides = [node.this]
                if not isinstance(node, (exp.Ordered, exp.Max, exp.Min)):
                    self.label(node, self._sources_near(node))  # raises on a conflict
                    continue
            else:
                continue
            if isinstance(node, exp.Ordered):
                select = node.find_ancestor(exp.Select)
                if select is not None and select.args.get("distinct"):
                    continue  # ORDER BY of a DISTINCT query must name a select-list expression
            if isinstance(node, (exp.Like, exp.Replace)):
                node.meta["pattern"] = _constant(node.expression)
            if isinstance(node, exp.Replace):
                node.meta["replacement"] = _constant(node.args.get("replacement"))
            if isinstance(node, exp.Anonymous) and node.expressions:
                node.meta["pattern"] = _constant(node.expressions[0])
            sources = self._sources_near(node)
            if isinstance(node, exp.Like):
                # LIKE on char/varchar only ignores the match expression's trailing blanks.
                types = [self.infer(side, sources) for side in sides]
                node.meta["unicode"] = not all(
                    t is not None and t.sql_type in ("char", "varchar") for t in types
                )
            if isinstance(node, (exp.Like, exp.Replace, exp.StrPosition, exp.Anonymous)):
                sides = [
                    _as_text(side, self.infer(side, sources)) if side is not None else None for side in sides
                ]
            labels = [self.label(side, sources) if side is not None else None for side in sides]
            if isinstance(node, (exp.Like, exp.Replace, exp.StrPosition, exp.Anonymous)):
                # Operands of string functions are text even where this module cannot type them.
                labels = [label or self.default_label() for label in labels]
            if not labels or any(label is None for label in labels):
                continue  # a non-string (or unknown) operand: DuckDB's own comparison
            operation = _operation_name(node)
            result = None
            for label in labels:
                result = collations.combine(result, label, operation)
            node.meta["collation"] = collations.lookup(result.name)

    def _check_union(self, union: exp.Union) -> None:
        """UNION (not UNION ALL) is collation sensitive, column by column (precedence page)."""
        left, right = union.left, union.expression
        if not (isinstance(left, exp.Select) and isinstance(right, exp.Select)):
            return
        for mine, theirs in zip(left.expressions, right.expressions, strict=False):
            labels = [
                self.label(p.this if isinstance(p, exp.Alias) else p, self._sources(select))
                for p, select in ((mine, left), (theirs, right))
            ]
            collations.combine(labels[0], labels[1], "UNION")

    def _rewrite_collated(self, node: exp.Expression) -> exp.Expression | None:
        """A collation-sensitive node compared the way its collation compares, or None."""
        if isinstance(node, exp.Collate):
            collation = collations.lookup(self._collation_name(node.expression))
            return exp.Collate(this=node.this, expression=exp.var(collations.duckdb_collation(collation)))
        if isinstance(node, exp.Escape) and not isinstance(node.this, exp.Like):
            return node.this  # the LIKE became a regular expression that holds the escape
        collation = node.meta.get("collation")
        if collation is None:
            return None
        if isinstance(node, exp.Like):
            return self._like(node, collation)
        if isinstance(node, _COMPARISONS):
            key = collations.equality_key if isinstance(node, (exp.EQ, exp.NEQ)) else collations.order_key
            node.set("this", key(node.this, collation))
            node.set("expression", key(node.expression, collation))
            return node
        if isinstance(node, exp.Between):
            for part in ("this", "low", "high"):
                node.set(part, collations.order_key(node.args[part], collation))
            return node
        if isinstance(node, exp.In):
            node.set("this", collations.equality_key(node.this, collation))
            node.set("expressions", [collations.equality_key(e, collation) for e in node.expressions])
            return node
        if isinstance(node, exp.Replace):
            return _collated_replace(node, collation)
        if isinstance(node, exp.StrPosition):
            substr = node.args["substr"]
            if isinstance(substr, (exp.Literal, exp.National)) and substr.name == "":
                return exp.Literal.number(0)  # CHARINDEX of an empty string is 0
            node.set("this", collations.search_key(node.this, collation))
            node.set("substr", collations.search_key(substr, collation))
            return node
        if isinstance(node, exp.Anonymous) and node.name.upper() == "PATINDEX":
            return _patindex(node, collation)
        if isinstance(node, exp.Anonymous):
            return None  # LEN: its collation is read in _rewrite_function
        if isinstance(node, exp.Ordered):
            node.set("this", collations.order_key(node.this, collation))
            return node
        if isinstance(node, (exp.Max, exp.Min)):
            function = "arg_max" if isinstance(node, exp.Max) else "arg_min"
            return exp.func(function, node.this, collations.order_key(node.this.copy(), collation))
        return None

    def _like(self, node: exp.Like, collation: collations.Collation) -> exp.Expression:
        escape = node.parent.expression if isinstance(node.parent, exp.Escape) else None
        pattern = node.meta.get("pattern")
        escape_char = _constant(escape) if escape is not None else None
        if pattern is not None and ("[" in pattern or escape_char):
            regex = collations.like_regex(pattern, collation, escape_char)
            text = node.this if node.meta.get("unicode") else collations.rtrim(node.this)
            matched = exp.func("regexp_full_match", text, exp.Literal.string(regex))
            return exp.Not(this=matched) if node.args.get("negate") else matched
        if not node.meta.get("unicode"):
            node.set("this", collations.rtrim(node.this))
        if collation.binary:
            return node
        node.set("this", collations.search_key(node.this, collation))
        node.set("expression", collations.search_key(node.expression, collation))
        return node

    def _prepare_concat(self, node: exp.Concat) -> None:
        """Check CONCAT's argument count, note its result type, make implicit conversions explicit.

        Runs before any rewriting, while the arguments still carry their T-SQL types: an
        argument that is not text (bit, uniqueidentifier, money, ...) is wrapped in the
        CAST(... AS varchar(max)) SQL Server applies implicitly, so it renders as SQL Server's
        text ('1', not DuckDB's 'true').
        """
        arguments = node.expressions
        if not 2 <= len(arguments) <= 254:
            raise SqlServerError(189, "The concat function requires 2 to 254 arguments.", 15)
        select = node.find_ancestor(exp.Select)
        sources = self._sources(select) if select else {}
        types = [self.infer(arg, sources) for arg in arguments]
        node.meta["sql_type"] = _concat_type(types)
        for arg, typed in zip(arguments, types, strict=True):
            if typed is None or typed.sql_type in ("varchar", "nvarchar"):
                continue
            if typed.sql_type in _FIXED_TEXT:  # keeps its padding
                arg.replace(_cast_to(arg.copy(), typed))
            else:
                arg.replace(_cast_to(arg.copy(), Column("", "varchar", length=-1)))

    def _rewrite_function(self, node: exp.Anonymous) -> exp.Expression:
        name = node.name.upper()
        args = node.expressions
        ctx = self.context
        if name in ("GETDATE", "SYSDATETIME"):
            self.cacheable = False
            return exp.cast(exp.func("now"), "TIMESTAMP")
        if name in ("GETUTCDATE", "SYSUTCDATETIME"):
            self.cacheable = False
            return exp.cast(exp.func("timezone", exp.Literal.string("UTC"), exp.func("now")), "TIMESTAMP")
        if name == "SYSDATETIMEOFFSET":
            self.cacheable = False
            return exp.func("ms_dto", exp.func("ms_now_offset_text"))
        if name in ("NEWID", "NEWSEQUENTIALID"):
            # NEWSEQUENTIALID's values are not ordered here: "greater than any GUID previously
            # generated" (https://learn.microsoft.com/en-us/sql/t-sql/functions/newsequentialid-transact-sql)
            # is not modelled; each is a random GUID, as NEWID's.
            self.cacheable = False
            return exp.func("uuid")
        if name in ("TYPE_NAME", "TYPE_ID") and len(args) == 1:
            # https://learn.microsoft.com/en-us/sql/t-sql/functions/type-name-transact-sql and
            # .../type-id-transact-sql: between a type's name and its user_type_id in sys.types,
            # NULL when there is none; the emulator has only the built-in types.
            ids = builtin_type_ids()
            if name == "TYPE_NAME":
                ifs = [exp.If(this=exp.Literal.number(i), true=exp.Literal.string(n)) for n, i in ids.items()]
                return exp.Case(this=exp.cast(args[0].copy(), "BIGINT"), ifs=ifs)
            wanted = exp.Lower(this=exp.cast(args[0].copy(), "VARCHAR"))
            ifs = [
                exp.If(this=exp.Literal.string(spelling), true=exp.Literal.number(i))
                for n, i in ids.items()
                for spelling in (n, f"sys.{n}", f"[{n}]")
            ]
            return exp.Case(this=wanted, ifs=ifs)
        if name in ("LEN", "DATALENGTH") and len(args) != 1:
            raise SqlServerError(174, f"The {name.lower()} function requires 1 argument(s).", 15)
        if name == "LEN":
            trimmed = exp.func("rtrim", exp.cast(args[0], "VARCHAR"))
            collation = node.meta.get("collation")
            if collation is None or collation.supplementary:
                return exp.Length(this=trimmed)
            # Without an _SC collation a supplementary character is two UTF-16 code units, and
            # LEN counts both (Collation and Unicode support, "Supplementary characters").
            return exp.Add(this=exp.Length(this=trimmed), expression=exp.Length(this=_astral(trimmed.copy())))
        if name == "DATALENGTH":
            return _datalength(args[0], node.meta.get("source_type"), self.catalog, self.context)
        if name == "ISDATE" and len(args) == 1:
            # https://learn.microsoft.com/en-us/sql/t-sql/functions/isdate-transact-sql
            parsed = exp.TryCast(this=exp.cast(args[0], "VARCHAR"), to=exp.DataType.build("TIMESTAMP"))
            return exp.Case(
                ifs=[
                    exp.If(
                        this=exp.Not(this=exp.Is(this=parsed, expression=exp.Null())),
                        true=exp.Literal.number(1),
                    )
                ],
                default=exp.Literal.number(0),
            )
        if name == "STR" and args and all(_constant(a) is not None for a in args[1:]):
            return _str(args[0], *(int(_constant(a)) for a in args[1:]))
        if name == "NCHAR" and len(args) == 1:
            return exp.func("chr", exp.cast(args[0], "INTEGER"))
        if name == "QUOTENAME" and args:
            return _quotename(args[0], _constant(args[1]) if len(args) > 1 else "[")
        if name == "CHOOSE" and len(args) >= 2:
            # https://learn.microsoft.com/en-us/sql/t-sql/functions/logical-functions-choose-transact-sql
            ifs = [exp.If(this=exp.Literal.number(i), true=a) for i, a in enumerate(args[1:], start=1)]
            return exp.Case(this=args[0], ifs=ifs)
        if name == "DATABASEPROPERTYEX":
            return self._database_property(args)
        if name == "COLLATIONPROPERTY":
            found = collations.find(_constant(args[0]) or "") if len(args) == 2 else None
            return _literal(found.property(_constant(args[1]) or "") if found else None)
        if name == "DB_NAME":
            if args:
                return node
            return _literal(self.catalog.database(ctx.database) or ctx.database)
        if name == "SCHEMA_NAME":
            if not args:
                return _literal("dbo")  # the session user's default schema
            return self._schema_name(args[0])
        if name in ("SUSER_SNAME", "SUSER_NAME", "USER_NAME"):
            self.cacheable = False
            return _literal(ctx.user if name != "USER_NAME" else "dbo")
        if name in ("HOST_NAME", "APP_NAME"):
            return _literal("")
        if name == "SERVERPROPERTY":
            self.cacheable = False
            return _literal(SERVER_PROPERTIES.get(_constant(args[0]).lower()) if args else None)
        if name == "DB_ID":
            names = sorted(self.catalog.databases)
            if args and _constant(args[0]) is None and not isinstance(args[0], exp.Null):
                # a name known only per row or a typed parameter (sp_executesql binds CAST(...))
                ifs = [
                    exp.If(this=exp.Literal.string(n), true=exp.Literal.number(i + 1))
                    for i, n in enumerate(names)
                ]
                return exp.Case(this=exp.Lower(this=exp.cast(args[0].copy(), "VARCHAR")), ifs=ifs)
            wanted = (_constant(args[0]) if args else ctx.database).lower()
            return _literal(names.index(wanted) + 1 if wanted in names else None)
        if name == "SCHEMA_ID":
            wanted = _constant(args[0]) if args else "dbo"
            return _literal(self.catalog.schema_id(ctx.database, wanted) if wanted else None)
        if name == "OBJECT_NAME" and len(args) == 1:
            # https://learn.microsoft.com/en-us/sql/t-sql/functions/object-name-transact-sql: the
            # name of a table or view of the current database (constraints: NULL), NULL if unknown.
            self.cacheable = False
            database = self.catalog.database(ctx.database) or ""
            ifs = [
                exp.If(this=exp.Literal.number(t.object_id), true=exp.Literal.string(t.name))
                for t in self.catalog.in_database(database)
            ]
            return exp.Case(this=args[0].copy(), ifs=ifs) if ifs else exp.Null()
        if name == "OBJECT_ID":
            self.cacheable = False
            kind = _constant(args[1]) if len(args) > 1 else None
            if _constant(args[0]) is None:
                return self._object_id_lookup(args[0], kind)
            return _literal(self.object_id(_constant(args[0]), kind))
        if name == "COLUMNPROPERTY":
            self.cacheable = False
            return self._column_property(args)
        return node

    def _database_property(self, args: list[exp.Expression]) -> exp.Expression:
        """DATABASEPROPERTYEX(database, property) for constant arguments; NULL when unknown.

        https://learn.microsoft.com/en-us/sql/t-sql/functions/databasepropertyex-transact-sql
        """
        if len(args) != 2:
            raise SqlServerError(174, "The databasepropertyex function requires 2 argument(s).", 15)
        database = self.catalog.database(_constant(args[0]) or "")
        wanted = (_constant(args[1]) or "").lower()
        if database is None:
            return exp.Null()
        collation = collations.lookup(self.catalog.database_collation(database))
        answers = {
            "collation": collation.name,
            "comparisonstyle": collation.comparison_style,
            "lcid": collation.lcid,
            "sqlsortorder": 52 if collation.name == collations.DEFAULT else 0,
            "status": "ONLINE",
            "updateability": "READ_WRITE",
            "useraccess": "MULTI_USER",
            "recovery": "SIMPLE",
            "isautoclose": 0,
            "isautoshrink": 0,
        }
        return _literal(answers.get(wanted))

    def _schema_name(self, schema_id: exp.Expression) -> exp.Expression:
        """SCHEMA_NAME(id) for a constant or a column (sys.objects.schema_id): NULL if unknown."""
        database = self.catalog.database(self.context.database) or ""
        names = {i: n for n, i in self.catalog.schema_ids.get(database.lower(), {}).items()}
        spelled = {
            **self.catalog.schemas.get(database.lower(), {}),
            "information_schema": "INFORMATION_SCHEMA",
        }
        ifs = [
            exp.If(this=exp.Literal.number(i), true=exp.Literal.string(spelled.get(n, n)))
            for i, n in sorted(names.items())
        ]
        return exp.Case(this=schema_id, ifs=ifs) if ifs else exp.Null()

    def _object_id_lookup(self, name: exp.Expression, kind: str | None) -> exp.Expression:
        """OBJECT_ID(<column>): a CASE over every spelling of the current database's object names.

        The catalog is read when the statement is translated, which is when it runs: the same
        snapshot SQL Server's metadata functions see inside one statement.
        """
        database = self.catalog.database(self.context.database)
        spellings: dict[str, int] = {}
        for table in self.catalog.in_database(database or ""):
            if kind and kind.strip().upper() != ("V" if table.kind == "view" else "U"):
                continue
            full = f"{table.schema}.{table.name}".lower()
            spellings[f"{table.database}.{full}".lower()] = table.object_id
            spellings[full] = table.object_id
            if table.schema.lower() == "dbo":  # a one-part name resolves in the default schema
                spellings[table.name.lower()] = table.object_id
        if not spellings:
            return exp.Null()
        bare = exp.func("replace", exp.func("replace", exp.cast(name, "VARCHAR"), "'['", "''"), "']'", "''")
        key = exp.Lower(this=bare)
        ifs = [exp.If(this=exp.Literal.string(k), true=exp.Literal.number(v)) for k, v in spellings.items()]
        return exp.Case(this=key, ifs=ifs)

    def _column_property(self, args: list[exp.Expression]) -> exp.Expression:
        """COLUMNPROPERTY(id, column, property): SQL Server's answer, NULL for unknown ids or names."""
        wanted = (_constant(args[2]) or "").lower() if len(args) == 3 else ""
        database = self.catalog.database(self.context.database)
        answers: dict[str, int] = {}
        for table in self.catalog.in_database(database or ""):
            identity = table.defaults.get("__identity__", ())
            for column_id, col in enumerate(table.columns, start=1):
                value = _COLUMN_PROPERTIES.get(wanted, lambda *_: None)(table, col, column_id, identity)
                if value is not None:
                    answers[f"{table.object_id}.{col.name.lower()}"] = value
        if not answers:
            return exp.Null()
        key = exp.DPipe(
            this=exp.DPipe(this=exp.cast(args[0], "VARCHAR"), expression=exp.Literal.string(".")),
            expression=exp.Lower(this=exp.cast(args[1], "VARCHAR")),
        )
        ifs = [exp.If(this=exp.Literal.string(k), true=exp.Literal.number(v)) for k, v in answers.items()]
        return exp.Case(this=key, ifs=ifs)

    def object_id(self, name: str | None, kind: str | None) -> int | None:
        """OBJECT_ID('db.schema.name', 'U'|'V') as a number, or None."""
        if not name:
            return None
        try:
            table = sqlglot.parse_one(name, read=Dialect, into=exp.Table)
        except sqlglot.errors.ParseError:
            return None
        found = self.resolve(table, must_exist=False)
        if found is None or found.schema == INFO_SCHEMA:
            return None
        if kind and kind.strip().upper() != ("V" if found.kind == "view" else "U"):
            return None
        return found.object_id

    def _rewrite_cast(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Convert):
            target, value, style = node.this, node.expression, node.args.get("style")
        else:
            target, value, style = node.to, node.this, None
        try:
            col = datatype_column(target, in_cast=True)
        except SqlServerError:
            if isinstance(node, exp.Convert):
                raise
            return node  # a cast sqlglot itself wrote (DATEADD and friends): already DuckDB's
        style_value = int(style.name) if isinstance(style, exp.Literal) else None
        t = col.sql_type
        if t == "sql_variant":  # "can store values of various ... data types" as they are
            return value
        if t in sqltypes.STRING_TYPES:
            text = exp.cast(value, "VARCHAR")
            if "source_type" in node.meta:
                source_type = node.meta["source_type"]
            else:
                select = node.find_ancestor(exp.Select)
                source_type = self.infer(value, self._sources(select) if select else {})
            if source_type and source_type.sql_type in sqltypes.TICK_TYPES and style_value is not None:
                styled = _tick_text(text, source_type, style_value)
                if styled is not None:
                    text, style_value = styled, None
            elif (
                source_type
                and source_type.sql_type == "varbinary"
                and not style_value
                and t in ("varchar", "char")
                and (code_page := self._single_byte_code_page()) is not None
            ):
                text, style_value = _bytes_as_characters(value, code_page), None
            elif source_type and source_type.sql_type in _TEXT_OF:
                text, style_value = _TEXT_OF[source_type.sql_type](value, style_value), None
            if source_type and source_type.sql_type in sqltypes.STRING_TYPES:
                style_value = None  # text to text: SQL Server ignores the style
            if style_value is None and source_type and source_type.sql_type == "datetime":
                style_value = 0  # CAST of a datetime to text: "mon dd yyyy hh:miAM"
            if style_value is not None:
                text = _format_date(value, style_value, source_type) or text
            if source_type and source_type.sql_type in _FIXED_TEXT and (source_type.length or 0) > 0:
                # char/nchar are stored unpadded here (the padding is added on output).
                text = _rpad(text, source_type.length)
            if col.length and col.length > 0 and source_type and source_type.sql_type in _NUMBER_TYPES:
                text = _too_short(text, source_type.sql_type, t, col.length)
            if col.length and col.length > 0:
                text = exp.func("left", text, exp.Literal.number(col.length))
                return _rpad(text, col.length) if t in _FIXED_TEXT else text
            return text
        source = node.meta.get("source_type")
        source_kind = source.sql_type if source else None
        if t in _INTEGERS and source_kind in ("decimal", "numeric", "float", "real"):
            # numeric and float to int truncate (CAST and CONVERT, "Truncating and rounding results")
            value = exp.func("trunc", value)
        if t == "varbinary" and source_kind in _INTEGER_BYTES and isinstance(target, exp.DataType):
            fixed = target.this == exp.DataType.Type.BINARY
            return _integer_bytes(value, _INTEGER_BYTES[source_kind], col.length, fixed)
        if t == "varbinary" and style_value in (1, 2) and source_kind in sqltypes.STRING_TYPES:
            digits = exp.func("substr", value, exp.Literal.number(3)) if style_value == 1 else value
            return exp.func("from_hex", digits)
        if t == "uniqueidentifier" and source_kind in sqltypes.STRING_TYPES:
            # A longer string is cut to the 36 characters of a GUID (uniqueidentifier page, example).
            value = exp.func("left", exp.cast(value, "VARCHAR"), exp.Literal.number(36))
        if t == "time" and isinstance(value, exp.Literal) and value.is_string:
            parsed = _date_literal(value.name)
            if parsed is not None:  # a date, time and offset string: its time of day
                value = exp.Literal.string(parsed.value.strftime("%H:%M:%S.%f") + str(parsed.ticks))
        if t == "datetime" and source_kind == "time":
            # time to datetime: "the date component is set to '1900-01-01'" (datetime page).
            time_text = exp.func("left", exp.cast(value, "VARCHAR"), exp.Literal.number(15))
            value = exp.DPipe(this=exp.Literal.string("1900-01-01 "), expression=time_text)
        if t in ("date", "datetime", "datetime2") and isinstance(value, exp.Literal) and value.is_string:
            if re.fullmatch(r"\s*\d{4}\s*", value.name):
                # "A string of only 4 digits is interpreted as the year. The month and date are
                # set to January 1" (https://learn.microsoft.com/en-us/previous-versions/sql/sql-server-2005/ms187085(v=sql.90))
                value = exp.Literal.string(f"{value.name.strip()}-01-01")
        if t == "datetime2" and isinstance(value, exp.Literal) and value.is_string:
            parsed = _date_literal(value.name)
            if parsed is not None and parsed.offset is None:  # '0001-1-1 0:0:0' as ms_dt2 reads it
                value = exp.Literal.string(parsed.datetime2_text)
        if t in ("datetime2", "time", "datetimeoffset"):
            macro = {"datetime2": "ms_dt2", "time": "ms_time", "datetimeoffset": "ms_dto"}[t]
            if style_value in (112,):
                value = exp.func("strptime", exp.cast(value, "VARCHAR"), exp.Literal.string("%Y%m%d"))
            return exp.func(macro, value)
        if t in ("date", "datetime") and style_value == 112:
            parsed = exp.func("strptime", exp.cast(value, "VARCHAR"), exp.Literal.string("%Y%m%d"))
            return exp.cast(parsed, "DATE" if t == "date" else "TIMESTAMP")
        if t == "datetime" and target.this == exp.DataType.Type.SMALLDATETIME:
            # "29.998 seconds or less are rounded down to the nearest minute. Values of 29.999
            # seconds or more are rounded up" (smalldatetime page); 29.998 is already .997 here.
            shifted = exp.Add(
                this=exp.func("ms_datetime", value),
                expression=exp.Interval(this=exp.Literal.string("30001"), unit=exp.var("MILLISECOND")),
            )
            minute = exp.func("date_trunc", exp.Literal.string("minute"), shifted)
            return _in_range(
                minute, "1900-01-01 00:00:00", "2079-06-06 23:59:00", source_kind, "smalldatetime"
            )
        if t == "datetime":  # also '20261129', rounded to 1/300 s
            rounded = exp.func("ms_datetime", value)
            return _in_range(
                rounded, "1753-01-01 00:00:00", "9999-12-31 23:59:59.997", source_kind, "datetime"
            )
        if t == "date":
            return exp.func("ms_date", value)
        return exp.Cast(this=value, to=exp.DataType.build(sqltypes.storage_type(col), dialect="duckdb"))


_INTEGERS = {"int", "bigint", "smallint", "tinyint"}
_FIXED_TEXT = {"char", "nchar"}
_NUMBER_TYPES = _INTEGERS | {"decimal", "numeric", "money", "float", "real"}


def _in_range(stamp: exp.Expression, low: str, high: str, source: str | None, target: str) -> exp.Expression:
    """A datetime/smalldatetime value, or error 242 outside [low, high] (translate.MACROS)."""
    bounds = [exp.cast(exp.Literal.string(b), "TIMESTAMP") for b in (low, high)]
    words = [exp.Literal.string(source or "varchar"), exp.Literal.string(target)]
    return exp.func("ms_in_range", stamp, *bounds, *words)


def _too_short(text: exp.Expression, source: str, target: str, length: int) -> exp.Expression:
    """A number whose text does not fit the target length: '*' for an integer into char or
    varchar, error 8115 otherwise (CAST and CONVERT, "Truncating and rounding results")."""
    if source in _INTEGERS and target in ("char", "varchar"):
        overflow: exp.Expression = exp.Literal.string("*")
    else:
        named = "expression" if source in _INTEGERS else source
        overflow = exp.func(
            "ms_fail",
            exp.Literal.number(8115),
            exp.Literal.string(f"Arithmetic overflow error converting {named} to data type {target}."),
        )
    too_long = exp.GT(this=exp.Length(this=text.copy()), expression=exp.Literal.number(length))
    return exp.Case(ifs=[exp.If(this=too_long, true=overflow)], default=text)


# Collation-sensitive comparisons, and the operation names error 468 gives them.
_COMPARISONS = (exp.Like, exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)
_OPERATION_NAMES = {
    exp.Like: "like",
    exp.EQ: "equal to",
    exp.NEQ: "not equal to",
    exp.LT: "less than",
    exp.LTE: "less than or equal to",
    exp.GT: "greater than",
    exp.GTE: "greater than or equal to",
    exp.In: "equal to",
    exp.Between: "greater than or equal to",
    exp.Replace: "replace",
    exp.StrPosition: "charindex",
    exp.Ordered: "order by",
    exp.Max: "max",
    exp.Min: "min",
}
# Functions whose result takes the collation label of their (first) string argument.
_STRING_FUNCTIONS = (
    exp.Upper,
    exp.Lower,
    exp.Trim,
    exp.Substring,
    exp.Left,
    exp.Right,
    exp.Repeat,
    exp.Max,
    exp.Min,
)
_STRING_CALLS = {"STUFF", "REVERSE", "LTRIM", "RTRIM", "REPLICATE", "QUOTENAME", "FORMATMESSAGE"}


def _operation_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    return _OPERATION_NAMES.get(type(node), type(node).__name__.lower())


def _collation_operands(node: exp.Expression) -> tuple[str | None, list | None]:
    """(collation-sensitive operation or None, the string operands) of an expression."""
    if isinstance(node, exp.Concat):
        return "concat", list(node.expressions)
    if isinstance(node, (exp.Add, exp.DPipe)):
        return "add", [node.this, node.expression]
    if isinstance(node, exp.Replace):
        return "replace", [node.this, node.expression, node.args.get("replacement")]
    if isinstance(node, exp.Case):
        branches = [i.args.get("true") for i in node.args.get("ifs") or []]
        return None, branches + ([node.args["default"]] if node.args.get("default") is not None else [])
    if isinstance(node, exp.Coalesce):
        return None, [node.this, *node.expressions]
    if isinstance(node, _STRING_FUNCTIONS):
        return None, [node.this]
    if isinstance(node, exp.Anonymous) and node.name.upper() in _STRING_CALLS and node.expressions:
        return None, [node.expressions[0]]
    return None, None


def _quotename(value: exp.Expression, quote: str | None) -> exp.Expression:
    """QUOTENAME: the delimiters around the text, the closing one doubled inside; NULL past 128
    characters or for a quote character it does not take.
    https://learn.microsoft.com/en-us/sql/t-sql/functions/quotename-transact-sql
    """
    pairs = {
        "[": ("[", "]"),
        "]": ("[", "]"),
        '"': ('"', '"'),
        "'": ("'", "'"),
        "(": ("(", ")"),
        ")": ("(", ")"),
        "<": ("<", ">"),
        ">": ("<", ">"),
        "{": ("{", "}"),
        "}": ("{", "}"),
        "`": ("`", "`"),
    }
    if quote not in pairs:
        return exp.Null()
    opening, closing = pairs[quote]
    doubled = exp.func("replace", value, exp.Literal.string(closing), exp.Literal.string(closing * 2))
    quoted = exp.DPipe(
        this=exp.DPipe(this=exp.Literal.string(opening), expression=doubled),
        expression=exp.Literal.string(closing),
    )
    too_long = exp.GT(this=exp.Length(this=value.copy()), expression=exp.Literal.number(128))
    return exp.Case(ifs=[exp.If(this=too_long, true=exp.Null())], default=quoted)


def _astral(text: exp.Expression) -> exp.Expression:
    """The characters of ``text`` above U+FFFF (each two UTF-16 code units)."""
    return _call(
        "regexp_replace",
        text,
        exp.Literal.string("[^\\x{10000}-\\x{10ffff}]"),
        exp.Literal.string(""),
        exp.Literal.string("g"),
    )


def _is_call(node: exp.Expression, name: str) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.upper() == name


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    """A DuckDB function call sqlglot passes through as written (it reads a 4th argument of
    regexp_replace as a position)."""
    return exp.Anonymous(this=name, expressions=list(args))


def _str(value: exp.Expression, length: int = 10, decimals: int = 0) -> exp.Expression:
    """STR(float, length, decimal): right-aligned in ``length``; ``length`` asterisks when the
    number does not fit (https://learn.microsoft.com/en-us/sql/t-sql/functions/str-transact-sql).
    """
    decimals = max(0, min(decimals, 16))
    text = exp.func("printf", exp.Literal.string(f"%.{decimals}f"), exp.cast(value, "DOUBLE"))
    too_long = exp.GT(this=exp.Length(this=text.copy()), expression=exp.Literal.number(length))
    stars = exp.Literal.string("*" * length)
    padded = exp.func("lpad", text, exp.Literal.number(length), exp.Literal.string(" "))
    return exp.Case(ifs=[exp.If(this=too_long, true=stars)], default=padded)


def _check_not_all_null(node: exp.Expression) -> None:
    """IIF/CASE whose every result is the NULL constant: error 8133 (IIF page, example B)."""
    if isinstance(node, exp.If):
        results = [node.args.get("true"), node.args.get("false")]
    else:
        results = [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
    if all(r is None or isinstance(r, exp.Null) for r in results):
        raise SqlServerError(
            8133,
            "At least one of the result expressions in a CASE specification must be an expression "
            "other than the NULL constant.",
        )


def _round_toward_zero(node: exp.Round) -> exp.Expression:
    """ROUND(x, n, f) with f other than 0 truncates instead of rounding (ROUND page)."""
    function = node.args["truncate"]
    if isinstance(function, exp.Literal) and function.name in ("0", "0.0"):
        node.set("truncate", None)
        return node
    decimals = node.args.get("decimals") or exp.Literal.number(0)
    scale = exp.func("pow", exp.Literal.number(10), decimals)
    kept = exp.func("trunc", exp.Mul(this=node.this, expression=scale.copy()))
    return exp.Div(this=kept, expression=scale)


# A T-SQL date/time string literal: ISO 8601 with '-' or unseparated (yyyymmdd), or mdy with
# '/' (us_english), or a time alone (date 1900-01-01); up to seven fraction digits and an
# offset. https://learn.microsoft.com/en-us/sql/t-sql/data-types/datetimeoffset-transact-sql
# Month, day, minute and second may drop their leading zero ('0001-1-1 0:0:0'): the numeric
# formats of https://learn.microsoft.com/en-us/sql/t-sql/data-types/datetime-transact-sql
# write "[0]4-15-[19]96", and the time page's hh:mm[:ss] is read the same way.
_TIME_PART = (
    r"(?:(?:\s+|T)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?)?\s*(?:([+-])(\d{2}):?(\d{2})|Z)?\s*$"
)
_DATE_LITERALS = (
    (re.compile(r"^\s*(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})" + _TIME_PART), "ymd"),
    (re.compile(r"^\s*(?P<y>\d{4})-?(?P<m>\d{2})-?(?P<d>\d{2})" + _TIME_PART), "ymd"),
    (re.compile(r"^\s*(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})" + _TIME_PART), "mdy"),
    (re.compile(r"^\s*(?P<y>)(?P<m>)(?P<d>)" + _TIME_PART.replace("(?:\\s+|T)?", "")), "time"),
)


@dataclass(frozen=True)
class _DateLiteral:
    """A parsed T-SQL date/time string: its local time, 100 ns ticks and offset in minutes."""

    value: dt.datetime
    ticks: int
    offset: int | None

    @property
    def duckdb_text(self) -> str:
        v = self.value  # strftime's %Y drops the zeros of a year below 1000
        return f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.strftime('%H:%M:%S.%f')}"

    @property
    def datetime2_text(self) -> str:
        """The seven-digit form the emulator's datetime2 macros read (ms_dt2)."""
        return self.duckdb_text + str(self.ticks)


def _date_literal(text: str) -> _DateLiteral | None:
    """A T-SQL date string literal parsed, or None when it is not one this module reads."""
    for pattern, _order in _DATE_LITERALS:
        match = pattern.match(text)
        if not match or not text.strip():
            continue
        hour, minute, second, fraction, sign, off_h, off_m = match.groups()[3:]
        try:
            value = dt.datetime(
                int(match["y"] or 1900),
                int(match["m"] or 1),
                int(match["d"] or 1),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                int((fraction or "").ljust(7, "0")[:6]),
            )
        except ValueError:
            return None
        ticks = int((fraction or "").ljust(7, "0")[6])
        offset = None if sign is None else (1 if sign == "+" else -1) * (int(off_h) * 60 + int(off_m))
        return _DateLiteral(value, ticks, offset)
    return None


def _normalize_date_literals(node: exp.Expression) -> None:
    """Date functions' string literals in a form DuckDB casts (20060831, 7 digits, offsets)."""
    for literal in list(node.find_all(exp.Literal)):
        if literal.is_string:
            parsed = _date_literal(literal.name)
            if parsed is not None:
                literal.replace(exp.Literal.string(parsed.duckdb_text))


def _sql_server_week(value: dt.date) -> int:
    """DATEPART(week): 1 January is in week 1 and weeks start on Sunday (DATEFIRST 7)."""
    first = dt.date(value.year, 1, 1)
    return (value.timetuple().tm_yday - 1 + (first.isoweekday() % 7)) // 7 + 1


# DATEPART of a literal, computed exactly: unit (sqlglot's spelling) -> value.
_LITERAL_PARTS = {
    "YEAR": lambda d: d.value.year,
    "QUARTER": lambda d: (d.value.month - 1) // 3 + 1,
    "MONTH": lambda d: d.value.month,
    "DAYOFYEAR": lambda d: d.value.timetuple().tm_yday,
    "DAY": lambda d: d.value.day,
    "WEEK": lambda d: _sql_server_week(d.value.date()),
    "DAYOFWEEK": lambda d: d.value.isoweekday() % 7 + 1,
    "HOUR": lambda d: d.value.hour,
    "MINUTE": lambda d: d.value.minute,
    "SECOND": lambda d: d.value.second,
    "MILLISECOND": lambda d: d.value.microsecond // 1000,
    "MICROSECOND": lambda d: d.value.microsecond,
    "NANOSECOND": lambda d: d.value.microsecond * 1000 + d.ticks * 100,
    "TIMEZONE_MINUTE": lambda d: d.offset or 0,
    "ISO_WEEK": lambda d: d.value.isocalendar()[1],
    "WEEKISO": lambda d: d.value.isocalendar()[1],
}


def _datepart(node: exp.Extract) -> exp.Expression:
    """DATEPART as SQL Server counts (us_english, DATEFIRST 7): weekday 1 is Sunday, week 1 is
    the week of 1 January, millisecond/microsecond within the second, tzoffset in minutes.
    A literal's parts are computed here, exactly; a column's in DuckDB.
    https://learn.microsoft.com/en-us/sql/t-sql/functions/datepart-transact-sql
    """
    unit = node.this.name.upper()
    value = node.expression
    if isinstance(value, exp.Literal) and value.is_string:
        parsed = _date_literal(value.name)
        if parsed is not None and unit in _LITERAL_PARTS:
            return exp.Literal.number(_LITERAL_PARTS[unit](parsed))
    if isinstance(value, exp.Literal) and not value.is_string and unit in _LITERAL_PARTS:
        # A number is days after 1900-01-01 (the page's example: DATEPART(year, 0) is 1900).
        day = dt.datetime(1900, 1, 1) + dt.timedelta(days=int(float(value.name)))
        return exp.Literal.number(_LITERAL_PARTS[unit](_DateLiteral(day, 0, None)))
    if unit in ("MILLISECOND", "MICROSECOND"):
        modulus = 1000 if unit == "MILLISECOND" else 1000000
        return exp.Mod(this=node.copy(), expression=exp.Literal.number(modulus))
    if unit == "DAYOFWEEK":
        return exp.Paren(this=exp.Add(this=node.copy(), expression=exp.Literal.number(1)))
    if unit == "WEEK":
        first = exp.func(
            "make_date",
            exp.Extract(this=exp.var("YEAR"), expression=value.copy()),
            exp.Literal.number(1),
            exp.Literal.number(1),
        )
        days = exp.Add(
            this=exp.Extract(this=exp.var("DAYOFYEAR"), expression=value.copy()),
            expression=exp.Extract(this=exp.var("DAYOFWEEK"), expression=first),
        )
        weeks = exp.IntDiv(
            this=exp.Paren(this=exp.Sub(this=days, expression=exp.Literal.number(1))),
            expression=exp.Literal.number(7),
        )
        return exp.Paren(this=exp.Add(this=weeks, expression=exp.Literal.number(1)))
    return node


def _replicate(node: exp.Repeat) -> exp.Expression:
    """REPLICATE: NULL for a negative count; "If string_expression is not of type varchar(max) or
    nvarchar(max), REPLICATE truncates the return value at 8,000 bytes"
    (https://learn.microsoft.com/en-us/sql/t-sql/functions/replicate-transact-sql).
    """
    source = node.meta.get("source_type")
    times = node.args["times"]
    repeated = exp.func("repeat", node.this, times)
    if source is None or source.length != -1:
        wide = source is None or source.sql_type.startswith("n")
        repeated = exp.func("left", repeated, exp.Literal.number(4000 if wide else 8000))
    negative = exp.LT(this=times.copy(), expression=exp.Literal.number(0))
    return exp.Case(ifs=[exp.If(this=negative, true=exp.Null())], default=repeated)


# DATALENGTH of the fixed-size types (each type's page, "Storage size").
_FIXED_SIZES = {
    "int": 4,
    "bigint": 8,
    "smallint": 2,
    "tinyint": 1,
    "bit": 1,
    "float": 8,
    "real": 4,
    "money": 8,
    "date": 3,
    "datetime": 8,
    "uniqueidentifier": 16,
}
_DOUBLE_BYTE_CODE_PAGES = {932, 936, 949, 950}


def _datalength(
    value: exp.Expression, source: Column | None, catalog: Catalog, context: Context
) -> exp.Expression:
    """DATALENGTH: the bytes a value takes (nvarchar: 2 per UTF-16 code unit; varchar: its code page).

    https://learn.microsoft.com/en-us/sql/t-sql/functions/datalength-transact-sql
    """
    if isinstance(value, exp.Null):
        return exp.Null()
    kind = source.sql_type if source else None
    size: exp.Expression | None = None
    if kind in _FIXED_SIZES:
        size = exp.Literal.number(_FIXED_SIZES[kind])
    elif kind in ("decimal", "numeric"):
        precision = source.precision or 18
        size = exp.Literal.number(
            5 if precision <= 9 else 9 if precision <= 19 else 13 if precision <= 28 else 17
        )
    elif kind in sqltypes.TICK_TYPES:
        scale = source.scale if source.scale is not None else 7
        time = 3 if scale <= 2 else 4 if scale <= 4 else 5
        size = exp.Literal.number(time + {"time": 0, "datetime2": 3, "datetimeoffset": 5}[kind])
    elif kind in _FIXED_TEXT and (source.length or 0) > 0:
        size = exp.Literal.number(source.length * (2 if kind == "nchar" else 1))
    elif kind == "nvarchar":
        text = exp.cast(value, "VARCHAR")
        astral = _astral(text.copy())
        return exp.Mul(
            this=exp.Paren(this=exp.Add(this=exp.Length(this=text), expression=exp.Length(this=astral))),
            expression=exp.Literal.number(2),
        )
    elif kind == "varchar":
        code_page = collations.lookup(
            source.collation or catalog.database_collation(context.database)
        ).code_page
        text = exp.cast(value, "VARCHAR")
        if code_page == 65001:
            return exp.func("strlen", text)
        if code_page in _DOUBLE_BYTE_CODE_PAGES:
            wide = _call(
                "regexp_replace",
                text.copy(),
                exp.Literal.string("[\\x{0}-\\x{7f}]"),
                exp.Literal.string(""),
                exp.Literal.string("g"),
            )
            return exp.Add(this=exp.Length(this=text), expression=exp.Length(this=wide))
        return exp.Length(this=text)
    elif kind == "varbinary":
        return exp.func("octet_length", value)
    if size is None:  # a type the emulator cannot tell: the UTF-8 bytes of its text
        return exp.func("octet_length", exp.func("encode", exp.cast(value, "VARCHAR")))
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=value, expression=exp.Null()), true=exp.Null())], default=size
    )


def _collated_replace(node: exp.Replace, collation: collations.Collation) -> exp.Expression:
    """REPLACE under a collation: "REPLACE performs comparisons based on the collation of the input"
    (https://learn.microsoft.com/en-us/sql/t-sql/functions/replace-transact-sql).

    A binary collation, or a pattern no character of which has an equal twin, stays DuckDB's
    native replace(); a constant pattern becomes a regular expression of character classes; a
    pattern known only per row goes through the ms_collate_replace UDF.
    """
    pattern = node.meta.get("pattern")
    text, replacement = node.this, node.args.get("replacement")
    if collation.binary and render_deviation() == "binary-replace-ignores-width":
        collation = collations.lookup("Latin1_General_CS_AS")
    if collation.binary:
        return node
    if pattern is None:
        return exp.func(
            "ms_collate_replace", text, node.expression, replacement, exp.Literal.string(collation.name)
        )
    if pattern == "":
        return text
    regex = collations.replace_pattern(pattern, collation)
    if regex is None:
        return node
    fixed = node.meta.get("replacement")
    chained = _chained_replace(text, pattern, fixed, collation)
    if chained is not None:
        return chained
    # RE2's rewrite string gives \\ and \1 a meaning: a literal backslash is doubled.
    rewrite = (
        exp.Literal.string(fixed.replace("\\", "\\\\"))
        if fixed is not None
        else exp.func("replace", replacement, exp.Literal.string("\\"), exp.Literal.string("\\\\"))
    )
    return _call("regexp_replace", text, exp.Literal.string(regex), rewrite, exp.Literal.string("g"))


def _chained_replace(
    text: exp.Expression, pattern: str, replacement: str | None, collation: collations.Collation
) -> exp.Expression | None:
    """One native replace() per twin of a one-character pattern, or None where that is unsafe.

    Faster than a regular expression (the sync reads 1M rows through REPLACE(x, N'"', N'""')):
    1M rows take 0.28 s against 1.9 s, 0.21 s for a lone replace(). Safe when the replacement
    holds at most one of the twins and that one is replaced first, so no later step finds a
    character an earlier step wrote. Rows holding none of the rare (non-ASCII) twins, nearly
    all of them, take only the ASCII twins' replace() calls.
    """
    twins = collations.equivalents(collation, pattern) if len(pattern) == 1 else ""
    if replacement is None or not 1 < len(twins) <= 8:
        return None
    written = [c for c in twins if c in replacement]
    if len(written) > 1:
        return None
    order = written + [c for c in twins if c not in written]
    common = [c for c in order if c == pattern or ord(c) < 0x80]
    rare = [c for c in order if c not in common]

    def chain(value: exp.Expression, chars: list[str]) -> exp.Expression:
        for char in chars:
            value = exp.func("replace", value, exp.Literal.string(char), exp.Literal.string(replacement))
        return value

    if not rare:
        return chain(text, order)
    guard: exp.Expression = exp.func("contains", text.copy(), exp.Literal.string(rare[0]))
    for char in rare[1:]:
        guard = exp.Or(this=guard, expression=exp.func("contains", text.copy(), exp.Literal.string(char)))
    return exp.Case(ifs=[exp.If(this=guard, true=chain(text.copy(), order))], default=chain(text, common))


def _patindex(node: exp.Anonymous, collation: collations.Collation) -> exp.Expression:
    """PATINDEX('%pattern%', text): where the pattern first matches, 0 if nowhere (1-based)."""
    pattern_node, text = node.expressions[0], node.expressions[1]
    pattern = node.meta.get("pattern")
    if pattern is None:
        return exp.func("ms_collate_patindex", pattern_node, text, exp.Literal.string(collation.name))
    if not pattern.startswith("%"):
        matched = exp.func(
            "regexp_full_match", text, exp.Literal.string(collations.like_regex(pattern, collation))
        )
        found = exp.Literal.number(1)
    else:
        rest = collations.like_regex(pattern[1:], collation).removeprefix("(?s)")
        regex = exp.Literal.string(f"(?s)^(.*?){rest}$")
        matched = exp.func("regexp_matches", text, regex)
        found = exp.Add(
            this=exp.Length(this=_call("regexp_extract", text.copy(), regex.copy(), exp.Literal.number(1))),
            expression=exp.Literal.number(1),
        )
    return exp.Case(
        ifs=[
            exp.If(this=exp.Is(this=text.copy(), expression=exp.Null()), true=exp.Null()),
            exp.If(this=matched, true=found),
        ],
        default=exp.Literal.number(0),
    )


def _rpad(text: exp.Expression, length: int) -> exp.Expression:
    return exp.func("rpad", text, exp.Literal.number(length), exp.Literal.string(" "))


def _as_text(operand: exp.Expression, typed: Column | None) -> exp.Expression:
    """A number or date given to LIKE or a string function, converted to text as SQL Server
    converts it implicitly (CAST to varchar, with that type's default style); else itself."""
    if typed is None or typed.sql_type in sqltypes.STRING_TYPES:
        return operand
    converted = _cast_to(operand.copy(), Column("", "varchar", length=-1))
    operand.replace(converted)
    return converted


def _cast_to(value: exp.Expression, col: Column) -> exp.Cast:
    """A T-SQL CAST of ``value`` to ``col``'s type, rewritten later like one the query wrote."""
    return exp.Cast(this=value, to=exp.DataType.build(sqltypes.declaration(col), dialect="tsql"))


# How long the text of a non-text CONCAT argument can be (it only sizes the declared result).
_IMPLICIT_TEXT_LENGTH = {
    "int": 12,
    "bigint": 20,
    "smallint": 6,
    "tinyint": 3,
    "bit": 1,
    "money": 30,
    "float": 30,
    "real": 30,
    "uniqueidentifier": 36,
    "date": 10,
    "datetime": 23,
    "datetime2": 27,
    "time": 16,
    "datetimeoffset": 34,
}


def _concat_type(arguments: list[Column | None]) -> Column:
    """CONCAT's result type from its arguments' (docs: CONCAT, "Return types").

    Any nvarchar(max) argument, or varchar(max)/varbinary(max) next to any nvarchar, gives
    nvarchar(max); varchar(max) alone gives varchar(max); otherwise nvarchar up to 4,000 if
    any argument is nvarchar, else varchar up to 8,000. An argument whose type is unknown is
    taken as nvarchar(4000), the widest guess that still truncates.
    """
    wide, unbounded, total = False, False, 0
    for arg in arguments:
        if arg is None:
            wide, total = True, total + 4000
            continue
        kind = arg.sql_type
        if kind in ("nvarchar", "nchar"):
            wide = True
        if kind in sqltypes.STRING_TYPES or kind == "varbinary":
            length = arg.length if arg.length is not None else 1
            if length == -1:
                unbounded = True
            total += length * (2 if kind == "varbinary" else 1)
        elif kind in ("decimal", "numeric"):
            total += (arg.precision or 18) + 2
        else:
            total += _IMPLICIT_TEXT_LENGTH.get(kind, 30)
    if unbounded:
        return Column("", "nvarchar" if wide else "varchar", length=-1)
    return Column("", "nvarchar" if wide else "varchar", length=max(1, min(total, 4000 if wide else 8000)))


# CONVERT/CAST of these types to text, as SQL Server writes them: (value, style) -> DuckDB text.
def _float_text(digits: int):
    """float/real to text (CAST and CONVERT's "float and real styles" table).

    Style 0 (also CAST and CONCAT): "A maximum of 6 digits. Use in scientific notation, when
    appropriate" -- C's %g with 6 significant digits, so CONVERT(varchar, 1900000e0) is
    1.9e+006. Styles 1, 2, 3: always scientific with 8, 16 and ``digits`` significant digits.
    Every exponent has three digits (e+006, e-005).
    https://learn.microsoft.com/en-us/sql/t-sql/functions/cast-and-convert-transact-sql#float-and-real-styles
    """

    def render(value: exp.Expression, style: int | None) -> exp.Expression:
        wanted = {1: 8, 2: 16, 3: digits}.get(style)
        if style == 3 and digits == 17 and render_deviation() == "float-style3-15-digits":
            wanted = 15
        fmt = "%g" if wanted is None else f"%.{wanted - 1}e"
        if style not in (None, 0, 1, 2, 3, 126, 129):
            raise SqlServerError(
                281, f"{style} is not a valid style number when converting from float to a character string."
            )
        text = exp.func("printf", exp.Literal.string(fmt), exp.cast(value, "DOUBLE"))
        # C and DuckDB write at least two exponent digits, SQL Server always three: e-001.
        return exp.func(
            "regexp_replace", text, exp.Literal.string(r"e([+-])(\d\d)$"), exp.Literal.string(r"e\10\2")
        )

    return render


def _money_text(value: exp.Expression, style: int | None) -> exp.Expression:
    """money styles: 0 two decimals (rounded), 1 also thousands commas, 2 and 126 four decimals."""
    if style in (2, 126):
        return exp.cast(value, "VARCHAR")
    # exp.cast() would skip a cast of a value already cast to another DECIMAL(p,s).
    cents = exp.Cast(this=value, to=exp.DataType.build("DECIMAL(19,2)", dialect="duckdb"))
    if style != 1:
        return exp.cast(cents, "VARCHAR")
    # DuckDB's format() would pass a DECIMAL through a double: group the whole part as BIGINT.
    sign = exp.Case(
        ifs=[
            exp.If(
                this=exp.LT(this=cents.copy(), expression=exp.Literal.number(0)), true=exp.Literal.string("-")
            )
        ],
        default=exp.Literal.string(""),
    )
    whole = exp.func(
        "format",
        exp.Literal.string("{:,}"),
        exp.cast(exp.func("trunc", exp.Abs(this=cents.copy())), "BIGINT"),
    )
    fraction = exp.func("right", exp.cast(cents.copy(), "VARCHAR"), exp.Literal.number(2))
    return exp.DPipe(
        this=exp.DPipe(this=sign, expression=whole),
        expression=exp.DPipe(this=exp.Literal.string("."), expression=fraction),
    )


_INTEGER_BYTES = {"tinyint": 1, "smallint": 2, "int": 4, "bigint": 8, "bit": 1}


def _integer_bytes(value: exp.Expression, size: int, length: int | None, fixed: bool) -> exp.Expression:
    """An integer as binary/varbinary: its ``size`` bytes, most significant first (123456 as
    binary(4) is 0x0001E240, as binary(2) 0xE240), and "When other data types are converted
    to binary or varbinary, the data is padded or truncated on the left. Padding is achieved by
    using hexadecimal zeros" (https://learn.microsoft.com/en-us/sql/t-sql/data-types/binary-and-varbinary-transact-sql).
    binary(n) is padded to n; varbinary(n) keeps the integer's size unless n is smaller."""

    def keep_right(digits: exp.Expression, count: int) -> exp.Expression:
        padded = exp.DPipe(this=exp.Literal.string("0" * count), expression=digits)  # lpad() would cut
        return exp.func("right", padded, exp.Literal.number(count))

    # DuckDB's hex() of a BIGINT is its two's complement without leading zeros.
    digits = keep_right(exp.func("hex", exp.cast(value, "BIGINT")), 2 * size)
    if length is not None and length > 0 and (fixed or length < size):
        digits = keep_right(digits, 2 * length)
    return exp.func("from_hex", digits)


def _bytes_as_characters(value: exp.Expression, codec: str) -> exp.Expression:
    """binary to varchar with style 0: "Translates ASCII characters to binary bytes, or binary
    bytes to ASCII characters. Each character or byte is converted 1:1"
    (https://learn.microsoft.com/en-us/sql/t-sql/functions/cast-and-convert-transact-sql,
    "Binary styles"), each byte read as the character it is in the database's code page."""
    # A byte the code page leaves undefined is read as the same-numbered code point.
    points = [ord(bytes([b]).decode(codec, errors="ignore") or chr(b)) for b in range(256)]
    table = exp.Array(expressions=[exp.Literal.number(p) for p in points])
    index = exp.to_identifier("__i")
    byte = exp.cast(
        exp.DPipe(
            this=exp.Literal.string("0x"),
            expression=exp.func(
                "substr",
                exp.func("hex", value.copy()),
                exp.Add(
                    this=exp.Mul(this=exp.Literal.number(2), expression=exp.column(index)),
                    expression=exp.Literal.number(1),
                ),
                exp.Literal.number(2),
            ),
        ),
        "INTEGER",
    )
    character = exp.func("chr", exp.Bracket(this=table, expressions=[byte]))  # sqlglot adds DuckDB's 1
    characters = exp.func(
        "list_transform",
        exp.func("range", exp.func("octet_length", value)),
        exp.Lambda(this=character, expressions=[index]),
    )
    return exp.func("array_to_string", characters, exp.Literal.string(""))


def _binary_text(value: exp.Expression, style: int | None) -> exp.Expression:
    """varbinary style 1: 0x and upper-case hex digits; 2: the digits alone.

    Style 0 (the bytes read as characters of the code page) is not emulated: DuckDB's
    escaped text of the bytes comes back, as before.
    """
    if style == 1:
        return exp.DPipe(this=exp.Literal.string("0x"), expression=exp.func("hex", value))
    if style == 2:
        return exp.func("hex", value)
    return exp.cast(value, "VARCHAR")


_TEXT_OF = {
    "bit": lambda value, style: exp.cast(exp.cast(value, "INTEGER"), "VARCHAR"),  # '1', not 'true'
    "uniqueidentifier": lambda value, style: exp.Upper(this=exp.cast(value, "VARCHAR")),
    "float": _float_text(17),
    "real": _float_text(9),
    "money": _money_text,
    "varbinary": _binary_text,
}

# COLUMNPROPERTY's properties the emulator can answer: (table, column, column_id, identity names)
# -> int. Other properties give NULL, as unknown ones do on SQL Server. The emulator has no
# computed columns, and does not track a view column that passes a base table's identity column
# through (SQL Server would say 1 there): view columns answer IsIdentity 0.
_COLUMN_PROPERTIES = {
    "isidentity": lambda t, c, i, ident: int(t.kind == "table" and c.name.lower() in ident),
    "allowsnull": lambda t, c, i, ident: int(c.nullable),
    "columnid": lambda t, c, i, ident: i,
    "iscomputed": lambda t, c, i, ident: 0,
}


def _is_text(node: exp.Expression) -> bool:
    return (
        isinstance(node, exp.National)
        or (isinstance(node, exp.Literal) and node.is_string)
        or isinstance(node, exp.DPipe)
    )


def _constant(node: exp.Expression) -> str | None:
    if isinstance(node, (exp.Literal, exp.National)):
        return node.name
    return None


def _literal(value) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Literal.number(int(value))
    if isinstance(value, int):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


# CONVERT styles of datetime2/time/datetimeoffset, from their stored text
# 'YYYY-MM-DD HH:MM:SS.fffffff[ +HH:MM]' (time: 'HH:MM:SS.fffffff'); {v} is that text and
# {f} the declared fraction digits.
_TICK_STYLES = {
    "datetime2": {
        121: "left({v}, {w})",
        126: "replace(left({v}, {w}), ' ', 'T')",
        127: "replace(left({v}, {w}), ' ', 'T')",
        120: "left({v}, 19)",
        20: "left({v}, 19)",
        23: "left({v}, 10)",
        112: "replace(left({v}, 10), '-', '')",
        114: "substr({v}, 12, 8) || ':' || substr({v}, 21, 3)",
        108: "substr({v}, 12, 8)",
    },
    "datetimeoffset": {
        121: "left({v}, {w}) || substr({v}, 28)",
        126: "replace(left({v}, {w}), ' ', 'T') || replace(substr({v}, 29), '+00:00', 'Z')",
        127: "replace(left({v}, {w}), ' ', 'T') || replace(substr({v}, 29), '+00:00', 'Z')",
        120: "left({v}, 19) || substr({v}, 28)",
        23: "left({v}, 10)",
    },
    "time": {
        121: "left({v}, {t})",
        114: "left({v}, 8) || ':' || substr({v}, 10, 3)",
        108: "left({v}, 8)",
        8: "left({v}, 8)",
        20: "left({v}, 8)",
        120: "left({v}, 8)",
    },
}


def _tick_text(text: exp.Expression, source: Column, style: int) -> exp.Expression | None:
    """CONVERT(varchar, <datetime2/time/datetimeoffset>, style) from the stored text, or None."""
    template = _TICK_STYLES.get(source.sql_type, {}).get(style)
    if template is None:
        return None
    digits = source.scale if source.scale is not None else 7
    if digits == 7 and source.sql_type == "datetime2" and render_deviation() == "datetime2-6-digits":
        digits = 6
    width = 19 + (digits + 1 if digits else 0)
    sql = template.format(v="__tick_value", w=width, t=width - 11)
    tree = sqlglot.parse_one(sql, read="duckdb")
    for placeholder in list(tree.find_all(exp.Column)):
        if placeholder.name == "__tick_value":
            placeholder.replace(text.copy())
    return tree


# CONVERT's date and time styles for datetime/smalldatetime/date sources, as strftime formats;
# {d} is the day and {h} the 12-hour clock's hour, padded with a space (Aug  3, " 1:39PM").
# https://learn.microsoft.com/en-us/sql/t-sql/functions/cast-and-convert-transact-sql#date-and-time-styles
_DATE_STYLES = {
    0: "%b {d} %Y {h}:%M%p",
    1: "%m/%d/%y",
    2: "%y.%m.%d",
    3: "%d/%m/%y",
    4: "%d.%m.%y",
    5: "%d-%m-%y",
    6: "%d %b %y",
    7: "%b %d, %y",
    8: "%H:%M:%S",
    9: "%b {d} %Y {h}:%M:%S:%g%p",
    10: "%m-%d-%y",
    11: "%y/%m/%d",
    12: "%y%m%d",
    13: "%d %b %Y %H:%M:%S:%g",
    14: "%H:%M:%S:%g",
    20: "%Y-%m-%d %H:%M:%S",
    21: "%Y-%m-%d %H:%M:%S.%g",
    22: "%m/%d/%y {h}:%M:%S %p",
    23: "%Y-%m-%d",
    24: "%H:%M:%S",
    25: "%Y-%m-%d %H:%M:%S.%g",
    100: "%b {d} %Y {h}:%M%p",
    101: "%m/%d/%Y",
    102: "%Y.%m.%d",
    103: "%d/%m/%Y",
    104: "%d.%m.%Y",
    105: "%d-%m-%Y",
    106: "%d %b %Y",
    107: "%b %d, %Y",
    108: "%H:%M:%S",
    109: "%b {d} %Y {h}:%M:%S:%g%p",
    110: "%m-%d-%Y",
    111: "%Y/%m/%d",
    112: "%Y%m%d",
    113: "%d %b %Y %H:%M:%S:%g",
    114: "%H:%M:%S:%g",
    120: "%Y-%m-%d %H:%M:%S",
    121: "%Y-%m-%d %H:%M:%S.%g",
    126: "%Y-%m-%dT%H:%M:%S.%g",
    127: "%Y-%m-%dT%H:%M:%S.%g",
}


def _strftime(stamp: exp.Expression, template: str) -> exp.Expression:
    """One style template as DuckDB text: strftime pieces and space-padded day and hour."""
    pieces: list[exp.Expression] = []
    for part in re.split(r"(\{[dh]\})", template):
        if part in ("{d}", "{h}"):
            number = exp.func("strftime", stamp.copy(), exp.Literal.string("%-d" if part == "{d}" else "%-I"))
            pieces.append(exp.func("lpad", number, exp.Literal.number(2), exp.Literal.string(" ")))
        elif part:
            pieces.append(exp.func("strftime", stamp.copy(), exp.Literal.string(part)))
    text = pieces[0]
    for piece in pieces[1:]:
        text = exp.DPipe(this=text, expression=piece)
    return text


def _format_date(value: exp.Expression, style: int, source: Column | None = None) -> exp.Expression | None:
    fmt = _DATE_STYLES.get(style)
    if fmt is None:
        return None
    kind = source.sql_type if source else None
    if kind == "date" and style in (20, 21, 25, 120, 121, 126, 127):
        return exp.func("strftime", exp.cast(value, "DATE"), exp.Literal.string("%Y-%m-%d"))  # no time part
    stamp = exp.cast(value, "TIMESTAMP")
    if kind in ("datetime", "smalldatetime") and "%g" in fmt:
        # A datetime holds 1/300 s ticks (.996667); SQL Server shows them rounded to .997.
        stamp = exp.Add(
            this=stamp, expression=exp.Interval(this=exp.Literal.string("500"), unit=exp.var("MICROSECOND"))
        )
    text = _strftime(stamp, fmt)
    if kind in ("datetime", "smalldatetime") and style in (126, 127):
        # Style 126 drops a zero millisecond fraction: 2026-12-11T00:00:00, not ...T00:00:00.000.
        return exp.func("regexp_replace", text, exp.Literal.string(r"\.000$"), exp.Literal.string(""))
    return text


def to_duckdb(tree: exp.Expression) -> str:
    return tree.sql(dialect="duckdb")


def output_columns(table: TableDef, returning: exp.Returning) -> tuple[list[Column], list[str]]:
    """The result columns of an INSERT's OUTPUT clause and the DuckDB RETURNING items that fill
    them. "INSERTED is a column prefix that specifies the value added by the insert"; DELETED
    has nothing to name in an INSERT
    (https://learn.microsoft.com/en-us/sql/t-sql/queries/output-clause-transact-sql).
    Each column keeps its table column's type; an alias renames it."""
    if returning.args.get("into"):
        raise SqlServerError(40517, "OUTPUT ... INTO is not supported by the emulator.")
    columns, picks = [], []
    for item in returning.expressions:
        alias, node = (item.alias, item.this) if isinstance(item, exp.Alias) else (None, item)
        prefix = node.table.lower() if isinstance(node, exp.Column) else ""
        if prefix == "deleted":
            raise SqlServerError(
                4104, f'The multi-part identifier "{node.sql(dialect=Dialect)}" could not be bound.'
            )
        if prefix != "inserted":
            raise SqlServerError(
                40517, "An OUTPUT item other than inserted.<column> is not supported by the emulator."
            )
        if isinstance(node.this, exp.Star):
            stored = table.columns
        else:
            found = table.column(node.name)
            if found is None:
                raise SqlServerError(207, f"Invalid column name '{node.name}'.")
            stored = [found]
        for col in stored:
            columns.append(replace(col, name=alias) if alias else col)
            picks.append('"' + col.name.replace('"', '""') + '"')
    return columns, picks
