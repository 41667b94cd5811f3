"""Generated requests from the app's own OpenAPI document: none may get a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from service.api import create_app
from tests.service.conftest import SettingsFactory


@pytest.fixture
def api_schema(settings_factory: SettingsFactory, models_dir: Path) -> Iterator[object]:
    app: FastAPI = create_app(settings_factory(models_dir=models_dir, access_log=False))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
