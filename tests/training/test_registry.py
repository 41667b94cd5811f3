from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import pytest

from training.registry import (
    ArtifactIntegrityError,
    Registry,
    RegistryError,
    UntrustedModelError,
    sha256_of,
)
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
    # Recompute the digests so only the version check can object...
    sums = registry.root / version / "SHA256SUMS"
    sums.write_text(
        f"{sha256_of(registry.root / version / 'model.joblib')}  model.joblib\n"
        f"{sha256_of(card_path)}  card.json\n"
    )
    # ... and let the pin recorded at registration through (a fresh registry's history).
    (registry.root / "history.jsonl").unlink()
    registry.trust(version)
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


# --- what the registry trusts (issue 12, finding 3) -----------------------------------------

KEY = b"k" * 32


class _Payload:
    """A pickle that runs code when loaded: it leaves a file behind."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "code ran"))


def _recompute_sums(directory: Path) -> None:
    (directory / "SHA256SUMS").write_text(
        "".join(
            f"{sha256_of(directory / name)}  {name}\n" for name in ("model.joblib", "card.json")
        )
    )


@pytest.mark.parametrize("key", [None, KEY])
def test_a_pickle_with_recomputed_sums_never_runs(
    tmp_path: Path, tiny_training: TrainingResult, key: bytes | None
) -> None:
    registry = Registry(tmp_path / "models", signing_key=key)
    version = registry.register(tiny_training.model, tiny_training.card, activate=True)
    directory = registry.root / version
    marker = tmp_path / "pwned"
    joblib.dump(_Payload(marker), directory / "model.joblib")
    _recompute_sums(directory)
    with pytest.raises(UntrustedModelError, match="not the one recorded"):
        registry.load()
    with pytest.raises(UntrustedModelError):
        registry.activate(version)
    # Appending a pin of the forged sums does not help: every pin must agree.
    with (registry.root / "history.jsonl").open("a") as history:
        forged = {
            "action": "trust",
            "version": version,
            "sums_sha256": registry.sums_digest(version),
        }
        history.write(json.dumps(forged) + "\n")
    with pytest.raises(UntrustedModelError):
        registry.load()
    with pytest.raises(UntrustedModelError, match="cannot be trusted again"):
        registry.trust(version)
    assert not marker.exists()


def test_a_forged_history_does_not_fool_a_signing_key(
    tmp_path: Path, tiny_training: TrainingResult
) -> None:
    registry = Registry(tmp_path / "models", signing_key=KEY)
    version = registry.register(tiny_training.model, tiny_training.card, activate=True)
    directory = registry.root / version
    marker = tmp_path / "pwned"
    joblib.dump(_Payload(marker), directory / "model.joblib")
    _recompute_sums(directory)
    # Someone who can write the whole registry rewrites the history too; without the key
    # they cannot make a signature.
    (registry.root / "history.jsonl").unlink()
    Registry(registry.root).trust(version)
    assert Registry(registry.root).load().version == version  # a pin alone: loads
    assert marker.read_text() == "code ran"
    marker.unlink()
    with pytest.raises(UntrustedModelError, match="not signed with this signing key"):
        registry.load()
    assert not marker.exists()


def test_signed_models_load_only_with_their_key(
    tmp_path: Path, tiny_training: TrainingResult
) -> None:
    root = tmp_path / "models"
    signed = Registry(root, signing_key=KEY).register(tiny_training.model, tiny_training.card)
    assert Registry(root, signing_key=KEY).load(signed).version == signed
    assert Registry(root).load(signed).version == signed  # the pin is kept as well
    with pytest.raises(UntrustedModelError, match="not signed"):
        Registry(root, signing_key=b"o" * 32).load(signed)
    # Registered without the key: refused until someone with the key vouches for it.
    unsigned = Registry(root).register(tiny_training.model, tiny_training.card)
    with pytest.raises(UntrustedModelError, match="models trust"):
        Registry(root, signing_key=KEY).load(unsigned)
    Registry(root, signing_key=KEY).trust(unsigned, reason="trained before the key was set")
    assert Registry(root, signing_key=KEY).load(unsigned).version == unsigned


def test_an_unpinned_version_needs_trust(tmp_path: Path, tiny_training: TrainingResult) -> None:
    registry = Registry(tmp_path / "models")
    version = registry.register(tiny_training.model, tiny_training.card)
    (registry.root / "history.jsonl").unlink()  # as an older version of the registry left it
    with pytest.raises(UntrustedModelError, match="never pinned"):
        registry.load(version)
    registry.trust(version)
    assert registry.load(version).version == version
    # trust checks the files still match their SHA256SUMS.
    other = registry.register(tiny_training.model, tiny_training.card)
    (registry.root / "history.jsonl").unlink()
    (registry.root / other / "card.json").write_text("{}")
    with pytest.raises(ArtifactIntegrityError, match=r"SHA-256 of card\.json"):
        registry.trust(other)


def test_history_is_appended_never_rewritten(
    registry: Registry, tiny_training: TrainingResult
) -> None:
    first = registry.register(tiny_training.model, tiny_training.card, activate=True)
    before = (registry.root / "history.jsonl").read_bytes()
    registry.register(tiny_training.model, tiny_training.card, activate=True)
    after = (registry.root / "history.jsonl").read_bytes()
    assert after.startswith(before)
    events = registry.history()
    assert {e["action"] for e in events} == {"register", "activate"}
    assert all(len(e["sums_sha256"]) == 64 for e in events)
    assert first in {e["version"] for e in events}
    # A torn last line (a crash mid-write) is skipped, not fatal.
    with (registry.root / "history.jsonl").open("a") as history:
        history.write('{"action": "regi')
    assert len(registry.history()) == len(events)
    assert registry.load().version


@pytest.mark.parametrize(
    "active",
    ["../elsewhere/2026-01-01.1", "../../x", "/tmp/x", "2026-01-01.1/../../x", "x", ".."],
)
def test_active_naming_anything_but_a_version_is_refused(
    tmp_path: Path, tiny_training: TrainingResult, active: str
) -> None:
    # Reproduces finding 3: ACTIVE naming ../../elsewhere/x or an absolute path loaded it.
    elsewhere = Registry(tmp_path / "elsewhere")
    elsewhere.register(tiny_training.model, {**tiny_training.card, "version": "2026-01-01.1"})
    registry = Registry(tmp_path / "models")
    registry.root.mkdir()
    (registry.root / "ACTIVE").write_text(
        active.replace("/tmp/x", str(elsewhere.root / "2026-01-01.1")) + "\n"
    )
    with pytest.raises(RegistryError, match=r"does not name a model version|not a version name"):
        registry.load()


@pytest.mark.parametrize("version", ["../elsewhere/2026-01-01.1", "/abs/2026-01-01.1", "a" * 100])
def test_versions_asked_for_resolve_inside_the_registry(
    tmp_path: Path, tiny_training: TrainingResult, version: str
) -> None:
    registry = Registry(tmp_path / "models")
    registry.register(tiny_training.model, tiny_training.card, activate=True)
    with pytest.raises(RegistryError, match="is not a model version") as caught:
        registry.load(version)
    assert len(str(caught.value)) < 200
    with pytest.raises(RegistryError):
        registry.register(tiny_training.model, {**tiny_training.card, "version": version})


def test_a_version_directory_linking_outside_is_refused(
    tmp_path: Path, tiny_training: TrainingResult
) -> None:
    elsewhere = Registry(tmp_path / "elsewhere")
    outside = elsewhere.register(tiny_training.model, tiny_training.card)
    registry = Registry(tmp_path / "models")
    registry.root.mkdir()
    (registry.root / outside).symlink_to(elsewhere.root / outside)
    (registry.root / "history.jsonl").write_bytes((elsewhere.root / "history.jsonl").read_bytes())
    with pytest.raises(RegistryError, match="outside"):
        registry.load(outside)


def test_a_huge_active_file_is_refused_without_echo(registry: Registry) -> None:
    # Reproduces finding 11: a 5 MB ACTIVE file was quoted back in a 409.
    registry.root.mkdir()
    (registry.root / "ACTIVE").write_bytes(b"A" * (5 << 20))
    with pytest.raises(RegistryError, match="not a version name") as caught:
        registry.load()
    assert "AAAA" not in str(caught.value)
    assert len(str(caught.value)) < 300
    (registry.root / "ACTIVE").write_bytes(b"\xff\xfe..\n")
    with pytest.raises(RegistryError, match="does not name") as caught:
        registry.load()


def test_a_model_of_an_older_feature_layout_is_refused(tmp_path: Path) -> None:
    from training.registry import MODEL_FORMAT, ArtifactIntegrityError, Registry

    registry = Registry(tmp_path)
    with pytest.raises(ArtifactIntegrityError, match=r"older parcel-screen.*retrain"):
        registry._checked_card("2026-01-01.1", b"{}")
    card = registry._checked_card("2026-01-01.1", f'{{"model_format": {MODEL_FORMAT}}}'.encode())
    assert card["model_format"] == MODEL_FORMAT
