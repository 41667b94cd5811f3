"""Behaviour shared by every route: the 500 answer, the deadline, the audit trail."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path

import anyio
import orjson
import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from tests.service.conftest import SettingsFactory
from tests.service.factories import armour_declaration, make_declaration


def test_unexpected_errors_are_500_with_a_request_id(
    settings_factory: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings_factory())

    async def broken() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/broken", broken)
    with TestClient(app) as client, caplog.at_level(logging.ERROR):
        response = client.get("/broken")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal_error"
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "secret internals" not in response.text
    (record,) = [r for r in caplog.records if r.name == "service.errors"]
    assert record.request_id == body["request_id"]  # type: ignore[attr-defined]
    assert record.exc_info is not None


def test_a_request_past_its_deadline_is_503(settings_factory: SettingsFactory) -> None:
    app = create_app(settings_factory(request_timeout_seconds=0.05))

    async def stuck() -> None:
        await anyio.Event().wait()

    app.add_api_route("/stuck", stuck)
    with TestClient(app) as client:
        response = client.get("/stuck")
    assert response.status_code == 503
    assert response.json()["code"] == "timeout"


def test_every_scored_declaration_is_audited_by_shutdown(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    settings = settings_factory(models_dir=models_dir, audit_batch_rows=3)
    request_ids = set()
    with TestClient(create_app(settings)) as client:
        for number in range(20):
            response = client.post("/v1/score", json=make_declaration(f"A{number}"))
            request_ids.add(response.headers["X-Request-ID"])
        batch = client.post(
            "/v1/score/batch",
            json={"declarations": [armour_declaration("AB1"), {"bad": 1}, make_declaration("AB2")]},
        )
        request_ids.add(batch.headers["X-Request-ID"])
    with contextlib.closing(sqlite3.connect(settings.audit_db)) as connection:
        rows = connection.execute(
            "SELECT request_id, declaration_id, model_version, decision, input_json, result_json"
            " FROM scored"
        ).fetchall()
    assert len(rows) == 22
    assert {row[0] for row in rows} == request_ids
    by_id = {row[1]: row for row in rows}
    assert set(by_id) == {f"A{n}" for n in range(20)} | {"AB1", "AB2"}
    _, _, version, decision, input_json, result_json = by_id["AB1"]
    assert decision in {"clear", "review", "inspect"}
    assert orjson.loads(input_json)["items"][0]["description"].startswith("plate carrier")
    assert orjson.loads(result_json)["model_version"] == version
