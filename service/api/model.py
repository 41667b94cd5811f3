"""The serving model's card."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from service.api.deps import CallerDep, State
from service.api.errors import ErrorBody
from service.api.schemas import JsonResponse, ModelOut

router = APIRouter(prefix="/v1", tags=["model"])


@router.get(
    "/model",
    summary="The serving model",
    response_model=None,
    responses={
        200: {"model": ModelOut},
        401: {"model": ErrorBody, "description": "Missing or invalid API key"},
        503: {"model": ErrorBody, "description": "No model loaded"},
    },
)
async def model(state: State, caller: CallerDep) -> JsonResponse:
    """The model card (version, training data, metrics, stored thresholds) and the
    thresholds this deployment applies after its overrides."""
    state.models.require()
    loaded = state.models.current
    assert loaded is not None
    card: dict[str, Any] = dict(loaded.scorer.card)
    card["version"] = loaded.scorer.model_version
    card["effective_thresholds"] = loaded.scorer.thresholds
    card["loaded_at"] = datetime.fromtimestamp(loaded.loaded_at, UTC).isoformat()
    return JsonResponse(card)
