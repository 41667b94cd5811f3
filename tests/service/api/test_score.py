from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from tests.service.conftest import SettingsFactory
from tests.service.factories import armour_declaration, make_declaration, make_item


def test_scores_one_declaration(client: TestClient) -> None:
    response = client.post("/v1/score", json=armour_declaration("RB000000001RU"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    scored = response.json()
    assert scored["declaration_id"] == "RB000000001RU"
    assert scored["decision"] in {"clear", "review", "inspect"}
    assert 0 <= scored["parcel_risk_score"] <= 1
    assert scored["model_version"]
    assert [item["item_no"] for item in scored["items"]] == [1, 2]
    armour, shirt = scored["items"]
    assert armour["risk_score"] > shirt["risk_score"]
    for item in scored["items"]:
        assert 0 <= item["risk_score"] <= 1
        assert item["risk_class"] in {
            "benign",
            "body_armor",
            "helmet",
            "tactical_apparel",
            "optics_sensors",
        }
        assert all(set(reason) == {"code", "message"} for reason in item["reasons"])


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize("path", ["/v1/score", "/v1/score/batch"])
def test_json_routes_need_a_json_content_type(
    client: TestClient, path: str, content_type: str | None
) -> None:
    # Reproduces finding 11: score endpoints accepted any content type.
    body = b'{"declaration_id": "X1", "items": [{"description": "book"}]}'
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    with_charset = {"Content-Type": "application/json; charset=utf-8"}
    assert client.post("/v1/score", content=body, headers=with_charset).status_code == 200


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_bad_json_is_400(client: TestClient) -> None:
    body = error_of(client.post("/v1/score", content=b'{"declaration_id": ', headers=JSON), 400)
    assert body["code"] == "invalid_json"
    empty = client.post("/v1/score", content=b"", headers=JSON)
    assert error_of(empty, 400)["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("declaration", "field"),
    [
        (make_declaration(items=[{"hs_code": "6109"}]), "items[0].description"),
        (make_declaration(items=[make_item(description="   ")]), "items[0].description"),
        (make_declaration(items=[make_item(description="x" * 513)]), "items[0].description"),
        (make_declaration(items=[make_item(net_weight_kg=-1)]), "items[0].net_weight_kg"),
        (make_declaration(gross_weight_kg=-0.5), "gross_weight_kg"),
        (make_declaration(items=[make_item(quantity="many")]), "items[0].quantity"),
        (make_declaration(items=[make_item(value=[1])]), "items[0].value"),
        (make_declaration(mail_class="zeppelin"), "mail_class"),
        (make_declaration(category="bribe"), "category"),
        (make_declaration(origin_country="Narnia"), "origin_country"),
        (make_declaration(items=[]), "items"),
        (make_declaration(declaration_id=42), "declaration_id"),
        ({"items": [make_item()]}, "declaration_id"),
    ],
)
def test_invalid_input_is_422_naming_the_field(
    client: TestClient, declaration: dict[str, Any], field: str
) -> None:
    body = error_of(client.post("/v1/score", json=declaration), 422)
    assert body["code"] == "validation_error"
    assert body["field"] == field
    assert body["message"].startswith(field)


def test_wrong_top_level_type_is_422(client: TestClient) -> None:
    assert error_of(client.post("/v1/score", json=[1, 2]), 422)["code"] == "validation_error"


def test_declared_oversize_body_is_413(settings_factory: SettingsFactory, models_dir: Any) -> None:
    app = create_app(settings_factory(models_dir=models_dir, max_body_bytes=4096))
    with TestClient(app) as limited:
        body = error_of(limited.post("/v1/score", content=b"x" * 5000), 413)
        assert body["code"] == "payload_too_large"


def test_streamed_oversize_body_is_413(settings_factory: SettingsFactory, models_dir: Any) -> None:
    """A chunked body declares no length; it is counted as it arrives."""
    app = create_app(settings_factory(models_dir=models_dir, max_body_bytes=4096))

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 1024

    with TestClient(app) as limited:
        body = error_of(limited.post("/v1/score", content=chunks(), headers=JSON), 413)
        assert body["code"] == "payload_too_large"
        # Under the limit, a chunked body goes through.
        small = limited.post(
            "/v1/score",
            content=iter([b'{"declaration_id": "C1", ', b'"items": [{"description": "tea"}]}']),
            headers=JSON,
        )
        assert small.status_code == 200


def test_no_model_is_503(bare_client: TestClient) -> None:
    body = error_of(bare_client.post("/v1/score", json=make_declaration()), 503)
    assert body["code"] == "model_unavailable"


def test_batch_keeps_order_and_isolates_a_bad_declaration(client: TestClient) -> None:
    declarations = [
        armour_declaration("B1"),
        make_declaration("B2", items=[make_item(net_weight_kg=-3)]),
        "not an object",
        make_declaration("B4"),
    ]
    response = client.post("/v1/score/batch", json={"declarations": declarations})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [result["declaration_id"] for result in results] == ["B1", "B2", None, "B4"]
    assert results[0]["decision"] in {"clear", "review", "inspect"}
    assert results[1]["error"] == {
        "code": "validation_error",
        "message": results[1]["error"]["message"],
        "field": "items[0].net_weight_kg",
    }
    assert "error" in results[2]
    assert results[3]["items"][0]["item_no"] == 1
    single = client.post("/v1/score", json=armour_declaration("B1")).json()
    assert single["parcel_risk_score"] == pytest.approx(results[0]["parcel_risk_score"])


@pytest.mark.parametrize(
    "payload",
    [{"declarations": []}, {"declarations": "x"}, {"items": []}, [make_declaration()]],
)
def test_batch_envelope_errors_are_422(client: TestClient, payload: Any) -> None:
    body = error_of(client.post("/v1/score/batch", json=payload), 422)
    assert body["field"] == "declarations"


def test_batch_over_the_limit_is_413(settings_factory: SettingsFactory, models_dir: Any) -> None:
    app = create_app(settings_factory(models_dir=models_dir, max_batch_declarations=3))
    with TestClient(app) as limited:
        payload = {"declarations": [make_declaration(f"L{n}") for n in range(4)]}
        body = error_of(limited.post("/v1/score/batch", json=payload), 413)
        assert body["code"] == "batch_too_large"
        payload["declarations"].pop()
        assert limited.post("/v1/score/batch", json=payload).status_code == 200


def test_batch_bad_json_is_400(client: TestClient) -> None:
    bad = client.post("/v1/score/batch", content=b"[{", headers=JSON)
    assert error_of(bad, 400)["code"] == "invalid_json"


# --- invisible characters (issue 12, finding 4) -------------------------------------------


@pytest.mark.parametrize(
    "disguised",
    [
        "bullet\u200dproof vest",
        "plate\u200b carrier with level IV ballistic plates",
        "\u202eplate carrier with level IV ballistic plates\u202c",
    ],
)
def test_invisible_characters_do_not_change_a_score(client: TestClient, disguised: str) -> None:
    # Reproduces finding 4: "bulletproof vest" 0.998, the same with U+200D 0.39.
    plain = " ".join(
        disguised.replace("\u200d", "").replace("\u200b", "").strip("\u202e\u202c").split()
    )
    scores = []
    for text in (plain, disguised):
        declaration = make_declaration(
            "INV1", items=[make_item(description=text, net_weight_kg=3.2)]
        )
        response = client.post("/v1/score", json=declaration)
        assert response.status_code == 200
        scores.append(response.json())
    assert scores[0]["items"] == scores[1]["items"]
    assert scores[0]["parcel_risk_score"] == scores[1]["parcel_risk_score"]


def test_invisible_only_descriptions_and_ids_are_refused(client: TestClient) -> None:
    blank_text = make_declaration("INV2", items=[make_item(description="\u200b\u200d")])
    body = error_of(client.post("/v1/score", json=blank_text), 422)
    assert body["field"] == "items[0].description"
    body = error_of(client.post("/v1/score", json=make_declaration("\u200b\u2060")), 422)
    assert body["field"] == "declaration_id"
    batch = client.post(
        "/v1/score/batch", json={"declarations": [blank_text, make_declaration("INV3")]}
    )
    assert batch.status_code == 200
    first, second = batch.json()["results"]
    assert first["error"]["field"] == "items[0].description"
    assert second["declaration_id"] == "INV3"
    csv_body = "declaration_id,description\nINV4,\u200b\u200b\n\u200b,socks\nINV5,socks\n"
    scored = client.post(
        "/v1/score/csv", content=csv_body.encode(), headers={"Content-Type": "text/csv"}
    )
    rows = scored.text.splitlines()
    assert "description: is required and must not be empty" in rows[1]
    assert "declaration_id: must not be empty" in rows[2]
    assert ",socks," in rows[3] and "error" not in rows[3]


def test_quantity_true_is_refused(client: TestClient) -> None:
    # Reproduces finding 11: `quantity: true` was taken as 1.
    for field in ("quantity", "item_no", "net_weight_kg", "value"):
        declaration = make_declaration("Q1", items=[make_item(**{field: True})])
        body = error_of(client.post("/v1/score", json=declaration), 422)
        assert body["field"] == f"items[0].{field}"
    body = error_of(
        client.post("/v1/score", json=make_declaration("Q2", gross_weight_kg=False)), 422
    )
    assert body["field"] == "gross_weight_kg"


def test_a_long_invalid_id_is_not_echoed(client: TestClient) -> None:
    # Reproduces finding 11: a 1 MB invalid id came back in full.
    long_id = "X" * 1_000_000
    single = client.post("/v1/score", json=make_declaration(long_id))
    assert single.status_code == 422
    assert len(single.content) < 2000
    batch = client.post(
        "/v1/score/batch",
        json={"declarations": [make_declaration(long_id), make_declaration("OK")]},
    )
    assert batch.status_code == 200
    assert len(batch.content) < 5000
    first = batch.json()["results"][0]
    assert first["declaration_id"].startswith("XXXX") and len(first["declaration_id"]) < 100
    country = client.post("/v1/score", json=make_declaration("C1", origin_country="Q" * 100_000))
    assert country.status_code == 422
    assert len(country.content) < 2000
