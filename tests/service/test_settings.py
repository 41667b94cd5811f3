from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from service.settings import Settings, SettingsError, key_digest, read_digest_file


def test_defaults() -> None:
    settings = Settings()
    assert settings.models_dir == Path("models")
    assert settings.model_version is None
    assert settings.audit_db is None
    assert settings.store_url() == "sqlite:///var/store.sqlite3"
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
    with pytest.raises(SettingsError, match="line 2") as caught:
        read_digest_file(path)
    # A wrong line may be a plaintext key: never quoted back.
    assert "plaintext-key" not in str(caught.value)
    with pytest.raises(SettingsError, match="not a regular file"):
        read_digest_file(tmp_path / "missing")


@pytest.mark.parametrize(
    "line",
    [
        key_digest("a")[:63],  # one hex short
        key_digest("a") + "0",  # one hex long
        "g" * 64,  # not hex
        f"{key_digest('a')} {key_digest('b')}",  # two on a line
        "sha256:" + key_digest("a"),
    ],
)
def test_bad_digest_lines_are_refused(tmp_path: Path, line: str) -> None:
    path = tmp_path / "keys.sha256"
    path.write_text(f"# keys\n{key_digest('ok')}\n{line}\n")
    with pytest.raises(SettingsError, match="line 3"):
        read_digest_file(path)


# Every way a key file can hold no usable key: each is an error, never "no keys".
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "holds no key digest"),
        (b"\n\n   \n", "holds no key digest"),
        (b"# the ops team's keys\n# (rotated 2026-11)\n", "holds no key digest"),
        (b"#" + key_digest("commented-out").encode() + b"\n", "holds no key digest"),
        (b"\xff\xfe" + "k".encode("utf-16-le"), "not UTF-8"),
    ],
)
@pytest.mark.parametrize(
    ("field", "variable"),
    [
        ("api_keys_file", "PARCEL_SCREEN_API_KEYS_FILE"),
        ("admin_api_keys_file", "PARCEL_SCREEN_ADMIN_API_KEYS_FILE"),
    ],
)
def test_a_key_file_without_keys_is_an_error(
    tmp_path: Path, content: bytes, message: str, field: str, variable: str
) -> None:
    path = tmp_path / "keys.sha256"
    path.write_bytes(content)
    settings = Settings(**{field: path})  # type: ignore[arg-type]
    assert settings.auth_enabled
    with pytest.raises(SettingsError, match=message) as caught:
        settings.api_key_digests()
    assert variable in str(caught.value)


def test_an_unreadable_key_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "keys.d"
    directory.mkdir()
    with pytest.raises(SettingsError, match="not a regular file"):
        Settings(api_keys_file=directory).api_key_digests()
    huge = tmp_path / "huge.sha256"
    huge.write_bytes((key_digest("a") + "\n").encode() * 20_000)
    with pytest.raises(SettingsError, match="larger than"):
        Settings(api_keys_file=huge).api_key_digests()
    locked = tmp_path / "locked.sha256"
    locked.write_text(key_digest("a") + "\n")
    real_open = Path.open

    def refused(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == locked:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    # Permissions alone do not stop a test run as root; the error is what matters.
    monkeypatch.setattr(Path, "open", refused)
    with pytest.raises(SettingsError, match=r"cannot read .*Permission denied"):
        Settings(admin_api_keys_file=locked).admin_key_digests()


def test_a_blank_key_file_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCEL_SCREEN_API_KEYS_FILE", " ")
    with pytest.raises(ValidationError, match="set but empty"):
        Settings()


def test_keys_from_the_list_and_the_file_together(tmp_path: Path) -> None:
    path = tmp_path / "keys.sha256"
    path.write_text(f"{key_digest('from-file')}\n")
    admin = tmp_path / "admin.sha256"
    admin.write_text(f"{key_digest('admin-from-file')}\n")
    settings = Settings(
        api_keys=["from-env"],
        api_keys_file=path,
        admin_api_keys=["admin-from-env"],
        admin_api_keys_file=admin,
    )
    assert settings.api_key_digests() == {
        key_digest(k) for k in ("from-env", "from-file", "admin-from-env", "admin-from-file")
    }
    assert settings.admin_key_digests() == {
        key_digest(k) for k in ("admin-from-env", "admin-from-file")
    }


def test_an_empty_key_list_means_no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    # Unset and empty are the same for the list (the server hands settings to its workers
    # that way); only a key file can be set and yet hold nothing, and that is refused.
    monkeypatch.setenv("PARCEL_SCREEN_API_KEYS", " , ,")
    settings = Settings()
    assert not settings.auth_enabled
    assert settings.api_key_digests() == frozenset()


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
