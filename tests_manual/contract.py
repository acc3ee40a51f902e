"""The data contract's conversions in plain Python: the one oracle of tests/ and tests_manual/.

Written from ``shared/contract/README.md``, independently of the engine (which converts in SQL),
so a side-by-side comparison checks the engine rather than repeating it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def _blank(value: Any) -> bool:
    return value is None or str(value).strip(" ") == ""


def _datetime2_text(value: str) -> dt.datetime:
    # 'YYYY-MM-DD hh:mm:ss.fffffff' (CONVERT style 121): keep six digits, truncating the seventh.
    day, clock = value.split(" ")
    whole, _, fraction = clock.partition(".")
    return dt.datetime.fromisoformat(f"{day} {whole}").replace(microsecond=int((fraction + "000000")[:6]))


def expected_value(conversion: str, raw: Any) -> Any:
    """What the contract says PostgreSQL must hold for the raw source value ``raw``."""
    if conversion == "trim":
        return raw.rstrip(" ")
    if conversion == "trim_empty_null":
        return None if _blank(raw) else raw.rstrip(" ")
    if conversion == "sap_date":
        if _blank(raw) or raw == "00000000":
            return None
        return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
    if conversion == "sap_time":
        return None if _blank(raw) else dt.time(int(raw[:2]), int(raw[2:4]), int(raw[4:6]))
    if conversion == "sap_numc_int":
        return None if _blank(raw) else int(raw)
    if conversion == "sap_flag":
        return (raw or "").rstrip(" ") == "X"
    if conversion == "date_part":
        return None if raw is None else raw.date()
    if conversion == "datetime2_to_us":
        return None if raw is None else _datetime2_text(raw)
    if conversion == "none":
        return raw
    raise ValueError(f"the contract has no conversion {conversion!r}")
