"""Request limits as pure ASGI middleware: body size and time to first byte.

Pure ASGI rather than `BaseHTTPMiddleware`: it adds no task or stream per request, which
matters on the single-declaration path where the whole request takes well under a
millisecond of our own time.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_body, request_id_of

log = logging.getLogger(__name__)


async def send_error(
    send: Send, scope: Scope, status: int, code: str, message: str, *, field: str | None = None
) -> None:
    """An error response sent straight from middleware, in the API's error shape."""
    request_id = request_id_of(scope)
    body = error_body(code, message, request_id, field)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _BodyTooLargeError(Exception):
    pass


class BodyLimitMiddleware:
    """Answers 413 to a body over `max_bytes`.

    A declared Content-Length over the limit is refused before the app runs. Bodies are
    also counted as they arrive, since chunked requests declare no length and a client can
    lie about it: the read that crosses the limit fails, and whatever answer the app makes
    of that failure (a parse error, most likely) is replaced by the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"the request body is larger than the limit of {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await send_error(
                        send, scope, 400, "bad_request", "Content-Length is not a number"
                    )
                    return
                if declared > self.max_bytes:
                    await send_error(send, scope, 413, "payload_too_large", self._message())
                    return
                break

        received = 0
        exceeded = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if exceeded:
                if message["type"] == "http.response.start" and not answered:
                    answered = True
                    await send_error(send, scope, 413, "payload_too_large", self._message())
                return
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not answered:
            await send_error(send, scope, 413, "payload_too_large", self._message())


class TimeoutMiddleware:
    """Answers 503 when the app has not started its response within `seconds`.

    Only the time to the first byte is limited: a streamed CSV answer that has started is
    left to finish. Work in worker threads must be started with `abandon_on_cancel=True`
    for the deadline to cut the wait short (the thread itself runs to its end).
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        # asyncio's own timeout rather than an anyio cancel scope: ~2 us a request instead
        # of ~30 us (measured), on every request.
        deadline = asyncio.timeout(self.seconds)

        async def send_and_disarm(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                deadline.reschedule(None)
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, send_and_disarm)
        except TimeoutError:
            if started:
                raise
            log.warning(
                "request timed out",
                extra={"request_id": request_id_of(scope), "timeout_seconds": self.seconds},
            )
            await send_error(
                send,
                scope,
                503,
                "timeout",
                f"the request took longer than {self.seconds:g} s; try a smaller batch",
            )
