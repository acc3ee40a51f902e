"""Every case of the documented-behaviour corpus, run through pymssql against the emulator.

The corpus (``corpus/documented_behaviour.yaml``) holds what Microsoft's pages say SQL Server
returns; this module only runs it. A case marked ``gap`` is a known difference: it runs as a
strict xfail, so it must still fail, and a fixed gap fails this test until its mark goes. The
emulator README states the score; ``test_readme_states_the_score`` keeps that number true.
"""

from __future__ import annotations

import decimal
import re
import uuid
from pathlib import Path

import pymssql
import pytest
import yaml

CORPUS = Path(__file__).parent / "corpus" / "documented_behaviour.yaml"
README = Path(__file__).parents[2] / "devtools" / "mssql_emulator" / "README.md"
_OUTCOMES = ("value", "result", "error")


def _load() -> list[dict]:
    cases = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["cases"]
    for case in cases:
        named = [key for key in _OUTCOMES if key in case]
        if len(named) != 1 or not str(case.get("source", "")).startswith("https://"):
            raise ValueError(
                f"{CORPUS.name}: case {case.get('id')!r} needs one of {_OUTCOMES} and an https source"
            )
    return cases


CASES = _load()


def _params():
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case["gap"])] if "gap" in case else []
        yield pytest.param(case, id=case["id"], marks=marks)


@pytest.fixture(scope="module")
def conn(emulator):
    connection = pymssql.connect(**emulator.connect_kwargs(login_timeout=10, timeout=60, autocommit=True))
    yield connection
    connection.close()


def _plain(value):
    """A fetched value as the corpus writes it (decimals as text, binary as 0x hex)."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex().upper()
    if isinstance(value, uuid.UUID):
        return str(value).upper()
    return value


def _statement(case: dict) -> str:
    sql = case["sql"]
    if "repeat_values" in case:  # a VALUES list of that many copies of the one row written
        head, row = sql.split("VALUES", 1)
        sql = f"{head}VALUES " + ", ".join([row.strip()] * case["repeat_values"])
    return sql


def _run(conn, sql: str) -> list[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []


@pytest.mark.parametrize("case", list(_params()))
def test_documented_case(conn, case):
    try:
        for statement in case.get("setup") or []:
            _run(conn, statement)
        if "error" in case:
            with pytest.raises(pymssql.Error) as caught:
                _run(conn, _statement(case))
            assert caught.value.args[0] == case["error"], caught.value
        else:
            expected = [[case["value"]]] if "value" in case else case["result"]
            rows = [[_plain(v) for v in row] for row in _run(conn, _statement(case))]
            assert rows == expected
    finally:
        for statement in case.get("cleanup") or []:
            _run(conn, statement)


def test_corpus_is_large_and_every_source_is_a_primary_one():
    assert len(CASES) >= 150
    assert len({case["id"] for case in CASES}) == len(CASES)
    for case in CASES:
        assert re.match(r"https://learn\.microsoft\.com/", case["source"]), case["id"]


def test_readme_states_the_score():
    gaps = sum(1 for case in CASES if "gap" in case)
    stated = f"{len(CASES) - gaps} of {len(CASES)} cases pass ({gaps} known gaps)"
    assert stated in README.read_text(encoding="utf-8")
