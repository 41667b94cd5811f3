"""What a store would know of generated parties (`simulated_store`): inspection outcomes of
their parcels and a watch list, as officers' work would leave them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import numpy as np
import pandas as pd

from training import knowledge
from training.history import ROLES, WatchEntry
from training.synth.dates import YEARS


def simulated_store(frame: pd.DataFrame, seed: int) -> tuple[pd.Series, list[WatchEntry]]:
    """Inspection outcomes and a watch list for generated declarations, as officers' work
    would leave them: the outcome of each parcel (None for most) and the listed parties.

    A share of gear parcels was inspected and confirmed, a smaller share of honest parcels
    inspected and cleared; a share of the parties that shipped or collected gear were put
    on the watch list, and a few honest ones (a false lead). Depends only on the frame and
    the seed.
    """
    settings = knowledge.generator_settings()["store"]
    rng = np.random.default_rng([seed, 1299])
    # Labels as numbers: the generator's are Python objects, whose maximum per parcel pandas
    # takes one group at a time (5-10 s of `make model` for 200k rows, against 20 ms).
    numeric = frame.assign(label=pd.to_numeric(frame["label"]))
    parcels = numeric.groupby("declaration_id", sort=False).agg(
        label=("label", "max"),
        sender_id=("sender_id", "first"),
        recipient_id=("recipient_id", "first"),
    )
    gear = parcels["label"].to_numpy() == 1
    draw = rng.random(len(parcels))
    outcome = np.full(len(parcels), None, dtype=object)
    outcome[gear & (draw < settings["confirmed_share"])] = "confirmed"
    outcome[~gear & (draw < settings["cleared_share"])] = "cleared"
    by_declaration = pd.Series(outcome, index=parcels.index)

    listed_at = datetime(min(YEARS), 1, 1)
    watch: list[WatchEntry] = []
    for role in ROLES:
        ids = parcels[f"{role}_id"]
        shipped_gear = set(ids[gear].dropna())
        for party in sorted(set(ids.dropna())):
            share = settings["watch_gear_share" if party in shipped_gear else "watch_honest_share"]
            # One draw per party from its id, so the list does not depend on parcel order.
            if _unit_hash(f"{seed}:{role}:{party}") < share:
                watch.append(
                    WatchEntry(
                        party_id=party,
                        role=role,
                        reason="earlier seizure reported by another office",
                        listed_by="generator",
                        listed_at=listed_at,
                    )
                )
    return frame["declaration_id"].map(by_declaration), watch


def _unit_hash(text: str) -> float:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
