from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.registry import ArtifactIntegrityError, Registry, RegistryError, sha256_of
from training.train import TrainingResult


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "models")


def test_register_writes_artifact_card_and_digests_atomically(
    registry: Registry, tiny_training: TrainingResult
) -> None:
    version = registry.register(tiny_training.model, tiny_training.card)
    directory = registry.root / version
    assert sorted(p.name for p in directory.iterdir()) == [
        "SHA256SUMS",
        "card.json",
        "model.joblib",
    ]
    assert registry.active_version() is None  # a candidate until promoted
    # No staging directories or temp files left behind.
    assert [p.name for p in registry.root.iterdir() if p.name.startswith(".")] == []
    loaded = registry.load(version)
    assert loaded.card["version"] == version
    assert "scikit-learn" in loaded.card["libraries"]


def test_tampered_artifact_is_refused_before_unpickling(
    registry: Registry, tiny_training: TrainingResult
) -> None:
    version = registry.register(tiny_training.model, tiny_training.card, activate=True)
    artifact = registry.root / version / "model.joblib"
    data = bytearray(artifact.read_bytes())
    data[-10] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match="SHA-256"):
        registry.load()


def test_library_version_mismatch_is_refused(
    registry: Registry, tiny_training: TrainingResult
) -> None:
    version = registry.register(tiny_training.model, tiny_training.card)
    card_path = registry.root / version / "card.json"
    card = json.loads(card_path.read_text())
    card["libraries"]["scikit-learn"] = "0.1.0"
    card_path.write_text(json.dumps(card))
    # Re-sign the card so only the version check can object.
    sums = registry.root / version / "SHA256SUMS"
    sums.write_text(
        f"{sha256_of(registry.root / version / 'model.joblib')}  model.joblib\n"
        f"{sha256_of(card_path)}  card.json\n"
    )
    with pytest.raises(ArtifactIntegrityError, match=r"scikit-learn 0\.1\.0"):
        registry.load(version)


def test_promote_and_rollback_follow_the_history(
    registry: Registry, tiny_training: TrainingResult
) -> None:
    first = registry.register(tiny_training.model, tiny_training.card, activate=True)
    second = registry.register(tiny_training.model, tiny_training.card)
    third = registry.register(tiny_training.model, tiny_training.card)
    assert [first, second, third] == sorted([first, second, third])
    registry.activate(second, reason="better recall")
    registry.activate(third)
    assert registry.active_version() == third
    assert registry.rollback() == second
    assert registry.rollback() == first
    with pytest.raises(RegistryError, match="nothing to roll back"):
        registry.rollback()
    actions = [event["action"] for event in registry.history()]
    assert actions.count("rollback") == 2
    assert any(event.get("reason") == "better recall" for event in registry.history())


def test_missing_model_gives_a_clear_error(registry: Registry) -> None:
    with pytest.raises(RegistryError, match="no active model"):
        registry.load()
    with pytest.raises(RegistryError, match="not found"):
        registry.load("1999-01-01.1")
