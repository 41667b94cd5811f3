"""Generated requests from the app's own OpenAPI document: none may get a 5xx."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from service.api import create_app
from tests.service.conftest import SettingsFactory

# Per operation; with ten operations the whole run stays well under half a minute.
EXAMPLES_PER_OPERATION = 40


def test_no_server_errors(settings_factory: SettingsFactory, models_dir: Path) -> None:
    app = create_app(settings_factory(models_dir=models_dir, access_log=False))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checked = []
    # The CSV route needs the batch scorer, which may not be installed in every checkout yet.
    has_csv = importlib.util.find_spec("service.batch") is not None
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label == "POST /v1/score/csv" and not has_csv:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(
                checks=[not_a_server_error, status_code_conformance, response_schema_conformance]
            )

        no_server_error()
        checked.append(operation.label)
    assert "POST /v1/score" in checked
    assert "POST /v1/score/batch" in checked
