from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from service.api import create_app
from service.api.ratelimit import RateLimiter
from service.settings import key_digest
from service.store.export import export_feedback
from tests.service.conftest import SettingsFactory
from tests.service.factories import armour_declaration, make_declaration, make_item
from training.tables import read_declarations


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


# --- provenance (issue 12, finding 2) -------------------------------------------------------

OFFICER, OTHER, ADMIN = "officer-key-1", "other-key-2", "admin-key-3"


def key_id_of(key: str) -> str:
    return key_digest(key)[:8]


def keyed_app(settings_factory: SettingsFactory, models_dir: Path, **overrides: Any) -> Any:
    return create_app(
        settings_factory(
            models_dir=models_dir, api_keys=[OFFICER, OTHER], admin_api_keys=[ADMIN], **overrides
        )
    )


def as_key(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_only_the_scoring_key_or_an_admin_posts_outcomes(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    with TestClient(keyed_app(settings_factory, models_dir)) as client:
        client.post("/v1/score", json=armour_declaration("P1"), headers=as_key(OFFICER))
        outcome = {"declaration_id": "P1", "outcome": "cleared"}
        refused = client.post("/v1/feedback", json=outcome, headers=as_key(OTHER))
        assert refused.status_code == 403
        assert refused.json()["code"] == "not_your_declaration"
        naming = client.post(
            "/v1/feedback",
            json={**outcome, "scored_by": key_id_of(OFFICER)},
            headers=as_key(OTHER),
        )
        assert naming.status_code == 403
        own = client.post("/v1/feedback", json=outcome, headers=as_key(OFFICER))
        assert own.status_code == 201
        assert own.json()["scored_by"] == key_id_of(OFFICER)
        admin = client.post("/v1/feedback", json=outcome, headers=as_key(ADMIN))
        assert admin.status_code == 201
        assert admin.json()["scored_by"] == key_id_of(OFFICER)
        exported = client.get("/v1/admin/feedback/export", headers=as_key(ADMIN))
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {row["feedback_by"] for row in rows} == {f"{key_id_of(OFFICER)} {key_id_of(ADMIN)}"}
    assert {row["scored_by"] for row in rows} == {key_id_of(OFFICER)}
    assert OFFICER not in exported.text and ADMIN not in exported.text


def test_a_rescored_declaration_id_is_kept_apart(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    # Reproduces finding 2: another key re-scored the id with its own description and
    # then labelled it; export -> train learned what that key wanted.
    with TestClient(keyed_app(settings_factory, models_dir)) as client:
        client.post("/v1/score", json=armour_declaration("P2"), headers=as_key(OFFICER))
        decoy = make_declaration("P2", items=[make_item(description="wool socks")])
        assert client.post("/v1/score", json=decoy, headers=as_key(OTHER)).status_code == 200
        theirs = client.post(
            "/v1/feedback",
            json={"declaration_id": "P2", "outcome": "cleared"},
            headers=as_key(OTHER),
        )
        assert theirs.status_code == 201
        assert theirs.json()["scored_by"] == key_id_of(OTHER)
        ambiguous = client.post(
            "/v1/feedback",
            json={"declaration_id": "P2", "outcome": "confirmed"},
            headers=as_key(ADMIN),
        )
        assert ambiguous.status_code == 409
        assert ambiguous.json()["code"] == "ambiguous_declaration"
        chosen = client.post(
            "/v1/feedback",
            json={
                "declaration_id": "P2",
                "item_no": 1,
                "outcome": "confirmed",
                "scored_by": key_id_of(OFFICER),
            },
            headers=as_key(ADMIN),
        )
        assert chosen.status_code == 201
        exported = client.get("/v1/admin/feedback/export", headers=as_key(ADMIN))
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    by_scorer = {row["scored_by"]: row for row in rows}
    officer, other = by_scorer[key_id_of(OFFICER)], by_scorer[key_id_of(OTHER)]
    # The officer's plate carrier keeps its label; the decoy's "cleared" only labels the socks.
    assert officer["description"].startswith("plate carrier")
    assert (officer["label"], officer["feedback_by"]) == ("1", key_id_of(ADMIN))
    assert (other["description"], other["label"]) == ("wool socks", "0")
    assert all("different content by another key" in row["feedback_conflict"] for row in rows)


def test_feedback_is_rate_limited_per_key(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    app = keyed_app(settings_factory, models_dir, feedback_per_minute=1, feedback_burst=3)
    with TestClient(app) as client:
        for key in (OFFICER, OTHER):
            client.post("/v1/score", json=make_declaration(f"RL-{key}"), headers=as_key(key))
        outcome = {"declaration_id": f"RL-{OFFICER}", "outcome": "cleared"}
        statuses = [
            client.post("/v1/feedback", json=outcome, headers=as_key(OFFICER)).status_code
            for _ in range(3)
        ]
        assert statuses == [201, 201, 201]
        limited = client.post("/v1/feedback", json=outcome, headers=as_key(OFFICER))
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # Another key has its own allowance.
        other = client.post(
            "/v1/feedback",
            json={"declaration_id": f"RL-{OTHER}", "outcome": "cleared"},
            headers=as_key(OTHER),
        )
        assert other.status_code == 201


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is None
    wait = limiter.acquire("a")
    assert wait is not None and 0.9 < wait <= 1.0
    assert limiter.acquire("b") is None
    now[0] += 1.0
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is not None


def test_feedback_export_is_guarded_and_clean(
    settings_factory: SettingsFactory, models_dir: Path, tmp_path: Path
) -> None:
    # Reproduces finding 8: formula cells written raw, and a NUL accepted over HTTP made
    # `evaluate` refuse the whole export as binary.
    settings = settings_factory(models_dir=models_dir)
    with TestClient(create_app(settings)) as client:
        declaration = make_declaration(
            "EXP1", items=[make_item(description="nul\x00 in the\x07 description\u202e")]
        )
        assert client.post("/v1/score", json=declaration).status_code == 200
        for note in ("=cmd|' /C calc'!A0", "@SUM(1+1)", '\u200b+HYPERLINK("x")', "nul\x00note"):
            posted = client.post(
                "/v1/feedback",
                json={"declaration_id": "EXP1", "outcome": "cleared", "note": note},
            )
            assert posted.status_code == 201
            dest = tmp_path / "feedback.csv"
            assert export_feedback(settings.audit_db, dest) == 1
            raw = dest.read_bytes()
            assert b"\x00" not in raw and b"\x07" not in raw and "\u202e".encode() not in raw
            (row,) = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
            assert row["description"] == "nul in the description"
            assert not row["feedback_note"].startswith(("=", "+", "@", "\u200b"))
    assert row["feedback_note"] == "nulnote"
    # The export reads back as a labelled file (what `evaluate` and `train` do with it).
    frame = read_declarations(dest)
    assert frame["description"].tolist() == ["nul in the description"]
