"""What the audit trail records: a scored declaration (JSON path) or a scored CSV answer,
and the row each becomes in the `scored` table.

Requests hand over records as cheaply as they can (the result mapping, the CSV bytes);
turning them into rows (JSON text, one row per declaration of a CSV) is the writer
thread's work. A row is a tuple in the order of `SCORED_COLUMNS`; the spill file keeps
the same tuples.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import orjson
import pyarrow as pa

from service.reasons import REASON_SEPARATOR
from training.history import FIRST_PASS_COLUMN
from training.schema import ITEM_FIELDS, PARCEL_FIELDS, canonical_header

# The columns of a row, in order (the id is the database's).
SCORED_COLUMNS: Final = (
    "scored_at",
    "request_id",
    "key_id",
    "declaration_id",
    "model_version",
    "parcel_risk_score",
    "decision",
    "input_json",
    "result_json",
    # The parcel's first-pass score (`training.history.PRIOR_FACTS`), where it was scored so.
    "first_pass_score",
)


def utc_now() -> str:
    return utc_iso(time.time())


def utc_iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")


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
    first_pass_score: float | None = None


@dataclass(frozen=True)
class ScoredCsv:
    """A scored CSV answer, audited one row per scored declaration.

    The request path hands over the scored rows as it rendered them (Arrow tables under the
    answer's column names, the same rows the CSV it sent was written from); grouping them
    into declarations is the writer thread's work.
    """

    request_id: str
    key_id: str | None
    tables: list[pa.Table]
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


def scored_row(record: ScoredRecord) -> tuple[Any, ...]:
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
        record.first_pass_score,
    )


_SCORE_COLUMNS: Final = ("risk_score", "risk_class", "parcel_risk_score", "decision", "reasons")


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ".")) if text.strip() else None
    except ValueError:
        return None


def _text(value: object) -> str:
    """A cell as the CSV answer shows it ("" for none)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value if isinstance(value, str) else str(value)


def _reasons(cell: str) -> list[dict[str, str]]:
    reasons = []
    for entry in cell.split(REASON_SEPARATOR):
        code, _, message = entry.partition(": ")
        if code.strip():
            reasons.append({"code": code.strip(), "message": message.strip()})
    return reasons


def csv_rows(record: ScoredCsv) -> list[tuple[Any, ...]]:
    """One audit row per scored declaration of a scored CSV (rows with errors skipped)."""
    if not record.tables:
        return []
    header = record.tables[0].column_names
    reader = (
        [_text(value) for value in row]
        for table in record.tables
        for row in zip(*(column.to_pylist() for column in table.columns), strict=True)
    )
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
    # The scoring's own last column, the parcel's first-pass score (an input column of the
    # same name is never the last).
    first_pass_at = len(header) - 1 if header[-1] == FIRST_PASS_COLUMN else None

    def cell(row: list[str], name: str) -> str:
        index = position.get(name)
        return row[index] if index is not None and index < len(row) else ""

    parcels: dict[str, tuple[dict[str, Any], dict[str, Any], float | None]] = {}
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
            first_pass = None if first_pass_at is None else _number(row[first_pass_at])
            parcels[declaration_id] = (declaration, result, first_pass)
        declaration, result, _ = parcels[declaration_id]
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
        scored_row(
            ScoredRecord(
                record.request_id, record.key_id, declaration, result, record.scored_at, first_pass
            )
        )
        for declaration, result, first_pass in parcels.values()
    ]
