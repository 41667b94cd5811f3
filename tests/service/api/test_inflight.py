"""Heavy work in flight: batch and CSV requests take a slot, held until their work ends."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.api.inflight import Work, WorkAbandonedError, WorkSlots
from service.api.score import BATCH_CALL_ITEMS, _score_in_groups
from service.party_history import PartyHistory
from tests.service.conftest import SettingsFactory
from tests.service.factories import make_declaration, make_item
from training.schema import DeclarationIn

CSV = b"declaration_id,description\nW1,socks\n"


def batch_of(count: int, items: int = 1) -> dict[str, Any]:
    return {
        "declarations": [
            make_declaration(f"W{n}", items=[make_item() for _ in range(items)])
            for n in range(count)
        ]
    }


def test_beyond_the_cap_batch_and_csv_requests_get_503(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    # Reproduces finding 9: six concurrent batches all ran, 5 GB between them.
    app = create_app(settings_factory(models_dir=models_dir, max_concurrent_batches=1))
    with TestClient(app) as client:
        slots: WorkSlots = app.state.service.work_slots
        held = slots.claim()  # a batch in flight
        assert held is not None
        busy = client.post("/v1/score/batch", json=batch_of(2))
        assert busy.status_code == 503
        assert busy.json()["code"] == "busy"
        assert int(busy.headers["Retry-After"]) >= 1
        csv = client.post("/v1/score/csv", content=CSV, headers={"Content-Type": "text/csv"})
        assert csv.status_code == 503
        # Single declarations are not held up.
        assert client.post("/v1/score", json=make_declaration("W0")).status_code == 200
        held.close()
        assert client.post("/v1/score/batch", json=batch_of(2)).status_code == 200
        assert (
            client.post(
                "/v1/score/csv", content=CSV, headers={"Content-Type": "text/csv"}
            ).status_code
            == 200
        )
        # Every slot is back once the requests are done, streamed CSV included.
        assert slots.in_use == 0


def test_a_timed_out_batch_keeps_its_slot_until_its_thread_ends(
    settings_factory: SettingsFactory, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_factory(
        models_dir=models_dir, max_concurrent_batches=1, request_timeout_seconds=0.3
    )
    app = create_app(settings)
    release = threading.Event()
    calls: list[int] = []
    with TestClient(app) as client:
        scorer = app.state.service.models.current.scorer
        real = scorer.score_declarations

        def slow(declarations: list[DeclarationIn], histories: Any = None) -> list[dict[str, Any]]:
            calls.append(len(declarations))
            release.wait(10)
            return real(declarations, histories)

        scorer.score_declarations = slow
        timed_out = client.post("/v1/score/batch", json=batch_of(3))
        assert timed_out.status_code == 503
        assert timed_out.json()["code"] == "timeout"
        slots: WorkSlots = app.state.service.work_slots
        # Its thread still computes: the memory is still held, so is its share.
        assert slots.in_use == 1
        assert slots.claim() is None  # a full-size request does not fit beside it
        # Told when the slot is given back (the thread ended), rather than polling for it.
        freed = threading.Event()
        free = slots._free

        def free_and_tell(cost: int) -> None:
            free(cost)
            freed.set()

        monkeypatch.setattr(slots, "_free", free_and_tell)
        release.set()
        assert freed.wait(10), "the slot was never given back"
        assert slots.in_use == 0
        scorer.score_declarations = real
        assert client.post("/v1/score/batch", json=batch_of(2)).status_code == 200
    assert calls == [3]


def test_small_batches_take_a_small_share_of_the_budget() -> None:
    slots = WorkSlots(2, full_size=1600)
    small = [slots.claim(50) for _ in range(32)]  # a sixteenth each at least: 32 fit
    assert all(work is not None for work in small)
    assert slots.claim(50) is None
    for work in small[:16]:
        assert work is not None
        work.close()
    assert slots.claim() is not None  # a full-size request fits again
    assert slots.claim(None) is None


def test_work_given_up_is_not_started() -> None:
    released: list[int] = []
    work = Work(lambda: released.append(1))
    work.close()
    assert released == [1]
    ran: list[int] = []

    async def attempt() -> None:
        with pytest.raises(WorkAbandonedError):
            await work.run(ran.append, 1)

    anyio.run(attempt)
    assert ran == []
    work.close()
    assert released == [1]  # released once


def test_batches_are_scored_in_bounded_groups_and_stop_when_abandoned() -> None:
    sizes: list[int] = []

    class Counting:
        reads_history = False

        def score_declarations(
            self, group: list[DeclarationIn], histories: Any = None
        ) -> list[dict[str, Any]]:
            sizes.append(sum(len(d.items) for d in group))
            return [{"declaration_id": d.declaration_id} for d in group]

    declarations = [
        DeclarationIn.model_validate(d) for d in batch_of(1000, items=10)["declarations"]
    ]
    work = Work(lambda: None)
    results = _score_in_groups(Counting(), PartyHistory(None), declarations, work)  # type: ignore[arg-type]
    assert [r["declaration_id"] for r in results] == [d.declaration_id for d in declarations]
    assert max(sizes) <= BATCH_CALL_ITEMS and sum(sizes) == 10_000 and len(sizes) > 1
    sizes.clear()
    work.close()
    with pytest.raises(WorkAbandonedError):
        _score_in_groups(Counting(), PartyHistory(None), declarations, work)  # type: ignore[arg-type]
    assert sizes == []
