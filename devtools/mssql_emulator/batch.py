"""Splitting a T-SQL batch into statements, with IF/ELSE and BEGIN...END as a small tree.

T-SQL needs no semicolons between statements (``SET NOCOUNT ON SELECT 1`` is two), which
sqlglot cannot split, and ``GO`` is a client-side separator. Tokens come from sqlglot's T-SQL
tokenizer, so strings, ``[bracketed]`` names and comments never split a statement.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from sqlglot.errors import TokenError
from sqlglot.tokens import Token

from devtools.mssql_emulator.results import SqlServerError

_GO = re.compile(r"^[ \t]*GO[ \t]*(?:\d+)?[ \t]*;?[ \t]*$", re.I | re.M)

# Words that begin a statement when they appear outside parentheses.
STARTERS = {
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "DROP",
    "ALTER",
    "TRUNCATE",
    "USE",
    "SET",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "IF",
    "EXEC",
    "EXECUTE",
    "PRINT",
    "DECLARE",
    "WITH",
    "SAVE",
    "RETURN",
    "RAISERROR",
    "THROW",
    "WHILE",
    "MERGE",
    "GRANT",
    "DENY",
    "REVOKE",
    "WAITFOR",
}
_AFTER_NO_SPLIT = {
    "AS",
    "OR",
    "VIEW",
    "TABLE",
    "SCHEMA",
    "DATABASE",
    "INDEX",
    "PROCEDURE",
    "FUNCTION",
    "UNION",
    "ALL",
    "EXCEPT",
    "INTERSECT",
    "(",
    ",",
    "=",
    "EXISTS",
    "IN",
    "THEN",
    "ELSE",
    "NOT",
}
_TRANSACTION_WORDS = {"TRAN", "TRANSACTION", "DISTRIBUTED", "WORK"}


@dataclass
class Statement:
    text: str


@dataclass
class IfStatement:
    condition: str
    then: list = field(default_factory=list)
    otherwise: list = field(default_factory=list)


def _tokenize(sql: str) -> list[Token]:
    from devtools.mssql_emulator.translate import Dialect

    try:
        return Dialect().tokenize(sql)
    except TokenError:
        raise SqlServerError(105, "Unclosed quotation mark after the character string ''.", 15) from None


def split(sql: str) -> list:
    """The batch as a list of Statement / IfStatement, in order (read-only: may be shared)."""
    if len(sql) <= _CACHED_BATCH_CHARS:
        return _split_cached(sql)
    return _split(sql)


# The same text comes back again and again (drivers' and the sync's queries); long batches
# (multi-row INSERTs) rarely do and would fill memory.
_CACHED_BATCH_CHARS = 64 * 1024


@functools.lru_cache(maxsize=256)
def _split_cached(sql: str) -> list:
    return _split(sql)


def _split(sql: str) -> list:
    statements: list = []
    for part in _GO.split(sql):
        if part.strip():
            tokens = _tokenize(part)
            parser = _Splitter(part, tokens)
            statements.extend(parser.statements_until(None))
    return statements


class _Splitter:
    def __init__(self, sql: str, tokens: list[Token]):
        self.sql = sql
        self.tokens = tokens
        self.pos = 0

    def word(self, offset: int = 0) -> str:
        index = self.pos + offset
        if index >= len(self.tokens):
            return ""
        token = self.tokens[index]
        return token.text.upper() if token.token_type.name not in ("STRING", "NATIONAL_STRING") else "'"

    def statements_until(self, stop: str | None) -> list:
        found = []
        while self.pos < len(self.tokens):
            if self.word() == ";":
                self.pos += 1
                continue
            if stop and self.word() == stop:
                return found
            found.extend(self.one())
        return found

    def one(self) -> list:
        word = self.word()
        if word == "IF":
            return [self.if_statement()]
        if word == "BEGIN" and self.word(1) not in _TRANSACTION_WORDS | {"TRY", "CATCH"}:
            self.pos += 1
            inner = self.statements_until("END")
            self.pos += 1  # END
            return inner
        return [self.plain()]

    def if_statement(self) -> IfStatement:
        self.pos += 1  # IF
        start = self.pos
        depth = 0
        while self.pos < len(self.tokens):
            word = self.word()
            if word == "(":
                depth += 1
            elif word == ")":
                depth -= 1
            elif depth == 0 and word in STARTERS and self.pos > start:
                break
            self.pos += 1
        condition = self._text(start, self.pos)
        node = IfStatement(condition)
        node.then = self.one()
        while self.word() == ";":
            self.pos += 1
        if self.word() == "ELSE":
            self.pos += 1
            node.otherwise = self.one()
        return node

    def plain(self) -> Statement:
        start = self.pos
        first = self.word()
        depth = 0
        seen_set = seen_main = False
        self.pos += 1
        if first in ("BEGIN", "COMMIT", "ROLLBACK", "SAVE") and self.word() in _TRANSACTION_WORDS:
            self.pos += 1
            if self.pos < len(self.tokens) and self.word() not in STARTERS and self.word() != ";":
                self.pos += 1  # transaction name
            return Statement(self._text(start, self.pos))
        while self.pos < len(self.tokens):
            word = self.word()
            previous = self.word(-1)
            if word in ("(", "CASE"):
                depth += 1
            elif word in (")", "END") and depth > 0:
                depth -= 1
            elif depth == 0:
                if word == "VALUES":
                    seen_main = True  # INSERT ... VALUES (...) SELECT: the SELECT is a new statement
                if word == ";":
                    break
                if word in ("END", "ELSE") and first != "CASE":
                    break
                # "WITH (" is a table hint (FROM t WITH (NOLOCK)); a CTE names itself first.
                table_hint = word == "WITH" and self.word(1) == "("
                if word in STARTERS and previous not in _AFTER_NO_SPLIT and not table_hint:
                    continuing = (
                        (first == "UPDATE" and word == "SET" and not seen_set)
                        or (
                            first == "INSERT"
                            and word in ("SELECT", "WITH", "EXEC", "EXECUTE")
                            and not seen_main
                        )
                        or (
                            first == "WITH"
                            and word in ("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE")
                            and not seen_main
                        )
                        or (first in ("CREATE", "ALTER") and word == "WITH" and not seen_main)
                        or (first == "DECLARE" and word == "SET")
                    )
                    if not continuing:
                        break
                    seen_set = seen_set or word == "SET"
                    seen_main = True
            self.pos += 1
        return Statement(self._text(start, self.pos))

    def _text(self, start: int, end: int) -> str:
        if start >= end:
            return ""
        return self.sql[self.tokens[start].start : self.tokens[end - 1].end + 1]
