"""Compiled queries kept for reuse, as SQL Server keeps execution plans in its plan cache.

SQL Server compiles a batch once and reuses the plan while nothing it depends on has changed:
"SQL Server has a pool of memory that is used to store both execution plans and data buffers
... SQL Server reuses any existing plan it finds", and a plan is recompiled after "changes made
to a table or view referenced by the query" among others
(https://learn.microsoft.com/en-us/sql/relational-databases/query-processing-architecture-guide,
"Execution plan caching and reuse" and "Recompiling execution plans"). Drivers rely on it: the
same text sent again costs the server no compilation.

The emulator's compilation is its translation (parsing the T-SQL, rewriting it for DuckDB) and
the DuckDB probe that describes the result's columns; for a wide query that is nearly all of
its cost. A :class:`Plan` holds what they produced. The engine keys a plan on the statement's
text, the session's database and user, and the catalog's version (bumped by every DDL and every
write, so a plan is recompiled more often than SQL Server would, never less), and keeps only:

- single SELECT statements whose translation is ``cacheable`` (no volatile function, no session
  variable, no view whose rows live outside DuckDB): their translation depends on nothing else;
- compiled outside a transaction that has written (whose tables other sessions may not see);
- in sessions without SET FMTONLY or SET IMPLICIT_TRANSACTIONS (which change what a SELECT does).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from devtools.mssql_emulator.results import Column

DEFAULT_PLANS = 512  # SQL Server bounds its cache by memory; these plans are a few kB each


@dataclass(frozen=True)
class Plan:
    """A SELECT compiled for DuckDB: its SQL, declared result columns and how to convert rows."""

    sql: str  # the translation, the result cache's key
    columns: list[Column]
    description: list  # DuckDB's, of ``sql``
    fetch_sql: str  # ``sql`` reshaped for a fast fetch (engine._fetch_friendly)
    convert: Callable | None  # rows from DuckDB's values to the declared types' (None: as they are)
    cacheable: bool  # the translation's verdict: its rows depend only on the data


class PlanCache:
    """Plans by key, least recently used dropped first; thread-safe."""

    def __init__(self, max_plans: int = DEFAULT_PLANS):
        self.max_plans = max_plans
        self._plans: collections.OrderedDict[Hashable, Plan] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0  # plans reused, for tests and profiling

    def get(self, key: Hashable) -> Plan | None:
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                return None
            self._plans.move_to_end(key)
            self.hits += 1
            return plan

    def put(self, key: Hashable, plan: Plan) -> None:
        with self._lock:
            self._plans[key] = plan
            self._plans.move_to_end(key)
            while len(self._plans) > self.max_plans:
                self._plans.popitem(last=False)
