"""The audit store under trouble: locks, failures, a database deleted or replaced."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.store.audit import AuditLog
from service.store.records import ScoredRecord
from service.store.spill import Spill
from tests.service.conftest import SettingsFactory
from tests.service.factories import make_declaration
from tests.service.store.test_audit import declaration, result


def count(db: Path, sql: str = "SELECT COUNT(*) FROM scored") -> int:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return int(connection.execute(sql).fetchone()[0])


def wait_for(log: AuditLog, condition: Callable[[], bool], seconds: float = 15) -> None:
    """Wait until the writer's passes make `condition` hold; fail past `seconds`."""
    assert log.wait_until(condition, seconds), "timed out"


@contextlib.contextmanager
def locked(db: Path) -> Iterator[None]:
    """Another process's write lock on the database, as a backup or a stuck writer holds it."""
    connection = sqlite3.connect(db, isolation_level=None, timeout=0)
    connection.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


@pytest.fixture
def app_of(settings_factory: SettingsFactory, models_dir: Path) -> Callable[..., Any]:
    def build(**overrides: Any) -> Any:
        values: dict[str, Any] = {
            "models_dir": models_dir,
            "audit_lock_wait_seconds": 0.3,
            "audit_flush_seconds": 0.05,
        }
        values.update(overrides)
        return create_app(settings_factory(**values))

    return build


def test_a_long_lock_makes_feedback_503_never_500(app_of: Callable[..., Any]) -> None:
    # Reproduces finding 5: a write lock held over ~5 s turned POST /v1/feedback into a 500.
    app = app_of()
    with TestClient(app) as client:
        client.post("/v1/score", json=make_declaration("LOCK1"))
        audit = app.state.service.audit
        assert audit.flush(timeout=10)
        outcome = {"declaration_id": "LOCK1", "outcome": "cleared"}
        with locked(audit.path):
            response = client.post("/v1/feedback", json=outcome)
        assert response.status_code == 503
        assert response.json()["code"] == "audit_unavailable"
        assert int(response.headers["Retry-After"]) >= 1
        assert client.post("/v1/feedback", json=outcome).status_code == 201


def test_records_scored_during_a_lock_are_spilled_then_put_in(app_of: Callable[..., Any]) -> None:
    # Reproduces finding 5: a 20 s lock during a burst lost 59 of 15,727 records, and
    # /readyz said `audit: ok` throughout.
    app = app_of()
    with TestClient(app) as client:
        audit = app.state.service.audit
        with locked(audit.path):
            for number in range(30):
                assert (
                    client.post("/v1/score", json=make_declaration(f"SP{number}")).status_code
                    == 200
                )
            wait_for(audit, lambda: audit.spill.pending and audit.depth == 0)
            ready = client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["audit"] == "failing"
            assert "spilled" in ready.json()["reason"]
            # Feedback on a declaration that waits in the spill is not told "never scored".
            waiting = client.post(
                "/v1/feedback", json={"declaration_id": "SP3", "outcome": "cleared"}
            )
            assert waiting.status_code == 503
        wait_for(audit, lambda: not audit.spill.pending and audit.failure is None)
        assert client.get("/readyz").json()["audit"] == "ok"
        posted = client.post("/v1/feedback", json={"declaration_id": "SP3", "outcome": "cleared"})
        assert posted.status_code == 201
        metrics = client.get("/metrics").text
    assert count(audit.path) == 30
    assert 'parcel_screen_audit_rows_total{result="spilled"} 30.0' in metrics


def test_a_deleted_database_is_noticed_and_made_afresh(app_of: Callable[..., Any]) -> None:
    # Reproduces finding 5: after the file was deleted every record went to the deleted
    # file (1,484 "written", none on disk) and feedback failed until a restart.
    app = app_of()
    with TestClient(app) as client:
        audit = app.state.service.audit
        client.post("/v1/score", json=make_declaration("BEFORE"))
        assert audit.flush(timeout=10)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{audit.path}{suffix}").unlink(missing_ok=True)
        for number in range(5):
            client.post("/v1/score", json=make_declaration(f"AFTER{number}"))
        assert audit.flush(timeout=10)
        assert count(audit.path) == 5
        posted = client.post(
            "/v1/feedback", json={"declaration_id": "AFTER2", "outcome": "cleared"}
        )
        assert posted.status_code == 201
        gone = client.post("/v1/feedback", json={"declaration_id": "BEFORE", "outcome": "cleared"})
        assert gone.status_code == 404


def test_a_replaced_database_is_noticed(app_of: Callable[..., Any], tmp_path: Path) -> None:
    app = app_of()
    with TestClient(app) as client:
        audit = app.state.service.audit
        client.post("/v1/score", json=make_declaration("OLD"))
        assert audit.flush(timeout=10)
        replacement = tmp_path / "restored.sqlite3"
        spare = AuditLog(replacement)
        spare.open()
        spare.close()
        replacement.replace(audit.path)
        client.post("/v1/score", json=make_declaration("NEW"))
        assert audit.flush(timeout=10)
    assert count(audit.path, "SELECT COUNT(*) FROM scored WHERE declaration_id = 'NEW'") == 1


def test_refusing_mode_scores_nothing_it_cannot_record(app_of: Callable[..., Any]) -> None:
    app = app_of(audit_on_failure="refuse")
    with TestClient(app) as client:
        audit = app.state.service.audit
        with locked(audit.path):
            client.post("/v1/score", json=make_declaration("R1"))
            wait_for(audit, lambda: audit.failure is not None)
            refused = client.post("/v1/score", json=make_declaration("R2"))
            assert refused.status_code == 503
            assert refused.json()["code"] == "audit_unavailable"
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["audit"] == "failing"
        wait_for(audit, lambda: audit.failure is None)
        assert client.post("/v1/score", json=make_declaration("R3")).status_code == 200
        assert audit.flush(timeout=10)
    # The one scored before the failure was seen was spilled, then recorded.
    assert count(audit.path) == 2


def test_rows_wait_in_memory_when_the_spill_fails_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reproduces finding 5: a full disk lost 346 of 1,635 records.
    log = AuditLog(tmp_path / "audit.sqlite3", flush_interval=0.02, lock_wait=0.1)
    log.open()
    full = [True]
    real_insert, real_append = log._insert, Spill.append

    def insert(connection: sqlite3.Connection, rows: list[Any]) -> None:
        if full[0]:
            raise sqlite3.OperationalError("database or disk is full")
        real_insert(connection, rows)

    def append(self: Spill, rows: list[Any]) -> None:
        if full[0]:
            raise OSError(28, "No space left on device")
        real_append(self, rows)

    monkeypatch.setattr(log, "_insert", insert)
    monkeypatch.setattr(Spill, "append", append)
    try:
        for number in range(40):
            log.record(
                ScoredRecord(
                    "r",
                    None,
                    declaration(f"F{number}", ["x"]),
                    result(f"F{number}", [(0.1, "benign")]),
                )
            )
        wait_for(log, lambda: log.failure is not None and len(log._unsaved) == 40)
        assert log.depth == 40  # in the queue's depth: seen, not lost
        assert not log.flush(timeout=1)
        full[0] = False
        wait_for(log, lambda: log.failure is None and log.depth == 0)
    finally:
        log.close()
    assert count(log.path) == 40


def test_feedback_reads_its_writes_however_slow_the_writer(app_of: Callable[..., Any]) -> None:
    # Reproduces finding 10: an outcome posted right after scoring got 404 "never scored".
    app = app_of(audit_flush_seconds=10)
    with TestClient(app) as client:
        for number in range(3):
            client.post("/v1/score", json=make_declaration(f"RYW{number}"))
            posted = client.post(
                "/v1/feedback", json={"declaration_id": f"RYW{number}", "outcome": "cleared"}
            )
            assert posted.status_code == 201, posted.text


def test_a_spill_cut_short_by_a_crash_replays_its_whole_lines(tmp_path: Path) -> None:
    spill = Spill(tmp_path / "audit.spill.jsonl")
    row = ("2026-01-01T00:00:00", "r", None, "D1", "v", 0.1, "clear", "{}", "{}")
    spill.append([row, row])
    with spill.path.open("ab") as handle:
        handle.write(b'["2026-01-01T00:00:00", "r"')  # a crash mid-append
    log = AuditLog(tmp_path / "audit.sqlite3", spill_path=spill.path, flush_interval=0.02)
    log.open()
    try:
        wait_for(log, lambda: not spill.pending)
    finally:
        log.close()
    assert count(log.path) == 2
