from __future__ import annotations

import io
import logging

import orjson
import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.logs import JsonFormatter, PlainFormatter, configure_logging
from tests.service.conftest import SettingsFactory


def record(**extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("service.test", logging.INFO, __file__, 1, "scored %d", (3,), None)
    entry.__dict__.update(extra)
    return entry


def test_json_lines_carry_the_context() -> None:
    line = orjson.loads(JsonFormatter().format(record(request_id="r1", status=200)))
    assert line["message"] == "scored 3"
    assert line["level"] == "info"
    assert line["logger"] == "service.test"
    assert (line["request_id"], line["status"]) == ("r1", 200)
    assert line["ts"].endswith("+00:00")


def test_plain_lines_append_the_context() -> None:
    line = PlainFormatter().format(record(request_id="r1"))
    assert line.endswith("scored 3 [request_id=r1]")


def test_configure_logging_routes_everything_through_one_handler() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("json", "INFO", stream=stream)
        logging.getLogger("uvicorn.error").info("started")
        assert orjson.loads(stream.getvalue())["message"] == "started"
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_access_log_names_route_and_request(
    settings_factory: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        TestClient(create_app(settings_factory(access_log=True))) as client,
        caplog.at_level(logging.INFO, logger="service.access"),
    ):
        response = client.get("/healthz")
    (line,) = [r for r in caplog.records if r.name == "service.access"]
    assert line.route == "/healthz"  # type: ignore[attr-defined]
    assert line.status == 200  # type: ignore[attr-defined]
    assert line.request_id == response.headers["X-Request-ID"]  # type: ignore[attr-defined]
