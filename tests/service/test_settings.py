from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import Settings, SettingsError, key_digest, read_digest_file


def test_defaults() -> None:
    settings = Settings()
    assert settings.models_dir == Path("models")
    assert settings.model_version is None
    assert settings.audit_db == Path("var/audit.sqlite3")
    assert settings.audit_enabled
    assert settings.max_body_bytes == 10 * 1024 * 1024
    assert settings.max_batch_declarations == 1000
    assert settings.random_selection_rate == 0.005
    assert settings.log_format == "json"
    assert not settings.auth_enabled
    assert settings.api_key_digests() == frozenset()


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PARCEL_SCREEN_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("PARCEL_SCREEN_MODEL_VERSION", "2026-11-28.1")
    monkeypatch.setenv("PARCEL_SCREEN_API_KEYS", " first-key , second-key,")
    monkeypatch.setenv("PARCEL_SCREEN_REVIEW_THRESHOLD", "0.4")
    monkeypatch.setenv("PARCEL_SCREEN_AUDIT_ENABLED", "false")
    monkeypatch.setenv("PARCEL_SCREEN_LOG_FORMAT", "plain")
    monkeypatch.setenv("PARCEL_SCREEN_LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.models_dir == tmp_path
    assert settings.model_version == "2026-11-28.1"
    assert [key.get_secret_value() for key in settings.api_keys] == ["first-key", "second-key"]
    assert settings.review_threshold == 0.4
    assert not settings.audit_enabled
    assert settings.log_format == "plain"
    assert settings.log_level == "DEBUG"
    assert settings.auth_enabled


def test_keys_are_known_by_digest() -> None:
    settings = Settings(api_keys=["secret"])
    assert settings.api_key_digests() == {hashlib.sha256(b"secret").hexdigest()}
    assert "secret" not in repr(settings)


def test_digest_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.sha256"
    path.write_text(f"# ops team\n{key_digest('a').upper()}\n\n{key_digest('b')}  # ci\n")
    assert read_digest_file(path) == {key_digest("a"), key_digest("b")}
    settings = Settings(api_keys_file=path, admin_api_keys=["root"])
    assert settings.auth_enabled
    # Admin keys may call every /v1 route as well.
    assert settings.api_key_digests() == {key_digest(k) for k in ("a", "b", "root")}
    assert settings.admin_key_digests() == {key_digest("root")}


def test_bad_digest_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "keys.sha256"
    path.write_text(f"{key_digest('a')}\nplaintext-key\n")
    with pytest.raises(SettingsError, match="line 2"):
        read_digest_file(path)
    with pytest.raises(SettingsError, match="cannot read"):
        read_digest_file(tmp_path / "missing")


def test_blank_model_version_means_active(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCEL_SCREEN_MODEL_VERSION", " ")
    assert Settings().model_version is None


@pytest.mark.parametrize(
    "values",
    [
        {"review_threshold": 0.9, "inspect_threshold": 0.5},
        {"review_threshold": 1.5},
        {"random_selection_rate": -0.1},
        {"max_body_bytes": 0},
        {"log_format": "xml"},
    ],
)
def test_rejects_unusable_values(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**values)  # type: ignore[arg-type]
