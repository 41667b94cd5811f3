from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI

from service import server
from service.settings import Settings


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(server.uvicorn, "run", lambda app, **options: calls.append((app, options)))
    # Keep pytest's log capture in place.
    monkeypatch.setattr(server, "configure_logging", lambda *args, **kwargs: None)
    return calls


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("intake.example", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert server.is_loopback(host) is loopback


def test_refuses_a_reachable_address_without_keys(
    uvicorn_calls: list[tuple[Any, dict[str, Any]]],
) -> None:
    with pytest.raises(server.UnsafeBindError, match="PARCEL_SCREEN_API_KEYS"):
        server.serve(Settings(audit_enabled=False), host="0.0.0.0", port=8080)
    assert uvicorn_calls == []


def test_loopback_without_keys_says_so(
    uvicorn_calls: list[tuple[Any, dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="service.server"):
        server.serve(Settings(audit_enabled=False), host="127.0.0.1", port=8080)
    assert "no API keys configured" in caplog.text
    ((app, options),) = uvicorn_calls
    assert isinstance(app, FastAPI)
    assert options["host"] == "127.0.0.1"
    assert options["loop"] == "uvloop"
    assert options["http"] == "httptools"
    assert options["access_log"] is False


def test_any_address_with_keys(uvicorn_calls: list[tuple[Any, dict[str, Any]]]) -> None:
    server.serve(Settings(api_keys=["k"], audit_enabled=False), host="0.0.0.0", port=8080)
    assert uvicorn_calls[0][1]["host"] == "0.0.0.0"


def test_workers_get_the_settings_through_the_environment(
    uvicorn_calls: list[tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(api_keys=["k1", "k2"], review_threshold=0.3, audit_enabled=False)
    for key in server.settings_environment(settings):
        monkeypatch.setenv(key, "")  # so that the test ends with the variable unset again
    server.serve(settings, host="0.0.0.0", port=8080, workers=2)
    ((app, options),) = uvicorn_calls
    assert app == "service.api.app:create_app_from_env"
    assert options["factory"] is True
    assert options["workers"] == 2
    rebuilt = Settings()
    assert rebuilt.model_dump() == settings.model_dump()
    assert [k.get_secret_value() for k in rebuilt.api_keys] == ["k1", "k2"]
