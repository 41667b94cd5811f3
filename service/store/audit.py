"""The audit writer: scored declarations queued by requests, committed by one thread.

Requests append records to a queue and never wait on the store; one writer thread turns
them into rows and commits them in batches, each batch with the parcels it scored (the
party history). Closing the log drains the queue, so a clean shutdown loses no row. A
locked store is waited out; past the wait, or when the store fails (a full disk, a file
gone, a PostgreSQL server down), rows go to a spill file and into the store once it
recovers; a SQLite file deleted or replaced while serving is opened afresh. Feedback is
rare and must be checked against what was scored, so it is written directly, after the
queue has been flushed to the store. Parcels past the retention window are purged by the
same thread, now and then.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from service.store import feedback as feedback_store
from service.store import parcels
from service.store.engine import STORE_ERRORS, Database, StoreUnavailableError, is_lock
from service.store.records import (
    SCORED_COLUMNS,
    ScoredCsv,
    ScoredRecord,
    Scoring,
    csv_rows,
    scored_row,
)
from service.store.spill import Spill
from service.store.sqlite_rows import insert_rows
from service.store.tables import scored
from training.history import Outcome

log = logging.getLogger(__name__)

# How long the writer keeps spilling after the store failed before it tries the store again.
_RETRY_STORE_SECONDS: Final = 2.0
# Rows inserted per statement while replaying a spill.
_REPLAY_BATCH: Final = 500
# How often the writer removes parcels past the retention window.
PURGE_INTERVAL_SECONDS: Final = 3600.0


@dataclass
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)
    # Whether what was queued before it reached the store (not the spill file).
    in_store: bool = True


_INSERT_SCORED_SQLITE: Final = f"INSERT INTO scored ({', '.join(SCORED_COLUMNS)})"


def _complete(row: tuple[Any, ...] | list[Any]) -> tuple[Any, ...]:
    missing = len(SCORED_COLUMNS) - len(row)
    return (*row, *([None] * missing)) if missing > 0 else tuple(row)


def _values(row: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
    return dict(zip(SCORED_COLUMNS, row, strict=True))


class AuditLog:
    """Scored declarations queued by requests and committed in batches by one thread.

    A locked store is waited for (with backoff, up to `lock_wait` seconds); past that,
    and on any other failure, rows go to the spill file and are put into the store when
    it takes writes again.
    """

    def __init__(
        self,
        database: Database | Path,
        *,
        batch_rows: int = 500,
        flush_interval: float = 0.1,
        lock_wait: float = 10.0,
        spill_path: Path | None = None,
        refuse_when_failing: bool = False,
        retention_days: int | None = None,
        on_written: Callable[[int], None] | None = None,
        on_failed: Callable[[int], None] | None = None,
        on_spilled: Callable[[int], None] | None = None,
        # Told the parties whose history changed (an outcome posted, spilled rows put in).
        on_parties: Callable[[set[str]], None] | None = None,
        # Told the parcels of scorings just committed (what each party's history gained).
        on_parcels: Callable[[list[parcels.ParcelFacts]], None] | None = None,
    ) -> None:
        if isinstance(database, Path):
            database = Database.sqlite(database, lock_wait=lock_wait)
        self.database = database
        self.batch_rows = batch_rows
        self.flush_interval = flush_interval
        self.lock_wait = lock_wait
        self.spill = Spill(spill_path or default_spill_path(database))
        self.refuse_when_failing = refuse_when_failing
        self.retention_days = retention_days
        self._on_written = on_written
        self._on_failed = on_failed
        self._on_spilled = on_spilled
        self._on_parties = on_parties
        self._on_parcels = on_parcels
        # A deque the writer drains on a timer rather than a queue that wakes it per record:
        # appending costs the request well under a microsecond and no thread switch (a
        # wake-up per record cost ~50 us of event-loop time in GIL hand-offs, measured).
        # Unbounded on purpose: a slow disk must neither drop audit rows nor stall scoring;
        # the depth is exported as a metric so a backlog is seen, not silent.
        self._pending: collections.deque[ScoredRecord | ScoredCsv | _Flush] = collections.deque()
        self._wake = threading.Event()
        # Notified after each pass of the writer: what it decides (failing, spilled, put
        # in) is waited for on this (`wait_until`), not polled.
        self._passed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._closed = False
        # Rows neither the store nor the spill file took (both failing): kept, retried.
        self._unsaved: list[tuple[Any, ...]] = []
        # Why the store fails, None while it takes writes; and when to try it again.
        self.failure: str | None = None
        self._retry_at = 0.0
        self._purge_at = 0.0
        # Writes after close come from request threads racing the shutdown.
        self._late = threading.Lock()

    @property
    def path(self) -> Path | None:
        """The SQLite file of the store (None on PostgreSQL)."""
        return self.database.sqlite_path

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        try:
            self.database.engine()
        except STORE_ERRORS as exc:
            # The service starts all the same: rows spill until the store comes back.
            self._failed(exc)
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Commit everything queued so far and stop the writer."""
        if self._thread is None or self._closed:
            return
        self._closed = True
        self._stopping = True
        self._wake.set()
        self._thread.join()
        # A request that saw the log open just before it closed may have appended late.
        with self._late:
            self._drain()

    @property
    def depth(self) -> int:
        return len(self._pending) + len(self._unsaved)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def accepting(self) -> bool:
        """Whether scoring may go on: yes, unless the store fails and failures refuse."""
        return not (self.refuse_when_failing and self.failure is not None)

    # -- writing --------------------------------------------------------------------------

    def record(self, record: ScoredRecord | ScoredCsv) -> None:
        """Queue a scored declaration; never blocks."""
        if self._closed:
            # Only a request racing the shutdown gets here; write it rather than lose it.
            with self._late:
                self._save(self._rows_of([record]))
            return
        self._pending.append(record)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before this call is committed to the store.

        False if that did not happen in time, or if rows went to the spill file instead.
        """
        if not self.running:
            return self.failure is None and not self._pending
        marker = _Flush()
        self._pending.append(marker)
        self._wake.set()
        return marker.done.wait(timeout) and marker.in_store

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until `condition()` holds, checked now and after each pass of the writer
        (what changes its state: failing, spilling, putting rows in); False if it does
        not within `timeout` seconds."""
        with self._passed:
            return self._passed.wait_for(condition, timeout)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self._drain()
                self._purge_now_and_then()
            except Exception:  # a bug must not stop the writer: rows keep coming
                log.exception("audit: the writer failed; going on")
            self._tell_passed()
        self._drain()
        self._tell_passed()

    def _tell_passed(self) -> None:
        with self._passed:
            self._passed.notify_all()

    def _drain(self) -> None:
        while self._pending:
            records: list[ScoredRecord | ScoredCsv] = []
            markers: list[_Flush] = []
            while self._pending and len(records) < self.batch_rows:
                item = self._pending.popleft()
                if isinstance(item, _Flush):
                    markers.append(item)
                else:
                    records.append(item)
            in_store = self._save(self._rows_of(records))
            for marker in markers:
                marker.in_store = in_store
                marker.done.set()
        if (self._unsaved or self.spill.pending) and time.monotonic() >= self._retry_at:
            self._save([])  # nothing new: put what waits into the store

    def _rows_of(self, records: list[ScoredRecord | ScoredCsv]) -> list[tuple[Any, ...]]:
        rows = []
        for record in records:
            # One record that cannot be turned into rows costs its own rows, not the batch's.
            try:
                if isinstance(record, ScoredCsv):
                    rows.extend(csv_rows(record))
                else:
                    rows.append(scored_row(record))
            except Exception:
                log.exception("audit: cannot serialise a record of request %s", record.request_id)
                if self._on_failed:
                    self._on_failed(1)
        return rows

    def _save(self, rows: list[tuple[Any, ...]]) -> bool:
        """Put rows into the store, else the spill file; True if in the store."""
        rows, self._unsaved = [*self._unsaved, *rows], []
        if self.failure is not None and time.monotonic() < self._retry_at:
            self._spill(rows)
            return False
        try:
            engine = self.database.engine()
            if self.spill.pending:
                replayed = self.spill.replay(lambda spilled: self._replay(engine, spilled))
                if replayed:
                    log.warning("audit: %d spilled rows put into the store", replayed)
                    if self._on_written:
                        self._on_written(replayed)
            if rows:
                with engine.connect() as connection:
                    self._insert(connection, rows)
        except STORE_ERRORS as exc:
            self._failed(exc)
            self._spill(rows)
            return False
        if self.failure is not None:
            log.warning(
                "audit: the store takes writes again", extra={"store": self.database.describe()}
            )
            self.failure = None
        if rows and self._on_written:
            self._on_written(len(rows))
        return True

    def _write(
        self, connection: sa.Connection, rows: list[tuple[Any, ...]] | list[list[Any]]
    ) -> list[parcels.ParcelFacts]:
        """Rows and their parcels, in the caller's transaction; returns the parcels."""
        # Rows spilled by an older version are short of the columns added since.
        rows = [_complete(row) for row in rows]
        if connection.dialect.name == "sqlite":
            # Straight to the driver: SQLAlchemy's per-row parameter handling tripled the
            # writer's cost per row on SQLite (measured, docs/decisions.md).
            driver = connection.connection.driver_connection
            assert driver is not None
            insert_rows(driver, _INSERT_SCORED_SQLITE, [tuple(row) for row in rows])
        else:
            connection.execute(scored.insert(), [_values(row) for row in rows])
        facts = []
        for row in rows:
            try:
                fact = parcels.facts_of(row)
            except ValueError:  # a row whose input is not JSON: audited, no history
                log.exception("audit: cannot read the parcel of a row")
                continue
            if fact is not None:
                facts.append(fact)
        return parcels.upsert(connection, facts)

    def _parties_changed(self, parties: set[str]) -> None:
        # Told after the commit, so a cache refilled at once reads the new rows.
        if parties and self._on_parties is not None:
            self._on_parties(parties)

    def _insert(self, connection: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
        """Insert in one transaction, waiting out a lock with backoff up to `lock_wait`."""
        deadline = time.monotonic() + self.lock_wait
        delay = 0.05
        while True:
            try:
                with connection.begin():
                    written = self._write(connection, rows)
                # Told after the commit, so a cache refilled at once reads the new rows.
                if self._on_parcels is not None:
                    self._on_parcels(written)
                else:
                    self._parties_changed({p for fact in written for p in fact.parties})
                return
            except sa.exc.DBAPIError as exc:
                left = deadline - time.monotonic()
                if not is_lock(exc) or left <= 0:
                    raise
                log.warning("audit: the store is locked (%s); waiting", exc.orig)
                time.sleep(min(delay, left))
                delay = min(delay * 2, 1.0)

    def _replay(self, engine: sa.Engine, spilled: Iterator[list[Any]]) -> int:
        count = 0
        parties: set[str] = set()
        with engine.begin() as connection:
            batch: list[list[Any]] = []
            for row in spilled:
                batch.append(row)
                if len(batch) >= _REPLAY_BATCH:
                    parties |= {p for fact in self._write(connection, batch) for p in fact.parties}
                    count += len(batch)
                    batch = []
            if batch:
                parties |= {p for fact in self._write(connection, batch) for p in fact.parties}
                count += len(batch)
        self._parties_changed(parties)
        return count

    def _spill(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        try:
            self.spill.append(rows)
        except OSError as exc:
            # The spill file fails too (the same full disk): the rows stay in memory, in
            # the queue's depth, and are tried again.
            log.error(
                "audit: cannot spill %d rows either (%s); keeping them in memory", len(rows), exc
            )
            self._unsaved = rows
            return
        if self._on_spilled:
            self._on_spilled(len(rows))

    def _failed(self, exc: BaseException) -> None:
        if self.failure is None:
            log.error(
                "audit: the store fails (%s); spilling rows to %s",
                exc,
                self.spill.path,
                extra={"store": self.database.describe()},
            )
        reason = getattr(exc, "orig", None) or exc
        self.failure = f"{type(reason).__name__}: {reason}"
        self._retry_at = time.monotonic() + _RETRY_STORE_SECONDS

    def _purge_now_and_then(self) -> None:
        if self.retention_days is None or self.failure is not None:
            return
        if time.monotonic() < self._purge_at:
            return
        self._purge_at = time.monotonic() + PURGE_INTERVAL_SECONDS
        try:
            removed = self.purge()
        except StoreUnavailableError as exc:
            log.warning("audit: cannot purge old parcels now (%s)", exc)
            return
        if removed:
            log.info("audit: %d parcels past the retention window removed", removed)

    def purge(self, now: datetime | None = None) -> int:
        """Remove parcels posted before the retention window; returns how many."""
        if self.retention_days is None:
            return 0
        before = parcels.cutoff(now or datetime.now(UTC), self.retention_days)
        return self.database.run(lambda connection: parcels.purge(connection, before))

    # -- feedback -------------------------------------------------------------------------

    def scorings(self, declaration_id: str) -> list[Scoring]:
        """The latest scoring of a declaration by each key that scored it, oldest first.

        Waits for the writer first, so a declaration scored a moment ago is found.
        """
        if not self.flush(timeout=self.lock_wait + 5):
            # The declaration may be among rows not yet in the store (spilled, or the
            # writer waiting out a lock): "never scored" could be false.
            raise StoreUnavailableError(
                "the audit store is behind (recent declarations are not in it yet)"
            )
        return self.database.run(
            lambda connection: feedback_store.scorings(connection, declaration_id)
        )

    def scored_items(self, declaration_id: str) -> list[int] | None:
        """Item numbers of the latest scoring of a declaration; None if never scored."""
        found = self.scorings(declaration_id)
        return found[-1].items if found else None

    def add_feedback(
        self,
        *,
        declaration_id: str,
        outcome: Outcome,
        item_no: int | None = None,
        label_class: str | None = None,
        note: str | None = None,
        request_id: str | None = None,
        key_id: str | None = None,
        scored_id: int | None = None,
    ) -> int:
        """Store an outcome; `key_id` is who posted it, `scored_id` the scoring it is about
        (None: the latest scoring of the declaration when exported)."""
        feedback_id, parties = self.database.run(
            lambda connection: feedback_store.add(
                connection,
                declaration_id=declaration_id,
                outcome=outcome,
                item_no=item_no,
                label_class=label_class,
                note=note,
                request_id=request_id,
                key_id=key_id,
                scored_id=scored_id,
            )
        )
        self._parties_changed(set(parties))
        return feedback_id


def default_spill_path(database: Database) -> Path:
    """Beside a SQLite file; for PostgreSQL, on this replica's own disk."""
    if database.sqlite_path is not None:
        path = database.sqlite_path
        return path.with_name(path.name + ".spill.jsonl")
    return Path("var/store.spill.jsonl")
