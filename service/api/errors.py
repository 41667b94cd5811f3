"""The errors the API answers with, and the one place that turns exceptions into responses.

Every error body has the same shape: a stable machine-readable `code`, a `message` a
person can act on, the offending `field` for input errors, and the `request_id` that the
`X-Request-ID` header and the logs also carry.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"


class ErrorBody(BaseModel):
    """An error answer (documentation of the shape; responses are built by `error_body`)."""

    code: str
    message: str
    field: str | None = None
    request_id: str
    errors: list[dict[str, Any]] | None = None


class ApiError(Exception):
    """An error with an HTTP status and a stable code; the message is shown to the caller."""

    status_code = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}
        # Every offending field when there is more than one.
        self.details = details
        if code is not None:
            self.code = code


class InvalidInputError(ApiError):
    status_code = 422
    code = "validation_error"


class MalformedBodyError(ApiError):
    status_code = 400
    code = "invalid_json"


class UnauthorizedError(ApiError):
    status_code = 401
    code = "unauthorized"


class ForbiddenError(ApiError):
    status_code = 403
    code = "forbidden"


class NotFoundError(ApiError):
    status_code = 404
    code = "not_found"


class ConflictError(ApiError):
    status_code = 409
    code = "conflict"


class PayloadTooLargeError(ApiError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(ApiError):
    status_code = 415
    code = "unsupported_media_type"


class TooManyRequestsError(ApiError):
    """A caller over its rate limit; `Retry-After` says when to try again."""

    status_code = 429
    code = "rate_limited"


class ServiceUnavailableError(ApiError):
    """Not the caller's fault and not a bug: no model loaded, a timeout, a store switched off."""

    status_code = 503
    code = "unavailable"


def request_id_of(scope_or_request: Request | MutableMapping[str, Any]) -> str:
    scope = scope_or_request.scope if isinstance(scope_or_request, Request) else scope_or_request
    state = scope.get("state") or {}
    return str(state.get("request_id", "-"))


def error_body(
    code: str,
    message: str,
    request_id: str,
    field: str | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
) -> bytes:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    body["request_id"] = request_id
    if errors and len(errors) > 1:
        body["errors"] = list(errors)
    return orjson.dumps(body)


def error_response(
    status_code: int,
    code: str,
    message: str,
    request_id: str,
    *,
    field: str | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        error_body(code, message, request_id, field, errors),
        status_code=status_code,
        media_type="application/json",
        # X-Request-ID is added by the request middleware to every response.
        headers=headers,
    )


def field_path(loc: Sequence[int | str]) -> str:
    """`items[0].description` from a pydantic location, without the `body` prefix."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    # pydantic prefixes messages raised from validators; callers need only the reason.
    return message.removeprefix("Value error, ")


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Field/message/code entries from pydantic's error list."""
    return [
        {
            "field": field_path(error.get("loc", ())) or None,
            "message": _message(error),
            "code": str(error.get("type", "invalid")),
        }
        for error in errors
    ]


def invalid_input(
    exc: ValidationError | RequestValidationError,
) -> InvalidInputError | MalformedBodyError:
    """One API error from a pydantic error, naming its first offending field."""
    entries = validation_errors(exc.errors())
    if any(entry["code"] == "json_invalid" for entry in entries):
        return MalformedBodyError("the request body is not valid JSON")
    first = entries[0] if entries else {"field": None, "message": "invalid input"}
    field = first["field"]
    message = f"{field}: {first['message']}" if field else str(first["message"])
    return InvalidInputError(message, field=field, details=entries)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(
        exc.status_code,
        exc.code,
        exc.message,
        request_id_of(request),
        field=exc.field,
        errors=exc.details,
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return await _api_error(request, invalid_input(exc))


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(
        exc.status_code,
        code,
        message,
        request_id_of(request),
        headers=dict(exc.headers or {}),
    )


def install_error_handlers(app: FastAPI) -> None:
    """The one registry of exception handlers.

    Unexpected exceptions are not handled here: they reach the request middleware, which
    logs them with the request id and answers 500 in the same shape.
    """
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
