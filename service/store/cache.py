"""A small per-party cache of histories and watch-list entries, for the HTTP path.

A declaration has two parties; reading their parcels and watch entries from the store
(two queries in one transaction) costs more than scoring allows. The cache keeps each
party's records for a short time (`PARCEL_SCREEN_HISTORY_CACHE_SECONDS`) and drops a party
at once when this process learns its history changed: a parcel of it scored, an outcome
posted on one of its parcels, the watch list changed, the party forgotten. Changes made by
other replicas sharing a PostgreSQL store are seen once the entry expires, so the TTL
bounds how stale a replica can be.

A load that overlapped an invalidation of one of its parties is answered but not kept, so
a stale read never outlives the change that made it stale; invalidations of other parties
(every commit of the audit writer makes some) do not stop it being kept. Parties the store
has never seen (most senders ship once) are answered from `KnownParties` without a query.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from service.store.known import KnownParties
from service.store.parcels import utc_naive
from training.history import PartyParcel, PartySummary, WatchEntry

# Parties kept at most (least recently used go first): ~1 KB each with a few parcels.
DEFAULT_MAX_PARTIES: Final = 50_000

# What the store holds of some parties, read together: each one's parcels, and their
# watch-list entries (expired ones too).
Load = Callable[[Collection[str]], tuple[Mapping[str, list[PartyParcel]], list[WatchEntry]]]


@dataclass
class _Entry:
    expires: float
    parcels: tuple[PartyParcel, ...]
    # Every entry of the party, expired ones too: which are active depends on the moment asked.
    watch: tuple[WatchEntry, ...]
    # The parcels summed up, made on first use (an entry is replaced, never changed).
    summary: PartySummary | None = None


# The answer for a party the store has never seen.
_NOTHING: Final = _Entry(float("inf"), (), ())


class HistoryCache:
    """Party parcels and watch entries, as the store answers them, kept for `ttl` seconds."""

    def __init__(
        self,
        load: Load,
        *,
        ttl: float = 5.0,
        max_parties: int = DEFAULT_MAX_PARTIES,
        clock: Callable[[], float] = time.monotonic,
        known: KnownParties | None = None,
    ) -> None:
        self._load = load
        self.ttl = ttl
        self.max_parties = max_parties
        # Public so a test can move time on instead of sleeping.
        self.clock = clock
        self.known = known
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        # Bumped by every invalidation. A load is not kept for a party invalidated since it
        # began (`_invalidated`: party -> generation, the oldest forgotten past `_floor`).
        self._generation = 0
        self._invalidated: OrderedDict[str, int] = OrderedDict()
        self._floor = 0
        self.hits = 0
        self.misses = 0

    def party_parcels(self, party_ids: Collection[str]) -> dict[str, list[PartyParcel]]:
        """Every parcel each party took part in (within the retention window)."""
        return {party: list(entry.parcels) for party, entry in self._get(party_ids).items()}

    def summaries(self, party_ids: Collection[str]) -> dict[str, PartySummary]:
        """Each party's parcels summed up (`training.history.PartySummary`), kept with them."""
        return _summaries(self._get(party_ids))

    def watch_entries(self, party_ids: Collection[str], at: datetime) -> list[WatchEntry]:
        """The watch-list entries of the parties active at `at` (UTC)."""
        return _active_watch(self._get(party_ids), at)

    def summaries_and_watch(
        self, party_ids: Collection[str], at: datetime
    ) -> tuple[dict[str, PartySummary], list[WatchEntry]]:
        """`summaries(party_ids)` and `watch_entries(party_ids, at)` from one lookup: what
        one declaration's history facts read (one lock, one look at the known parties, one
        store read for the parties missing, instead of two of each)."""
        entries = self._get(party_ids)
        return _summaries(entries), _active_watch(entries, at)

    def invalidate(self, party_ids: Iterable[str]) -> None:
        with self._lock:
            self._generation += 1
            for party in party_ids:
                self._entries.pop(party, None)
                self._invalidated[party] = self._generation
                self._invalidated.move_to_end(party)
            while len(self._invalidated) > self.max_parties:
                _, generation = self._invalidated.popitem(last=False)
                self._floor = max(self._floor, generation)

    def recorded(self, party_ids: set[str]) -> None:
        """Parties whose history changed (an outcome, a watch-list entry): the store now
        knows them, and what is kept of them is dropped."""
        if self.known is not None:
            self.known.add(party_ids)
        self.invalidate(party_ids)

    def add_parcels(self, written: Iterable[tuple[PartyParcel, bool]]) -> None:
        """Parcels this process just committed (each with whether its scoring had a
        posted_at), as the store now holds them: added to the entries kept of their parties
        (a parcel scored again replaces its record, keeps its outcome, and keeps its date
        when this scoring had none), so a party's next parcel reads its history without a
        query."""
        records = list(written)
        parties = {p for r, _ in records for p in (r.sender_id, r.recipient_id) if p}
        if self.known is not None:
            self.known.add(parties)
        with self._lock:
            self._generation += 1
            for party in parties:
                # A load begun before this commit lacks the parcel: not to be kept.
                self._invalidated[party] = self._generation
                self._invalidated.move_to_end(party)
                entry = self._entries.get(party)
                if entry is None:
                    continue
                mine = [
                    (r, dated) for r, dated in records if party in (r.sender_id, r.recipient_id)
                ]
                self._entries[party] = _with_parcels(entry, mine)
            while len(self._invalidated) > self.max_parties:
                _, generation = self._invalidated.popitem(last=False)
                self._floor = max(self._floor, generation)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._floor = self._generation
            self._invalidated.clear()
            self._entries.clear()

    def _kept(self, party: str, generation: int) -> bool:
        """Whether a load begun at `generation` may be kept for `party` (lock held)."""
        return generation >= self._floor and self._invalidated.get(party, -1) <= generation

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
        if self.known is not None and missing:
            # Never seen by the store: nothing to read (and nothing worth keeping).
            unknown = [party for party in missing if not self.known.might_know(party)]
            for party in unknown:
                found[party] = _NOTHING
            missing = [party for party in missing if party not in found]
        if not missing:
            return found
        self.misses += len(missing)
        loaded, listed_entries = self._load(missing)
        watch: dict[str, list[WatchEntry]] = {party: [] for party in missing}
        for listed in listed_entries:
            watch.setdefault(listed.party_id, []).append(listed)
        expires = now + self.ttl
        fresh = {
            party: _Entry(expires, tuple(loaded.get(party, ())), tuple(watch[party]))
            for party in missing
        }
        found.update(fresh)
        if self.ttl > 0:
            with self._lock:
                self._entries.update(
                    (party, entry)
                    for party, entry in fresh.items()
                    if self._kept(party, generation)
                )
                while len(self._entries) > self.max_parties:
                    self._entries.popitem(last=False)
        return found


def _summaries(entries: Mapping[str, _Entry]) -> dict[str, PartySummary]:
    out: dict[str, PartySummary] = {}
    for party, entry in entries.items():
        if not entry.parcels:
            continue
        if entry.summary is None:
            entry.summary = PartySummary(party, entry.parcels)
        out[party] = entry.summary
    return out


def _active_watch(entries: Mapping[str, _Entry], at: datetime) -> list[WatchEntry]:
    moment = utc_naive(at)
    return [watch for entry in entries.values() for watch in entry.watch if watch.active_at(moment)]


def _with_parcels(entry: _Entry, records: list[tuple[PartyParcel, bool]]) -> _Entry:
    """An entry with parcels added or replaced by declaration id, oldest first."""
    by_id = {parcel.declaration_id: parcel for parcel in entry.parcels}
    for written, dated in records:
        known = by_id.get(written.declaration_id)
        by_id[written.declaration_id] = (
            written
            if known is None
            else replace(
                written,
                outcome=known.outcome,
                outcome_at=known.outcome_at,
                posted_at=written.posted_at if dated else known.posted_at,
            )
        )
    ordered = sorted(by_id.values(), key=lambda p: (p.posted_at, p.declaration_id))
    return _Entry(entry.expires, tuple(ordered), entry.watch)
