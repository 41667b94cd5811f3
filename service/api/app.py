"""The application factory and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.types import ASGIApp

from service.api import admin, feedback, health, model, parties, score
from service.api.direct import DirectRoutes, RequestRoute
from service.api.envelope import Envelope
from service.api.errors import install_error_handlers
from service.api.inflight import WorkSlots
from service.api.metrics import Metrics
from service.api.ratelimit import RateLimiter
from service.api.schemas import BatchRequest, JsonResponse
from service.api.security import KeyRing
from service.api.state import ModelHolder, ReloadFailedError, ServiceState
from service.party_history import PartyHistory
from service.settings import Settings
from service.store.store import store_of
from training.schema import DeclarationIn

log = logging.getLogger(__name__)

try:
    __version__ = version("parcel-screen")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

_DESCRIPTION = """
Scores international postal customs declarations (CN22/CN23) for hidden tactical and
military gear: a calibrated risk score per item and parcel, a decision
(`clear`/`review`/`inspect`) and the reasons behind it.

When the service has API keys configured, every `/v1` call needs an `X-API-Key` header.
Errors are JSON: `{"code", "message", "field"?, "request_id"}`; every response carries
`X-Request-ID`.
"""

_TAGS = [
    {"name": "scoring", "description": "Score declarations: one, a batch, a CSV file"},
    {"name": "feedback", "description": "Inspection outcomes, kept for retraining"},
    {"name": "model", "description": "The model being served"},
    {"name": "admin", "description": "Operator actions; need an admin key"},
    {"name": "parties", "description": "The watch list and party histories; need an admin key"},
    {"name": "operations", "description": "Health, readiness and metrics; open"},
]

# Request bodies that the scoring routes parse themselves (for speed, and so a batch
# validates each declaration on its own) but that the docs must still show.
_DOCUMENTED_BODIES: tuple[type[BaseModel], ...] = (DeclarationIn, BatchRequest)


async def _reload_quietly(state: ServiceState) -> None:
    # A failed reload is logged (and counted) by the holder; the old model keeps serving.
    with contextlib.suppress(ReloadFailedError):
        await state.models.reload()


def install_sighup_reload(state: ServiceState) -> Callable[[], None]:
    """Reload the model on SIGHUP; returns the function that removes the handler.

    Signal handlers can only be set from the main thread (an app run by a test client
    runs elsewhere); there it is a no-op.
    """
    sighup = getattr(signal, "SIGHUP", None)
    if sighup is None or threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()

    def on_sighup() -> None:
        log.info("SIGHUP: reloading the model")
        task = loop.create_task(_reload_quietly(state))
        pending.add(task)
        task.add_done_callback(pending.discard)

    try:
        loop.add_signal_handler(sighup, on_sighup)
    except (NotImplementedError, RuntimeError, ValueError):
        return lambda: None

    def remove() -> None:
        loop.remove_signal_handler(sighup)

    return remove


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServiceState = app.state.service
    store, audit = state.store, state.audit
    if store is not None and audit is not None:
        # Creates or migrates the schema (when the store can be reached: otherwise rows
        # spill until it can) and starts the audit writer.
        await anyio.to_thread.run_sync(store.open)
        state.metrics.watch_audit_queue(lambda: audit.depth)
    # The service starts without a model rather than not at all: /healthz answers, /readyz
    # says why it is not ready, and a reload can fix it without a restart.
    with contextlib.suppress(ReloadFailedError):
        await state.models.reload()
    remove_sighup = (
        install_sighup_reload(state) if state.settings.reload_on_sighup else (lambda: None)
    )
    try:
        yield
    finally:
        remove_sighup()
        if store is not None:
            # Drains the queue: every declaration scored before shutdown is committed.
            await anyio.to_thread.run_sync(store.close)
            log.info("store closed", extra={"store": store.database.describe()})


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for body_model in _DOCUMENTED_BODIES:
            body_schema = body_model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(body_schema.pop("$defs", {}))
            components[body_model.__name__] = body_schema
        app.openapi_schema = schema
        return schema

    return openapi


def create_app(settings: Settings | None = None) -> FastAPI:
    """The parcel-screen HTTP service; settings default to the environment."""
    settings = settings or Settings()
    # A signing key that cannot be read stops the start, as a bad key file does (the model
    # itself may load later, by a reload).
    settings.signing_key()
    metrics = Metrics()
    store = None
    if settings.audit_enabled:
        store = store_of(
            settings,
            settings.audit_lock_wait_seconds,
            batch_rows=settings.audit_batch_rows,
            flush_interval=settings.audit_flush_seconds,
            spill_path=settings.audit_spill_path,
            refuse_when_failing=settings.audit_on_failure == "refuse",
            on_written=lambda rows: metrics.audit_rows.labels("written").inc(rows),
            on_failed=lambda rows: metrics.audit_rows.labels("failed").inc(rows),
            on_spilled=lambda rows: metrics.audit_rows.labels("spilled").inc(rows),
        )
    state = ServiceState(
        settings=settings,
        keys=KeyRing.from_settings(settings),
        metrics=metrics,
        models=ModelHolder(settings, metrics),
        audit=None if store is None else store.audit,
        store=store,
        party_history=PartyHistory(None) if store is None else PartyHistory(store.history, store),
        feedback_limiter=RateLimiter(settings.feedback_per_minute, settings.feedback_burst),
        work_slots=WorkSlots(settings.max_concurrent_batches, settings.max_body_bytes),
    )

    app = FastAPIOffline(
        title="parcel-screen",
        version=__version__,
        description=_DESCRIPTION,
        openapi_tags=_TAGS,
        lifespan=lifespan,
        default_response_class=JsonResponse,
    )
    app.state.service = state
    install_error_handlers(app)
    routers = [module.router for module in (score, feedback, model, admin, parties, health)]
    for router in routers:
        app.include_router(router)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    direct = [route for router in routers for route in router.routes]
    app.build_middleware_stack = _middleware_stack(  # type: ignore[method-assign]
        app, settings, metrics, [route for route in direct if isinstance(route, RequestRoute)]
    )
    return app


def _middleware_stack(
    app: FastAPI, settings: Settings, metrics: Metrics, direct: list[RequestRoute]
) -> Callable[[], ASGIApp]:
    """The envelope around the routes, in place of Starlette's and FastAPI's own stack.

    Their error and exception middlewares are replaced by the envelope's error answers
    (with the same handlers), and their body-limit and exception-telemetry layers are not
    used here; what is kept is the exit stack FastAPI's routes expect in each request's
    scope. Middleware added with `add_middleware` goes inside the envelope. The scoring
    routes are answered without the router (`service.api.direct`).
    """

    def build() -> ASGIApp:
        inner: ASGIApp = DirectRoutes(AsyncExitStackMiddleware(app.router), direct)
        for cls, args, kwargs in reversed(app.user_middleware):
            inner = cls(inner, *args, **kwargs)
        return Envelope(
            inner,
            metrics=metrics,
            max_body_bytes=settings.max_body_bytes,
            timeout_seconds=settings.request_timeout_seconds,
            handlers=app.exception_handlers,
            access_log=settings.access_log,
        )

    return build


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn workers, which each build their app from the environment."""
    from service.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)
