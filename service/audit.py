"""The audit trail of scored declarations and the inspection outcomes fed back on them.

One SQLite database (WAL, so readers never wait for the writer). Scored declarations are
written off the request path: requests append records to a queue that one writer thread
commits in batches; closing the log drains the queue, so a clean shutdown loses no row.
Feedback is rare and must be checked against what was scored, so it is written directly,
after the queue has been flushed.

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
from typing import IO, Any, Final, Literal

import orjson
import pandas as pd

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
_WRITE_ATTEMPTS: Final = 3

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


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the pragmas every user of the audit database needs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable across application crashes in WAL mode; only an OS crash can lose
    # the last commits, which is the price of not syncing every batch.
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    return connection


def init_db(path: Path) -> None:
    with contextlib.closing(connect(path)) as connection:
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


class AuditLog:
    """Scored declarations queued by requests and committed in batches by one thread."""

    def __init__(
        self,
        path: Path,
        *,
        batch_rows: int = 500,
        flush_interval: float = 0.1,
        on_written: Callable[[int], None] | None = None,
        on_failed: Callable[[int], None] | None = None,
    ) -> None:
        self.path = path
        self.batch_rows = batch_rows
        self.flush_interval = flush_interval
        self._on_written = on_written
        self._on_failed = on_failed
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

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        init_db(self.path)
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
        late = [item for item in self._pending if not isinstance(item, _Flush)]
        self._pending.clear()
        if late:
            self._write_now(late)

    @property
    def depth(self) -> int:
        return len(self._pending)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- writing --------------------------------------------------------------------------

    def record(self, record: ScoredRecord | ScoredCsv) -> None:
        """Queue a scored declaration; never blocks."""
        if self._closed:
            # Only a request racing the shutdown gets here; write it rather than lose it.
            self._write_now([record])
            return
        self._pending.append(record)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before this call is committed."""
        if not self.running:
            return True
        marker = _Flush()
        self._pending.append(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def _drain(self, connection: sqlite3.Connection) -> None:
        while self._pending:
            records: list[ScoredRecord | ScoredCsv] = []
            markers: list[_Flush] = []
            while self._pending and len(records) < self.batch_rows:
                item = self._pending.popleft()
                if isinstance(item, _Flush):
                    markers.append(item)
                else:
                    records.append(item)
            if records:
                self._insert(connection, records)
            for marker in markers:
                marker.done.set()

    def _run(self) -> None:
        with contextlib.closing(connect(self.path)) as connection:
            while not self._stopping:
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                self._drain(connection)
            self._drain(connection)

    def _insert(
        self, connection: sqlite3.Connection, records: list[ScoredRecord | ScoredCsv]
    ) -> None:
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
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                with connection:
                    connection.execute("BEGIN")
                    connection.executemany(_INSERT_SCORED, rows)
            except sqlite3.Error as exc:
                if attempt < _WRITE_ATTEMPTS and isinstance(exc, sqlite3.OperationalError):
                    log.warning("audit: write failed (%s), retrying", exc)
                    time.sleep(0.05 * attempt)
                    continue
                log.exception("audit: lost %d records", len(rows))
                if self._on_failed:
                    self._on_failed(len(rows))
                return
            if self._on_written:
                self._on_written(len(rows))
            return

    def _write_now(self, records: list[ScoredRecord | ScoredCsv]) -> None:
        with contextlib.closing(connect(self.path)) as connection:
            self._insert(connection, records)

    # -- feedback -------------------------------------------------------------------------

    def scorings(self, declaration_id: str) -> list[Scoring]:
        """The latest scoring of a declaration by each key that scored it, oldest first.

        Waits for the writer first, so a declaration scored a moment ago is found.
        """
        self.flush()
        with contextlib.closing(connect(self.path)) as connection:
            rows = connection.execute(
                "SELECT id, key_id, input_json FROM scored WHERE id IN ("
                " SELECT MAX(id) FROM scored WHERE declaration_id = ? GROUP BY key_id"
                ") ORDER BY id",
                (declaration_id,),
            ).fetchall()
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
        with contextlib.closing(connect(self.path)) as connection:
            cursor = connection.execute(
                "INSERT INTO feedback (received_at, request_id, key_id, declaration_id,"
                " item_no, outcome, label_class, note, scored_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    utc_now(),
                    request_id,
                    key_id,
                    declaration_id,
                    item_no,
                    outcome,
                    label_class,
                    note,
                    scored_id,
                ),
            )
            return int(cursor.lastrowid or 0)


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
