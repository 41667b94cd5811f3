from __future__ import annotations

import contextlib
import csv
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from service.store.audit import AuditLog
from service.store.export import EXPORT_COLUMNS, export_feedback
from service.store.records import ScoredCsv, ScoredRecord
from tests.service.store.scored import scored_table
from training.files import UnusableFileError
from training.schema import DeclarationIn


def declaration(declaration_id: str, descriptions: list[str]) -> DeclarationIn:
    return DeclarationIn.model_validate(
        {
            "declaration_id": declaration_id,
            "origin_country": "ru",
            "category": "подарок",
            "posted_at": "2026-11-28",
            "items": [
                {"description": f"  {text}  ", "net_weight_kg": 1.5, "value": 10}
                for text in descriptions
            ],
        }
    )


def result(declaration_id: str, scores: list[tuple[float, str]]) -> dict[str, Any]:
    return {
        "declaration_id": declaration_id,
        "parcel_risk_score": max(score for score, _ in scores),
        "decision": "inspect",
        "model_version": "2026-11-28.1",
        "items": [
            {
                "item_no": number,
                "risk_score": score,
                "risk_class": risk_class,
                "reasons": [{"code": "term", "message": "says plate carrier"}],
            }
            for number, (score, risk_class) in enumerate(scores, start=1)
        ],
    }


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return connection.execute(sql).fetchall()


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    log = AuditLog(tmp_path / "var" / "audit.sqlite3", batch_rows=7)
    log.open()
    yield log  # type: ignore[misc]
    log.close()


def test_records_normalised_input_and_scores(audit: AuditLog) -> None:
    audit.record(
        ScoredRecord(
            "req-1",
            "abcd1234",
            declaration("RB1", ["vest", "shirt"]),
            result("RB1", [(0.9, "body_armor"), (0.1, "benign")]),
        )
    )
    audit.close()
    ((request_id, key_id, declaration_id, version, score, decision, input_json),) = rows(
        audit.path,
        "SELECT request_id, key_id, declaration_id, model_version, parcel_risk_score, decision,"
        " input_json FROM scored",
    )
    assert (request_id, key_id, declaration_id, version, score, decision) == (
        "req-1",
        "abcd1234",
        "RB1",
        "2026-11-28.1",
        0.9,
        "inspect",
    )
    stored = orjson.loads(input_json)
    assert stored["origin_country"] == "RU"
    assert stored["category"] == "gift"
    assert [item["description"] for item in stored["items"]] == ["vest", "shirt"]
    assert [item["item_no"] for item in stored["items"]] == [1, 2]
    assert rows(audit.path, "PRAGMA journal_mode") == [("wal",)]


def test_close_drains_the_queue(audit: AuditLog) -> None:
    for number in range(1000):
        audit.record(
            ScoredRecord(
                f"r{number}",
                None,
                declaration(f"D{number}", ["x"]),
                result(f"D{number}", [(0.1, "benign")]),
            )
        )
    audit.close()
    assert rows(audit.path, "SELECT COUNT(*) FROM scored") == [(1000,)]
    assert audit.depth == 0
    # A request that races the shutdown still gets its row.
    audit.record(
        ScoredRecord("late", None, declaration("LATE", ["x"]), result("LATE", [(0.1, "benign")]))
    )
    assert rows(audit.path, "SELECT COUNT(*) FROM scored") == [(1001,)]


def test_flush_makes_rows_visible(audit: AuditLog) -> None:
    assert audit.scored_items("RB1") is None
    audit.record(
        ScoredRecord(
            "r", None, declaration("RB1", ["a", "b", "c"]), result("RB1", [(0.1, "benign")] * 3)
        )
    )
    assert audit.flush(timeout=10)
    assert audit.scored_items("RB1") == [1, 2, 3]


def test_scored_csv_is_audited_per_declaration(audit: AuditLog) -> None:
    scored = (
        "трек;описание;вес;extra;risk_score;risk_class;parcel_risk_score;decision;reasons;"
        "model_version;error\n"
        "RB1;plate carrier;7,5;x;0.9;body_armor;0.9;inspect;term: says plate carrier | "
        "weight_mismatch: heavy;v1;\n"
        "RB1;socks;0,2;y;0.1;benign;0.9;inspect;;v1;\n"
        "RB2;;0,2;z;;;;;;;description: is required and must not be empty\n"
    ).encode()
    audit.record(ScoredCsv("req-csv", "key12345", [scored_table(scored)]))
    audit.flush()
    ((input_json, result_json),) = rows(audit.path, "SELECT input_json, result_json FROM scored")
    stored, scores = orjson.loads(input_json), orjson.loads(result_json)
    assert stored["declaration_id"] == "RB1"
    assert [item["description"] for item in stored["items"]] == ["plate carrier", "socks"]
    assert scores["decision"] == "inspect"
    assert scores["items"][0]["reasons"] == [
        {"code": "term", "message": "says plate carrier"},
        {"code": "weight_mismatch", "message": "heavy"},
    ]


def read_export(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == EXPORT_COLUMNS
        return list(reader)


def test_export_joins_outcomes_with_inputs(audit: AuditLog, tmp_path: Path) -> None:
    scored = {
        "ITEM": [(0.95, "body_armor"), (0.1, "benign")],
        "CLEARED": [(0.6, "helmet"), (0.2, "benign")],
        "PARCEL": [(0.3, "tactical_apparel"), (0.8, "optics_sensors")],
        "NEVER": [(0.9, "helmet")],
    }
    for name, scores in scored.items():
        descriptions = [f"{name.lower()} line {n}" for n in range(1, len(scores) + 1)]
        audit.record(ScoredRecord("r", None, declaration(name, descriptions), result(name, scores)))
    audit.flush()
    audit.add_feedback(declaration_id="ITEM", item_no=1, outcome="confirmed", key_id="aaaa0001")
    audit.add_feedback(
        declaration_id="ITEM", item_no=1, outcome="confirmed", note="plates", key_id="bbbb0002"
    )
    audit.add_feedback(declaration_id="CLEARED", outcome="cleared")
    audit.add_feedback(declaration_id="PARCEL", outcome="confirmed", label_class="tactical_apparel")

    dest = tmp_path / "out" / "feedback.csv"
    assert export_feedback(audit.path, dest) == 4
    exported = {(row["declaration_id"], row["item_no"]): row for row in read_export(dest)}
    assert set(exported) == {("ITEM", "1"), ("CLEARED", "1"), ("CLEARED", "2"), ("PARCEL", "1")}
    item = exported["ITEM", "1"]
    assert (item["label"], item["label_class"], item["feedback_note"]) == (
        "1",
        "body_armor",
        "plates",
    )
    # Outcomes that agree: one label, both callers named, nothing flagged.
    assert (item["feedback_by"], item["feedback_conflict"]) == ("aaaa0001 bbbb0002", "")
    assert item["description"] == "item line 1"
    assert item["origin_country"] == "RU"
    assert item["net_weight_kg"] == "1.5"
    assert all(exported["CLEARED", n]["label"] == "0" for n in ("1", "2"))
    assert all(exported["CLEARED", n]["label_class"] == "benign" for n in ("1", "2"))
    # A parcel-level confirmation labels the line of the class the officer named.
    assert exported["PARCEL", "1"]["label_class"] == "tactical_apparel"
    assert [p.name for p in dest.parent.iterdir()] == ["feedback.csv"]


def test_export_without_feedback_writes_a_header(audit: AuditLog, tmp_path: Path) -> None:
    dest = tmp_path / "empty.csv"
    assert export_feedback(audit.path, dest) == 0
    assert read_export(dest) == []
    with pytest.raises(FileNotFoundError):
        export_feedback(tmp_path / "missing.sqlite3", dest)


def test_conflicting_outcomes_are_kept_and_flagged(audit: AuditLog, tmp_path: Path) -> None:
    # Reproduces finding 2: 500 alternating outcomes on one id, the last one won.
    audit.record(
        ScoredRecord(
            "r",
            "aaaa0001",
            declaration("FLIP", ["vest", "shirt"]),
            result("FLIP", [(0.9, "body_armor"), (0.1, "benign")]),
        )
    )
    audit.flush()
    (scoring,) = audit.scorings("FLIP")
    for number in range(6):
        audit.add_feedback(
            declaration_id="FLIP",
            item_no=1,
            outcome="confirmed" if number % 2 else "cleared",
            key_id="aaaa0001" if number < 4 else "ffff0009",
            scored_id=scoring.scored_id,
        )
    # A class dispute over gear keeps the label, not the class.
    audit.add_feedback(
        declaration_id="FLIP",
        item_no=2,
        outcome="confirmed",
        label_class="helmet",
        key_id="aaaa0001",
    )
    audit.add_feedback(
        declaration_id="FLIP",
        item_no=2,
        outcome="confirmed",
        label_class="body_armor",
        key_id="ffff0009",
    )
    dest = tmp_path / "feedback.csv"
    assert export_feedback(audit.path, dest) == 2
    flipped, disputed = read_export(dest)
    assert (flipped["label"], flipped["label_class"], flipped["feedback_outcome"]) == (
        "",
        "",
        "conflict",
    )
    assert flipped["feedback_conflict"] == (
        "outcomes disagree: cleared by aaaa0001 (2), ffff0009 (1); "
        "confirmed/body_armor by aaaa0001 (2), ffff0009 (1)"
    )
    assert flipped["scored_by"] == "aaaa0001"
    assert flipped["feedback_by"] == "aaaa0001 ffff0009"
    assert (disputed["label"], disputed["label_class"]) == ("1", "")
    assert (
        "confirmed/helmet by aaaa0001 (1); confirmed/body_armor by ffff0009 (1)"
        in (disputed["feedback_conflict"])
    )


def test_outcomes_go_with_the_scoring_they_were_posted_about(
    audit: AuditLog, tmp_path: Path
) -> None:
    audit.record(
        ScoredRecord(
            "r1",
            "aaaa0001",
            declaration("SAME", ["plate carrier"]),
            result("SAME", [(0.9, "body_armor")]),
        )
    )
    # Another key re-scores the id with other content: kept apart, not mixed in.
    audit.record(
        ScoredRecord(
            "r2", "ffff0009", declaration("SAME", ["socks"]), result("SAME", [(0.1, "benign")])
        )
    )
    audit.flush()
    first, second = audit.scorings("SAME")
    assert (first.key_id, second.key_id) == ("aaaa0001", "ffff0009")
    assert first.content != second.content
    audit.add_feedback(
        declaration_id="SAME", outcome="confirmed", key_id="aaaa0001", scored_id=first.scored_id
    )
    dest = tmp_path / "feedback.csv"
    assert export_feedback(audit.path, dest) == 1
    (row,) = read_export(dest)
    assert (row["description"], row["label"], row["scored_by"]) == (
        "plate carrier",
        "1",
        "aaaa0001",
    )
    assert "also scored with different content by another key" in row["feedback_conflict"]


def test_an_older_database_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.executescript(
            "CREATE TABLE feedback (id INTEGER PRIMARY KEY, received_at TEXT NOT NULL,"
            " request_id TEXT, key_id TEXT, declaration_id TEXT NOT NULL, item_no INTEGER,"
            " outcome TEXT NOT NULL, label_class TEXT, note TEXT);"
        )
    log = AuditLog(path)
    log.open()
    try:
        assert log.add_feedback(declaration_id="X", outcome="cleared", scored_id=1) == 1
    finally:
        log.close()


def test_export_refuses_an_output_that_is_not_a_file(audit: AuditLog, tmp_path: Path) -> None:
    with pytest.raises(UnusableFileError, match="is a device"):
        export_feedback(audit.path, Path("/dev/null"))
    directory = tmp_path / "dir"
    directory.mkdir()
    with pytest.raises(UnusableFileError, match="is a directory"):
        export_feedback(audit.path, directory)
    assert list(directory.iterdir()) == []


def test_a_record_that_cannot_be_stored_costs_only_itself(tmp_path: Path) -> None:
    class Broken:
        def model_dump(self, mode: str) -> dict[str, Any]:
            raise ValueError("cannot be dumped")

    failed: list[int] = []
    log = AuditLog(tmp_path / "audit.sqlite3", on_failed=failed.append)
    log.open()
    log.record(ScoredRecord("bad", None, Broken(), result("BAD", [(0.1, "benign")])))
    log.record(
        ScoredRecord("good", None, declaration("GOOD", ["x"]), result("GOOD", [(0.1, "benign")]))
    )
    log.close()
    assert rows(log.path, "SELECT declaration_id FROM scored") == [("GOOD",)]
    assert failed == [1]


def _records(count: int, prefix: str = "D") -> list[ScoredRecord]:
    return [
        ScoredRecord(
            f"r{number}",
            None,
            declaration(f"{prefix}{number}", ["x"]),
            result(f"{prefix}{number}", [(0.1, "benign")]),
        )
        for number in range(count)
    ]


def test_records_arriving_together_are_committed_together(tmp_path: Path) -> None:
    # The writer gathers what requests queued over its interval and commits it in
    # transactions of up to `batch_rows`, in order; one commit a record cost the request
    # path ~0.2 ms of CPU a declaration at one connection (docs/decisions.md).
    commits: list[int] = []
    log = AuditLog(
        tmp_path / "audit.sqlite3", batch_rows=7, flush_interval=0.05, on_written=commits.append
    )
    # Queued before the writer starts, so all of them wait for its first pass.
    for record in _records(20):
        log.record(record)
    log.open()
    try:
        assert log.wait_until(lambda: sum(commits) == 20, timeout=10)
        assert commits == [7, 7, 6]
        assert rows(log.path, "SELECT declaration_id FROM scored ORDER BY id") == [
            (f"D{number}",) for number in range(20)
        ]
    finally:
        log.close()


def test_a_lone_record_is_written_within_the_interval(tmp_path: Path) -> None:
    commits: list[int] = []
    log = AuditLog(tmp_path / "audit.sqlite3", flush_interval=0.05, on_written=commits.append)
    log.open()
    try:
        (record,) = _records(1, "LONE")
        log.record(record)
        # Nobody flushes: the writer's own pass puts it in.
        assert log.wait_until(lambda: commits == [1], timeout=10)
        assert rows(log.path, "SELECT declaration_id FROM scored") == [("LONE0",)]
    finally:
        log.close()


def test_closing_commits_what_waits_without_waiting_for_the_interval(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3", flush_interval=60)
    log.open()
    for record in _records(50):
        log.record(record)
    started = time.monotonic()
    log.close()
    # Far under the interval: closing wakes the writer, which commits everything queued.
    assert time.monotonic() - started < 30
    assert rows(log.path, "SELECT COUNT(*) FROM scored") == [(50,)]
    assert log.depth == 0
