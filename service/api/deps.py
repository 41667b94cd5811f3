"""Dependencies as `Annotated` aliases, so route signatures say what they need.

All are `async def`: FastAPI runs plain `def` dependencies in the thread pool, a hop that
would cost more than the checks themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security

from service.api.errors import ForbiddenError, ServiceUnavailableError, UnauthorizedError
from service.api.security import (
    API_KEY_HEADER,
    Caller,
    DuplicateKeyHeaderError,
    api_key_scheme,
    presented_key,
)
from service.api.state import ServiceState
from service.scorer import Scorer


async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(get_state)]


def authenticate(state: ServiceState, request: Request) -> Caller:
    try:
        api_key = presented_key(request.headers.getlist(API_KEY_HEADER))
    except DuplicateKeyHeaderError as exc:
        raise UnauthorizedError(str(exc), code="duplicate_api_key") from None
    caller = state.keys.identify(api_key)
    if caller is None:
        message = f"missing {API_KEY_HEADER} header" if not api_key else f"invalid {API_KEY_HEADER}"
        raise UnauthorizedError(message)
    return caller


async def get_caller(
    request: Request,
    state: State,
    # Declares the header in OpenAPI; the check reads every value of it from the request.
    _api_key: Annotated[str | None, Security(api_key_scheme)],
) -> Caller:
    return authenticate(state, request)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_admin(state: State, caller: CallerDep) -> Caller:
    if caller.admin:
        return caller
    if not state.keys.admin_digests:
        raise ForbiddenError(
            "admin endpoints are disabled: no admin keys are configured "
            "(PARCEL_SCREEN_ADMIN_API_KEYS or PARCEL_SCREEN_ADMIN_API_KEYS_FILE)"
        )
    raise ForbiddenError("this endpoint needs an admin key")


AdminDep = Annotated[Caller, Depends(get_admin)]


@dataclass(frozen=True)
class ScoringCall:
    """What a scoring request needs: the app state, who calls, and the model to use."""

    state: ServiceState
    caller: Caller
    # Taken once per request: a reload during the request does not change its model.
    scorer: Scorer


def scoring_call(request: Request) -> ScoringCall:
    """State, caller and model for the scoring routes, which call this directly.

    Not a dependency: on the single-declaration route FastAPI's dependency resolution
    alone cost ~30 us a request (measured, one dependency taking only the request),
    about as much as validating the declaration. The routes declare their security
    requirement in OpenAPI by hand.
    """
    state: ServiceState = request.app.state.service
    caller = authenticate(state, request)
    audit = state.audit
    if audit is not None and not audit.accepting:
        # PARCEL_SCREEN_AUDIT_ON_FAILURE=refuse: nothing is scored without its record.
        raise ServiceUnavailableError(
            "the audit store is failing and this service scores nothing it cannot record",
            code="audit_unavailable",
            headers={"Retry-After": "5"},
        )
    return ScoringCall(state=state, caller=caller, scorer=state.models.require())
