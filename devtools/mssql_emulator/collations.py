"""SQL Server collations: names, properties, precedence, and DuckDB expressions that compare like them.

Interface (shared with catalog.py / system_views.py):

- ``results.Column.collation`` is the collation name of a text column (char, varchar, nchar,
  nvarchar) and None for every other type. A table column takes its ``COLLATE`` clause or,
  without one, the database's collation; a view column takes the collation of the expression
  that defines it.
- ``Catalog.database_collations`` maps a database name (lower case) to its collation;
  ``Catalog.database_collation(name)`` answers it (``DEFAULT`` for an unknown name).
  ``CREATE DATABASE ... COLLATE`` sets it; the built-in databases have ``DEFAULT``, which is
  also the server collation (``SERVERPROPERTY('Collation')``).
- ``lookup(name)`` gives the ``Collation`` (its properties and canonical spelling) or raises
  SQL Server's error 448 for a name SQL Server would not know.

Sources (Microsoft Learn):
- Collation and Unicode support:
  https://learn.microsoft.com/en-us/sql/relational-databases/collations/collation-and-unicode-support
  (the _CS/_AS/_KS/_WS/_SC/_BIN/_BIN2 options; "lowercase letters sort ahead of their
  uppercase versions" under _CS; without _WS full-width and half-width forms are equal;
  without _KS hiragana and katakana are equal).
- Collation precedence:
  https://learn.microsoft.com/en-us/sql/t-sql/statements/collation-precedence-transact-sql
  (labels Explicit > Implicit > Coercible-default, No-collation, which operations are
  collation sensitive).
- COLLATIONPROPERTY:
  https://learn.microsoft.com/en-us/sql/t-sql/functions/collation-functions-collationproperty-transact-sql
- Comparing strings with trailing spaces (ANSI padding, every collation):
  https://learn.microsoft.com/en-us/troubleshoot/sql/database-engine/query-performance/comparisons-trailing-spaces

What is approximated (Windows sort weights are out of reach):
- Equality under a non-binary collation compares a *fold* of each string: trailing spaces
  removed; without _WS the compatibility width forms (NFKC ``<wide>``/``<narrow>``
  decompositions: full-width ASCII, U+3000, half-width katakana and hangul) mapped to their
  ordinary forms; without _KS hiragana mapped to katakana; under _CI Unicode lower case
  (DuckDB's ``lower``); under _AI accents removed (DuckDB's ``strip_accents``: NFD, drop
  combining marks). Characters Windows gives no weight to (for example some control
  characters) are *not* ignored, and multi-character expansions (``ß`` = ``ss``, ligatures)
  are not equal to their expansion.
- Order under a non-binary collation is by three keys, each compared code point by code
  point: the accent-free fold, then the fold with accents, then (under _CS) the string with
  its case swapped so lower case sorts first. Windows' real order differs for punctuation
  (word sort ignores hyphens and apostrophes) and for symbols between letters.
- _BIN and _BIN2 both compare code points (UTF-8 order). _BIN's first-character rule and
  BIN2's UTF-16 code-unit order for characters above U+FFFF are not modelled. Trailing
  spaces are still ignored in comparisons, as SQL Server does for every collation.
- GROUP BY and DISTINCT group with DuckDB's ``nocase``/``noaccent`` collations (declared on
  each stored column, or by a COLLATE clause), so they follow case and accent sensitivity but
  not width, kana or trailing spaces; UNION checks collations but de-duplicates the same way.
- An operand the translator cannot type (a column of a VALUES list, say) is compared by
  DuckDB's default ``nocase`` collation; the operands of REPLACE, CHARINDEX, PATINDEX, LIKE
  and LEN are taken as text of the database's collation.
- The code page only matters for ``COLLATIONPROPERTY`` and varchar's ``DATALENGTH``: varchar
  text is stored as Unicode.
- A collation name is known when it is in ``_KNOWN_PREFIXES`` (a subset of
  ``sys.fn_helpcollations()``) with a valid option suffix, or is one of the SQL collations
  listed in ``_SQL_COLLATIONS``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

from sqlglot import exp

from devtools.mssql_emulator.results import SqlServerError

DEFAULT = "SQL_Latin1_General_CP1_CI_AS"

# Windows collation designators the emulator knows: (LCID, code page).
# https://learn.microsoft.com/en-us/sql/relational-databases/collations/collation-and-unicode-support
_KNOWN_PREFIXES = {
    "Latin1_General": (1033, 1252),
    "Japanese": (1041, 932),
    "Japanese_XJIS": (1041, 932),
    "Japanese_Bushu_Kakusu": (1041, 932),
    "Greek": (1032, 1253),
    "French": (1036, 1252),
    "German_PhoneBook": (1031, 1252),
    "Traditional_Spanish": (1034, 1252),
    "Modern_Spanish": (3082, 1252),
    "Danish_Norwegian": (1030, 1252),
    "Finnish_Swedish": (1035, 1252),
    "Cyrillic_General": (1049, 1251),
    "Polish": (1045, 1250),
    "Czech": (1029, 1250),
    "Turkish": (1055, 1254),
    "Hebrew": (1037, 1255),
    "Arabic": (1025, 1256),
    "Chinese_PRC": (2052, 936),
    "Chinese_Taiwan_Stroke": (1028, 950),
    "Korean_Wansung": (1042, 949),
    "Korean": (1042, 949),
    "Thai": (1054, 874),
    "Vietnamese": (1066, 1258),
}

# SQL collations (sort orders of SQL Server 2000 and before): name -> (LCID, code page).
# https://learn.microsoft.com/en-us/sql/relational-databases/collations/sql-server-collation-name-transact-sql
# The _BIN/_BIN2 code-page collations are the ones SAP systems install with (SAP note 600027:
# SQL_Latin1_General_CP850_BIN2).
_SQL_COLLATIONS = {
    "SQL_Latin1_General_CP1_CI_AS": (1033, 1252),
    "SQL_Latin1_General_CP1_CS_AS": (1033, 1252),
    "SQL_Latin1_General_CP1_CI_AI": (1033, 1252),
    "SQL_Latin1_General_CP1250_CI_AS": (1033, 1250),
    "SQL_Latin1_General_CP1251_CI_AS": (1033, 1251),
    "SQL_Latin1_General_CP437_CI_AS": (1033, 437),
    "SQL_Latin1_General_CP437_BIN": (1033, 437),
    "SQL_Latin1_General_CP437_BIN2": (1033, 437),
    "SQL_Latin1_General_CP850_CI_AS": (1033, 850),
    "SQL_Latin1_General_CP850_BIN": (1033, 850),
    "SQL_Latin1_General_CP850_BIN2": (1033, 850),
}

_WINDOWS_NAME = re.compile(
    r"^(?P<prefix>[A-Za-z0-9_]+?)(?:_(?P<version>90|100|140))?"
    r"_(?:(?P<bin>BIN2?)|(?P<case>CI|CS)_(?P<accent>AI|AS)(?P<kana>_KS)?(?P<width>_WS)?"
    r"(?P<vs>_VSS)?(?P<sc>_SC)?)(?P<utf8>_UTF8)?$",
    re.IGNORECASE,
)

# Windows' NORM_* comparison flags, which COLLATIONPROPERTY(..., 'ComparisonStyle') adds up.
_IGNORE_CASE, _IGNORE_ACCENT, _IGNORE_KANA, _IGNORE_WIDTH = 1, 2, 65536, 131072


@dataclass(frozen=True)
class Collation:
    """One collation's options, spelled as SQL Server spells its name."""

    name: str
    lcid: int
    code_page: int
    version: int
    binary: bool = False
    case_sensitive: bool = False
    accent_sensitive: bool = True
    kana_sensitive: bool = False
    width_sensitive: bool = False
    supplementary: bool = False
    sql_collation: bool = False

    @property
    def comparison_style(self) -> int:
        """COLLATIONPROPERTY's ComparisonStyle: 0 for binary collations."""
        if self.binary:
            return 0
        return (
            (0 if self.case_sensitive else _IGNORE_CASE)
            + (0 if self.accent_sensitive else _IGNORE_ACCENT)
            + (0 if self.kana_sensitive else _IGNORE_KANA)
            + (0 if self.width_sensitive else _IGNORE_WIDTH)
        )

    def property(self, name: str) -> int | None:
        """COLLATIONPROPERTY(collation, name): CodePage, LCID, ComparisonStyle, Version."""
        return {
            "codepage": self.code_page,
            "lcid": self.lcid,
            "comparisonstyle": self.comparison_style,
            "version": self.version,
        }.get(name.strip().lower())


def _invalid(name: str) -> SqlServerError:
    # https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-0-to-999
    return SqlServerError(448, f"Invalid collation '{name}'.")


@lru_cache(maxsize=256)
def lookup(name: str) -> Collation:
    """The collation called ``name`` (any letter case); error 448 if SQL Server has no such name."""
    found = find(name)
    if found is None:
        raise _invalid(name)
    return found


@lru_cache(maxsize=256)
def find(name: str) -> Collation | None:
    """The collation called ``name``, or None."""
    wanted = name.strip().strip("[]")
    for sql_name, (lcid, code_page) in _SQL_COLLATIONS.items():
        if sql_name.lower() == wanted.lower():
            binary = sql_name.upper().endswith(("_BIN", "_BIN2"))
            return Collation(
                sql_name,
                lcid,
                code_page,
                version=0,
                binary=binary,
                case_sensitive=binary or "_CS_" in sql_name,
                accent_sensitive=binary or sql_name.endswith("_AS"),
                kana_sensitive=binary,
                width_sensitive=binary,
                sql_collation=True,
            )
    match = _WINDOWS_NAME.match(wanted)
    if not match:
        return None
    prefix = next((p for p in _KNOWN_PREFIXES if p.lower() == match["prefix"].lower()), None)
    if prefix is None:
        return None
    lcid, code_page = _KNOWN_PREFIXES[prefix]
    version = {"90": 1, "100": 2, "140": 3}.get(match["version"] or "", 0)
    if match["sc"] and version < 2 or match["vs"] and version < 3 or match["utf8"] and version < 2:
        return None  # _SC, _UTF8 exist from the 100 collations on, _VSS from 140
    parts = [prefix] + ([match["version"]] if match["version"] else [])
    if match["bin"]:
        parts.append(match["bin"].upper())
        binary = True
        options = dict(case_sensitive=True, accent_sensitive=True, kana_sensitive=True, width_sensitive=True)
    else:
        binary = False
        parts += [match["case"].upper(), match["accent"].upper()]
        groups = {"KS": "kana", "WS": "width", "VSS": "vs", "SC": "sc"}
        parts += [flag for flag, group in groups.items() if match[group]]
        options = dict(
            case_sensitive=match["case"].upper() == "CS",
            accent_sensitive=match["accent"].upper() == "AS",
            kana_sensitive=bool(match["kana"]),
            width_sensitive=bool(match["width"]),
        )
    if match["utf8"]:
        parts.append("UTF8")
        code_page = 65001
    return Collation(
        "_".join(parts),
        lcid,
        code_page,
        version,
        binary=binary,
        supplementary=bool(match["sc"]) or version >= 3 or bool(match["utf8"]),
        **options,
    )


# ---- collation precedence ----

EXPLICIT, IMPLICIT, COERCIBLE, NONE = "explicit", "implicit", "coercible-default", "no-collation"
_RANK = {EXPLICIT: 3, IMPLICIT: 2, COERCIBLE: 1}


@dataclass(frozen=True)
class Label:
    """A string expression's collation and how it got it (its collation label)."""

    kind: str  # EXPLICIT | IMPLICIT | COERCIBLE | NONE
    name: str | None = None  # None only for NONE
    # For NONE: the two implicit collations that met, for the error message.
    conflict: tuple[str, str] | None = None


def combine(left: Label | None, right: Label | None, operation: str | None = None) -> Label | None:
    """The label of an expression combining two string operands (precedence table).

    ``operation`` names a collation-sensitive operation ("equal to", "add", "replace" ...):
    then a conflict, or a No-collation operand, raises SQL Server's error instead of giving
    No-collation. None for a non-string operand on both sides.
    """
    if left is None or right is None:
        result = left or right
    elif left.kind == EXPLICIT and right.kind == EXPLICIT:
        if left.name != right.name:
            raise conflict_error(left.name, right.name, operation or "")
        result = left
    elif EXPLICIT in (left.kind, right.kind):
        result = left if left.kind == EXPLICIT else right
    elif NONE in (left.kind, right.kind):
        result = left if left.kind == NONE else right
    elif left.kind == IMPLICIT and right.kind == IMPLICIT and left.name != right.name:
        result = Label(NONE, conflict=(left.name, right.name))
    else:
        result = left if _RANK[left.kind] >= _RANK[right.kind] else right
    if operation and result is not None and result.kind == NONE:
        if result.conflict and (left and left.kind == IMPLICIT) and (right and right.kind == IMPLICIT):
            raise conflict_error(*result.conflict, operation)
        raise SqlServerError(446, f"Cannot resolve collation conflict for {operation} operation.")
    return result


def conflict_error(left: str, right: str, operation: str) -> SqlServerError:
    """Error 468, worded as SQL Server words it (the right operand's collation first)."""
    return SqlServerError(
        468,
        f'Cannot resolve the collation conflict between "{right}" and "{left}" in the {operation} operation.',
        16,
        9,
    )


# ---- folding: what a non-binary collation treats as equal ----


@lru_cache(maxsize=1)
def _width_map() -> dict[str, str]:
    """Full-width and half-width forms -> their ordinary character (single characters only)."""
    mapping = {}
    for code in range(0x3000, 0x10000):
        char = chr(code)
        decomposition = unicodedata.decomposition(char)
        if decomposition.startswith(("<wide>", "<narrow>")):
            plain = unicodedata.normalize("NFKC", char)
            if len(plain) == 1 and plain != char:
                mapping[char] = plain
    return mapping


@lru_cache(maxsize=1)
def _kana_map() -> dict[str, str]:
    """Hiragana -> katakana (U+3041..U+3096 and the iteration marks sit 0x60 apart)."""
    mapping = {chr(code): chr(code + 0x60) for code in range(0x3041, 0x3097)}
    mapping.update({"\u309d": "\u30fd", "\u309e": "\u30fe"})
    return mapping


@lru_cache(maxsize=64)
def translation(collation: Collation) -> tuple[str, str]:
    """The (from, to) strings of DuckDB's translate() that fold width and kana for a collation."""
    mapping: dict[str, str] = {}
    if not collation.binary and not collation.width_sensitive:
        mapping.update(_width_map())
    if not collation.binary and not collation.kana_sensitive:
        kana = _kana_map()
        mapping = {k: kana.get(v, v) for k, v in mapping.items()}
        mapping.update(kana)
    keys = "".join(mapping)
    return keys, "".join(mapping[k] for k in keys)


def fold_char(collation: Collation, char: str) -> str:
    """What one character folds to under a collation (the Python twin of the SQL fold)."""
    if collation.binary:
        return char
    keys, values = translation(collation)
    at = keys.find(char)
    if at >= 0:
        char = values[at]
    if not collation.case_sensitive:
        char = char.lower() if len(char.lower()) == 1 else char
    if not collation.accent_sensitive:
        char = (
            "".join(c for c in unicodedata.normalize("NFD", char) if unicodedata.category(c) != "Mn") or char
        )
    return char


@lru_cache(maxsize=64)
def _classes(collation: Collation) -> dict[str, str]:
    """fold -> every BMP character with that fold, for characters whose class has more than one."""
    groups: dict[str, list[str]] = {}
    for code in range(0x20, 0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        groups.setdefault(fold_char(collation, char), []).append(char)
    return {fold: "".join(chars) for fold, chars in groups.items() if len(chars) > 1}


def equivalents(collation: Collation, char: str) -> str:
    """Every character equal to ``char`` under the collation (``char`` itself at least)."""
    if collation.binary:
        return char
    found = _classes(collation).get(fold_char(collation, char), char)
    return found if char in found else char + found


# ---- DuckDB expressions that compare like a collation ----

_BINARY = exp.Identifier(this="binary", quoted=True)


def duckdb_collation(collation: Collation) -> str:
    """The DuckDB collation closest to ``collation`` (for GROUP BY, DISTINCT, stored columns)."""
    if collation.binary:
        return '"binary"'
    if collation.case_sensitive:
        return '"binary"' if collation.accent_sensitive else "noaccent"
    return "nocase" if collation.accent_sensitive else "nocase.noaccent"


def _binary(node: exp.Expression) -> exp.Expression:
    # Parenthesized: COLLATE binds tighter than ||, and DuckDB refuses to join two collations.
    return exp.Collate(this=exp.Paren(this=node), expression=_BINARY.copy())


def rtrim(node: exp.Expression) -> exp.Expression:
    """``node`` without trailing spaces."""
    # SQL Server pads the shorter operand with spaces before comparing (ANSI/ISO SQL-92).
    return exp.func("rtrim", node, exp.Literal.string(" "))


def search_key(node: exp.Expression, collation: Collation) -> exp.Expression:
    """``node`` folded so that equal characters under the collation are one character.

    Length-preserving (one character in, one out) except where accent stripping drops a
    separate combining mark, so positions found in the key are positions in the text.
    """
    if collation.binary:
        return node
    keys, values = translation(collation)
    if keys:
        node = exp.func("translate", node, exp.Literal.string(keys), exp.Literal.string(values))
    if not collation.case_sensitive:
        node = exp.Lower(this=node)
    if not collation.accent_sensitive:
        node = exp.func("strip_accents", node)
    return node


def equality_key(node: exp.Expression, collation: Collation) -> exp.Expression:
    """What ``=``, ``<>`` and IN compare under the collation (trailing spaces ignored)."""
    return _binary(search_key(rtrim(node), collation))


@lru_cache(maxsize=1)
def _case_swap() -> tuple[str, str]:
    """Every BMP letter with a one-character other case -> that case (for the tertiary key)."""
    keys, values = [], []
    for code in range(0x41, 0x10000):
        char = chr(code)
        other = char.lower() if char.isupper() else char.upper() if char.islower() else char
        if len(other) == 1 and other != char:
            keys.append(char)
            values.append(other)
    return "".join(keys), "".join(values)


def order_key(node: exp.Expression, collation: Collation) -> exp.Expression:
    """What ORDER BY, ``<``, ``>``, BETWEEN, MIN and MAX compare under the collation.

    Binary: the code points. Otherwise three levels, each compared code point by code point:
    the case- and accent-free fold; then (under _AS) the case-free fold with its accents;
    then (under _CS) the text with its case swapped, so that lower case sorts ahead of upper
    case. U+0001 joins the levels, so a shorter key still sorts first (module docstring).
    """
    trimmed = rtrim(node)
    if collation.binary:
        return _binary(trimmed)
    caseless = search_key(trimmed.copy(), replace(collation, case_sensitive=False, accent_sensitive=True))
    levels = [exp.func("strip_accents", caseless.copy())]
    if collation.accent_sensitive:
        levels.append(caseless)
    if collation.case_sensitive:
        keys, values = _case_swap()
        exact = search_key(trimmed.copy(), replace(collation, case_sensitive=True))
        levels.append(exp.func("translate", exact, exp.Literal.string(keys), exp.Literal.string(values)))
    key = levels[0]
    for level in levels[1:]:
        key = exp.DPipe(this=exp.DPipe(this=key, expression=exp.Literal.string("\x01")), expression=level)
    return _binary(key)


def _class(collation: Collation, char: str) -> str:
    """A regular-expression (RE2) atom matching every character equal to ``char``."""
    chars = equivalents(collation, char)
    atoms = "".join(f"\\x{{{ord(c):x}}}" for c in chars)
    return atoms if len(chars) == 1 else f"[{atoms}]"


def replace_pattern(pattern: str, collation: Collation) -> str | None:
    """An RE2 pattern finding ``pattern`` under the collation, None if plain search finds it."""
    if collation.binary or not any(len(equivalents(collation, c)) > 1 for c in pattern):
        return None
    return "".join(_class(collation, c) for c in pattern)


def like_regex(pattern: str, collation: Collation, escape: str | None = None) -> str:
    """A T-SQL LIKE pattern (%, _, [abc], [a-f], [^abc], ESCAPE) as an RE2 pattern.

    https://learn.microsoft.com/en-us/sql/t-sql/language-elements/like-transact-sql
    The pattern's characters match every character the collation holds equal to them.
    """
    out, at = ["(?s)"], 0
    while at < len(pattern):
        char = pattern[at]
        if escape and char == escape and at + 1 < len(pattern):
            out.append(_class(collation, pattern[at + 1]))
            at += 2
            continue
        if char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        elif char == "[" and "]" in pattern[at + 1 :]:
            end = (
                pattern.index("]", at + 2) if pattern[at + 1 : at + 2] == "]" else pattern.index("]", at + 1)
            )
            body, at = pattern[at + 1 : end], end
            negate = body.startswith("^")
            body = body[1:] if negate else body
            members, index = [], 0
            while index < len(body):
                if index + 2 < len(body) and body[index + 1] == "-":
                    low, high = body[index], body[index + 2]
                    members.append(f"\\x{{{ord(low):x}}}-\\x{{{ord(high):x}}}")
                    for bound in (low, high):
                        members.extend(
                            f"\\x{{{ord(c):x}}}" for c in equivalents(collation, bound) if c != bound
                        )
                    index += 3
                else:
                    members.extend(f"\\x{{{ord(c):x}}}" for c in equivalents(collation, body[index]))
                    index += 1
            out.append(f"[{'^' if negate else ''}{''.join(members)}]" if members else "[^\\x{0}-\\x{10ffff}]")
        else:
            out.append(_class(collation, char))
        at += 1
    return "".join(out)


def replace_text(text: str | None, pattern: str | None, replacement: str | None, name: str) -> str | None:
    """REPLACE under a collation, for a pattern only known when the row is read (a DuckDB UDF)."""
    if text is None or pattern is None or replacement is None:
        return None
    if not pattern:
        return text
    collation = lookup(name)
    folded, wanted = _fold(text, collation), _fold(pattern, collation)
    out, at = [], 0
    while True:
        found = folded.find(wanted, at)
        if found < 0:
            out.append(text[at:])
            return "".join(out)
        out.append(text[at:found])
        out.append(replacement)
        at = found + len(wanted)


def pattern_index(pattern: str | None, text: str | None, name: str) -> int | None:
    """PATINDEX under a collation for a pattern only known when the row is read (a DuckDB UDF)."""
    if text is None or pattern is None:
        return None
    collation = lookup(name)
    if not pattern.startswith("%"):
        return 1 if _python_regex(like_regex(pattern, collation)).fullmatch(text) else 0
    rest = _python_regex(like_regex(pattern[1:], collation))
    return next((start + 1 for start in range(len(text)) if rest.fullmatch(text, start)), 0)


def _python_regex(pattern: str) -> re.Pattern:
    """An RE2 pattern of like_regex for Python's re, which spells code points \\UXXXXXXXX."""
    return re.compile(re.sub(r"\\x\{([0-9a-f]+)\}", lambda m: f"\\U{int(m.group(1), 16):08x}", pattern))


def _fold(text: str, collation: Collation) -> str:
    """The Python twin of search_key, one character per character."""
    out = []
    for char in text:
        folded = fold_char(collation, char)
        out.append(folded if len(folded) == 1 else char)
    return "".join(out)


def register_functions(connection) -> None:
    """The DuckDB functions REPLACE and PATINDEX fall back on when the pattern is not a constant."""
    connection.create_function(
        "ms_collate_replace",
        replace_text,
        ["VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR"],
        "VARCHAR",
        null_handling="special",
    )
    connection.create_function(
        "ms_collate_patindex",
        pattern_index,
        ["VARCHAR", "VARCHAR", "VARCHAR"],
        "BIGINT",
        null_handling="special",
    )
