"""Dependencies as `Annotated` aliases, so route signatures say what they need.

All are `async def`: FastAPI runs plain `def` dependencies in the thread pool, a hop that
would cost more than the checks themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security

from service.api.errors import ForbiddenError, UnauthorizedError
from service.api.security import API_KEY_HEADER, Caller, api_key_scheme
from service.api.state import ServiceState
from service.scorer import Scorer


async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(get_state)]


async def get_caller(
    state: State, api_key: Annotated[str | None, Security(api_key_scheme)]
) -> Caller:
    caller = state.keys.identify(api_key)
    if caller is None:
        message = f"missing {API_KEY_HEADER} header" if not api_key else f"invalid {API_KEY_HEADER}"
        raise UnauthorizedError(message)
    return caller


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


async def get_scorer(state: State) -> Scorer:
    # Taken once per request: a reload during the request does not change its model.
    return state.models.require()


ScorerDep = Annotated[Scorer, Depends(get_scorer)]
