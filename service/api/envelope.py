"""The one middleware every HTTP request goes through, around the routes.

What it does for each request:
- **Request id**: every response carries `X-Request-ID` (the caller's, when it sent a sane
  one), and so does every log line about the request, so an officer's complaint can be
  traced to the log.
- **Body limit**: a declared Content-Length over the limit is answered 413 before the app
  runs, one that is not a number 400. Bodies are also counted as they arrive, since chunked
  requests declare no length: the read that crosses the limit fails, and whatever the app
  makes of that failure (a parse error, most likely) is replaced by the 413.
- **Deadline**: 503 when the app has not started its response in time. Only the time to
  the first byte is limited: a streamed CSV answer that has started is left to finish. Work
  in worker threads must be started with `abandon_on_cancel=True` for the deadline to cut
  the wait short (the thread itself runs to its end).
- **Errors**: an exception with a registered handler (the API's own errors, the router's
  404 and 405) is answered by that handler; any other is logged with its traceback and
  answered 500 in the API's error shape: the caller learns the request id, never the
  internals.
- **Access log and HTTP metrics**, by route template.

One pure-ASGI layer rather than one per concern (and rather than Starlette's error and
exception middlewares, which it replaces): each layer costs a coroutine and a send wrapper
per request, which on the single-declaration path added up to more than validating the
declaration (docs/decisions.md, "Where one request's time goes").
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import REQUEST_ID_HEADER, error_body
from service.api.metrics import Metrics

log = logging.getLogger(__name__)
access_log = logging.getLogger("service.access")
error_log = logging.getLogger("service.errors")

_INCOMING_ID: Final = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_REQUEST_ID_KEY: Final = REQUEST_ID_HEADER.lower().encode()
# Where Starlette's routes look for the exception handlers (as its ExceptionMiddleware sets
# them), so a route's own errors are answered inside it, as before.
_HANDLERS_KEY: Final = "starlette.exception_handlers"

ExceptionHandler = Any


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


def _with_request_id(message: Message, header: tuple[bytes, bytes]) -> None:
    headers = message.get("headers") or []
    kept = [pair for pair in headers if pair[0].lower() != _REQUEST_ID_KEY]
    kept.append(header)
    message["headers"] = kept


def error_start(status: int, body: bytes) -> Message:
    """The start of an error answered by the envelope itself (the connection is closed)."""
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }


class _BodyTooLargeError(Exception):
    pass


class Envelope:
    """Request id, body limit, deadline, error answers, access log and metrics (above)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        max_body_bytes: int,
        timeout_seconds: float,
        handlers: Mapping[Any, ExceptionHandler],
        access_log: bool = False,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.timeout_seconds = timeout_seconds
        self.access_log = access_log
        status_handlers = {key: h for key, h in handlers.items() if isinstance(key, int)}
        exception_handlers: dict[Any, ExceptionHandler] = {
            key: h for key, h in handlers.items() if not isinstance(key, int)
        }
        self._handlers = (exception_handlers, status_handlers)
        self._too_large = f"the request body is larger than the limit of {max_body_bytes} bytes"
        self._too_slow = f"the request took longer than {timeout_seconds:g} s; try a smaller batch"

    def _handler_for(self, exc: Exception) -> ExceptionHandler | None:
        exception_handlers, status_handlers = self._handlers
        if isinstance(exc, HTTPException) and exc.status_code in status_handlers:
            return status_handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in exception_handlers:
                return exception_handlers[cls]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        begin = time.perf_counter()
        # Not uuid4: it reads os.urandom, a system call that gives up the GIL on every
        # request; ids only need to be unique, not unguessable.
        request_id = _incoming_request_id(scope) or f"{random.getrandbits(128):032x}"
        scope.setdefault("state", {})["request_id"] = request_id
        scope[_HANDLERS_KEY] = self._handlers
        id_header = (_REQUEST_ID_KEY, request_id.encode())
        status = 500
        started = False
        exceeded = False
        received = 0
        max_bytes = self.max_body_bytes
        # asyncio's own timeout rather than an anyio cancel scope: ~2 us a request instead
        # of ~30 us (measured), on every request.
        deadline = asyncio.timeout(self.timeout_seconds)

        async def respond(message: Message) -> None:
            """Sends the envelope's own answers (not bound by the deadline)."""
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                _with_request_id(message, id_header)
            await send(message)

        async def answer_error(code_status: int, code: str, message: str) -> None:
            body = error_body(code, message, request_id)
            await respond(error_start(code_status, body))
            await respond({"type": "http.response.body", "body": body})

        async def app_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    exceeded = True
                    raise _BodyTooLargeError
            return message

        async def app_send(message: Message) -> None:
            nonlocal status, started
            is_start = message["type"] == "http.response.start"
            if is_start and not started:
                deadline.reschedule(None)
            if exceeded:
                # Whatever the app answers to a body over the limit, the answer is 413.
                if is_start and not started:
                    await answer_error(413, "payload_too_large", self._too_large)
                return
            if is_start:
                status = message["status"]
                started = True
                _with_request_id(message, id_header)
            await send(message)

        try:
            declared = self._declared_length(scope)
            if declared is None:
                await answer_error(400, "bad_request", "Content-Length is not a number")
                return
            if declared > max_bytes:
                await answer_error(413, "payload_too_large", self._too_large)
                return
            try:
                async with deadline:
                    await self.app(scope, app_receive, app_send)
            except Exception as exc:
                if not exceeded:
                    # After the response started, nothing can be answered: counted as a 500.
                    if started:
                        status = 500
                    await self._fail(exc, started, scope, receive, respond, answer_error)
            if exceeded and not started:
                await answer_error(413, "payload_too_large", self._too_large)
        finally:
            self._done(scope, request_id, status, time.perf_counter() - begin)

    @staticmethod
    def _declared_length(scope: Scope) -> int | None:
        """The declared body length (0 when none is declared); None if it is no number."""
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return 0

    async def _fail(
        self,
        exc: Exception,
        started: bool,
        scope: Scope,
        receive: Receive,
        respond: Send,
        answer_error: Callable[[int, str, str], Awaitable[None]],
    ) -> None:
        """Answers an exception that left the app (when nothing has been sent yet)."""
        request_id = scope["state"]["request_id"]
        if not started and isinstance(exc, TimeoutError):
            log.warning(
                "request timed out",
                extra={"request_id": request_id, "timeout_seconds": self.timeout_seconds},
            )
            await answer_error(503, "timeout", self._too_slow)
            return
        handler = None if started else self._handler_for(exc)
        if handler is not None:
            try:
                request = Request(scope, receive)
                if is_async_callable(handler):
                    response = await handler(request, exc)
                else:
                    response = await run_in_threadpool(handler, request, exc)
                if response is not None:
                    await response(scope, receive, respond)
                return
            except Exception as handler_error:
                exc = handler_error
        error_log.exception(
            "unhandled error",
            exc_info=exc,
            extra={"request_id": request_id, "path": scope.get("path")},
        )
        if not started:
            await answer_error(
                500, "internal_error", f"an internal error occurred; quote request id {request_id}"
            )

    def _done(self, scope: Scope, request_id: str, status: int, elapsed: float) -> None:
        route = route_template(scope)
        method = scope["method"]
        self.metrics.observe_request(method, route, status, elapsed)
        if self.access_log:
            access_log.info(
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
