"""Bounded per-process caches: float rows by text key, kept as one matrix (`RowCache`), and
plain dicts trimmed past a limit (`trim_cache`).

Text signals are cached per distinct description. Kept as one array per description, the
cache cost ~600 bytes an entry, each row pinned the whole batch matrix it was cut from, and
reading a batch back meant stacking thousands of small arrays. Here rows live in one
matrix, a dict maps keys to row slots, and a batch is read with one gather.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np


class RowCache:
    """Up to `capacity` rows of `width` floats by key; past it the older half is dropped.

    Safe to share between threads: lookups and additions hold a lock (slots move when the
    cache makes room).
    """

    def __init__(self, width: int, capacity: int) -> None:
        if capacity < 2:
            raise ValueError("a RowCache needs room for at least 2 rows")
        self.width = width
        self.capacity = capacity
        self._slots: dict[str, int] = {}
        # Allocated whole and filled from the front: untouched pages take no memory, and
        # the rows are never copied into a bigger matrix (old and new alive at once).
        self._rows = np.empty((capacity, width))
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._slots)

    def lookup(self, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, found): rows for all keys (undefined where not found), found per key."""
        with self._lock:
            slots = np.fromiter(
                (self._slots.get(key, -1) for key in keys), dtype=np.intp, count=len(keys)
            )
            found = slots >= 0
            rows = np.empty((len(keys), self.width))
            rows[found] = self._rows[slots[found]]
        return rows, found

    def add(self, keys: Sequence[str], rows: np.ndarray) -> None:
        """Remember `rows` under `keys` (the newest `capacity` of them if there are more)."""
        if len(keys) > self.capacity:
            keys, rows = keys[-self.capacity :], rows[-self.capacity :]
        with self._lock:
            fresh = [i for i, key in enumerate(keys) if key not in self._slots]
            if len(self._slots) + len(fresh) > self.capacity:
                self._keep_newest(max(0, min(self.capacity // 2, self.capacity - len(fresh))))
            start = len(self._slots)
            needed = start + len(fresh)
            self._rows[start:needed] = rows[fresh]
            self._slots.update(zip((keys[i] for i in fresh), range(start, needed), strict=True))

    def _keep_newest(self, count: int) -> None:
        """Keep the `count` most recently added keys, their rows moved to the front."""
        kept = list(itertools.islice(self._slots.items(), len(self._slots) - count, None))
        slots = np.fromiter((slot for _, slot in kept), dtype=np.intp, count=len(kept))
        self._rows[: len(kept)] = self._rows[slots]
        self._slots = {key: position for position, (key, _) in enumerate(kept)}


def trim_cache(cache: dict[Any, Any], limit: int) -> None:
    """Past `limit` entries, drop the older half (insertion order): a flood of unique keys
    must not grow memory, and dropping all would make the next batch start cold."""
    if len(cache) > limit:
        # One C-level pass over the keys: no other thread runs in the middle of it.
        for key in list(itertools.islice(cache, len(cache) - limit // 2)):
            cache.pop(key, None)
