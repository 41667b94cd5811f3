"""Admin routes for the watch list and party histories (contract section 5).

Thin: check the caller, call the store in a worker thread, answer a pydantic model. Every
watch-list change is logged by the store with who made it (`key:<key id>`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Final, TypeVar

import anyio
from fastapi import APIRouter, Path, Query, status

from service.api.deps import AdminDep, State
from service.api.errors import (
    ErrorBody,
    InvalidInputError,
    NotFoundError,
    ServiceUnavailableError,
)
from service.api.schemas import (
    PartyHistoryOut,
    PartyParcelOut,
    WatchChangeOut,
    WatchEntryIn,
    WatchEntryOut,
    WatchListOut,
    WatchRemovedOut,
)
from service.api.security import Caller
from service.store import Store, StoreUnavailableError
from service.store.watchlist import WatchListError
from training.history import PartyParcel, WatchEntry

router = APIRouter(prefix="/v1/admin", tags=["parties"])

T = TypeVar("T")

# What a 503 for a busy or failing store tells the client to wait.
STORE_RETRY_SECONDS: Final = 5

_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid API key"},
    403: {"model": ErrorBody, "description": "Not an admin key"},
    422: {"model": ErrorBody, "description": "A field does not fit (the error names it)"},
    503: {
        "model": ErrorBody,
        "description": "The store is switched off, locked or failing (see Retry-After)",
    },
}

PartyId = Annotated[str, Path(min_length=1, max_length=64, description="An opaque party id")]


def _store(state: State) -> Store:
    if state.store is None:
        raise ServiceUnavailableError(
            "the store is switched off (PARCEL_SCREEN_AUDIT_ENABLED)", code="audit_disabled"
        )
    return state.store


def who(caller: Caller) -> str:
    return f"key:{caller.key_id}" if caller.key_id else "no key"


async def _call(work: Callable[[], T]) -> T:
    """Run a store call off the event loop; its errors as API errors (never a 500)."""
    try:
        return await anyio.to_thread.run_sync(work)
    except WatchListError as exc:
        raise InvalidInputError(f"{exc.field}: {exc.message}", field=exc.field) from None
    except StoreUnavailableError as exc:
        raise ServiceUnavailableError(
            f"{exc}; nothing was changed, try again",
            code="store_unavailable",
            headers={"Retry-After": str(STORE_RETRY_SECONDS)},
        ) from None


def _utc(moment: datetime | None) -> datetime | None:
    # The store keeps UTC without a zone; answers say it is UTC.
    return None if moment is None else moment.replace(tzinfo=UTC)


def entry_out(entry: WatchEntry, now: datetime) -> WatchEntryOut:
    return WatchEntryOut(
        party_id=entry.party_id,
        role=entry.role,
        reason=entry.reason,
        listed_by=entry.listed_by,
        listed_at=entry.listed_at.replace(tzinfo=UTC),
        expires_at=_utc(entry.expires_at),
        active=entry.active_at(now),
    )


def parcel_out(parcel: PartyParcel) -> PartyParcelOut:
    return PartyParcelOut(
        declaration_id=parcel.declaration_id,
        posted_at=parcel.posted_at.replace(tzinfo=UTC),
        sender_id=parcel.sender_id,
        recipient_id=parcel.recipient_id,
        destination_country=parcel.destination_country,
        gross_weight_kg=parcel.gross_weight_kg,
        names_gear=parcel.names_gear,
        first_pass_score=parcel.first_pass_score,
        decision=parcel.decision,
        outcome=parcel.outcome,
        outcome_at=_utc(parcel.outcome_at),
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@router.get(
    "/watchlist", summary="The watch list", response_model=WatchListOut, responses=_RESPONSES
)
async def list_watch(state: State, admin: AdminDep) -> WatchListOut:
    """Every entry, by party and role; expired entries are listed with `active: false`."""
    store = _store(state)
    entries = await _call(store.watch_list)
    now = _now()
    return WatchListOut(entries=[entry_out(entry, now) for entry in entries])


@router.post(
    "/watchlist",
    summary="Put a party on the watch list",
    status_code=status.HTTP_201_CREATED,
    response_model=WatchChangeOut,
    responses=_RESPONSES,
)
async def add_watch(entry: WatchEntryIn, state: State, admin: AdminDep) -> WatchChangeOut:
    """Adds the party for the role, or updates its entry for that role (`created: false`).
    The change is logged with the key that made it."""
    store = _store(state)
    saved, created = await _call(
        lambda: store.watch(entry.party_id, entry.role, entry.reason, entry.expires, by=who(admin))
    )
    return WatchChangeOut(entry=entry_out(saved, _now()), created=created)


@router.delete(
    "/watchlist/{party_id}",
    summary="Take a party off the watch list",
    response_model=WatchRemovedOut,
    responses={
        **_RESPONSES,
        404: {"model": ErrorBody, "description": "The party is not on the watch list"},
    },
)
async def remove_watch(party_id: PartyId, state: State, admin: AdminDep) -> WatchRemovedOut:
    """Removes every entry of the party (both roles); the change is logged."""
    store = _store(state)
    removed = await _call(lambda: store.unwatch(party_id, by=who(admin)))
    if not removed:
        raise NotFoundError(
            "the party is not on the watch list", code="not_on_watchlist", field="party_id"
        )
    now = _now()
    return WatchRemovedOut(
        party_id=removed[0].party_id, removed=[entry_out(entry, now) for entry in removed]
    )


@router.get(
    "/history/{party_id}",
    summary="A party's history",
    response_model=PartyHistoryOut,
    responses=_RESPONSES,
)
async def party_history(
    party_id: PartyId,
    state: State,
    admin: AdminDep,
    limit: Annotated[int, Query(ge=0, le=1000, description="Most parcels listed")] = 100,
) -> PartyHistoryOut:
    """Parcels the party sent or received within the retention window (newest first), how
    many went to review or inspection, the outcomes found, its counterparties and its
    watch-list entries. A party the store never saw has an empty history."""
    store = _store(state)
    summary = await _call(lambda: store.party_history(party_id))
    now = _now()
    newest = sorted(summary.parcels, key=lambda p: (p.posted_at, p.declaration_id), reverse=True)
    return PartyHistoryOut(
        party_id=summary.party_id,
        as_sender=summary.as_sender,
        as_recipient=summary.as_recipient,
        review=summary.review,
        inspect=summary.inspect,
        confirmed=summary.confirmed,
        cleared=summary.cleared,
        latest_confirmed_at=_utc(summary.latest_confirmed_at),
        latest_cleared_at=_utc(summary.latest_cleared_at),
        counterparties=summary.counterparties,
        watch=[entry_out(entry, now) for entry in summary.watch],
        parcels=[parcel_out(parcel) for parcel in newest[:limit]],
        parcels_total=len(summary.parcels),
    )
