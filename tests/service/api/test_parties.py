"""The admin routes of the watch list and party histories (contract section 5)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from service.api import create_app
from tests.service.conftest import SettingsFactory
from tests.service.factories import make_declaration

ADMIN = {"X-API-Key": "admin-key"}
USER = {"X-API-Key": "user-key"}


def keyed_client(settings_factory: SettingsFactory, models_dir: Path) -> TestClient:
    settings = settings_factory(
        models_dir=models_dir, api_keys=["user-key"], admin_api_keys=["admin-key"]
    )
    return TestClient(create_app(settings))


def test_the_watch_list_round_trip(settings_factory: SettingsFactory, models_dir: Path) -> None:
    with keyed_client(settings_factory, models_dir) as client:
        entry = {"party_id": "S-77", "role": "sender", "reason": "plates seized"}
        assert client.post("/v1/admin/watchlist", json=entry, headers=USER).status_code == 403
        added = client.post(
            "/v1/admin/watchlist", json={**entry, "expires": "2099-12-31"}, headers=ADMIN
        )
        assert added.status_code == 201, added.text
        body = added.json()
        assert body["created"] is True
        assert body["entry"]["listed_by"].startswith("key:")
        assert body["entry"]["expires_at"] == "2100-01-01T00:00:00Z"
        assert body["entry"]["active"] is True
        again = client.post("/v1/admin/watchlist", json=entry, headers=ADMIN).json()
        assert again["created"] is False
        listed = client.get("/v1/admin/watchlist", headers=ADMIN).json()["entries"]
        assert [(e["party_id"], e["role"]) for e in listed] == [("S-77", "sender")]
        removed = client.delete("/v1/admin/watchlist/S-77", headers=ADMIN)
        assert removed.status_code == 200
        assert [e["role"] for e in removed.json()["removed"]] == ["sender"]
        gone = client.delete("/v1/admin/watchlist/S-77", headers=ADMIN)
        assert (gone.status_code, gone.json()["code"]) == (404, "not_on_watchlist")


def test_bad_entries_are_422_naming_the_field(client: TestClient) -> None:
    cases = [
        ({"party_id": "S", "role": "courier", "reason": "x"}, "role"),
        ({"party_id": "S", "role": "sender", "reason": ""}, "reason"),
        ({"party_id": "S", "role": "sender", "reason": "x", "expires": "2001-01-01"}, "expires"),
        ({"party_id": "\u200b", "role": "sender", "reason": "x"}, "party_id"),
        ({"party_id": "x" * 65, "role": "sender", "reason": "x"}, "party_id"),
    ]
    for payload, field in cases:
        response = client.post("/v1/admin/watchlist", json=payload)
        assert response.status_code == 422, (payload, response.text)
        assert response.json()["field"] == field, payload


def test_history_counts_a_partys_parcels(client: TestClient) -> None:
    for number, (sender, recipient) in enumerate(
        [("S-1", "R-1"), ("S-1", "R-2"), ("S-2", "S-1")], start=1
    ):
        declaration = make_declaration(f"H{number}", sender_id=sender, recipient_id=recipient)
        assert client.post("/v1/score", json=declaration).status_code == 200
    # Re-scoring is the same parcel, not a second one.
    client.post("/v1/score", json=make_declaration("H1", sender_id="S-1", recipient_id="R-1"))
    client.post("/v1/feedback", json={"declaration_id": "H2", "outcome": "cleared"})
    client.post("/v1/admin/watchlist", json={"party_id": "S-1", "role": "sender", "reason": "r"})
    history = client.get("/v1/admin/history/S-1", params={"limit": 2}).json()
    assert (history["as_sender"], history["as_recipient"], history["parcels_total"]) == (2, 1, 3)
    assert (history["cleared"], history["confirmed"], history["counterparties"]) == (1, 0, 3)
    assert history["latest_cleared_at"].endswith("Z")
    assert len(history["parcels"]) == 2
    assert [entry["role"] for entry in history["watch"]] == ["sender"]
    unknown = client.get("/v1/admin/history/NOBODY").json()
    assert (unknown["parcels_total"], unknown["watch"]) == (0, [])


def test_the_csv_endpoint_records_parcels(client: TestClient) -> None:
    body = (
        "declaration_id,sender_id,recipient_id,description,net_weight_kg\n"
        "CSV1,S-CSV,R-CSV,plate carrier,7.5\n"
    )
    response = client.post("/v1/score/csv", content=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 200
    store = client.app.state.service.store  # type: ignore[attr-defined]
    assert store.audit.flush(timeout=10)
    history = client.get("/v1/admin/history/S-CSV").json()
    assert history["as_sender"] == 1
    assert history["parcels"][0]["recipient_id"] == "R-CSV"


def test_without_the_store_the_routes_say_so(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    app = create_app(settings_factory(models_dir=models_dir, audit_enabled=False))
    with TestClient(app) as client:
        response = client.get("/v1/admin/watchlist")
        assert (response.status_code, response.json()["code"]) == (503, "audit_disabled")
