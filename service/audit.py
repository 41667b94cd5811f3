"""The audit trail of scored declarations and the inspection outcomes fed back on them.

One SQLite database (WAL, so readers never wait for the writer). Scored declarations are
written off the request path: requests append records to a queue that one writer thread
commits in batches; closing the log drains the queue, so a clean shutdown loses no row.
A locked store is waited out; past the wait, or when the store fails (a full disk, the file
gone), rows go to a spill file and into the database once it recovers (`audit_spill`); a
database file deleted or replaced while serving is opened afresh. Feedback is rare and must
be checked against what was scored, so it is written directly, after the queue has been
flushed to the database.

`export_feedback` joins outcomes with the audited inputs into labelled CSV in the
contract's format, ready for retraining.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import hashlib
import io
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final, Literal, TypeVar

import orjson
import pandas as pd

from service.audit_spill import Spill
from service.scorer import REASON_SEPARATOR
from training.files import output_destination, partial_file
from training.schema import (
    DECLARATION_FIELDS,
    ITEM_FIELDS,
    LABEL_FIELDS,
    PARCEL_FIELDS,
    canonical_header,
)
from training.tables import allow_large_csv_fields, csv_bytes

log = logging.getLogger(__name__)

T = TypeVar("T")

Outcome = Literal["confirmed", "cleared"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS scored (
    id INTEGER PRIMARY KEY,
    scored_at TEXT NOT NULL,
    request_id TEXT NOT NULL,
    key_id TEXT,
    declaration_id TEXT NOT NULL,
    model_version TEXT NOT NULL,
    parcel_risk_score REAL,
    decision TEXT,
    input_json TEXT NOT NULL,
    result_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS scored_by_declaration ON scored (declaration_id, id);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    request_id TEXT,
    key_id TEXT,
    declaration_id TEXT NOT NULL,
    item_no INTEGER,
    outcome TEXT NOT NULL CHECK (outcome IN ('confirmed', 'cleared')),
    label_class TEXT,
    note TEXT,
    scored_id INTEGER
);
CREATE INDEX IF NOT EXISTS feedback_by_declaration ON feedback (declaration_id, id);
"""
# Columns added to tables of databases made before them: (table, column, declaration).
_ADDED_COLUMNS: Final = (("feedback", "scored_id", "INTEGER"),)

# A writer that finds the database locked (an export, a backup) waits this long.
_BUSY_TIMEOUT_MS: Final = 5000

EXPORT_EXTRA_COLUMNS: Final = (
    "scored_model_version",
    "scored_risk_score",
    # Who scored the declaration the outcome is about, and who posted the outcomes (key
    # ids: the first characters of the key's digest, never the key).
    "scored_by",
    "feedback_outcome",
    "feedback_by",
    # Why a line needs a look before training (outcomes that disagree: no label then).
    "feedback_conflict",
    "feedback_note",
    "feedback_at",
)
EXPORT_COLUMNS: Final = (*DECLARATION_FIELDS, *LABEL_FIELDS, *EXPORT_EXTRA_COLUMNS)


def utc_now() -> str:
    return utc_iso(time.time())


def utc_iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")


def connect(path: Path, busy_timeout_ms: int = _BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A connection with the pragmas every user of the audit database needs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash can
        # lose the last commits, which is the price of not syncing every batch.
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    except BaseException:
        connection.close()
        raise
    return connection


def init_db(path: Path, busy_timeout_ms: int = _BUSY_TIMEOUT_MS) -> None:
    with contextlib.closing(connect(path, busy_timeout_ms)) as connection:
        ensure_schema(connection)


def ensure_schema(connection: sqlite3.Connection) -> None:
    """Create the tables, and add the columns an older database lacks."""
    connection.executescript(_SCHEMA)
    for table, column, declaration in _ADDED_COLUMNS:
        present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


@dataclass(frozen=True)
class ScoredRecord:
    """One scored declaration as the audit keeps it.

    `declaration` is the normalised input: a mapping of parcel fields with an `items`
    list, or any object with pydantic's `model_dump` (a `DeclarationIn`); turning it into
    JSON is left to the writer thread.
    """

    request_id: str
    key_id: str | None
    declaration: Any
    result: Mapping[str, Any]
    # Epoch seconds: formatting the time is left to the writer thread too.
    scored_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ScoredCsv:
    """A scored CSV answer, audited one row per scored declaration.

    The request path only hands over the bytes it sent; splitting them into
    declarations is the writer thread's work.
    """

    request_id: str
    key_id: str | None
    scored_csv: bytes
    scored_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Scoring:
    """One audited scoring of a declaration, as feedback needs it."""

    scored_id: int
    key_id: str | None
    items: list[int]
    # The digest of the normalised input: equal digests, same declaration content.
    content: str

    @classmethod
    def of(cls, scored_id: int, key_id: str | None, input_json: str) -> Scoring:
        items = orjson.loads(input_json).get("items", [])
        return cls(
            scored_id=int(scored_id),
            key_id=key_id,
            items=[int(item["item_no"]) for item in items if item.get("item_no") is not None],
            content=hashlib.sha256(input_json.encode("utf-8")).hexdigest(),
        )


@dataclass
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)
    # Whether what was queued before it reached the database (not the spill file).
    in_store: bool = True


def _input_json(declaration: Any) -> bytes:
    if hasattr(declaration, "model_dump"):
        data: dict[str, Any] = declaration.model_dump(mode="json")
        # Item numbers default to the position; store them as scored.
        for position, item in enumerate(data.get("items", []), start=1):
            if item.get("item_no") is None:
                item["item_no"] = position
    else:
        data = dict(declaration)
    return orjson.dumps(data, default=str, option=orjson.OPT_SERIALIZE_NUMPY)


def _row(record: ScoredRecord) -> tuple[Any, ...]:
    result = record.result
    score = result.get("parcel_risk_score")
    return (
        utc_iso(record.scored_at),
        record.request_id,
        record.key_id,
        str(result.get("declaration_id", "")),
        str(result.get("model_version", "")),
        None if score is None else float(score),
        result.get("decision"),
        _input_json(record.declaration).decode(),
        orjson.dumps(result, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
    )


_SCORE_COLUMNS: Final = ("risk_score", "risk_class", "parcel_risk_score", "decision", "reasons")


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ".")) if text.strip() else None
    except ValueError:
        return None


def _reasons(cell: str) -> list[dict[str, str]]:
    reasons = []
    for entry in cell.split(REASON_SEPARATOR):
        code, _, message = entry.partition(": ")
        if code.strip():
            reasons.append({"code": code.strip(), "message": message.strip()})
    return reasons


def _csv_rows(record: ScoredCsv) -> list[tuple[Any, ...]]:
    """One audit row per scored declaration of a scored CSV (rows with errors skipped)."""
    # Cells of any size the scorer wrote must read back (the module's default limit lost
    # the whole record of a request with one large cell).
    allow_large_csv_fields()
    text = record.scored_csv.decode("utf-8-sig", errors="replace")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return []
    position: dict[str, int] = {}
    for index, name in enumerate(header):
        if name in (*_SCORE_COLUMNS, "model_version", "error"):
            position.setdefault(name, index)
            continue
        field_name = canonical_header(name)
        if field_name is not None:
            position.setdefault(field_name, index)
    if "declaration_id" not in position or "risk_score" not in position:
        return []

    def cell(row: list[str], name: str) -> str:
        index = position.get(name)
        return row[index] if index is not None and index < len(row) else ""

    parcels: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for row in reader:
        if cell(row, "error").strip() or not cell(row, "risk_score").strip():
            continue
        declaration_id = cell(row, "declaration_id")
        if declaration_id not in parcels:
            declaration: dict[str, Any] = {name: cell(row, name) or None for name in PARCEL_FIELDS}
            declaration["items"] = []
            result: dict[str, Any] = {
                "declaration_id": declaration_id,
                "parcel_risk_score": _number(cell(row, "parcel_risk_score")),
                "decision": cell(row, "decision") or None,
                "model_version": cell(row, "model_version"),
                "items": [],
            }
            parcels[declaration_id] = (declaration, result)
        declaration, result = parcels[declaration_id]
        item_no = _number(cell(row, "item_no")) or len(declaration["items"]) + 1
        item: dict[str, Any] = {name: cell(row, name) or None for name in ITEM_FIELDS}
        item["item_no"] = int(item_no)
        declaration["items"].append(item)
        result["items"].append(
            {
                "item_no": int(item_no),
                "risk_score": _number(cell(row, "risk_score")),
                "risk_class": cell(row, "risk_class"),
                "reasons": _reasons(cell(row, "reasons")),
            }
        )
    return [
        _row(ScoredRecord(record.request_id, record.key_id, declaration, result, record.scored_at))
        for declaration, result in parcels.values()
    ]


_INSERT_SCORED: Final = (
    "INSERT INTO scored (scored_at, request_id, key_id, declaration_id, model_version,"
    " parcel_risk_score, decision, input_json, result_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class AuditUnavailableError(Exception):
    """The audit store cannot answer now (locked past the wait, failing); try again later."""


def _is_lock(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _identity(path: Path) -> tuple[int, int] | None:
    """The file behind a path (device, inode), to tell when it is deleted or replaced."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


# How long the writer keeps spilling after the store failed before it tries the store again.
_RETRY_STORE_SECONDS: Final = 2.0


class AuditLog:
    """Scored declarations queued by requests and committed in batches by one thread.

    A locked database is waited for (with backoff, up to `lock_wait` seconds); past that,
    and on any other failure (a full disk, a database gone), rows go to the spill file and
    are put into the database when it takes writes again. A database file deleted or
    replaced under the running service is noticed and opened afresh.
    """

    def __init__(
        self,
        path: Path,
        *,
        batch_rows: int = 500,
        flush_interval: float = 0.1,
        lock_wait: float = 10.0,
        spill_path: Path | None = None,
        refuse_when_failing: bool = False,
        on_written: Callable[[int], None] | None = None,
        on_failed: Callable[[int], None] | None = None,
        on_spilled: Callable[[int], None] | None = None,
    ) -> None:
        self.path = path
        self.batch_rows = batch_rows
        self.flush_interval = flush_interval
        self.lock_wait = lock_wait
        self.spill = Spill(spill_path or path.with_name(path.name + ".spill.jsonl"))
        self.refuse_when_failing = refuse_when_failing
        self._on_written = on_written
        self._on_failed = on_failed
        self._on_spilled = on_spilled
        # A deque the writer drains on a timer rather than a queue that wakes it per record:
        # appending costs the request well under a microsecond and no thread switch (a
        # wake-up per record cost ~50 us of event-loop time in GIL hand-offs, measured).
        # Unbounded on purpose: a slow disk must neither drop audit rows nor stall scoring;
        # the depth is exported as a metric so a backlog is seen, not silent.
        self._pending: collections.deque[ScoredRecord | ScoredCsv | _Flush] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._closed = False
        # The writer's connection and the file it was opened on (writer thread only).
        self._connection: sqlite3.Connection | None = None
        self._opened_on: tuple[int, int] | None = None
        # Rows neither the database nor the spill file took (both failing): kept, retried.
        self._unsaved: list[tuple[Any, ...]] = []
        # Why the store fails, None while it takes writes; and when to try it again.
        self.failure: str | None = None
        self._retry_at = 0.0
        # Writes after close come from request threads racing the shutdown.
        self._late = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        try:
            init_db(self.path, self._busy_timeout_ms)
        except (sqlite3.Error, OSError) as exc:
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
            self._disconnect()

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

    @property
    def _busy_timeout_ms(self) -> int:
        return int(min(_BUSY_TIMEOUT_MS, self.lock_wait * 1000))

    # -- writing --------------------------------------------------------------------------

    def record(self, record: ScoredRecord | ScoredCsv) -> None:
        """Queue a scored declaration; never blocks."""
        if self._closed:
            # Only a request racing the shutdown gets here; write it rather than lose it.
            with self._late:
                self._save(self._rows_of([record]))
                self._disconnect()
            return
        self._pending.append(record)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before this call is committed to the database.

        False if that did not happen in time, or if rows went to the spill file instead.
        """
        if not self.running:
            return self.failure is None and not self._pending
        marker = _Flush()
        self._pending.append(marker)
        self._wake.set()
        return marker.done.wait(timeout) and marker.in_store

    def _run(self) -> None:
        try:
            while not self._stopping:
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                try:
                    self._drain()
                except Exception:  # a bug must not stop the writer: rows keep coming
                    log.exception("audit: the writer failed; going on")
            self._drain()
        finally:
            self._disconnect()

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
                    rows.extend(_csv_rows(record))
                else:
                    rows.append(_row(record))
            except Exception:
                log.exception("audit: cannot serialise a record of request %s", record.request_id)
                if self._on_failed:
                    self._on_failed(1)
        return rows

    def _save(self, rows: list[tuple[Any, ...]]) -> bool:
        """Put rows into the database, else the spill file; True if in the database."""
        rows, self._unsaved = [*self._unsaved, *rows], []
        if self.failure is not None and time.monotonic() < self._retry_at:
            self._spill(rows)
            return False
        try:
            connection = self._connect()
            if self.spill.pending:
                replayed = self.spill.replay(connection, _INSERT_SCORED)
                if replayed:
                    log.warning("audit: %d spilled rows put into the database", replayed)
                    if self._on_written:
                        self._on_written(replayed)
            if rows:
                self._insert(connection, rows)
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            self._disconnect()
            self._spill(rows)
            return False
        if self.failure is not None:
            log.warning(
                "audit: the database takes writes again", extra={"audit_db": str(self.path)}
            )
            self.failure = None
        if rows and self._on_written:
            self._on_written(len(rows))
        return True

    def _insert(self, connection: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        """Insert in one transaction, waiting out a lock with backoff up to `lock_wait`."""
        deadline = time.monotonic() + self.lock_wait
        delay = 0.05
        while True:
            try:
                with connection:
                    connection.execute("BEGIN")
                    connection.executemany(_INSERT_SCORED, rows)
                return
            except sqlite3.OperationalError as exc:
                left = deadline - time.monotonic()
                if not _is_lock(exc) or left <= 0:
                    raise
                log.warning("audit: the database is locked (%s); waiting", exc)
                time.sleep(min(delay, left))
                delay = min(delay * 2, 1.0)

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
                "audit: the database fails (%s); spilling rows to %s",
                exc,
                self.spill.path,
                extra={"audit_db": str(self.path)},
            )
        self.failure = f"{type(exc).__name__}: {exc}"
        self._retry_at = time.monotonic() + _RETRY_STORE_SECONDS

    def _connect(self) -> sqlite3.Connection:
        """The writer's connection, opened afresh if the file was deleted or replaced."""
        if self._connection is not None and _identity(self.path) == self._opened_on:
            return self._connection
        if self._connection is not None:
            log.warning(
                "audit: the database file was deleted or replaced; opening it afresh",
                extra={"audit_db": str(self.path)},
            )
            # Closed first: its last checkpoint goes to the old file, not the new one.
            self._disconnect()
        connection = connect(self.path, self._busy_timeout_ms)
        try:
            ensure_schema(connection)
        except BaseException:
            connection.close()
            raise
        self._connection, self._opened_on = connection, _identity(self.path)
        return connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
        self._connection, self._opened_on = None, None

    def _with_store(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` on a fresh connection, waiting out a lock up to `lock_wait`.

        `AuditUnavailableError` when the store stays locked or fails: the caller is told
        to come back, rather than given a 500 (or nothing stored and no word of it).
        """
        deadline = time.monotonic() + self.lock_wait
        delay = 0.05
        while True:
            try:
                with contextlib.closing(connect(self.path, self._busy_timeout_ms)) as connection:
                    try:
                        return work(connection)
                    except sqlite3.OperationalError as exc:
                        if "no such table" not in str(exc):
                            raise
                        # The file was deleted (and made afresh by connecting): tables back.
                        ensure_schema(connection)
                        return work(connection)
            except sqlite3.OperationalError as exc:
                left = deadline - time.monotonic()
                if _is_lock(exc) and left > 0:
                    time.sleep(min(delay, left))
                    delay = min(delay * 2, 1.0)
                    continue
                raise AuditUnavailableError(f"the audit store is unavailable ({exc})") from exc
            except (sqlite3.Error, OSError) as exc:
                raise AuditUnavailableError(f"the audit store is unavailable ({exc})") from exc

    # -- feedback -------------------------------------------------------------------------

    def scorings(self, declaration_id: str) -> list[Scoring]:
        """The latest scoring of a declaration by each key that scored it, oldest first.

        Waits for the writer first, so a declaration scored a moment ago is found.
        """
        if not self.flush(timeout=self.lock_wait + 5):
            # The declaration may be among rows not yet in the database (spilled, or the
            # writer waiting out a lock): "never scored" could be false.
            raise AuditUnavailableError(
                "the audit store is behind (recent declarations are not in it yet)"
            )

        def latest(connection: sqlite3.Connection) -> list[Any]:
            return connection.execute(
                "SELECT id, key_id, input_json FROM scored WHERE id IN ("
                " SELECT MAX(id) FROM scored WHERE declaration_id = ? GROUP BY key_id"
                ") ORDER BY id",
                (declaration_id,),
            ).fetchall()

        rows = self._with_store(latest)
        return [Scoring.of(scored_id, key_id, input_json) for scored_id, key_id, input_json in rows]

    def scored_items(self, declaration_id: str) -> list[int] | None:
        """Item numbers of the latest scoring of a declaration; None if never scored."""
        scorings = self.scorings(declaration_id)
        return scorings[-1].items if scorings else None

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
        values = (
            utc_now(),
            request_id,
            key_id,
            declaration_id,
            item_no,
            outcome,
            label_class,
            note,
            scored_id,
        )

        def insert(connection: sqlite3.Connection) -> int:
            cursor = connection.execute(
                "INSERT INTO feedback (received_at, request_id, key_id, declaration_id,"
                " item_no, outcome, label_class, note, scored_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            return int(cursor.lastrowid or 0)

        return self._with_store(insert)


# -- export -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Feedback:
    item_no: int | None
    outcome: str
    label_class: str | None
    note: str | None
    received_at: str
    key_id: str | None


@dataclass
class _Outcomes:
    """The outcomes posted about one scoring: on the parcel, and per item, oldest first."""

    parcel: list[_Feedback] = field(default_factory=list)
    items: dict[int, list[_Feedback]] = field(default_factory=dict)


# The scoring each outcome is about: the one it was bound to when posted, or, for outcomes
# stored before outcomes were bound, the latest scoring of the declaration.
_BOUND_FEEDBACK: Final = """
SELECT f.item_no, f.outcome, f.label_class, f.note, f.received_at, f.key_id,
       COALESCE(f.scored_id,
                (SELECT MAX(s.id) FROM scored s WHERE s.declaration_id = f.declaration_id))
FROM feedback f ORDER BY f.id
"""

# Declarations with outcomes that more than one key scored, with different content. Those
# are kept apart (each outcome goes with its own scoring), and flagged.
_RESCORED_BY_OTHERS: Final = """
SELECT declaration_id FROM scored
WHERE declaration_id IN (SELECT declaration_id FROM feedback)
GROUP BY declaration_id
HAVING COUNT(DISTINCT COALESCE(key_id, '')) > 1 AND COUNT(DISTINCT input_json) > 1
"""


def _outcomes_by_scoring(connection: sqlite3.Connection) -> dict[int, _Outcomes]:
    outcomes: dict[int, _Outcomes] = {}
    for item_no, outcome, label_class, note, received_at, key_id, scored_id in connection.execute(
        _BOUND_FEEDBACK
    ):
        if scored_id is None:
            continue  # about a declaration the store no longer holds
        entry = _Feedback(item_no, outcome, label_class, note, received_at, key_id)
        bound = outcomes.setdefault(int(scored_id), _Outcomes())
        if item_no is None:
            bound.parcel.append(entry)
        else:
            bound.items.setdefault(int(item_no), []).append(entry)
    return outcomes


def _scorings(
    connection: sqlite3.Connection, ids: Iterable[int]
) -> Iterator[tuple[int, str, str | None, str, str, str]]:
    """(id, declaration id, key id, model version, input, result) of scorings, in order."""
    wanted = sorted(ids)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        yield from connection.execute(
            "SELECT id, declaration_id, key_id, model_version, input_json, result_json"
            " FROM scored"
            f" WHERE id IN ({marks}) ORDER BY id",
            chunk,
        )


def _confirmed_item(items: list[dict[str, Any]], label_class: str | None) -> int | None:
    """The item a parcel-level confirmation most likely refers to.

    The officer found gear in the parcel without naming the line: take the line the model
    put highest, preferring lines of the class the officer named.
    """
    if not items:
        return None
    candidates = [item for item in items if label_class and item.get("risk_class") == label_class]
    best = max(candidates or items, key=lambda item: float(item.get("risk_score") or 0.0))
    return int(best["item_no"])


def _applicable(
    outcomes: _Outcomes, item_no: int, scored_items: dict[int, dict[str, Any]]
) -> list[_Feedback]:
    """The outcomes that label one line: its own, else the parcel's that reach it.

    A parcel cleared on inspection clears every line; a parcel confirmed without a line
    named labels only the line it most likely refers to, since the other lines may well be
    what they say. Parcel outcomes that disagree reach every line, to be flagged there.
    """
    if outcomes.items.get(item_no):
        return outcomes.items[item_no]
    parcel = outcomes.parcel
    if not parcel:
        return []
    kinds = {feedback.outcome for feedback in parcel}
    if len(kinds) > 1 or kinds == {"cleared"}:
        return parcel
    classes = {feedback.label_class for feedback in parcel}
    named = classes.pop() if len(classes) == 1 else None
    confirmed = _confirmed_item(list(scored_items.values()), named)
    return parcel if item_no == confirmed else []


def _verdict(feedback: _Feedback, scored: dict[str, Any]) -> tuple[str, str]:
    """(outcome, class) an outcome says of a line: what two outcomes must share to agree."""
    if feedback.outcome == "cleared":
        return "cleared", "benign"
    label_class = feedback.label_class or scored.get("risk_class") or ""
    # An officer confirmed gear but the model called the line benign and no class was
    # given: the class is unknown, the label is still right.
    return "confirmed", "" if label_class == "benign" else label_class


def _who(key_id: str | None) -> str:
    return key_id or "no key"


def _disagreement(applied: list[_Feedback], verdicts: list[tuple[str, str]]) -> str:
    """Who said what, for outcomes that do not agree: `confirmed/helmet by ab12cd34 (2); ...`."""
    said: dict[tuple[str, str], dict[str, int]] = {}
    for feedback, verdict in zip(applied, verdicts, strict=True):
        by = said.setdefault(verdict, {})
        by[_who(feedback.key_id)] = by.get(_who(feedback.key_id), 0) + 1
    parts = []
    for (outcome, label_class), callers in said.items():
        what = f"{outcome}/{label_class}" if outcome == "confirmed" and label_class else outcome
        who = ", ".join(f"{caller} ({count})" for caller, count in callers.items())
        parts.append(f"{what} by {who}")
    return "outcomes disagree: " + "; ".join(parts)


def _labelled_rows(
    declaration: dict[str, Any],
    result: dict[str, Any],
    model_version: str,
    scored_by: str | None,
    outcomes: _Outcomes,
    rescored: bool,
) -> Iterator[dict[str, Any]]:
    scored_items = {int(item["item_no"]): item for item in result.get("items", [])}
    for position, item in enumerate(declaration.get("items", []), start=1):
        item_no = int(item.get("item_no") or position)
        applied = _applicable(outcomes, item_no, scored_items)
        if not applied:
            continue
        scored = scored_items.get(item_no, {})
        verdicts = [_verdict(feedback, scored) for feedback in applied]
        distinct = set(verdicts)
        flags = []
        if len(distinct) == 1:
            outcome, label_class = verdicts[0]
            label: int | None = 1 if outcome == "confirmed" else 0
        elif {outcome for outcome, _ in distinct} == {"confirmed"}:
            # Gear for sure, of a disputed class: the label stands, the class is unknown.
            outcome, label, label_class = "confirmed", 1, ""
            flags.append(_disagreement(applied, verdicts))
        else:
            # Kept, not decided by whoever spoke last: no label, so `train` skips the line
            # until someone settles it.
            outcome, label, label_class = "conflict", None, ""
            flags.append(_disagreement(applied, verdicts))
        if rescored:
            flags.append("the declaration id was also scored with different content by another key")
        latest = applied[-1]
        row: dict[str, Any] = {name: declaration.get(name) for name in PARCEL_FIELDS}
        row.update({name: item.get(name) for name in ITEM_FIELDS})
        row["item_no"] = item_no
        row["label"] = label
        row["label_class"] = label_class
        row["scored_model_version"] = model_version
        row["scored_risk_score"] = scored.get("risk_score")
        row["scored_by"] = scored_by
        row["feedback_outcome"] = outcome
        row["feedback_by"] = " ".join(dict.fromkeys(_who(f.key_id) for f in applied))
        row["feedback_conflict"] = "; ".join(flags)
        row["feedback_note"] = latest.note
        row["feedback_at"] = latest.received_at
        yield row


def _cell(value: Any) -> str:
    """A cell as export text; every cell is text, so the writer guards and cleans them all."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Rows handed to the CSV writer at a time.
_EXPORT_BATCH_ROWS: Final = 1000


def _write_rows(out: IO[bytes], rows: list[dict[str, Any]], *, header: bool) -> None:
    """Rows as CSV the way scored outputs are written: formula cells guarded, invisible and
    control characters dropped (an officer's note is free text, read in spreadsheets)."""
    frame = pd.DataFrame(
        {name: [_cell(row.get(name)) for row in rows] for name in EXPORT_COLUMNS},
        columns=list(EXPORT_COLUMNS),
        dtype=object,
    )
    out.write(csv_bytes(frame, header=list(EXPORT_COLUMNS) if header else None))


def export_feedback(db_path: Path, dest: Path) -> int:
    """Write labelled CSV of every item with an outcome; returns the number of rows.

    Each outcome labels the scoring it was posted about (its poster's own). `label` is 1
    for confirmed, 0 for cleared; `label_class` comes from the feedback, else from the
    class the model gave the line when confirmed, and is `benign` when cleared. Outcomes
    that disagree are all kept: the line gets no label and `feedback_conflict` says who
    said what. `scored_by` and `feedback_by` name the keys (by key id) that scored the
    declaration and posted the outcomes. The file appears complete or not at all.
    """
    if not db_path.exists():
        raise FileNotFoundError(f"no audit database at {db_path}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest = output_destination(dest)
    written = 0
    out, temp_name = partial_file(dest)
    try:
        with out, contextlib.closing(connect(db_path)) as connection:
            ensure_schema(connection)
            pending: list[dict[str, Any]] = []
            _write_rows(out, pending, header=True)
            outcomes = _outcomes_by_scoring(connection)
            rescored = {row[0] for row in connection.execute(_RESCORED_BY_OTHERS)}
            for (
                scored_id,
                declaration_id,
                key_id,
                model_version,
                input_json,
                result_json,
            ) in _scorings(connection, outcomes):
                for row in _labelled_rows(
                    orjson.loads(input_json),
                    orjson.loads(result_json),
                    model_version,
                    key_id,
                    outcomes[scored_id],
                    declaration_id in rescored,
                ):
                    pending.append(row)
                    written += 1
                    if len(pending) >= _EXPORT_BATCH_ROWS:
                        _write_rows(out, pending, header=False)
                        pending.clear()
            if pending:
                _write_rows(out, pending, header=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    return written
