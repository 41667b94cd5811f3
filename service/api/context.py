"""The outermost middleware: request id, access log, HTTP metrics, and the 500 answer.

Every response carries `X-Request-ID` (the caller's, when it sent a sane one), and so does
every log line about the request, so an officer's complaint can be traced to the log.
An exception that nothing else handled is logged here with its traceback and answered
with a 500 in the API's error shape: the caller learns the request id, never the
internals.
"""

from __future__ import annotations

import logging
import random
import re
import time
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import REQUEST_ID_HEADER
from service.api.limits import send_error
from service.api.metrics import Metrics

log = logging.getLogger("service.access")
error_log = logging.getLogger("service.errors")

_INCOMING_ID: Final = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_REQUEST_ID_KEY: Final = REQUEST_ID_HEADER.lower().encode()


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_KEY:
            text = value.decode("latin-1")
            return text if _INCOMING_ID.fullmatch(text) else None
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template, so metrics do not get a series per URL."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Not uuid4: it reads os.urandom, a system call that gives up the GIL on every
        # request; ids only need to be unique, not unguessable.
        request_id = _incoming_request_id(scope) or f"{random.getrandbits(128):032x}"
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = False
        begin = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = 500
            error_log.exception(
                "unhandled error",
                extra={"request_id": request_id, "path": scope.get("path")},
            )
            if not started:
                await send_error(
                    send_with_id,
                    scope,
                    500,
                    "internal_error",
                    f"an internal error occurred; quote request id {request_id}",
                )
        finally:
            elapsed = time.perf_counter() - begin
            route = route_template(scope)
            method = scope["method"]
            self.metrics.observe_request(method, route, status, elapsed)
            if self.access_log:
                log.info(
                    "%s %s %d",
                    method,
                    scope.get("path"),
                    status,
                    extra={
                        "request_id": request_id,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )
