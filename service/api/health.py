"""Liveness, readiness and metrics: open to all, for orchestrators and scrapers."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from service.api.deps import State
from service.api.schemas import Health, JsonResponse, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness", response_model=Health)
async def healthz() -> JsonResponse:
    """The process answers. Says nothing about the model: see /readyz."""
    return JsonResponse({"status": "ok"})


@router.get(
    "/readyz",
    summary="Readiness",
    response_model=None,
    responses={200: {"model": Readiness}, 503: {"model": Readiness}},
)
async def readyz(state: State) -> JsonResponse:
    """Ready once a model is loaded and the audit writer runs; 503 (with the reason)
    otherwise. A failing audit store shows as `audit: failing` with the reason; it makes
    the service not ready only where failures refuse scoring."""
    audit = state.audit
    audit_status = "disabled"
    audit_problem = None
    if audit is not None and not audit.running:
        audit_status, audit_problem = "stopped", "the audit writer is not running"
    elif audit is not None and audit.failure is not None:
        audit_status = "failing"
        audit_problem = f"the audit store is failing ({audit.failure}); " + (
            "scoring is refused until it recovers"
            if not audit.accepting
            else f"records are spilled to {audit.spill.path} until it recovers"
        )
    elif audit is not None:
        audit_status = "ok"
    loaded = state.models.current
    reason = None
    if loaded is None:
        reason = state.models.last_error
    elif audit_status == "stopped" or (audit is not None and not audit.accepting):
        reason = audit_problem
    if loaded is None or reason is not None:
        return JsonResponse(
            {"status": "not_ready", "reason": reason, "audit": audit_status}, status_code=503
        )
    # Spilling, the service still scores and records durably: ready, and says why not ok.
    body = {"status": "ready", "model_version": loaded.scorer.model_version, "audit": audit_status}
    if audit_problem is not None:
        body["reason"] = audit_problem
    return JsonResponse(body)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(state: State) -> Response:
    body, content_type = state.metrics.render()
    return Response(body, media_type=content_type)
