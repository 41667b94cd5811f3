"""A small per-party cache of histories and watch-list entries, for the HTTP path.

A declaration has two parties; reading their parcels and watch entries from the store
costs two queries, far more than scoring allows. The cache keeps each party's records for
a short time (`PARCEL_SCREEN_HISTORY_CACHE_SECONDS`) and drops a party at once when this
process learns its history changed: a parcel of it scored, an outcome posted on one of its
parcels, the watch list changed, the party forgotten. Changes made by other replicas
sharing a PostgreSQL store are seen once the entry expires, so the TTL bounds how stale a
replica can be.

A load that overlapped an invalidation is answered but not kept, so a stale read never
outlives the change that made it stale.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from service.store.parcels import utc_naive
from training.history import PartyParcel, WatchEntry

# Parties kept at most (least recently used go first): ~1 KB each with a few parcels.
DEFAULT_MAX_PARTIES: Final = 50_000

LoadParcels = Callable[[Collection[str]], dict[str, list[PartyParcel]]]
LoadWatch = Callable[[Collection[str]], list[WatchEntry]]


@dataclass(frozen=True)
class _Entry:
    expires: float
    parcels: tuple[PartyParcel, ...]
    # Every entry of the party, expired ones too: which are active depends on the moment asked.
    watch: tuple[WatchEntry, ...]


class HistoryCache:
    """Party parcels and watch entries, as the store answers them, kept for `ttl` seconds."""

    def __init__(
        self,
        load_parcels: LoadParcels,
        load_watch: LoadWatch,
        *,
        ttl: float = 5.0,
        max_parties: int = DEFAULT_MAX_PARTIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load_parcels = load_parcels
        self._load_watch = load_watch
        self.ttl = ttl
        self.max_parties = max_parties
        # Public so a test can move time on instead of sleeping.
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        # Bumped by every invalidation; a load that saw it change is not kept.
        self._generation = 0
        self.hits = 0
        self.misses = 0

    def party_parcels(self, party_ids: Collection[str]) -> dict[str, list[PartyParcel]]:
        """Every parcel each party took part in (within the retention window)."""
        return {party: list(entry.parcels) for party, entry in self._get(party_ids).items()}

    def watch_entries(self, party_ids: Collection[str], at: datetime) -> list[WatchEntry]:
        """The watch-list entries of the parties active at `at` (UTC)."""
        moment = utc_naive(at)
        return [
            watch
            for entry in self._get(party_ids).values()
            for watch in entry.watch
            if watch.active_at(moment)
        ]

    def invalidate(self, party_ids: Iterable[str]) -> None:
        with self._lock:
            self._generation += 1
            for party in party_ids:
                self._entries.pop(party, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def _get(self, party_ids: Collection[str]) -> dict[str, _Entry]:
        now = self.clock()
        found: dict[str, _Entry] = {}
        missing: list[str] = []
        with self._lock:
            generation = self._generation
            for party in party_ids:
                if not party or party in found:
                    continue
                entry = self._entries.get(party)
                if entry is not None and entry.expires > now:
                    self._entries.move_to_end(party)
                    found[party] = entry
                else:
                    missing.append(party)
        self.hits += len(found)
        if not missing:
            return found
        self.misses += len(missing)
        loaded = self._load_parcels(missing)
        watch: dict[str, list[WatchEntry]] = {party: [] for party in missing}
        for listed in self._load_watch(missing):
            watch.setdefault(listed.party_id, []).append(listed)
        expires = now + self.ttl
        fresh = {
            party: _Entry(expires, tuple(loaded.get(party, ())), tuple(watch[party]))
            for party in missing
        }
        found.update(fresh)
        if self.ttl > 0:
            with self._lock:
                if self._generation == generation:
                    self._entries.update(fresh)
                    while len(self._entries) > self.max_parties:
                        self._entries.popitem(last=False)
        return found
