"""An audit database as the hand-written code before the store package made it.

The schema is that code's, verbatim; the rows cover what the feedback export reads:
outcomes on items and parcels, bound and unbound to a scoring, outcomes that disagree,
an id re-scored with other content by another key, free-text notes a spreadsheet would
run. `tests/fixtures/store/old_feedback_export.csv` is what that code exported from it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any, Final

import orjson

OLD_SCHEMA: Final = """
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
    note TEXT{scored_id}
);
CREATE INDEX IF NOT EXISTS feedback_by_declaration ON feedback (declaration_id, id);
"""


def _declaration(declaration_id: str, sender: str | None, items: list[tuple[str, float]]) -> str:
    return orjson.dumps(
        {
            "declaration_id": declaration_id,
            "posted_at": "2026-11-20",
            "mail_class": "parcel",
            "category": "gift",
            "origin_country": "RU",
            "destination_country": "CN",
            "sender_id": sender,
            "recipient_id": "R-1",
            "gross_weight_kg": 8.3,
            "items": [
                {
                    "item_no": number,
                    "description": text,
                    "hs_code": "6211",
                    "quantity": 1,
                    "net_weight_kg": weight,
                    "value": 1500.0,
                    "currency": "RUB",
                }
                for number, (text, weight) in enumerate(items, start=1)
            ],
        }
    ).decode()


def _result(declaration_id: str, scores: list[tuple[float, str]]) -> str:
    return orjson.dumps(
        {
            "declaration_id": declaration_id,
            "parcel_risk_score": max(score for score, _ in scores),
            "decision": "inspect",
            "model_version": "2026-11-28.1",
            "items": [
                {"item_no": n, "risk_score": score, "risk_class": risk_class, "reasons": []}
                for n, (score, risk_class) in enumerate(scores, start=1)
            ],
        }
    ).decode()


SCORED: Final[list[tuple[Any, ...]]] = [
    # id, scored_at, request, key, declaration, input, result
    (
        1,
        "2026-11-20T10:00:00.000001+00:00",
        "r1",
        "aaaa0001",
        "D1",
        _declaration("D1", "S-1", [("Жилет мужской", 8.1), ("носки", 0.2)]),
        _result("D1", [(0.96, "body_armor"), (0.05, "benign")]),
    ),
    (
        2,
        "2026-11-20T10:00:01.000000+00:00",
        "r2",
        "aaaa0001",
        "D2",
        _declaration("D2", "S-1", [("helmet cover", 1.4), ("=HYPERLINK(1)", 0.3)]),
        _result("D2", [(0.7, "helmet"), (0.2, "benign")]),
    ),
    (
        3,
        "2026-11-20T10:00:02.000000+00:00",
        "r3",
        "aaaa0001",
        "D3",
        _declaration("D3", "S-2", [("plate carrier", 7.5)]),
        _result("D3", [(0.9, "body_armor")]),
    ),
    (
        4,
        "2026-11-20T10:00:03.000000+00:00",
        "r4",
        "ffff0009",
        "D3",
        _declaration("D3", "S-2", [("socks", 0.2)]),
        _result("D3", [(0.1, "benign")]),
    ),
    (
        5,
        "2026-11-20T10:00:04.000000+00:00",
        "r5",
        None,
        "D4",
        _declaration("D4", None, [("thermal sight", 1.1), ("bag", 0.5)]),
        _result("D4", [(0.4, "tactical_apparel"), (0.8, "optics_sensors")]),
    ),
]

FEEDBACK: Final[list[tuple[Any, ...]]] = [
    # id, received_at, request, key, declaration, item, outcome, class, note, scored_id
    (
        1,
        "2026-11-21T09:00:00.000000+00:00",
        "f1",
        "aaaa0001",
        "D1",
        1,
        "confirmed",
        None,
        "plates inside",
        1,
    ),
    (
        2,
        "2026-11-21T09:01:00.000000+00:00",
        "f2",
        "bbbb0002",
        "D1",
        1,
        "confirmed",
        None,
        "=cmd|' /C calc'!A0",
        1,
    ),
    (
        3,
        "2026-11-21T09:02:00.000000+00:00",
        "f3",
        "aaaa0001",
        "D2",
        None,
        "cleared",
        None,
        None,
        None,
    ),
    (
        4,
        "2026-11-21T09:03:00.000000+00:00",
        "f4",
        "aaaa0001",
        "D3",
        1,
        "confirmed",
        "body_armor",
        None,
        3,
    ),
    (
        5,
        "2026-11-21T09:04:00.000000+00:00",
        "f5",
        "bbbb0002",
        "D3",
        1,
        "cleared",
        None,
        "nothing\tfound",
        3,
    ),
    (
        6,
        "2026-11-21T09:05:00.000000+00:00",
        "f6",
        None,
        "D4",
        None,
        "confirmed",
        "tactical_apparel",
        None,
        None,
    ),
]


def build(path: Path, *, with_scored_id: bool = True) -> Path:
    """The old database at `path` (with or without the later `feedback.scored_id`)."""
    schema = OLD_SCHEMA.format(scored_id=",\n    scored_id INTEGER" if with_scored_id else "")
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.executescript(schema)
        connection.executemany(
            "INSERT INTO scored (id, scored_at, request_id, key_id, declaration_id,"
            " model_version, parcel_risk_score, decision, input_json, result_json)"
            " VALUES (?, ?, ?, ?, ?, '2026-11-28.1', 0.9, 'inspect', ?, ?)",
            SCORED,
        )
        rows = FEEDBACK if with_scored_id else [row[:-1] for row in FEEDBACK]
        marks = ", ".join("?" * len(rows[0]))
        columns = "id, received_at, request_id, key_id, declaration_id, item_no, outcome,"
        columns += " label_class, note" + (", scored_id" if with_scored_id else "")
        connection.executemany(f"INSERT INTO feedback ({columns}) VALUES ({marks})", rows)
        connection.commit()
    return path
