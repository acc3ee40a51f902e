"""Encoded result sets kept for replay: a repeated query with an unchanged answer costs one copy.

The engine gives a result set a ``cache_key`` when its rows depend only on data it can tell is
unchanged; the server stores the encoded COLMETADATA and row tokens under that key.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Hashable
from dataclasses import dataclass

DEFAULT_CACHE_BYTES = 512 * 1024 * 1024
CACHE_CHUNK_ROWS = 2048  # rows joined into one cached chunk


@dataclass
class CachedResult:
    chunks: list[bytes]  # COLMETADATA, then ROW/NBCROW tokens in chunks
    row_count: int
    size: int


class ResultCache:
    """Encoded result sets by ``ResultSet.cache_key``, least recently used dropped first."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._entries: collections.OrderedDict[Hashable, CachedResult] = collections.OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> CachedResult | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Hashable, entry: CachedResult) -> None:
        if entry.size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= old.size
            self._entries[key] = entry
            self._size += entry.size
            while self._size > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._size -= dropped.size
