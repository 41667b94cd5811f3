"""Inspection outcomes, kept next to the audit trail for retraining.

An outcome becomes a training label, so who may post one is limited: the key that scored
the declaration, or an admin key. Each outcome is recorded against one scoring (its
poster's own), so a key that re-scores someone else's declaration id with other content
only ever labels its own content; every outcome records the key that posted it; and each
key is rate-limited.
"""

from __future__ import annotations

from typing import Any, Final

import anyio
from fastapi import APIRouter, Request, status

from service.api.deps import CallerDep, State
from service.api.errors import (
    ConflictError,
    ErrorBody,
    ForbiddenError,
    NotFoundError,
    ServiceUnavailableError,
    TooManyRequestsError,
    request_id_of,
)
from service.api.ratelimit import retry_after
from service.api.schemas import FeedbackIn, FeedbackOut
from service.api.security import Caller
from service.store import AuditLog, Scoring
from service.store import StoreUnavailableError as AuditUnavailableError

router = APIRouter(prefix="/v1", tags=["feedback"])

# What a 503 for a busy or failing audit store tells the client to wait.
AUDIT_RETRY_SECONDS: Final = 5

_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid API key"},
    403: {"model": ErrorBody, "description": "The declaration was scored by another key"},
    404: {"model": ErrorBody, "description": "The declaration (or item) was never scored"},
    409: {
        "model": ErrorBody,
        "description": "Several keys scored the declaration with different content: name "
        "one with `scored_by`",
    },
    422: {"model": ErrorBody, "description": "The outcome does not fit the contract"},
    429: {"model": ErrorBody, "description": "Too many outcomes from this key; see Retry-After"},
    503: {
        "model": ErrorBody,
        "description": "The audit store is switched off, locked or failing (see Retry-After)",
    },
}


def _name(key_id: str | None) -> str:
    return f"key {key_id}" if key_id else "a caller without a key"


def scoring_for(feedback: FeedbackIn, caller: Caller, scorings: list[Scoring]) -> Scoring:
    """The scoring an outcome is about, or the error that says why the caller cannot say.

    `scorings` holds the latest scoring by each key that scored the declaration.
    """
    declaration_id = feedback.declaration_id
    if not scorings:
        raise NotFoundError(
            f"declaration {declaration_id!r} was never scored here",
            code="declaration_not_found",
            field="declaration_id",
        )
    by_key = {scoring.key_id: scoring for scoring in scorings}
    wanted = feedback.scored_by
    if wanted is not None and wanted != caller.key_id and not caller.admin:
        raise ForbiddenError(
            "only an admin key may post an outcome about another key's scoring",
            code="not_your_declaration",
            field="scored_by",
        )
    if wanted is not None:
        if wanted not in by_key:
            raise NotFoundError(
                f"declaration {declaration_id!r} was never scored by key {wanted}",
                code="declaration_not_found",
                field="scored_by",
            )
        return by_key[wanted]
    if caller.key_id in by_key:
        return by_key[caller.key_id]
    if not caller.admin:
        raise ForbiddenError(
            f"declaration {declaration_id!r} was scored by another key: only that key or an "
            "admin key may post its outcome",
            code="not_your_declaration",
            field="declaration_id",
        )
    if len({scoring.content for scoring in scorings}) > 1:
        keys = ", ".join(_name(scoring.key_id) for scoring in scorings)
        raise ConflictError(
            f"declaration {declaration_id!r} was scored with different content by {keys}: "
            "say which scoring the outcome is about with `scored_by`",
            code="ambiguous_declaration",
            field="scored_by",
        )
    return scorings[-1]


def _store(
    audit: AuditLog, feedback: FeedbackIn, request_id: str, caller: Caller
) -> tuple[int, Scoring]:
    scoring = scoring_for(feedback, caller, audit.scorings(feedback.declaration_id))
    if feedback.item_no is not None and feedback.item_no not in scoring.items:
        raise NotFoundError(
            f"declaration {feedback.declaration_id!r} has no item {feedback.item_no}",
            code="item_not_found",
            field="item_no",
        )
    feedback_id = audit.add_feedback(
        declaration_id=feedback.declaration_id,
        outcome=feedback.outcome,
        item_no=feedback.item_no,
        label_class=feedback.label_class,
        note=feedback.note,
        request_id=request_id,
        key_id=caller.key_id,
        scored_id=scoring.scored_id,
    )
    return feedback_id, scoring


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
    are exported as labelled data (`parcel-screen feedback export`) for retraining.

    Only the key that scored the declaration, or an admin key, may post its outcome; the
    outcome is recorded against that key's scoring, with the key that posted it."""
    if state.audit is None:
        raise ServiceUnavailableError(
            "feedback needs the audit store, which is switched off (PARCEL_SCREEN_AUDIT_ENABLED)",
            code="audit_disabled",
        )
    wait = state.feedback_limiter.acquire(caller.key_id)
    if wait is not None:
        raise TooManyRequestsError(
            "too many outcomes from this key; try again later",
            headers={"Retry-After": retry_after(wait)},
        )
    # Waits for the audit writer to commit what is queued, so a declaration scored a
    # moment ago is found.
    try:
        feedback_id, scoring = await anyio.to_thread.run_sync(
            _store, state.audit, feedback, request_id_of(request), caller
        )
    except AuditUnavailableError as exc:
        # Locked past the wait, or failing: the outcome is not stored, and the caller is
        # told so and when to try again (never a 500, never a silent loss).
        raise ServiceUnavailableError(
            f"{exc}; the outcome was not stored, send it again",
            code="audit_unavailable",
            headers={"Retry-After": str(AUDIT_RETRY_SECONDS)},
        ) from None
    return FeedbackOut(
        feedback_id=feedback_id,
        declaration_id=feedback.declaration_id,
        item_no=feedback.item_no,
        outcome=feedback.outcome,
        label_class=feedback.label_class,
        scored_by=scoring.key_id,
    )
