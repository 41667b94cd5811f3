"""What the past says about the parties of a parcel: the history facts the model reads.

A parcel's history is counted from the parcels its sender and recipient took part in
*before* it (by `posted_at`, ties broken by declaration id, so arrival order never
matters), the inspection outcomes on them and the watch list. The parcel being scored
never counts in its own history, so scoring the same declaration twice gives the same
answer.

The facts are deliberately model-independent: earlier parcels, counterparties, weight
sent down the same lane, confirmed and cleared outcomes, the watch list. Earlier
*decisions* are not a fact the model reads (the store keeps them for officers): a model
fed its own past decisions amplifies its own mistakes, and a CSV export has none.

The store (service side) hands over `PartyParcel` records and `WatchEntry` rows; the batch
command builds the same records from the file itself. Both end in `history_facts`, one
vectorised function, so HTTP and batch give the same score for the same history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

Role = Literal["sender", "recipient"]
ROLES: Final[tuple[Role, ...]] = ("sender", "recipient")
Outcome = Literal["confirmed", "cleared"]

# Counterparties and lane weight are counted over this many days before a parcel.
RECENT_DAYS: Final = 30


@dataclass(frozen=True)
class PartyParcel:
    """One earlier parcel a party took part in, as the store or a file knows it."""

    declaration_id: str
    # UTC, naive. The time the parcel was scored when its declaration had no posted_at.
    posted_at: datetime
    sender_id: str | None
    recipient_id: str | None
    destination_country: str | None
    gross_weight_kg: float | None
    # The latest decision on it (shown to officers, never read by the model).
    decision: str | None = None
    # The inspection outcome that stands for the parcel, if any, and when it was posted.
    outcome: Outcome | None = None
    outcome_at: datetime | None = None


@dataclass(frozen=True)
class WatchEntry:
    """A party on the watch list, as data staff and officers keep it."""

    party_id: str
    role: Role
    reason: str
    listed_by: str
    listed_at: datetime
    # None: until removed.
    expires_at: datetime | None = None

    def active_at(self, moment: datetime) -> bool:
        return self.listed_at <= moment and (self.expires_at is None or moment < self.expires_at)
