"""Operator routes: model reload and feedback export. They need an admin key."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Final

import anyio
from fastapi import APIRouter
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from service.api.deps import AdminDep, State
from service.api.errors import ErrorBody, ServiceUnavailableError
from service.api.schemas import ReloadOut
from service.store.engine import STORE_ERRORS, StoreUnavailableError
from service.store.export import export_feedback

router = APIRouter(prefix="/v1/admin", tags=["admin"])

_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid API key"},
    403: {"model": ErrorBody, "description": "Not an admin key"},
}


@router.post(
    "/reload",
    summary="Reload the model",
    response_model=ReloadOut,
    responses={
        **_RESPONSES,
        409: {
            "model": ErrorBody,
            "description": "The model could not be loaded; the previous one keeps serving",
        },
    },
)
async def reload(state: State, admin: AdminDep) -> ReloadOut:
    """Load the model the registry names ACTIVE (or the pinned version), verify its
    checksums, and swap it in. Requests in flight finish on the model they started with.
    SIGHUP does the same."""
    previous, version = await state.models.reload()
    return ReloadOut(model_version=version, previous_version=previous, changed=previous != version)


@router.get(
    "/feedback/export",
    summary="Export feedback as labelled CSV",
    response_class=FileResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **_RESPONSES,
        503: {"model": ErrorBody, "description": "The audit store is switched off"},
    },
)
async def export(state: State, admin: AdminDep) -> FileResponse:
    """Inspection outcomes joined with the declarations they were about, in the labelled
    CSV form of the contract (as `parcel-screen feedback export` writes it)."""
    if state.audit is None:
        raise ServiceUnavailableError("the audit store is switched off", code="audit_disabled")
    audit = state.audit
    directory = Path(tempfile.mkdtemp(prefix="feedback-export-"))
    dest = directory / "feedback.csv"

    def build() -> None:
        audit.flush()
        export_feedback(audit.database, dest)

    try:
        await anyio.to_thread.run_sync(build)
    except (StoreUnavailableError, *STORE_ERRORS) as exc:
        dest.unlink(missing_ok=True)
        directory.rmdir()
        raise ServiceUnavailableError(
            f"the audit store cannot be read now ({exc})",
            code="audit_unavailable",
            headers={"Retry-After": "5"},
        ) from None

    def cleanup() -> None:
        dest.unlink(missing_ok=True)
        directory.rmdir()

    return FileResponse(
        dest,
        media_type="text/csv; charset=utf-8",
        filename="feedback.csv",
        background=BackgroundTask(cleanup),
    )
