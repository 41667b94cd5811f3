"""The records a history is counted from: a party's earlier parcels, the watch list, and the
parcel frame they make (one row per parcel, the columns the counting reads).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import numpy as np
import pandas as pd

from training.gear_words import names_gear
from training.gross_weight import gross_in_kg

Role = Literal["sender", "recipient"]
ROLES: Final[tuple[Role, ...]] = ("sender", "recipient")
Outcome = Literal["confirmed", "cleared"]


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
    # Whether a line of it named gear (`training.gear_words`): what an officer reading the
    # party's earlier forms notices.
    names_gear: bool = False
    # The model's first-pass score of it (`training.history.facts.PRIOR_FACTS`); None when
    # it was not scored so (recorded before the store kept it, or from a CSV body).
    first_pass_score: float | None = None


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


# What `history_facts` reads of each parcel.
PARCEL_COLUMNS: Final = (
    "declaration_id",
    "posted_at",
    "sender_id",
    "recipient_id",
    "destination_country",
    "gross_weight_kg",
)
OUTCOME_COLUMNS: Final = ("outcome", "outcome_at")
NAMED_COLUMN: Final = "names_gear"
# A parcel's first-pass score, where it is known (optional in a parcel frame).
FIRST_PASS_COLUMN: Final = "first_pass_score"


def records_frame(records: Iterable[PartyParcel]) -> pd.DataFrame:
    """Store records as a parcel frame `history_facts` reads."""
    rows = list(records)
    return pd.DataFrame(
        {
            "declaration_id": [r.declaration_id for r in rows],
            "posted_at": pd.to_datetime(pd.Series([r.posted_at for r in rows], dtype=object)),
            "sender_id": [r.sender_id for r in rows],
            "recipient_id": [r.recipient_id for r in rows],
            "destination_country": [r.destination_country for r in rows],
            "gross_weight_kg": np.array(
                [np.nan if r.gross_weight_kg is None else r.gross_weight_kg for r in rows],
                dtype=np.float64,
            ),
            "outcome": [r.outcome for r in rows],
            "outcome_at": pd.to_datetime(pd.Series([r.outcome_at for r in rows], dtype=object)),
            NAMED_COLUMN: np.array([r.names_gear for r in rows], dtype=bool),
            FIRST_PASS_COLUMN: np.array(
                [np.nan if r.first_pass_score is None else r.first_pass_score for r in rows],
                dtype=np.float64,
            ),
        },
        columns=[*PARCEL_COLUMNS, *OUTCOME_COLUMNS, NAMED_COLUMN, FIRST_PASS_COLUMN],
    )


def parcels_of(items: pd.DataFrame) -> pd.DataFrame:
    """One row per parcel (its first item row) of an item frame, with the columns read here,
    whether any of its lines named gear, and its first-pass score where items have one.
    The gross weight is read as the features read it (`gross_in_kg`: "3056" typed for a
    2.7 kg parcel is 3.056 kg)."""
    present = [c for c in (*PARCEL_COLUMNS, *OUTCOME_COLUMNS) if c in items.columns]
    first = items.drop_duplicates("declaration_id")[present].reset_index(drop=True)
    if "gross_weight_kg" in first.columns and "net_weight_kg" in items.columns:
        net = pd.to_numeric(items["net_weight_kg"], errors="coerce")
        declared = net.groupby(items["declaration_id"], sort=False).sum()
        first["gross_weight_kg"] = gross_in_kg(
            pd.to_numeric(first["gross_weight_kg"], errors="coerce").to_numpy(dtype=np.float64),
            first["declaration_id"].map(declared).to_numpy(dtype=np.float64),
        )
    if "description" in items.columns:
        named_ids = items["declaration_id"][names_gear(items["description"])]
        first[NAMED_COLUMN] = first["declaration_id"].isin(named_ids).to_numpy()
    if FIRST_PASS_COLUMN in items.columns:
        # Item rows carry their own first-pass score: a parcel's is its riskiest item's.
        best = items.groupby("declaration_id", sort=False)[FIRST_PASS_COLUMN].max()
        first[FIRST_PASS_COLUMN] = first["declaration_id"].map(best).to_numpy(dtype=np.float64)
    return first
