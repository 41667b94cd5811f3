"""Inspection outcomes, kept next to the audit trail for retraining."""

from __future__ import annotations

from typing import Any, Final

import anyio
from fastapi import APIRouter, Request, status

from service.api.deps import CallerDep, State
from service.api.errors import ErrorBody, NotFoundError, ServiceUnavailableError, request_id_of
from service.api.schemas import FeedbackIn, FeedbackOut
from service.audit import AuditLog

router = APIRouter(prefix="/v1", tags=["feedback"])

_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid API key"},
    404: {"model": ErrorBody, "description": "The declaration (or item) was never scored"},
    422: {"model": ErrorBody, "description": "The outcome does not fit the contract"},
    503: {"model": ErrorBody, "description": "The audit store is switched off"},
}


def _store(audit: AuditLog, feedback: FeedbackIn, request_id: str, key_id: str | None) -> int:
    items = audit.scored_items(feedback.declaration_id)
    if items is None:
        raise NotFoundError(
            f"declaration {feedback.declaration_id!r} was never scored here",
            code="declaration_not_found",
            field="declaration_id",
        )
    if feedback.item_no is not None and feedback.item_no not in items:
        raise NotFoundError(
            f"declaration {feedback.declaration_id!r} has no item {feedback.item_no}",
            code="item_not_found",
            field="item_no",
        )
    return audit.add_feedback(
        declaration_id=feedback.declaration_id,
        outcome=feedback.outcome,
        item_no=feedback.item_no,
        label_class=feedback.label_class,
        note=feedback.note,
        request_id=request_id,
        key_id=key_id,
    )


@router.post(
    "/feedback",
    summary="Record an inspection outcome",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackOut,
    responses=_RESPONSES,
)
async def feedback(
    feedback: FeedbackIn, request: Request, state: State, caller: CallerDep
) -> FeedbackOut:
    """What an inspection found for a scored declaration (or one of its items). Outcomes
    are exported as labelled data (`parcel-screen feedback export`) for retraining."""
    if state.audit is None:
        raise ServiceUnavailableError(
            "feedback needs the audit store, which is switched off (PARCEL_SCREEN_AUDIT_ENABLED)",
            code="audit_disabled",
        )
    # Waits for the audit writer to commit what is queued, so a declaration scored a
    # moment ago is found.
    feedback_id = await anyio.to_thread.run_sync(
        _store, state.audit, feedback, request_id_of(request), caller.key_id
    )
    return FeedbackOut(
        feedback_id=feedback_id,
        declaration_id=feedback.declaration_id,
        item_no=feedback.item_no,
        outcome=feedback.outcome,
        label_class=feedback.label_class,
    )
