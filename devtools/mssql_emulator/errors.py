"""DuckDB's complaints reworded as the SQL Server errors a client would have seen."""

from __future__ import annotations

import re

import duckdb

from devtools.mssql_emulator.results import SqlServerError

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


def from_duckdb(error: Exception, table=None) -> SqlServerError:
    """The SQL Server error for a DuckDB exception (``table``: the statement's target, if any)."""
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
        column = re.search(r'column "([^"]+)" not found', first, re.I) or re.search(
            r'Referenced column "([^"]+)"', first
        )
        if column:
            return SqlServerError(207, f"Invalid column name '{column.group(1)}'.", 16)
    if isinstance(error, duckdb.CatalogException):
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
        function = re.search(r"Scalar Function with name (\w+) does not exist", first)
        if function:
            return SqlServerError(
                195, f"'{function.group(1)}' is not a recognized built-in function name.", 15
            )
    variable = re.search(r"Values were not provided for the following parameters: (\w+)", first)
    if variable:
        return SqlServerError(137, f'Must declare the scalar variable "@{variable.group(1)}".', 15)
    if isinstance(error, duckdb.ParserException):
        near = re.search(r'at or near "([^"]*)"', first)
        return SqlServerError(102, f"Incorrect syntax near '{near.group(1) if near else ''}'.", 15)
    if isinstance(error, duckdb.OutOfRangeException) or "out of range" in first.lower():
        return SqlServerError(
            8115, "Arithmetic overflow error converting expression to data type numeric.", 16
        )
    if "Division by zero" in first or "division by zero" in first:
        return SqlServerError(8134, "Divide by zero error encountered.", 16)
    message = re.sub(r"^[A-Za-z ]+Error:\s*", "", first).strip()
    return SqlServerError(50000, f"The statement failed: {message}", 16)


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
