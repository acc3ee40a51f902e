"""Which FROM source a qualified column names, checked as SQL Server binds it.

A column may be qualified by the exposed name of a source: its alias, or, for a table without
one, its name, optionally with schema and database (``sys.objects.name``,
``ProcessStatus.dbo.T.c``). Once a table has an alias only the alias names it. A qualifier
naming no source in scope is error 4104 "The multi-part identifier ... could not be bound"
(https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/mssqlserver-4104-database-engine-error),
or 107 for a qualified asterisk.

DuckDB knows neither three- and four-part column names nor SQL Server's wording, so this runs
on the parsed T-SQL before tables get their DuckDB names, and leaves each qualified column with
its table part only. Scope is approximated by every query the column sits in (its own and the
enclosing ones, so correlated references bind); a derived table that names an outer source
passes here and fails in DuckDB instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from devtools.mssql_emulator.results import SqlServerError


@dataclass(frozen=True)
class _Source:
    exposed: str  # lower-case alias, or the table's own name when it has no alias
    schema: str | None  # lower-case schema of an unaliased table ("dbo" when not written)
    database: str | None  # lower-case database of an unaliased table


def bind_columns(tree: exp.Expression, database: str) -> None:
    """Raise 4104 for a qualifier that names no source; drop schema and database parts."""
    for query in tree.find_all(exp.Select):
        _sources_of(query)  # two sources with one exposed name: 1011/1013
    for column in list(tree.find_all(exp.Column)):
        if not column.table:
            continue
        sources = _visible_sources(column)
        if sources is None:
            continue  # not inside a query with sources (a SET, a UNION's ORDER BY): DuckDB decides
        if not any(_names(source, column, database) for source in sources):
            if isinstance(column.this, exp.Star):
                # https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/mssqlserver-107-database-engine-error
                prefix = ".".join(part.name for part in column.parts[:-1])
                raise SqlServerError(
                    107,
                    f"The column prefix '{prefix}' does not match with a table name or alias name used in the query.",
                    15,
                )
            written = ".".join(part.name for part in column.parts)
            raise SqlServerError(4104, f'The multi-part identifier "{written}" could not be bound.', 16)
        column.set("db", None)
        column.set("catalog", None)


def _names(source: _Source, column: exp.Column, database: str) -> bool:
    if source.exposed != column.table.lower():
        return False
    if not column.text("db"):
        return True
    if source.schema is None:  # an alias, or a derived table: never schema-qualified
        return False
    if source.schema != column.text("db").lower():
        return False
    return not column.text("catalog") or column.text("catalog").lower() == (
        source.database or database.lower()
    )


def _visible_sources(column: exp.Column) -> list[_Source] | None:
    sources: list[_Source] = []
    found_query = False
    node = column.parent
    while node is not None:
        if isinstance(node, (exp.Select, exp.Update, exp.Delete)):
            found_query = True
            sources.extend(_sources_of(node))
        node = node.parent
    return sources if found_query else None


def _sources_of(query: exp.Expression) -> list[_Source]:
    items = []
    if isinstance(query, (exp.Update, exp.Delete)) and isinstance(query.this, exp.Table):
        items.append(query.this)
    from_ = query.args.get("from_")
    if from_ is not None:
        items.append(from_.this)
    items.extend(join.this for join in query.args.get("joins") or [])
    sources = []
    for item in items:
        if isinstance(item, exp.Table) and not item.alias:
            source = _Source(item.name.lower(), (item.db or "dbo").lower(), item.catalog.lower() or None)
        else:
            source = _Source(item.alias_or_name.lower(), None, None)
        if isinstance(query, exp.Select) and any(s.exposed == source.exposed for s in sources):
            raise _same_exposed_name(item)
        sources.append(source)
    return sources


def _same_exposed_name(item: exp.Expression) -> SqlServerError:
    """1011 for a repeated alias, 1013 for a repeated table name (errors 1000-1999 list,
    https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-1000-to-1999)."""
    if isinstance(item, exp.Table) and not item.alias:
        written = ".".join(part.name for part in item.parts)
        return SqlServerError(
            1013,
            f'The objects "{written}" and "{written}" in the FROM clause have the same exposed names. '
            "Use correlation names to distinguish them.",
            16,
        )
    return SqlServerError(
        1011, f"The correlation name '{item.alias_or_name}' is specified multiple times in a FROM clause.", 16
    )
