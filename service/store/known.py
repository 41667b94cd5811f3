"""Which parties the store holds anything about, so the HTTP path can skip the store for
parties it has never seen.

Most senders ship once: a declaration's two parties are usually unknown to the store, and
asking it costs ~0.6 ms a declaration (two SQL queries through SQLAlchemy), several times
what scoring costs. This index answers "might the store know this party?" in a
microsecond, with no false negatives: a party is either in it (the store is asked, and may
say nothing after all) or certainly unknown (no parcels, no watch-list entry), in which
case its history is empty.

It holds Python's hash of each party id (the process's own: the index never leaves it) in
a sorted array, 8 bytes a party, plus a set of the parties added since the array was last
rebuilt. This process adds the parties it records as it commits them; parties other
replicas record (sharing a PostgreSQL store) are read every `ttl` seconds, the same bound
on staleness as the history cache's, in a thread of their own: the request that finds a
read due goes on with what is known (the read covers the last minute and more, ~60 ms
under load, which on the event loop stopped every request in flight).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Final

import numpy as np

log = logging.getLogger(__name__)

# Parties added one by one are merged into the sorted array when there are this many.
_MERGE_AT: Final = 10_000
# Replicas' clocks differ: parties recorded a little before the last refresh are read again.
_CLOCK_SLACK: Final = timedelta(minutes=1)

LoadAll = Callable[[], Iterable[str]]
LoadSince = Callable[[datetime], Iterable[str]]


class KnownParties:
    """A membership test over the parties of the store (no false negatives)."""

    def __init__(
        self,
        load_all: LoadAll,
        load_since: LoadSince,
        *,
        ttl: float,
        clock: Callable[[], float],
        wall_clock: Callable[[], datetime],
    ) -> None:
        self._load_all = load_all
        self._load_since = load_since
        self.ttl = ttl
        self.clock = clock
        self.wall_clock = wall_clock
        self._hashes = np.zeros(0, dtype=np.int64)
        self._recent: set[str] = set()
        self._lock = threading.Lock()
        self._loaded = False
        self._refresh_due = 0.0
        self._refreshed_at: datetime | None = None
        self._refresher: threading.Thread | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self) -> None:
        """Read every party of the store. Until this succeeds, every party is 'might know'."""
        started = self.wall_clock()
        parties = {party for party in self._load_all() if party}
        hashes = np.unique(np.fromiter((hash(p) for p in parties), np.int64, len(parties)))
        with self._lock:
            self._hashes = hashes
            self._recent.clear()
            self._refreshed_at = started
            self._refresh_due = self.clock() + self.ttl
            self._loaded = True
        log.info("known parties loaded", extra={"parties": len(parties)})

    def add(self, parties: Iterable[str]) -> None:
        """Parties this process has just recorded."""
        with self._lock:
            self._recent.update(p for p in parties if p)
            if len(self._recent) >= _MERGE_AT:
                self._merge()

    def might_know(self, party: str) -> bool:
        if not self._loaded:
            return True
        if self.ttl > 0 and self.clock() >= self._refresh_due:
            self._start_refresh()
        if party in self._recent:
            return True
        hashes = self._hashes
        at = int(np.searchsorted(hashes, hash(party)))
        return at < len(hashes) and int(hashes[at]) == hash(party)

    def _merge(self) -> None:
        added = np.fromiter((hash(p) for p in self._recent), np.int64, len(self._recent))
        self._hashes = np.union1d(self._hashes, added)
        self._recent.clear()

    def wait_refreshed(self, timeout: float | None = None) -> None:
        """Wait for a read of recent parties under way, if any, to end."""
        refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout)

    def _start_refresh(self) -> None:
        """Start reading the parties recorded since the last read (other replicas' among
        them), unless a read is under way or not due."""
        with self._lock:
            if (
                self.clock() < self._refresh_due
                or self._refreshed_at is None
                or (self._refresher is not None and self._refresher.is_alive())
            ):
                return
            since = self._refreshed_at - _CLOCK_SLACK
            self._refresh_due = self.clock() + self.ttl
            self._refresher = threading.Thread(
                target=self._refresh, args=(since,), name="known-parties", daemon=True
            )
            self._refresher.start()

    def _refresh(self, since: datetime) -> None:
        started = self.wall_clock()
        try:
            parties = [p for p in self._load_since(since) if p]
        except Exception:  # the store is down: keep what is known, try again next time
            log.warning("known parties: refresh failed", exc_info=True)
            return
        with self._lock:
            self._recent.update(parties)
            self._refreshed_at = started
            if len(self._recent) >= _MERGE_AT:
                self._merge()
