from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_answers_without_a_model(bare_client: TestClient) -> None:
    response = bare_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_503_until_a_model_is_loaded(bare_client: TestClient) -> None:
    response = bare_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert "no active model" in body["reason"]


def test_readyz_names_the_model(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert response.json()["model_version"]
    assert response.json()["audit"] == "ok"


def test_every_response_carries_a_request_id(bare_client: TestClient) -> None:
    generated = bare_client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    echoed = bare_client.get("/healthz", headers={"X-Request-ID": "intake-42.a"})
    assert echoed.headers["X-Request-ID"] == "intake-42.a"
    # Not something to copy into logs as it is.
    unsafe = bare_client.get("/healthz", headers={"X-Request-ID": "a b;{}"})
    assert unsafe.headers["X-Request-ID"] != "a b;{}"
    missing = bare_client.get("/no/such/route")
    assert missing.status_code == 404
    assert missing.json()["request_id"] == missing.headers["X-Request-ID"]


def test_metrics(client: TestClient) -> None:
    client.post(
        "/v1/score",
        json={"declaration_id": "M1", "items": [{"description": "wool socks"}]},
    )
    client.get("/healthz")
    text = client.get("/metrics").text
    assert 'parcel_screen_http_requests_total{method="POST",route="/v1/score",status="200"}' in text
    assert "parcel_screen_http_request_duration_seconds_bucket" in text
    assert 'parcel_screen_scoring_duration_seconds_count{endpoint="score"} 1.0' in text
    assert "parcel_screen_decisions_total" in text
    assert "parcel_screen_parcel_risk_score_bucket" in text
    assert "parcel_screen_model_info{version=" in text
    assert "parcel_screen_audit_queue_depth" in text


def test_docs_are_served_without_a_cdn(bare_client: TestClient) -> None:
    page = bare_client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/static-offline-docs/swagger-ui-bundle.js" in page.text
    assert bare_client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    schema = bare_client.get("/openapi.json").json()
    assert {"/v1/score", "/v1/score/batch", "/v1/score/csv", "/v1/feedback", "/v1/model"} <= set(
        schema["paths"]
    )
    declaration = schema["components"]["schemas"]["DeclarationIn"]
    assert declaration["examples"][0]["declaration_id"] == "RB123456789RU"
    assert "X-API-Key" in str(schema["components"]["securitySchemes"])
