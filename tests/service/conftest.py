"""Fixtures and test-data factories for the service tests."""

from __future__ import annotations

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
    import os  # noqa: PLC0415

    for name in list(os.environ):
        if name.startswith("PARCEL_SCREEN_"):
            monkeypatch.delenv(name)


def make_item(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "description": "cotton T-shirt",
        "hs_code": "6109.10",
        "quantity": 1,
        "net_weight_kg": 0.2,
        "value": 700,
        "currency": "RUB",
    }
    item.update(overrides)
    return item


def make_declaration(
    declaration_id: str = "RB123456789RU",
    items: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    declaration: dict[str, Any] = {
        "declaration_id": declaration_id,
        "origin_country": "RU",
        "destination_country": "CN",
        "category": "gift",
        "mail_class": "parcel",
        "gross_weight_kg": 0.4,
        "items": items if items is not None else [make_item()],
    }
    declaration.update(overrides)
    return declaration


def armour_declaration(declaration_id: str = "RB000000001RU") -> dict[str, Any]:
    return make_declaration(
        declaration_id,
        items=[
            make_item(
                description="plate carrier with level IV ballistic plates",
                hs_code="6307.90",
                net_weight_kg=7.5,
                value=450,
                currency="USD",
            ),
            make_item(),
        ],
        gross_weight_kg=8.0,
    )


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
