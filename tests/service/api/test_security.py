from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.settings import Settings, SettingsError, key_digest
from tests.service.conftest import SettingsFactory
from tests.service.factories import make_declaration

USER_KEY = "user-key-7f3a"
ADMIN_KEY = "admin-key-91bc"


@pytest.fixture
def keyed_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, models_dir: Path) -> TestClient:
    """Keys from the environment: a plaintext user key and a digest file of admin keys."""
    admin_file = tmp_path / "admin.sha256"
    admin_file.write_text(key_digest(ADMIN_KEY) + "\n")
    monkeypatch.setenv("PARCEL_SCREEN_API_KEYS", f"other-key,{USER_KEY}")
    monkeypatch.setenv("PARCEL_SCREEN_ADMIN_API_KEYS_FILE", str(admin_file))
    monkeypatch.setenv("PARCEL_SCREEN_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("PARCEL_SCREEN_AUDIT_DB", str(tmp_path / "audit.sqlite3"))
    with TestClient(create_app()) as client:
        yield client  # type: ignore[misc]


def test_v1_needs_a_key(keyed_client: TestClient) -> None:
    missing = keyed_client.post("/v1/score", json=make_declaration())
    assert missing.status_code == 401
    assert missing.json()["code"] == "unauthorized"
    wrong = keyed_client.post("/v1/score", json=make_declaration(), headers={"X-API-Key": "guess"})
    assert wrong.status_code == 401
    assert keyed_client.get("/v1/model").status_code == 401
    assert keyed_client.post("/v1/score/batch", json={"declarations": []}).status_code == 401
    assert keyed_client.post("/v1/feedback", json={}).status_code == 401


def test_a_valid_key_is_let_in(keyed_client: TestClient) -> None:
    headers = {"X-API-Key": USER_KEY}
    assert (
        keyed_client.post("/v1/score", json=make_declaration(), headers=headers).status_code == 200
    )
    assert keyed_client.get("/v1/model", headers=headers).status_code == 200


def test_health_and_metrics_stay_open(keyed_client: TestClient) -> None:
    assert keyed_client.get("/healthz").status_code == 200
    assert keyed_client.get("/readyz").status_code == 200
    assert keyed_client.get("/metrics").status_code == 200


def test_admin_routes_need_an_admin_key(keyed_client: TestClient) -> None:
    user = keyed_client.post("/v1/admin/reload", headers={"X-API-Key": USER_KEY})
    assert user.status_code == 403
    admin = keyed_client.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY})
    assert admin.status_code == 200
    # An admin key is also an API key.
    scored = keyed_client.post(
        "/v1/score", json=make_declaration(), headers={"X-API-Key": ADMIN_KEY}
    )
    assert scored.status_code == 200


def test_admin_routes_are_off_without_admin_keys(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    app = create_app(settings_factory(models_dir=models_dir, api_keys=[USER_KEY]))
    with TestClient(app) as client:
        response = client.post("/v1/admin/reload", headers={"X-API-Key": USER_KEY})
        assert response.status_code == 403
        assert "no admin keys" in response.json()["message"]


def test_keys_from_a_digest_file(
    settings_factory: SettingsFactory, tmp_path: Path, models_dir: Path
) -> None:
    keys = tmp_path / "keys.sha256"
    keys.write_text(f"{key_digest(USER_KEY)}\n")
    app = create_app(settings_factory(models_dir=models_dir, api_keys_file=keys))
    with TestClient(app) as client:
        assert client.post("/v1/score", json=make_declaration()).status_code == 401
        ok = client.post("/v1/score", json=make_declaration(), headers={"X-API-Key": USER_KEY})
        assert ok.status_code == 200
        # The digest itself is not a key.
        digest = client.post(
            "/v1/score", json=make_declaration(), headers={"X-API-Key": key_digest(USER_KEY)}
        )
        assert digest.status_code == 401


def test_audit_names_the_key_by_id_only(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    settings = settings_factory(models_dir=models_dir, api_keys=[USER_KEY])
    with TestClient(create_app(settings)) as client:
        client.post("/v1/score", json=make_declaration("K1"), headers={"X-API-Key": USER_KEY})
    with contextlib.closing(sqlite3.connect(settings.audit_db)) as connection:
        rows = connection.execute("SELECT * FROM scored").fetchall()
    assert len(rows) == 1
    assert key_digest(USER_KEY)[:8] in rows[0]
    assert not any(USER_KEY in str(value) for value in rows[0])


def test_without_keys_everything_is_open(settings_factory: SettingsFactory) -> None:
    settings: Settings = settings_factory()
    assert not settings.auth_enabled
    with TestClient(create_app(settings)) as client:
        # No model here: past auth, the answer is 503, not 401.
        assert client.post("/v1/score", json=make_declaration()).status_code == 503


@pytest.mark.parametrize("setting", ["api_keys_file", "admin_api_keys_file"])
@pytest.mark.parametrize("content", ["", "# keys come later\n\n"])
def test_an_app_with_an_empty_key_file_does_not_start(
    settings_factory: SettingsFactory, tmp_path: Path, setting: str, content: str
) -> None:
    # Reproduces finding 1: an empty or comment-only file served every route without a key.
    keys = tmp_path / "keys.sha256"
    keys.write_text(content)
    with pytest.raises(SettingsError, match="holds no key digest"):
        create_app(settings_factory(**{setting: keys}))


def test_serve_refuses_an_empty_key_file_on_any_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from service import server

    keys = tmp_path / "keys.sha256"
    keys.write_text("# nothing yet\n")
    started: list[object] = []
    monkeypatch.setattr(server.uvicorn, "run", lambda *args, **kwargs: started.append(args))
    monkeypatch.setattr(server, "configure_logging", lambda *args, **kwargs: None)
    for host in ("0.0.0.0", "127.0.0.1"):
        with pytest.raises(SettingsError, match="holds no key digest"):
            server.serve(Settings(api_keys_file=keys, audit_enabled=False), host=host)
    assert started == []


def test_serve_command_says_why_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    keys = tmp_path / "admin.sha256"
    keys.write_text("")
    result = CliRunner().invoke(
        app,
        ["serve", "--host", "0.0.0.0", "--models-dir", str(tmp_path)],
        env={"PARCEL_SCREEN_ADMIN_API_KEYS_FILE": str(keys)},
    )
    assert result.exit_code == 2
    assert "holds no key digest" in result.output
    assert "Traceback" not in result.output


def test_duplicate_key_headers_are_refused(keyed_client: TestClient) -> None:
    # Reproduces finding 11: the first of two X-API-Key headers was taken.
    headers = [("X-API-Key", USER_KEY), ("X-API-Key", "guess")]
    for method, path, body in (
        ("POST", "/v1/score", make_declaration()),
        ("GET", "/v1/model", None),
        ("POST", "/v1/admin/reload", None),
    ):
        response = keyed_client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, path
        assert response.json()["code"] == "duplicate_api_key"
    twice = [("X-API-Key", ADMIN_KEY), ("X-API-Key", ADMIN_KEY)]
    assert keyed_client.post("/v1/admin/reload", headers=twice).status_code == 401


def test_admin_keys_alone_turn_auth_on(
    settings_factory: SettingsFactory, tmp_path: Path, models_dir: Path
) -> None:
    admin = tmp_path / "admin.sha256"
    admin.write_text(f"# ops\n{key_digest(ADMIN_KEY)}\n")
    with TestClient(
        create_app(settings_factory(models_dir=models_dir, admin_api_keys_file=admin))
    ) as client:
        assert client.post("/v1/score", json=make_declaration()).status_code == 401
        assert client.post("/v1/admin/reload").status_code == 401
        ok = client.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY})
        assert ok.status_code == 200
