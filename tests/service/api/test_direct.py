"""The scoring routes answered without the router: the same routes, the same answers."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import orjson
import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from service.api import create_app
from service.api.direct import DirectRoutes, RequestRoute
from tests.service.conftest import SettingsFactory
from tests.service.factories import armour_declaration, make_declaration


def _direct(client: TestClient) -> DirectRoutes:
    client.get("/healthz")  # the stack is built on the first request
    direct = client.app.middleware_stack.app  # type: ignore[attr-defined]
    assert isinstance(direct, DirectRoutes)
    return direct


def test_each_direct_route_is_the_one_the_router_picks(client: TestClient) -> None:
    direct = _direct(client)
    assert set(direct.routes) == {
        ("POST", "/v1/score"),
        ("POST", "/v1/score/batch"),
        ("POST", "/v1/score/csv"),
    }
    for (method, path), route in direct.routes.items():
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [],
            "app": client.app,
            "state": {},
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            pass

        with contextlib.suppress(Exception):  # the endpoint refuses the empty request
            anyio.run(client.app.router, scope, receive, send)  # type: ignore[attr-defined]
        assert scope["endpoint"] is route.endpoint, path


def _answers(client: TestClient) -> list[tuple[int, dict[str, Any], str | None]]:
    out = []
    for request in (
        {"json": make_declaration()},
        {"json": armour_declaration()},
        {"json": {"declaration_id": "X1", "items": []}},
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        {"content": b"a,b", "headers": {"Content-Type": "text/plain"}},
    ):
        response = client.post("/v1/score", **request)  # type: ignore[arg-type]
        body = orjson.loads(response.content)
        assert (
            body.pop("request_id", response.headers["X-Request-ID"])
            == (response.headers["X-Request-ID"])
        )
        out.append((response.status_code, body, response.headers.get("content-type")))
    batch = client.post("/v1/score/batch", json={"declarations": [make_declaration(), {}]})
    out.append((batch.status_code, batch.json(), batch.headers.get("content-type")))
    return out


def test_direct_answers_are_the_router_s(client: TestClient) -> None:
    direct = _direct(client)
    first = _answers(client)
    direct.routes.clear()  # everything through the router from now on
    assert _answers(client) == first
    assert [status for status, _, _ in first] == [200, 200, 422, 400, 415, 200]
    text = client.get("/metrics").text
    assert 'route="/v1/score",status="200"} 4.0' in text


def test_a_request_route_takes_nothing_but_the_request() -> None:
    async def needs_a_query(request: Any, limit: int) -> None:
        return None

    async def fine(request: Request) -> None:
        return None

    RequestRoute("/fine", fine, methods=["POST"])
    with pytest.raises(TypeError):
        RequestRoute("/wrong", needs_a_query, methods=["POST"])


def test_a_direct_route_is_left_to_the_router_under_a_root_path(
    settings_factory: SettingsFactory, models_dir: Any
) -> None:
    app = create_app(settings_factory(models_dir=models_dir))
    with TestClient(app, root_path="/screen") as client:
        response = client.post("/screen/v1/score", json=make_declaration())
    assert response.status_code == 200
