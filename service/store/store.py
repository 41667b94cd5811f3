"""`Store`: the one object the service and the CLI hold for audit, feedback, party
history and the watch list.

The app state keeps one (`state.store`): its `audit` writer records scorings, its
`history` cache answers party histories on the HTTP path, and its methods serve the admin
routes and the CLI. Every method that touches the database waits out a lock up to the
store's `lock_wait` and raises `StoreUnavailableError` past it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.settings import SettingsError, StoreSettings
from service.store import history, parcels, watchlist
from service.store.audit import AuditLog
from service.store.cache import HistoryCache
from service.store.engine import Database, StoreUnavailableError, StoreUrlError
from service.store.export import export_feedback, export_scored
from service.store.known import KnownParties
from training.history import PartyParcel, Role, WatchEntry

log = logging.getLogger(__name__)

# Parcels older than this many days are neither returned nor kept (see settings).
DEFAULT_RETENTION_DAYS = 730


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Store:
    def __init__(
        self,
        database: Database,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        **audit_options: Any,
    ) -> None:
        self.database = database
        self.retention_days = retention_days
        self.known = KnownParties(
            lambda: database.run(parcels.parties),
            lambda since: database.run(lambda connection: parcels.parties(connection, since)),
            ttl=cache_seconds,
            clock=clock,
            wall_clock=_now,
        )
        self.history = HistoryCache(
            self._party_records,
            ttl=cache_seconds,
            clock=clock,
            known=self.known,
        )
        self.audit = AuditLog(
            database,
            lock_wait=database.lock_wait,
            retention_days=retention_days,
            on_parties=self.history.recorded,
            on_parcels=self._parcels_written,
            **audit_options,
        )

    def _parcels_written(self, written: list[parcels.ParcelFacts]) -> None:
        self.history.add_parcels(
            (
                PartyParcel(
                    declaration_id=fact.declaration_id,
                    posted_at=fact.posted_at or fact.scored_at,
                    sender_id=fact.sender_id,
                    recipient_id=fact.recipient_id,
                    destination_country=fact.destination_country,
                    gross_weight_kg=fact.gross_weight_kg,
                    decision=fact.decision,
                    names_gear=fact.names_gear,
                    first_pass_score=fact.first_pass_score,
                ),
                fact.posted_at is not None,
            )
            for fact in written
        )

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        """Migrate the schema (if it can be reached), start the audit writer, and read which
        parties the store knows (until then every party is looked up)."""
        self.audit.open()
        try:
            self.known.load()
        except StoreUnavailableError as exc:
            log.warning("known parties not loaded: %s", exc)

    def close(self) -> None:
        """Commit what the writer holds and let go of the database."""
        self.audit.close()
        self.database.dispose()

    # -- party history (uncached; `history` is the cached view) ---------------------------

    def party_parcels(
        self, party_ids: Collection[str], *, now: datetime | None = None
    ) -> dict[str, list[PartyParcel]]:
        """Every parcel each party took part in as sender or recipient, posted within the
        retention window, with the outcome that stands for it; oldest first."""
        since = parcels.cutoff(now or _now(), self.retention_days)
        return self.database.run(
            lambda connection: parcels.party_parcels(connection, party_ids, since)
        )

    def _party_records(
        self, party_ids: Collection[str]
    ) -> tuple[dict[str, list[PartyParcel]], list[WatchEntry]]:
        """The parties' parcels (as `party_parcels`) and watch-list entries (expired ones
        too), in one transaction: what the history cache loads for a party it lacks."""
        since = parcels.cutoff(_now(), self.retention_days)
        if self.database.dialect == "sqlite":
            # On SQLite's own connection: the same queries, without SQLAlchemy's handling of
            # the connection and transaction around them (pinned to `read` by the tests).
            return self.database.run_sqlite(
                lambda driver: (
                    parcels.sqlite_party_parcels(driver, party_ids, since),
                    watchlist.sqlite_entries(driver, party_ids),
                )
            )
        return self._party_records_by(party_ids, since)

    def _party_records_by(
        self, party_ids: Collection[str], since: datetime
    ) -> tuple[dict[str, list[PartyParcel]], list[WatchEntry]]:
        """`_party_records` through SQLAlchemy's connection (PostgreSQL; the plain way)."""

        def read(connection: Any) -> tuple[dict[str, list[PartyParcel]], list[WatchEntry]]:
            return (
                parcels.party_parcels(connection, party_ids, since),
                watchlist.entries(connection, party_ids),
            )

        return self.database.run(read)

    def watch_entries(self, party_ids: Collection[str], at: datetime) -> list[WatchEntry]:
        """The watch-list entries of the parties active at `at` (UTC)."""
        moment = parcels.utc_naive(at)
        return [entry for entry in self._all_watch_entries(party_ids) if entry.active_at(moment)]

    def _all_watch_entries(self, party_ids: Collection[str]) -> list[WatchEntry]:
        return self.database.run(lambda connection: watchlist.entries(connection, party_ids))

    def party_history(self, party_id: str, *, now: datetime | None = None) -> history.PartyHistory:
        """`history show`: a party's parcels summed up, and its watch-list entries."""
        party = watchlist.check_party(party_id)
        records = self.party_parcels([party], now=now)[party]
        entries = self._all_watch_entries([party])
        return history.summarise(party, records, entries)

    def forget(self, party_id: str, *, by: str) -> history.Forgotten:
        """`history forget`: remove everything the store keeps about a party (see
        `history`); parcels past the retention window go at the same time."""
        party = watchlist.check_party(party_id)
        now = _now()
        forgotten = self.database.run(lambda connection: history.forget(connection, party, by, now))
        # Its counterparties' cached parcels name it too: forgetting is rare, drop them all.
        self.history.clear()
        self.purge(now=now)
        return forgotten

    def purge(self, *, now: datetime | None = None) -> int:
        """Remove parcels posted before the retention window; returns how many."""
        before = parcels.cutoff(now or _now(), self.retention_days)
        removed = self.database.run(lambda connection: parcels.purge(connection, before))
        if removed:
            self.history.clear()
        return removed

    # -- watch list -----------------------------------------------------------------------

    def watch_list(self) -> list[WatchEntry]:
        """Every entry, expired ones included, by party and role."""
        return self.database.run(watchlist.entries)

    def watch(
        self,
        party_id: Any,
        role: Any,
        reason: Any,
        expires: Any = None,
        *,
        by: str,
        now: datetime | None = None,
    ) -> tuple[WatchEntry, bool]:
        """Put a party on the list (or update its entry for that role); returns the entry
        and whether it is new. `WatchListError` names a field that does not fit."""
        moment = now or _now()
        entry = watchlist.check(party_id, role, reason, expires, moment)
        created = self.database.run(lambda connection: watchlist.put(connection, entry, by, moment))
        self.history.recorded({entry.party_id})
        return (
            WatchEntry(entry.party_id, entry.role, entry.reason, by, moment, entry.expires_at),
            created,
        )

    def unwatch(self, party_id: Any, *, by: str, role: Role | None = None) -> list[WatchEntry]:
        """Take a party off the list; returns the entries removed (none: it was not on it)."""
        party = watchlist.check_party(party_id)
        removed = self.database.run(
            lambda connection: watchlist.remove(connection, party, by, _now(), role)
        )
        self.history.invalidate([party])
        return removed

    def import_watch_list(self, path: Path, *, by: str) -> int:
        """Add or update every entry of a CSV file, all or nothing; returns the entries.

        `WatchListImportError` lists every bad row (row number and field)."""
        now = _now()
        entries = watchlist.read_import(path, now)

        def put_all(connection: Any) -> None:
            for entry in entries:
                watchlist.put(connection, entry, by, now, action="import")

        self.database.run(put_all)
        self.history.recorded({entry.party_id for entry in entries})
        return len(entries)

    # -- exports --------------------------------------------------------------------------

    def export_feedback(self, dest: Path) -> int:
        return export_feedback(self.database, dest)

    def export_scored(self, dest: Path, since: str | None = None) -> int:
        return export_scored(self.database, dest, since)


def database_of(settings: StoreSettings, lock_wait: float = 10.0) -> Database:
    """The store the settings name (`PARCEL_SCREEN_DATABASE_URL`, or the superseded
    `PARCEL_SCREEN_AUDIT_DB` file); `SettingsError` for a URL the store cannot use."""
    try:
        if settings.database_url is None and settings.audit_db is not None:
            return Database.sqlite(settings.audit_db, lock_wait=lock_wait)
        return Database(settings.store_url(), lock_wait=lock_wait)
    except StoreUrlError as exc:
        raise SettingsError(str(exc)) from None


def store_of(settings: StoreSettings, lock_wait: float = 10.0, **audit_options: Any) -> Store:
    """The store the settings name, with their retention and cache time."""
    return Store(
        database_of(settings, lock_wait),
        retention_days=settings.history_retention_days,
        cache_seconds=settings.history_cache_seconds,
        **audit_options,
    )
