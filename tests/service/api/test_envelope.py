"""The envelope every request goes through: request ids, body limit, deadline, error answers,
access log and metrics, on answers the routes give and on those it gives itself."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import orjson
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.responses import JSONResponse, StreamingResponse

from service.api import create_app
from service.api.errors import InvalidInputError
from tests.service.conftest import SettingsFactory


def _metric(client: TestClient, route: str, status: int) -> float:
    """The request counter of a route template and status (0 if never counted)."""
    needle = f'parcel_screen_http_requests_total{{method="POST",route="{route}",status="{status}"}}'
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(needle):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def _asgi_post(app: FastAPI, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> Any:
    """A request straight to the ASGI app, with headers no HTTP client would send."""
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await anyio.sleep_forever()
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        await app(scope, receive, send)

    anyio.run(run)
    start, *rest = sent
    return start, b"".join(message.get("body", b"") for message in rest)


@pytest.fixture
def app(settings_factory: SettingsFactory) -> FastAPI:
    """An app with a few routes that show what the envelope does around them."""
    built = create_app(settings_factory(max_body_bytes=4096, request_timeout_seconds=0.2))
    calls: list[str] = []
    built.state.calls = calls

    async def echo(request: Request) -> JSONResponse:
        calls.append("echo")
        try:
            body = await request.body()
        except Exception:
            # A route that makes the best of a body it could not read: still a 413.
            return JSONResponse({"read": False})
        return JSONResponse({"read": len(body)})

    async def invalid() -> None:
        raise InvalidInputError("items[0].description: is required", field="items[0].description")

    async def slow_start() -> None:
        await anyio.sleep(5)

    async def slow_stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for part in (b"a", b"b", b"c"):
                await anyio.sleep(0.15)
                yield part

        return StreamingResponse(chunks(), media_type="text/plain")

    async def broken() -> None:
        raise RuntimeError("secret internals")

    built.add_api_route("/echo", echo, methods=["POST"])
    built.add_api_route("/invalid", invalid, methods=["POST"])
    built.add_api_route("/slow-start", slow_start, methods=["POST"])
    built.add_api_route("/slow-stream", slow_stream, methods=["POST"])
    built.add_api_route("/broken", broken, methods=["POST"])
    return built


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def test_a_declared_oversize_body_is_413_before_the_route_runs(
    app: FastAPI, client: TestClient
) -> None:
    _error(client.post("/echo", content=b"x" * 5000), 413, "payload_too_large")
    assert app.state.calls == []
    assert _metric(client, "unmatched", 413) == 1


def test_a_streamed_oversize_body_is_413_whatever_the_route_answers(
    app: FastAPI, client: TestClient
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 1024

    _error(client.post("/echo", content=chunks()), 413, "payload_too_large")
    assert app.state.calls == ["echo"]
    assert _metric(client, "/echo", 413) == 1
    # Under the limit, chunked or not, the route answers.
    assert client.post("/echo", content=iter([b"ab", b"cd"])).json() == {"read": 4}
    assert client.post("/echo", content=b"x" * 4096).json() == {"read": 4096}


def test_a_content_length_that_is_no_number_is_400(app: FastAPI) -> None:
    start, body = _asgi_post(app, "/echo", [(b"content-length", b"12abc")], b"{}")
    assert start["status"] == 400
    answer = orjson.loads(body)
    assert answer["code"] == "bad_request"
    assert dict(start["headers"])[b"x-request-id"].decode() == answer["request_id"]
    assert app.state.calls == []


def test_a_route_error_is_answered_in_the_error_shape(client: TestClient) -> None:
    body = _error(client.post("/invalid"), 422, "validation_error")
    assert body["field"] == "items[0].description"
    assert _metric(client, "/invalid", 422) == 1


def test_a_wrong_method_is_405_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/v1/score")
    _error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_the_deadline_is_503_before_the_first_byte_and_spares_a_started_stream(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        body = _error(client.post("/slow-start"), 503, "timeout")
    assert "0.2 s" in body["message"]
    (record,) = [r for r in caplog.records if r.getMessage() == "request timed out"]
    assert record.request_id == body["request_id"]  # type: ignore[attr-defined]
    assert _metric(client, "/slow-start", 503) == 1
    # A stream that started in time runs past the deadline to its end.
    streamed = client.post("/slow-stream")
    assert streamed.status_code == 200
    assert streamed.text == "abc"


def test_an_unexpected_error_is_500_counted_and_logged_with_its_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        body = _error(client.post("/broken"), 500, "internal_error")
    assert "secret internals" not in body["message"]
    (record,) = [r for r in caplog.records if r.name == "service.errors"]
    assert record.request_id == body["request_id"]  # type: ignore[attr-defined]
    assert _metric(client, "/broken", 500) == 1


def test_a_failing_error_handler_is_a_500(app: FastAPI, client: TestClient) -> None:
    async def failing(request: Request, exc: Exception) -> JSONResponse:
        raise RuntimeError("the handler broke")

    app.exception_handlers[InvalidInputError] = failing
    app.middleware_stack = None  # rebuilt with the handler on the next request
    _error(client.post("/invalid"), 500, "internal_error")


def test_the_access_log_has_the_envelope_s_own_answers(
    settings_factory: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings_factory(access_log=True, max_body_bytes=4096))
    with TestClient(app) as client, caplog.at_level(logging.INFO, logger="service.access"):
        response = client.post("/v1/score", content=b"x" * 5000)
    (line,) = [r for r in caplog.records if r.name == "service.access"]
    assert line.status == 413  # type: ignore[attr-defined]
    assert line.route == "unmatched"  # type: ignore[attr-defined]
    assert line.request_id == response.headers["X-Request-ID"]  # type: ignore[attr-defined]
