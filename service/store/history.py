"""What the store tells about one party (`history show`) and how it forgets one
(`history forget`).

Forgetting removes the party from everything the store keeps about parties: its id in the
parcels index (a parcel left with no party is removed), its watch-list entries and its id
in the watch-list change log, and its id inside the stored inputs of the declarations it
took part in (the audit trail keeps the declaration, without the party).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson
import sqlalchemy as sa

from service.store import parcels, watchlist
from service.store.tables import scored
from training.history import PartyParcel, WatchEntry

_PARTY_FIELDS: Final = ("sender_id", "recipient_id")


@dataclass(frozen=True)
class PartyHistory:
    """A party's parcels within the retention window, summed up for an officer."""

    party_id: str
    parcels: list[PartyParcel]
    as_sender: int
    as_recipient: int
    # Parcels whose latest decision sent them to review, to inspection.
    review: int
    inspect: int
    confirmed: int
    cleared: int
    latest_confirmed_at: datetime | None
    latest_cleared_at: datetime | None
    # Distinct parties on the other side of its parcels.
    counterparties: int
    watch: list[WatchEntry]


def summarise(party_id: str, records: list[PartyParcel], watch: list[WatchEntry]) -> PartyHistory:
    others = set()
    for record in records:
        for party in (record.sender_id, record.recipient_id):
            if party and party != party_id:
                others.add(party)

    def latest(outcome: str) -> datetime | None:
        moments = [r.outcome_at for r in records if r.outcome == outcome and r.outcome_at]
        return max(moments) if moments else None

    return PartyHistory(
        party_id=party_id,
        parcels=records,
        as_sender=sum(record.sender_id == party_id for record in records),
        as_recipient=sum(record.recipient_id == party_id for record in records),
        review=sum(record.decision == "review" for record in records),
        inspect=sum(record.decision == "inspect" for record in records),
        confirmed=sum(record.outcome == "confirmed" for record in records),
        cleared=sum(record.outcome == "cleared" for record in records),
        latest_confirmed_at=latest("confirmed"),
        latest_cleared_at=latest("cleared"),
        counterparties=len(others),
        watch=watch,
    )


@dataclass(frozen=True)
class Forgotten:
    """What forgetting a party removed."""

    party_id: str
    # Parcels it was the sender or recipient of, and how many of them went altogether
    # (no other party left on them).
    parcels: int
    parcels_removed: int
    # Stored scorings whose input named it (the id is taken out of them).
    scorings_scrubbed: int
    watch_entries: int


def _like_pattern(party_id: str) -> str:
    # The id as it appears inside JSON text, with LIKE's wildcards taken literally.
    quoted = orjson.dumps(party_id).decode()
    escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _scrub(input_json: str, party_id: str) -> str | None:
    """The input without the party's id, or None if it does not name it."""
    data: dict[str, Any] = orjson.loads(input_json)
    changed = False
    for name in _PARTY_FIELDS:
        if data.get(name) is not None and parcels.party_id(data.get(name)) == party_id:
            data[name] = None
            changed = True
    return orjson.dumps(data).decode() if changed else None


def forget(connection: sa.Connection, party_id: str, by: str, now: datetime) -> Forgotten:
    declarations, removed = parcels.forget(connection, party_id)
    # Inputs are found by text (every scoring, in the window or not), then checked as JSON:
    # only the party fields that hold exactly this id are emptied.
    candidates = connection.execute(
        sa.select(scored.c.id, scored.c.input_json).where(
            scored.c.input_json.like(_like_pattern(party_id), escape="\\")
        )
    ).all()
    scrubbed = 0
    for scored_id, input_json in candidates:
        cleaned = _scrub(input_json, party_id)
        if cleaned is not None:
            connection.execute(
                scored.update().where(scored.c.id == scored_id).values(input_json=cleaned)
            )
            scrubbed += 1
    entries = watchlist.forget(connection, party_id, by, now)
    return Forgotten(
        party_id=party_id,
        parcels=len(declarations),
        parcels_removed=removed,
        scorings_scrubbed=scrubbed,
        watch_entries=entries,
    )
