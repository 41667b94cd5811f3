from __future__ import annotations

import asyncio
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.api.app import install_sighup_reload
from service.api.metrics import Metrics
from service.api.security import KeyRing
from service.api.state import ModelHolder, ServiceState
from tests.service.conftest import SettingsFactory
from tests.service.factories import armour_declaration, make_declaration
from training.registry import ARTIFACT, Registry
from training.train import TrainingResult


def register_copy(models_dir: Path, training: TrainingResult, version: str) -> str:
    card = {**training.card, "version": version}
    return Registry(models_dir).register(training.model, card, activate=True)


def test_model_card(client: TestClient, models_dir: Path) -> None:
    response = client.get("/v1/model")
    assert response.status_code == 200
    card = response.json()
    registry = Registry(models_dir)
    assert card["version"] == registry.active_version()
    stored = registry.card()
    assert card["thresholds"] == stored["thresholds"]
    assert card["effective_thresholds"]["review"] == stored["thresholds"]["review"]
    assert card["effective_thresholds"]["random_selection_rate"] == 0.005
    assert card["loaded_at"]


def test_model_card_shows_overrides(settings_factory: SettingsFactory, models_dir: Path) -> None:
    settings = settings_factory(
        models_dir=models_dir, review_threshold=0.01, inspect_threshold=0.99
    )
    with TestClient(create_app(settings)) as client:
        effective = client.get("/v1/model").json()["effective_thresholds"]
    assert (effective["review"], effective["inspect"]) == (0.01, 0.99)


def test_reload_swaps_in_the_active_model(
    client: TestClient, models_dir: Path, tiny_training: TrainingResult
) -> None:
    before = client.get("/v1/model").json()["version"]
    same = client.post("/v1/admin/reload")
    assert same.json() == {"model_version": before, "previous_version": before, "changed": False}
    new_version = register_copy(models_dir, tiny_training, "9999-01-01.1")
    response = client.post("/v1/admin/reload")
    assert response.status_code == 200
    assert response.json() == {
        "model_version": new_version,
        "previous_version": before,
        "changed": True,
    }
    assert client.post("/v1/score", json=make_declaration()).json()["model_version"] == new_version
    assert f'parcel_screen_model_info{{version="{new_version}"}} 1.0' in client.get("/metrics").text


def test_reload_during_traffic_fails_no_request(
    client: TestClient, models_dir: Path, tiny_training: TrainingResult
) -> None:
    old = client.get("/v1/model").json()["version"]
    new = register_copy(models_dir, tiny_training, "9999-01-01.2")
    stop = threading.Event()

    def traffic(worker: int) -> list[tuple[int, str]]:
        seen = []
        number = 0
        while not stop.is_set() or number < 5:
            number += 1
            response = client.post("/v1/score", json=armour_declaration(f"T{worker}-{number}"))
            seen.append((response.status_code, response.json().get("model_version", "")))
        return seen

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(traffic, worker) for worker in range(4)]
        reloads = [client.post("/v1/admin/reload").status_code for _ in range(3)]
        stop.set()
        seen = [entry for future in futures for entry in future.result()]
    assert reloads == [200, 200, 200]
    assert {status for status, _ in seen} == {200}
    assert {version for _, version in seen} <= {old, new}
    assert client.post("/v1/score", json=make_declaration()).json()["model_version"] == new


def test_tampered_artifact_leaves_the_old_model_serving(
    client: TestClient, models_dir: Path, tiny_training: TrainingResult
) -> None:
    old = client.get("/v1/model").json()["version"]
    bad = register_copy(models_dir, tiny_training, "9999-01-01.3")
    with (models_dir / bad / ARTIFACT).open("ab") as artifact:
        artifact.write(b"\0")
    response = client.post("/v1/admin/reload")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "reload_failed"
    assert "SHA-256" in body["message"]
    assert client.get("/readyz").json()["model_version"] == old
    scored = client.post("/v1/score", json=make_declaration())
    assert scored.status_code == 200
    assert scored.json()["model_version"] == old
    assert 'parcel_screen_model_reloads_total{result="failed"} 1.0' in client.get("/metrics").text


def test_pinned_version_is_served(
    settings_factory: SettingsFactory, models_dir: Path, tiny_training: TrainingResult
) -> None:
    pinned = Registry(models_dir).active_version()
    register_copy(models_dir, tiny_training, "9999-01-01.4")
    with TestClient(create_app(settings_factory(models_dir=models_dir, model_version=pinned))) as c:
        assert c.get("/v1/model").json()["version"] == pinned
        assert c.post("/v1/admin/reload").json()["model_version"] == pinned


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_reloads(
    settings_factory: SettingsFactory, models_dir: Path, tiny_training: TrainingResult
) -> None:
    settings = settings_factory(models_dir=models_dir, reload_on_sighup=True)
    metrics = Metrics()
    state = ServiceState(
        settings=settings,
        keys=KeyRing.from_settings(settings),
        metrics=metrics,
        models=ModelHolder(settings, metrics),
        audit=None,
        store=None,
    )

    async def scenario() -> tuple[Any, Any]:
        await state.models.reload()
        new = register_copy(models_dir, tiny_training, "9999-01-01.5")
        reloaded = asyncio.Event()
        reload = state.models.reload

        async def reload_and_tell() -> Any:
            try:
                return await reload()
            finally:
                reloaded.set()

        state.models.reload = reload_and_tell  # type: ignore[method-assign]
        remove = install_sighup_reload(state)
        try:
            # Without the handler, SIGHUP would end the test run.
            assert signal.getsignal(signal.SIGHUP) is not signal.SIG_DFL
            os.kill(os.getpid(), signal.SIGHUP)
            await reloaded.wait()
        finally:
            remove()
        assert state.models.current is not None
        return new, state.models.current.scorer.model_version

    new, serving = asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    assert serving == new


@pytest.mark.parametrize("active", ["../elsewhere", "/etc", "A" * (5 << 20)])
def test_reload_refuses_an_active_file_naming_no_version(
    client: TestClient, models_dir: Path, active: str
) -> None:
    old = client.get("/v1/model").json()["version"]
    (models_dir / "ACTIVE").write_text(active + "\n")
    response = client.post("/v1/admin/reload")
    assert response.status_code == 409
    # Refused without being quoted back (a 5 MB ACTIVE came back whole in the 409).
    assert len(response.content) < 500
    assert active[:20] not in response.json()["message"]
    assert client.post("/v1/score", json=make_declaration()).json()["model_version"] == old


def test_a_signing_key_refuses_unsigned_models(
    settings_factory: SettingsFactory, models_dir: Path, tiny_training: TrainingResult
) -> None:
    key = "s" * 40
    settings = settings_factory(models_dir=models_dir, model_signing_key=key)
    with TestClient(create_app(settings)) as c:
        # The tiny registry's model was registered without the key.
        ready = c.get("/readyz").json()
        assert ready["status"] == "not_ready"
        assert "not signed" in ready["reason"]
        Registry(models_dir, signing_key=key.encode()).trust(
            Registry(models_dir).active_version() or ""
        )
        assert c.post("/v1/admin/reload").status_code == 200
        assert c.get("/readyz").json()["status"] == "ready"


def test_an_unusable_signing_key_stops_the_start(
    settings_factory: SettingsFactory, tmp_path: Path
) -> None:
    from service.settings import SettingsError

    with pytest.raises(SettingsError, match="at least 32"):
        create_app(settings_factory(model_signing_key="short"))
    empty = tmp_path / "signing.key"
    empty.write_text("\n")
    with pytest.raises(SettingsError, match="MODEL_SIGNING_KEY_FILE"):
        create_app(settings_factory(model_signing_key_file=empty))
    empty.write_text("f" * 64 + "\n")
    create_app(settings_factory(model_signing_key_file=empty))


def test_a_loaded_model_is_out_of_the_collector_s_sight_and_a_replaced_one_is_freed(
    client: TestClient,
) -> None:
    import gc
    import weakref

    holder = client.app.state.service.models  # type: ignore[attr-defined]
    scorer = holder.require()
    # Frozen: full collections no longer walk the model's objects.
    assert gc.get_freeze_count() > 0
    assert not any(found is scorer for found in gc.get_objects())
    replaced = weakref.ref(scorer)
    del scorer
    assert client.post("/v1/admin/reload").status_code == 200
    assert client.post("/v1/admin/reload").status_code == 200
    assert replaced() is None
    assert client.post("/v1/score", json=make_declaration()).status_code == 200
