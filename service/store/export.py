"""Exports of the store for training: labelled outcomes, and the scored traffic.

`export_feedback` joins outcomes with the audited inputs into labelled CSV in the
contract's format, ready for retraining. `export_scored` writes the latest scoring of each
declaration in the contract's CSV form plus when, how and by which model it was scored,
for drift checks. Training reads these files, never the store's tables. Both files appear
complete or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import orjson
import pandas as pd
import sqlalchemy as sa

from service.store.engine import Database
from service.store.tables import scored
from training.files import atomic_file
from training.schema import (
    DECLARATION_FIELDS,
    ITEM_FIELDS,
    LABEL_FIELDS,
    PARCEL_FIELDS,
)
from training.tables import csv_bytes

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
_BOUND_FEEDBACK: Final = sa.text(
    """
SELECT f.item_no, f.outcome, f.label_class, f.note, f.received_at, f.key_id,
       COALESCE(f.scored_id,
                (SELECT MAX(s.id) FROM scored s WHERE s.declaration_id = f.declaration_id))
FROM feedback f ORDER BY f.id
"""
)

# Declarations with outcomes that more than one key scored, with different content. Those
# are kept apart (each outcome goes with its own scoring), and flagged.
_RESCORED_BY_OTHERS: Final = sa.text(
    """
SELECT declaration_id FROM scored
WHERE declaration_id IN (SELECT declaration_id FROM feedback)
GROUP BY declaration_id
HAVING COUNT(DISTINCT COALESCE(key_id, '')) > 1 AND COUNT(DISTINCT input_json) > 1
"""
)


def _outcomes_by_scoring(connection: sa.Connection) -> dict[int, _Outcomes]:
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
    connection: sa.Connection, ids: Iterable[int]
) -> Iterator[tuple[int, str, str | None, str, str, str]]:
    """(id, declaration id, key id, model version, input, result) of scorings, in order."""
    wanted = sorted(ids)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        yield from connection.execute(
            sa.select(
                scored.c.id,
                scored.c.declaration_id,
                scored.c.key_id,
                scored.c.model_version,
                scored.c.input_json,
                scored.c.result_json,
            )
            .where(scored.c.id.in_(chunk))
            .order_by(scored.c.id)
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


def open_source(source: Path | Database) -> Database:
    """The store to export from: a Database, or the path of a SQLite file that must exist
    (an export never makes an empty store)."""
    if isinstance(source, Database):
        return source
    if not source.is_file():
        raise FileNotFoundError(f"no audit database at {source}")
    return Database.sqlite(source)


def export_feedback(source: Path | Database, dest: Path) -> int:
    """Write labelled CSV of every item with an outcome; returns the number of rows.

    Each outcome labels the scoring it was posted about (its poster's own). `label` is 1
    for confirmed, 0 for cleared; `label_class` comes from the feedback, else from the
    class the model gave the line when confirmed, and is `benign` when cleared. Outcomes
    that disagree are all kept: the line gets no label and `feedback_conflict` says who
    said what. `scored_by` and `feedback_by` name the keys (by key id) that scored the
    declaration and posted the outcomes. The file appears complete or not at all.
    """
    database = open_source(source)
    written = 0
    with atomic_file(dest) as out, database.engine().connect() as connection:
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
    if isinstance(source, Path):
        database.dispose()
    return written


# The scored traffic: the declaration as scored, and when, how and by which model.
SCORED_EXPORT_COLUMNS: Final = (*DECLARATION_FIELDS, "scored_at", "decision", "model_version")


def export_scored(source: Path | Database, dest: Path, since: str | None = None) -> int:
    """Write the latest scoring of each declaration (scored on or after `since`, an ISO
    date, when given) as CSV in the contract's columns plus `scored_at`, `decision` and
    `model_version`, one row per item, in scoring order; returns the rows."""
    database = open_source(source)
    latest = sa.select(sa.func.max(scored.c.id))
    if since:
        latest = latest.where(scored.c.scored_at >= since)
    latest = latest.group_by(scored.c.declaration_id)
    written = 0
    columns = list(SCORED_EXPORT_COLUMNS)
    with atomic_file(dest) as out, database.engine().connect() as connection:
        out.write(csv_bytes(pd.DataFrame(columns=columns, dtype=object), header=columns))
        result = connection.execution_options(yield_per=_EXPORT_BATCH_ROWS).execute(
            sa.select(
                scored.c.scored_at, scored.c.decision, scored.c.model_version, scored.c.input_json
            )
            .where(scored.c.id.in_(latest))
            .order_by(scored.c.id)
        )
        pending: list[dict[str, Any]] = []
        for scored_at, decision, model_version, input_json in result:
            declaration = orjson.loads(input_json)
            parcel = {name: declaration.get(name) for name in PARCEL_FIELDS}
            for item in declaration.get("items", []):
                row = {**parcel, **{name: item.get(name) for name in ITEM_FIELDS}}
                row.update(scored_at=scored_at, decision=decision, model_version=model_version)
                pending.append(row)
            if len(pending) >= _EXPORT_BATCH_ROWS:
                written += _write_plain(out, pending, columns)
        written += _write_plain(out, pending, columns)
    if isinstance(source, Path):
        database.dispose()
    return written


def _write_plain(out: IO[bytes], rows: list[dict[str, Any]], columns: list[str]) -> int:
    if not rows:
        return 0
    frame = pd.DataFrame(
        {name: [_cell(row.get(name)) for row in rows] for name in columns},
        columns=columns,
        dtype=object,
    )
    out.write(csv_bytes(frame, header=None))
    count = len(rows)
    rows.clear()
    return count
