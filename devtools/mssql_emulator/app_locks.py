"""sp_getapplock / sp_releaseapplock: exclusive application locks owned by a session.

https://learn.microsoft.com/en-us/sql/relational-databases/system-stored-procedures/sp-getapplock-transact-sql
returns 0 (granted at once), 1 (granted after waiting), -1 (timed out);
https://learn.microsoft.com/en-us/sql/relational-databases/system-stored-procedures/sp-releaseapplock-transact-sql
returns 0, or -999 when the lock was not held. Every lock mode is taken as Exclusive, and a
lock stays until released (the owner's disconnect does not free it).
"""

from __future__ import annotations

import threading
import time

_held: dict[str, tuple[int, int]] = {}  # resource (lower) -> (owner spid, times taken)
_changed = threading.Condition()


def get(spid: int, arguments: dict[str, object]) -> int:
    resource = str(arguments.get("resource") or "").lower()
    timeout_ms = arguments.get("locktimeout")
    deadline = (
        None if timeout_ms is None or int(timeout_ms) < 0 else time.monotonic() + int(timeout_ms) / 1000
    )
    waited = False
    with _changed:
        while resource in _held and _held[resource][0] != spid:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return -1
            waited = True
            _changed.wait(remaining)
        owner, count = _held.get(resource, (spid, 0))
        _held[resource] = (owner, count + 1)
    return 1 if waited else 0


def release(spid: int, arguments: dict[str, object]) -> int:
    resource = str(arguments.get("resource") or "").lower()
    with _changed:
        owner, count = _held.get(resource, (None, 0))
        if owner != spid:
            return -999
        if count > 1:
            _held[resource] = (owner, count - 1)
        else:
            del _held[resource]
        _changed.notify_all()
    return 0
