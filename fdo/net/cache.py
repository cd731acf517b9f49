"""A small, bounded, thread-safe in-memory HTTP cache (TTL + ETag revalidation).

Resolution asks the same metadata again and again (a DOI resolved for the form, then
for the build, then for the launch); re-resolving a cached identifier must not cost a
round trip. Entries are fresh for ``ttl`` seconds; a stale entry with an ETag is
revalidated with ``If-None-Match`` and a ``304`` reuses the stored body.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

#: request headers that change the answer and therefore belong to the cache key
_KEY_HEADERS = ("accept", "accept-language", "authorization", "range")


def cache_key(method: str, url: str, headers: Mapping[str, str], extra: str = "") -> str:
    """Key of a request; credentials are hashed so the key never holds a token."""
    parts = [method.upper(), url, extra]
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in _KEY_HEADERS:
        if name in lowered:
            value = lowered[name]
            if name == "authorization":
                value = hashlib.sha256(value.encode()).hexdigest()
            parts.append(f"{name}={value}")
    return "\n".join(parts)


@dataclass
class Entry(Generic[T]):
    value: T
    stored: float
    etag: str | None


class TTLCache(Generic[T]):
    """LRU-bounded mapping key -> (value, time stored, etag)."""

    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max(0, max_entries)
        self._data: OrderedDict[str, Entry[T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[Entry[T] | None, bool]:
        """Return (entry, fresh?); a missing key gives (None, False)."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None, False
            self._data.move_to_end(key)
            return entry, (time.monotonic() - entry.stored) < self.ttl

    def put(self, key: str, value: T, etag: str | None) -> None:
        if self.max_entries == 0:
            return
        with self._lock:
            self._data[key] = Entry(value, time.monotonic(), etag)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def touch(self, key: str) -> None:
        """Mark an entry fresh again (after a 304)."""
        with self._lock:
            entry = self._data.get(key)
            if entry is not None:
                entry.stored = time.monotonic()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
