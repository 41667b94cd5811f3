"""Fixtures for the service tests: settings, apps with the lifespan running, model copies."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.settings import Settings

SettingsFactory = Callable[..., Settings]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test, never from the shell that runs it."""
    for name in list(os.environ):
        if name.startswith("PARCEL_SCREEN_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """Logging configured by one test (a command that sets up its own handlers, on a
    stream the test runner then closes) must not leak into the next."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def settings_factory(tmp_path: Path) -> SettingsFactory:
    """Settings for a test app: a private audit database, no models unless given."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "models_dir": tmp_path / "no-models",
            "audit_db": tmp_path / "var" / "audit.sqlite3",
            "log_format": "plain",
            "reload_on_sighup": False,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def models_dir(tmp_path: Path, tiny_registry: Path) -> Path:
    """A private copy of the tiny registry, free to be changed by the test."""
    copy = tmp_path / "models"
    shutil.copytree(tiny_registry, copy)
    return copy


@pytest.fixture
def client(settings_factory: SettingsFactory, models_dir: Path) -> Iterator[TestClient]:
    """A client of an app serving the tiny model, lifespan running, auth off."""
    with TestClient(create_app(settings_factory(models_dir=models_dir))) as test_client:
        yield test_client


@pytest.fixture
def bare_client(settings_factory: SettingsFactory) -> Iterator[TestClient]:
    """A client of an app with no model to serve (for what does not need one)."""
    with TestClient(create_app(settings_factory())) as test_client:
        yield test_client
