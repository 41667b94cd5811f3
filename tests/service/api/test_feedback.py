from __future__ import annotations

import csv
import io
from pathlib import Path

from fastapi.testclient import TestClient

from service.api import create_app
from service.audit import export_feedback
from tests.service.conftest import SettingsFactory
from tests.service.factories import armour_declaration, make_declaration


def test_feedback_on_an_unscored_declaration_is_404(client: TestClient) -> None:
    response = client.post("/v1/feedback", json={"declaration_id": "NEVER", "outcome": "cleared"})
    assert response.status_code == 404
    assert response.json()["code"] == "declaration_not_found"
    assert response.json()["field"] == "declaration_id"


def test_feedback_on_a_missing_item_is_404(client: TestClient) -> None:
    client.post("/v1/score", json=make_declaration("F1"))
    response = client.post(
        "/v1/feedback", json={"declaration_id": "F1", "item_no": 5, "outcome": "cleared"}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "item_not_found"


def test_contradictory_feedback_is_422(client: TestClient) -> None:
    cases = [
        {"declaration_id": "F1", "outcome": "cleared", "label_class": "helmet"},
        {"declaration_id": "F1", "outcome": "confirmed", "label_class": "benign"},
        {"declaration_id": "F1", "outcome": "confirmed", "label_class": "grenade"},
        {"declaration_id": "F1", "outcome": "probably"},
        {"declaration_id": "F1", "outcome": "cleared", "item_no": 0},
        {"outcome": "cleared"},
    ]
    for payload in cases:
        response = client.post("/v1/feedback", json=payload)
        assert response.status_code == 422, payload
        assert response.json()["code"] == "validation_error"


def test_feedback_round_trip(
    settings_factory: SettingsFactory, models_dir: Path, tmp_path: Path
) -> None:
    settings = settings_factory(models_dir=models_dir)
    with TestClient(create_app(settings)) as client:
        scored = client.post("/v1/score", json=armour_declaration("RT1")).json()
        client.post("/v1/score/batch", json={"declarations": [make_declaration("RT2")]})
        confirmed = client.post(
            "/v1/feedback",
            json={"declaration_id": "RT1", "item_no": 1, "outcome": "confirmed", "note": "plates"},
        )
        assert confirmed.status_code == 201
        assert confirmed.json()["feedback_id"] >= 1
        cleared = client.post("/v1/feedback", json={"declaration_id": "RT2", "outcome": "cleared"})
        assert cleared.status_code == 201

    dest = tmp_path / "labelled.csv"
    assert export_feedback(settings.audit_db, dest) == 2
    with dest.open(encoding="utf-8", newline="") as handle:
        rows = {row["declaration_id"]: row for row in csv.DictReader(handle)}
    assert rows["RT1"]["label"] == "1"
    assert rows["RT1"]["label_class"] == scored["items"][0]["risk_class"]
    assert rows["RT1"]["description"] == "plate carrier with level IV ballistic plates"
    assert rows["RT1"]["feedback_note"] == "plates"
    assert (rows["RT2"]["label"], rows["RT2"]["label_class"]) == ("0", "benign")


def test_feedback_export_over_http_needs_admin(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    settings = settings_factory(models_dir=models_dir, admin_api_keys=["root"])
    with TestClient(create_app(settings)) as client:
        headers = {"X-API-Key": "root"}
        client.post("/v1/score", json=make_declaration("EX1"), headers=headers)
        client.post(
            "/v1/feedback", json={"declaration_id": "EX1", "outcome": "cleared"}, headers=headers
        )
        assert client.get("/v1/admin/feedback/export").status_code == 401
        response = client.get("/v1/admin/feedback/export", headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [(row["declaration_id"], row["label"]) for row in rows] == [("EX1", "0")]


def test_feedback_needs_the_audit_store(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    app = create_app(settings_factory(models_dir=models_dir, audit_enabled=False))
    with TestClient(app) as client:
        assert client.post("/v1/score", json=make_declaration("NA1")).status_code == 200
        response = client.post("/v1/feedback", json={"declaration_id": "NA1", "outcome": "cleared"})
        assert response.status_code == 503
        assert response.json()["code"] == "audit_disabled"
        assert client.get("/readyz").json()["audit"] == "disabled"
