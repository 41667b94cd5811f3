"""History facts beside item rows: looked up by declaration id (`HistoryTable`, a batch
run's facts for a whole file) or joined onto a frame of items (`with_history`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from training.history.counting import history_facts
from training.history.facts import COUNT_FACTS, HISTORY_FACTS
from training.history.records import NAMED_COLUMN, WatchEntry, parcels_of


@dataclass(frozen=True)
class HistoryTable:
    """History facts by declaration id, for item rows to look up (a batch run computes
    them for a whole file before scoring any of it).

    Held compactly, since a batch run keeps it for the whole file: ids as 64-bit hashes
    (sorted, looked up by binary search; two ids of one file sharing a hash is a chance of
    about one in 10^7 at a million parcels), counts as float32 (whole numbers and kilos,
    exact enough for the model's log scale).
    """

    keys: np.ndarray
    facts: dict[str, np.ndarray]

    @classmethod
    def of(
        cls,
        parcels: pd.DataFrame,
        *,
        known: pd.DataFrame | None = None,
        watch: Sequence[WatchEntry] = (),
        now: datetime | None = None,
    ) -> HistoryTable:
        parcels = _one_each(parcels)
        facts = history_facts(parcels, known=known, watch=watch, now=now)
        keys = _id_hashes(parcels["declaration_id"].to_numpy(dtype=object))
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], _compact(facts, order))

    def with_prior_scores(
        self,
        parcels: pd.DataFrame,
        *,
        known: pd.DataFrame | None = None,
        now: datetime | None = None,
    ) -> HistoryTable:
        """This table with the parties' earlier scores counted again: `parcels` are the
        parcels it was made of, now with their first-pass scores (`FIRST_PASS_COLUMN`)."""
        parcels = _one_each(parcels)
        keys = _id_hashes(parcels["declaration_id"].to_numpy(dtype=object))
        order = np.argsort(keys, kind="stable")
        if not np.array_equal(keys[order], self.keys):
            raise ValueError("the parcels are not those this history was counted from")
        priors = history_facts(parcels, known=known, now=now, only_priors=True)
        return HistoryTable(self.keys, {**self.facts, **_compact(priors, order)})

    def columns_for(self, declaration_ids: Any) -> dict[str, np.ndarray]:
        """The facts of each item row by its declaration id (none for an unknown id)."""
        wanted = _id_hashes(np.asarray(declaration_ids, dtype=object))
        position = np.minimum(np.searchsorted(self.keys, wanted), max(len(self.keys) - 1, 0))
        found = (self.keys[position] == wanted) if len(self.keys) else np.zeros(len(wanted), bool)
        out: dict[str, np.ndarray] = {}
        for name, values in self.facts.items():
            if values.dtype.kind == "f":
                column = np.full(len(wanted), np.nan)
            else:
                column = np.full(len(wanted), None, dtype=object)
            column[found] = values[position[found]]
            out[name] = column
        return out


def _one_each(parcels: pd.DataFrame) -> pd.DataFrame:
    """One row per declaration id, numbered from 0."""
    if not pd.Index(parcels["declaration_id"]).is_unique:
        if NAMED_COLUMN in parcels.columns:
            # Listed twice (a run's files), a parcel names gear if either listing does.
            named = parcels.groupby("declaration_id", sort=False)[NAMED_COLUMN].transform("any")
            parcels = parcels.assign(**{NAMED_COLUMN: named})
        parcels = parcels.drop_duplicates("declaration_id")
    return parcels.reset_index(drop=True)


def _compact(facts: pd.DataFrame, order: np.ndarray) -> dict[str, np.ndarray]:
    """Facts as the table holds them: counts as float32, words as objects, in key order."""
    return {
        name: (
            facts[name].to_numpy(dtype=np.float32)
            if name in COUNT_FACTS
            else facts[name].to_numpy(dtype=object)
        )[order]
        for name in facts.columns
    }


def _id_hashes(ids: np.ndarray) -> np.ndarray:
    """Stable 64-bit hashes of declaration ids (SipHash, pandas' fixed key)."""
    return np.asarray(pd.util.hash_array(np.asarray(ids, dtype=object)), dtype=np.uint64)


def with_history(
    items: pd.DataFrame,
    *,
    known: pd.DataFrame | None = None,
    watch: Sequence[WatchEntry] = (),
    now: datetime | None = None,
) -> pd.DataFrame:
    """Item rows with their parcel's history facts beside them (a copy).

    The rows themselves are history too: a file of declarations counts its own parcels
    (each before the others by `posted_at`), with `known` parcels of the store added.
    """
    parcels = parcels_of(items)
    facts = history_facts(parcels, known=known, watch=watch, now=now)
    codes = pd.Index(parcels["declaration_id"]).get_indexer(items["declaration_id"])
    out = items.copy()
    for name in HISTORY_FACTS:
        out[name] = facts[name].to_numpy()[codes]
    return out
