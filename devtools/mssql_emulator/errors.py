"""Every failure as the SQL Server error a client would have seen: number, severity, state, words.

DuckDB's complaints are reworded here; T-SQL the emulator cannot run is refused with one error
that says "not supported by the emulator" and names the statement. No DuckDB or Python text
ever reaches a client.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

import duckdb
from sqlglot import exp

from devtools.mssql_emulator.results import SqlServerError

log = logging.getLogger(__name__)

# SQL Server's number for "Keyword or statement option '%.*ls' is not supported in this version
# of SQL Server." (severity 16; the 40000-49999 list,
# https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-40000-to-49999).
# The emulator uses it, in its own words, for whatever T-SQL it cannot run.
UNSUPPORTED = 40517
_SOMETHING_IN_IT = "Something in this statement"  # for_statement() names the statement instead

# T-SQL statements (https://learn.microsoft.com/en-us/sql/t-sql/statements/statements and the
# control-of-flow and cursor pages) the emulator does not run, by their first keyword; CREATE
# and DROP by what they create, the ones the emulator runs listed instead.
_UNSUPPORTED_FIRST_WORDS = {
    "ALTER", "MERGE", "DECLARE", "WHILE", "RAISERROR", "THROW", "GRANT", "DENY", "REVOKE",
    "WAITFOR", "BULK", "DBCC", "BACKUP", "RESTORE", "RETURN", "GOTO", "BREAK", "CONTINUE",
    "CHECKPOINT", "KILL", "RECONFIGURE", "SHUTDOWN", "OPEN", "FETCH", "CLOSE", "DEALLOCATE",
    "READTEXT", "UPDATETEXT", "WRITETEXT", "ENABLE", "DISABLE", "SETUSER", "REVERT", "RECEIVE",
    "SEND", "MOVE", "GET",
}  # fmt: skip
_UNSUPPORTED_PAIRS = {
    ("BEGIN", "TRY"), ("BEGIN", "CATCH"), ("BEGIN", "DIALOG"), ("BEGIN", "CONVERSATION"),
    ("END", "TRY"), ("END", "CATCH"), ("END", "CONVERSATION"), ("UPDATE", "STATISTICS"),
    ("EXEC", "AS"), ("EXECUTE", "AS"),
}  # fmt: skip
_CREATED_BY_THE_EMULATOR = {
    "TABLE",
    "VIEW",
    "SCHEMA",
    "DATABASE",
    "INDEX",
    "UNIQUE",
    "CLUSTERED",
    "NONCLUSTERED",
    "OR",
}
_DROPPED_BY_THE_EMULATOR = {"TABLE", "VIEW", "SCHEMA", "DATABASE"}


# DuckDB's words for a wrong query, and SQL Server's error for the same mistake (the Database
# Engine errors 0-999 and 8000-8999 lists,
# https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-0-to-999).
# 8120 names the column as written, where SQL Server prefixes schema and table.
_QUERY_ERRORS = [
    (r'Ambiguous reference to column name "([^"]+)"', 209, "Ambiguous column name '{}'.", 16),
    (
        r'column "([^"]+)" must appear in the GROUP BY clause',
        8120,
        "Column '{}' is invalid in the select list because it is not contained in either an "
        "aggregate function or the GROUP BY clause.",
        16,
    ),
    (
        r"More than one row returned by a subquery used as an expression",
        512,
        "Subquery returned more than 1 value. This is not permitted when the subquery follows "
        "=, !=, <, <= , >, >= or when the subquery is used as an expression.",
        16,
    ),
    (
        r"Set operations can only apply to expressions with the same number of result columns",
        205,
        "All queries combined using a UNION, INTERSECT or EXCEPT operator must have an equal "
        "number of expressions in their target lists.",
        16,
    ),
    (
        r"WHERE clause cannot contain aggregates",
        147,
        "An aggregate may not appear in the WHERE clause unless it is in a subquery contained in a "
        "HAVING clause or a select list, and the column being aggregated is an outer reference.",
        15,
    ),
]


def unsupported(what: str) -> SqlServerError:
    """Error 40517 for T-SQL the emulator cannot run; ``what`` names it."""
    return SqlServerError(UNSUPPORTED, f"{what} is not supported by the emulator.", 16)


def unsupported_statement(text: str) -> SqlServerError | None:
    """The 40517 error for a statement whose first keywords the emulator does not run, else None."""
    words = [w.upper() for w in re.findall(r"[A-Za-z_]+", text[:200])[:2]]
    if not words:
        return None
    first, second = words[0], (words[1] if len(words) > 1 else "")
    if (
        first in _UNSUPPORTED_FIRST_WORDS
        or (first, second) in _UNSUPPORTED_PAIRS
        or (first == "CREATE" and second not in _CREATED_BY_THE_EMULATOR)
        or (first == "DROP" and second not in _DROPPED_BY_THE_EMULATOR)
    ):
        named = (
            f"{first} {second}"
            if first in ("CREATE", "DROP", "ALTER") or (first, second) in _UNSUPPORTED_PAIRS
            else first
        )
        return unsupported(f"The {named.strip()} statement")
    # sqlglot drops these clauses with a warning; the rows would come back as a plain table.
    outside_strings = re.sub(r"'(?:[^']|'')*'", "''", text)
    clause = re.search(r"\bFOR\s+(XML|JSON|BROWSE)\b", outside_strings, re.I)
    if clause:
        return unsupported(f"The FOR {clause.group(1).upper()} clause")
    output = re.search(r"\bOUTPUT\s+(?:INSERTED|DELETED)\b", outside_strings, re.I)
    # INSERT ... OUTPUT inserted.<column> runs (engine._insert_output); OUTPUT ... INTO, and
    # DELETE's and UPDATE's, which sqlglot cannot always parse, do not.
    if output and (first != "INSERT" or re.search(r"\bINTO\b", outside_strings[output.end() :], re.I)):
        return unsupported("The OUTPUT clause")
    return None


def unsupported_clause(statement: exp.Expression) -> SqlServerError | None:
    """The 40517 error for a parsed statement with a clause the engine would otherwise drop
    (SELECT ... INTO, OUTPUT) or misread (UPDATE of a FROM clause's alias), else None."""
    if isinstance(statement, exp.Select) and statement.args.get("into") is not None:
        return unsupported("SELECT ... INTO")
    if isinstance(statement, (exp.Update, exp.Delete)) and statement.args.get("returning"):
        return unsupported("The OUTPUT clause")
    if isinstance(statement, exp.Update) and statement.args.get("from_") is not None:
        target = statement.this.name.lower() if isinstance(statement.this, exp.Table) else ""
        sources = [statement.args["from_"].this, *(j.this for j in statement.args.get("joins") or [])]
        if any(source.alias.lower() == target for source in sources if source.alias):
            return unsupported("UPDATE of an alias from its FROM clause")
    return None


@contextlib.contextmanager
def for_statement(text: str) -> Iterator[None]:
    """Name ``text`` in an unsupported-construct error raised while it runs; any other failure
    of the emulator's own (a Python exception) becomes that error too, never a traceback."""
    try:
        yield
    except SqlServerError as error:
        if error.number == UNSUPPORTED and error.message == unsupported(_SOMETHING_IN_IT).message:
            raise unsupported(f"Something in the statement '{_head(text)}'") from None
        raise
    except duckdb.Error as error:
        raise from_duckdb(error, statement=text) from None
    except Exception:
        log.exception("statement failed inside the emulator: %s", _head(text))
        raise unsupported(f"Something in the statement '{_head(text)}'") from None


def _head(text: str) -> str:
    words = " ".join(text.split())
    return words if len(words) <= 60 else words[:57] + "..."


_SQL_TYPE_NAMES = {
    "INT32": "int",
    "INT64": "bigint",
    "INT16": "smallint",
    "UINT8": "tinyint",
    "INT8": "tinyint",
    "DOUBLE": "float",
    "FLOAT": "real",
    "BOOL": "bit",
    "BOOLEAN": "bit",
    "UUID": "uniqueidentifier",
}


def from_duckdb(error: Exception, table=None, statement: str | None = None) -> SqlServerError:
    """The SQL Server error for a DuckDB exception (``table``: the statement's target, if any;
    ``statement``: its T-SQL, named when the emulator cannot run it)."""
    text = str(error)
    first = text.split("\n", 1)[0]
    own = re.search(r"MSSQL\|(\d+)\|(.*)", first)
    if own:
        return SqlServerError(int(own.group(1)), own.group(2).strip(), 16)
    if isinstance(error, duckdb.ConstraintException):
        return _constraint(first, table)
    if (
        isinstance(error, duckdb.ConversionException)
        or "Could not convert" in first
        or "Conversion Error" in first
    ):
        return _conversion(first)
    if isinstance(error, duckdb.BinderException):
        column = (
            re.search(r'column "([^"]+)" not found', first, re.I)
            or re.search(r'Referenced column "([^"]+)"', first)
            or re.search(r'does not have a column named "([^"]+)"', first)
        )
        if column:
            return SqlServerError(207, f"Invalid column name '{column.group(1)}'.", 16)
        unbound = re.search(r'Referenced table "([^"]+)" not found', first)
        if unbound:
            # Only a qualifier binding.py let through (a derived table naming an outer source).
            where = re.search(rf"\b{re.escape(unbound.group(1))}\.\"?(\w+)", text)
            written = f"{unbound.group(1)}.{where.group(1)}" if where else unbound.group(1)
            return SqlServerError(4104, f'The multi-part identifier "{written}" could not be bound.', 16)
    if isinstance(error, duckdb.CatalogException):
        function = re.search(r"(?:Scalar|Aggregate) Function with name \"?(\w+)\"? does not exist", first)
        if function:
            # https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-0-to-999
            return SqlServerError(
                195, f"'{function.group(1)}' is not a recognized built-in function name.", 15
            )
        name = re.search(r'with name "?([^"!]+)"? does not exist', first)
        if name:
            return SqlServerError(208, f"Invalid object name '{name.group(1)}'.", 16)
        if "already exists" in first:
            name = re.search(r'name "?([^"!]+)"? already exists', first)
            return SqlServerError(
                2714,
                f"There is already an object named '{name.group(1) if name else '?'}' in the database.",
                16,
            )
    for pattern, number, words, severity in _QUERY_ERRORS:
        found = re.search(pattern, first)
        if found:
            return SqlServerError(number, words.format(*found.groups()), severity)
    variable = re.search(r"Values were not provided for the following parameters: (\w+)", first)
    if variable:
        return SqlServerError(137, f'Must declare the scalar variable "@{variable.group(1)}".', 15)
    if isinstance(error, duckdb.OutOfRangeException) or "out of range" in first.lower():
        return SqlServerError(
            8115, "Arithmetic overflow error converting expression to data type numeric.", 16
        )
    if "Division by zero" in first or "division by zero" in first:
        return SqlServerError(8134, "Divide by zero error encountered.", 16)
    # What is left (DuckDB cannot parse the translation, a function with argument types DuckDB
    # has no overload for, a feature DuckDB lacks) is a gap of the emulator, not the client's error.
    if statement is not None:
        return unsupported(f"Something in the statement '{_head(statement)}'")
    return unsupported(_SOMETHING_IN_IT)


def _constraint(first: str, table) -> SqlServerError:
    target = f"{table.schema}.{table.name}" if table is not None else "?"
    too_long = re.search(r"CHECK constraint failed on table .* CHECK\(+strlen\(\"?([^)\"]+)\"?\)", first)
    if too_long:
        where = f"{table.database}.{table.schema}.{table.name}" if table is not None else "?"
        return SqlServerError(
            2628,
            f"String or binary data would be truncated in table '{where}', column '{too_long.group(1)}'.",
            16,
        )
    if "Duplicate key" in first or "unique" in first.lower() or "primary key" in first.lower():
        values = re.search(r'Duplicate key "(.*)" violates', first)
        key = values.group(1) if values else ""
        parts = [p.split(": ", 1)[-1] for p in re.split(r", (?=\w+: )", key)] if key else []
        pk = getattr(table, "primary_key", None) or "PK"
        return SqlServerError(
            2627,
            f"Violation of PRIMARY KEY constraint '{pk}'. Cannot insert duplicate key in object "
            f"'{target}'. The duplicate key value is ({', '.join(parts)}).",
            14,
        )
    not_null = re.search(r"NOT NULL constraint failed: ([^.]+)\.(\S+)", first)
    if not_null:
        where = f"{table.database}.{table.schema}.{table.name}" if table is not None else not_null.group(1)
        return SqlServerError(
            515,
            f"Cannot insert the value NULL into column '{not_null.group(2)}', table '{where}'; "
            "column does not allow nulls. INSERT fails.",
            16,
        )
    return SqlServerError(547, f"The statement conflicted with a constraint in object '{target}'.", 16)


def _conversion(first: str) -> SqlServerError:
    overflow = re.search(
        r"with value (\S+) can't be cast because the value is out of range for the destination type (\w+)",
        first,
    )
    if overflow:
        sql_type = _SQL_TYPE_NAMES.get(overflow.group(2), overflow.group(2).lower())
        if sql_type in ("tinyint", "smallint"):
            return SqlServerError(
                220, f"Arithmetic overflow error for data type {sql_type}, value = {overflow.group(1)}.", 16
            )
        return SqlServerError(
            8115, f"Arithmetic overflow error converting expression to data type {sql_type}.", 16
        )
    match = re.search(r"Could not convert string ['\"](.*)['\"] to ([A-Z0-9_]+)", first)
    if match:
        value, duck_type = match.group(1), match.group(2)
        if duck_type.startswith("DECIMAL"):
            return SqlServerError(8114, "Error converting data type varchar to numeric.", 16)
        if duck_type in ("DOUBLE", "FLOAT"):
            return SqlServerError(8114, "Error converting data type varchar to float.", 16)
        sql_type = _SQL_TYPE_NAMES.get(duck_type, duck_type.lower())
        return SqlServerError(
            245, f"Conversion failed when converting the varchar value '{value}' to data type {sql_type}.", 16
        )
    if "date" in first.lower() or "timestamp" in first.lower() or "time" in first.lower():
        return SqlServerError(
            241, "Conversion failed when converting date and/or time from character string.", 16
        )
    if "DECIMAL" in first:
        return SqlServerError(8115, "Arithmetic overflow error converting numeric to data type numeric.", 16)
    return SqlServerError(245, "Conversion failed when converting a value to the requested data type.", 16)
