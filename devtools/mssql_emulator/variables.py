"""A batch's scalar variables: DECLARE, SET @v = ..., SELECT @v = ..., EXEC @status = ....

"The scope of a local variable is the batch in which it's declared"
(https://learn.microsoft.com/en-us/sql/t-sql/language-elements/variables-transact-sql), so the
engine keeps one ``BatchVariables`` per batch. The engine runs plain T-SQL text, so a variable
read in a statement becomes ``CAST(<its value> AS <its declared type>)`` there, the way
sp_executesql's parameters are bound (``sp_executesql.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from devtools.mssql_emulator import translate
from devtools.mssql_emulator.results import SqlServerError
from devtools.mssql_emulator.sp_executesql import _SQL_TOKENS, sql_literal

_DECLARE = re.compile(r"^\s*DECLARE\s+(?P<body>.*?);?\s*$", re.I | re.S)
_ONE_DECLARATION = re.compile(
    r"^(?P<name>@\w+)\s+(?:AS\s+)?(?P<type>.+?)(?:\s*=\s*(?P<value>.+))?$", re.I | re.S
)
# SET @v = x, and the compound forms (https://learn.microsoft.com/en-us/sql/t-sql/language-elements/set-local-variable-transact-sql)
_SET = re.compile(r"^\s*SET\s+(?P<name>@\w+)\s*(?P<op>[-+*/%&|^]?=)\s*(?P<value>.+?);?\s*$", re.I | re.S)
_SELECT_ASSIGNS = re.compile(r"^\s*SELECT\s+@\w+\s*=(?!=)", re.I)
_EXEC_STATUS = re.compile(r"^\s*EXEC(?:UTE)?\s+(?P<name>@\w+)\s*=\s*(?P<rest>.+)$", re.I | re.S)
# A module's definition declares its own parameters and variables: none of the batch's.
_DEFINITION = re.compile(
    r"^\s*(?:CREATE|ALTER)\s+(?:OR\s+ALTER\s+)?(?:PROC|PROCEDURE|FUNCTION|TRIGGER)\b", re.I
)
# In EXEC, "@name =" names a procedure's parameter, not a variable.
_PARAMETER_NAME = re.compile(r"\s*=(?!=)")

Evaluate = Callable[[str], list[tuple]]


def _must_declare(name: str, state: int = 2) -> SqlServerError:
    """137; SQL Server's state is 1 for an assignment's target, 2 for a variable read."""
    return SqlServerError(137, f'Must declare the scalar variable "{name}".', 15, state)


class BatchVariables:
    """The variables DECLAREd so far in one batch, with their types and current values."""

    def __init__(self):
        self._values: dict[str, tuple[str, object]] = {}  # lower name -> (declared type, value)

    def substitute(self, text: str) -> str:
        """``text`` with each variable read replaced by its typed value (137 if undeclared)."""
        if "@" not in text or _DEFINITION.match(text):
            return text
        in_exec = text.lstrip()[:4].upper() == "EXEC"

        def replace(match: re.Match) -> str:
            name = match.group("param")
            if name is None or name.startswith("@@"):
                return match.group(0)
            if in_exec and _PARAMETER_NAME.match(text, match.end()):
                return match.group(0)
            found = self._values.get(name.lower())
            if found is None:
                raise _must_declare(name)
            declared, value = found
            return f"CAST({sql_literal(_plain(value))} AS {declared})"

        return _SQL_TOKENS.sub(replace, text)

    def run(self, text: str, evaluate: Evaluate, execute_status: Callable[[str], int]) -> str | int | None:
        """Run ``text`` if it is a variable statement: "declare" (SQL Server sends no DONE for
        it), "assign", or for SELECT @v = ... the rows it read (SQL Server counts them);
        None if it is some other statement."""
        declare = _DECLARE.match(text)
        if declare:
            for piece in _top_level_split(declare.group("body")):
                one = _ONE_DECLARATION.match(piece.strip())
                if one is None:
                    raise SqlServerError(102, f"Incorrect syntax near '{piece.strip()[:30]}'.", 15)
                declared = one.group("type").strip()
                if declared.upper().startswith("TABLE") or declared.upper().startswith("CURSOR"):
                    raise SqlServerError(
                        40517, "A table or cursor variable is not supported by the emulator."
                    )
                self._values[one.group("name").lower()] = (declared, None)
                if one.group("value"):
                    self._assign(one.group("name"), one.group("value"), evaluate)
            return "declare"
        assignment = _SET.match(text)
        if assignment:
            name, op, value = assignment.group("name", "op", "value")
            if op != "=":
                value = f"{name} {op[0]} ({value})"
            self._assign(name, value, evaluate)
            return "assign"
        if _SELECT_ASSIGNS.match(text):
            return self._select_assign(text, evaluate)
        status = _EXEC_STATUS.match(text)
        if status:
            name = status.group("name")
            if name.lower() not in self._values:
                raise _must_declare(name)
            code = execute_status(self.substitute("EXEC " + status.group("rest")))
            self._values[name.lower()] = (self._values[name.lower()][0], code)
            return "assign"
        return None

    def _assign(self, name: str, expression: str, evaluate: Evaluate) -> None:
        found = self._values.get(name.lower())
        if found is None:
            raise _must_declare(name, state=1)
        rows = evaluate(f"SELECT CAST(({self.substitute(expression)}) AS {found[0]})")
        self._values[name.lower()] = (found[0], rows[0][0] if rows else None)

    def _select_assign(self, text: str, evaluate: Evaluate) -> int:
        """SELECT @a = x, @b = y FROM ...: "If the SELECT statement returns more than one value,
        the variable is assigned the last value that is returned"; none leaves it unchanged
        (https://learn.microsoft.com/en-us/sql/t-sql/language-elements/select-local-variable-transact-sql)."""
        query = translate.parse(text)[0]
        targets = []
        for index, item in enumerate(query.expressions):
            if not (isinstance(item, exp.EQ) and isinstance(item.this, exp.Parameter)):
                raise SqlServerError(
                    141,
                    "A SELECT statement that assigns a value to a variable must not be combined with "
                    "data-retrieval operations.",
                )
            name = "@" + item.this.name
            if name.lower() not in self._values:
                raise _must_declare(name)
            targets.append(name.lower())
            declared = self._values[name.lower()][0]
            item.replace(exp.alias_(exp.cast(item.expression, declared, dialect="tsql"), f"__v{index}"))
        rows = evaluate(self.substitute(query.sql("tsql")))
        if rows:
            for name, value in zip(targets, rows[-1], strict=True):
                self._values[name] = (self._values[name][0], value)
        return len(rows)


def _plain(value):
    """A result value as sp_executesql's literals take it; DateTime2/Time7 as text with all
    seven fraction digits, which CAST to the declared type reads back exactly."""
    if not hasattr(value, "ticks"):
        return value
    fmt = "%Y-%m-%d %H:%M:%S.%f" if hasattr(value.value, "year") else "%H:%M:%S.%f"
    return value.value.strftime(fmt) + str(value.ticks)


def _top_level_split(text: str) -> list[str]:
    """Split at commas outside parentheses and quotes."""
    pieces, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            pieces.append(text[start:index])
            start = index + 1
    pieces.append(text[start:])
    return [p for p in pieces if p.strip()]
