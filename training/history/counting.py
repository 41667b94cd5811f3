"""The history facts of many parcels at once (a file, a training set), vectorised: parcels
placed on one timeline, and per party (or pair of parties, or sender and lane) sums over
the parcels before each one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

import numpy as np
import pandas as pd

from training.history.facts import HISTORY_FACTS, PRIOR_FACTS, RECENT_DAYS
from training.history.records import (
    FIRST_PASS_COLUMN,
    NAMED_COLUMN,
    OUTCOME_COLUMNS,
    PARCEL_COLUMNS,
    WatchEntry,
)

_DAY_NS: Final = 86_400 * 10**9


def history_facts(
    parcels: pd.DataFrame,
    *,
    known: pd.DataFrame | None = None,
    watch: Sequence[WatchEntry] = (),
    now: datetime | None = None,
    only_priors: bool = False,
) -> pd.DataFrame:
    """The history facts of each parcel of `parcels` (aligned with its rows).

    `parcels` holds one row per parcel to score (`PARCEL_COLUMNS`, optionally
    `OUTCOME_COLUMNS`); `known` the parcels the store holds for their parties (a row with
    the declaration id of a parcel being scored is that same parcel: its outcome is kept,
    it is not counted twice). A parcel without `posted_at` is placed at `now` (the
    scoring time), after every dated parcel of that moment. The watch list is read as it
    stands at `now`. `only_priors` counts the parties' earlier scores alone (`PRIOR_FACTS`
    and the parcels behind them): what a batch run counts again once its first pass has
    scored the file's parcels.
    """
    moment = pd.Timestamp(now if now is not None else datetime.now(UTC).replace(tzinfo=None))
    counted: tuple[str, ...] = _PRIOR_NAMES if only_priors else HISTORY_FACTS
    if len(parcels) == 0:
        return pd.DataFrame({name: [] for name in counted}, index=parcels.index)
    targets = _tidy(parcels)
    everything = targets
    if known is not None and len(known):
        others = _tidy(known)
        outcome = others.drop_duplicates("declaration_id", keep="last").set_index("declaration_id")[
            list(OUTCOME_COLUMNS)
        ]
        own = targets["declaration_id"].map(outcome["outcome"])
        targets["outcome"] = own.where(own.notna(), targets["outcome"])
        own_at = targets["declaration_id"].map(outcome["outcome_at"])
        targets["outcome_at"] = own_at.where(own_at.notna(), targets["outcome_at"])
        others = others[~others["declaration_id"].isin(targets["declaration_id"])]
        everything = pd.concat([targets, others], ignore_index=True)
    # A parcel counts once however often it is listed (a file can repeat a declaration).
    target_pos = np.arange(len(targets))
    identity = len(everything) == len(targets)
    if not pd.Index(everything["declaration_id"]).is_unique:
        identity = False
        everything = everything.drop_duplicates("declaration_id").reset_index(drop=True)
        target_pos = pd.Index(everything["declaration_id"]).get_indexer(targets["declaration_id"])

    time = everything["posted_at"].fillna(moment).to_numpy("datetime64[ns]").astype(np.int64)
    # Ties in time (date-only posted_at) are broken by declaration id, never arrival order.
    rank = np.empty(len(everything), dtype=np.int64)
    rank[np.lexsort((everything["declaration_id"].to_numpy(dtype=str), time))] = np.arange(
        len(everything)
    )
    timeline = _Timeline(time, rank, RECENT_DAYS * _DAY_NS)
    sender, sender_names = _codes(everything["sender_id"])
    recipient, recipient_names = _codes(everything["recipient_id"])
    destination, _ = _codes(everything["destination_country"])
    weight = everything["gross_weight_kg"].to_numpy(dtype=np.float64)
    named = everything[NAMED_COLUMN].to_numpy(dtype=np.float64)
    outcomes: pd.Series = everything["outcome"]
    seized = outcomes.eq("confirmed").to_numpy(dtype=bool)
    cleared = outcomes.eq("cleared").to_numpy(dtype=bool)
    first_pass = _standing_scores(
        everything[FIRST_PASS_COLUMN].to_numpy(np.float64), seized, cleared
    )
    declaration_ids = everything["declaration_id"].to_numpy(dtype=object)

    facts: dict[str, np.ndarray] = {}
    for role, party, other in (("sender", sender, recipient), ("recipient", recipient, sender)):
        counterpart = "recipients" if role == "sender" else "senders"
        by_party = timeline.grouped(party)
        best, where = by_party.max_before(first_pass)
        facts[f"{role}_prior_score"] = best
        prior_parcel = np.full(len(best), None, dtype=object)
        # Named only where a score stands behind it.
        where = np.where(best > 0, where, -1)
        prior_parcel[where >= 0] = declaration_ids[where[where >= 0]]
        facts[f"{role}_prior_parcel"] = prior_parcel
        if only_priors:
            continue
        facts[f"{role}_parcels_before"] = by_party.before(np.ones(len(party)))
        facts[f"{role}_confirmed"] = by_party.before(seized)
        facts[f"{role}_cleared"] = by_party.before(cleared)
        facts[f"{role}_named_gear"] = by_party.before(named)
        facts[f"{role}_last_named_gear"] = by_party.last_day_before(named > 0)
        facts[f"{role}_last_confirmed"] = by_party.last_day_before(seized)
        # A pair of parties enters the count at its first parcel, or at one after a gap
        # longer than the window, and leaves the window after a parcel no other parcel of
        # the pair follows within it.
        pair = np.where((party >= 0) & (other >= 0), party * (int(other.max()) + 1) + other, -1)
        first, enters, leaves = timeline.grouped(pair).runs()
        facts[f"{role}_{counterpart}"] = by_party.before(first)
        facts[f"{role}_{counterpart}_30d"] = by_party.before(enters) - by_party.in_window_before(
            leaves, before_window=True
        )
    if only_priors:
        return _aligned(facts, counted, identity, target_pos, parcels.index)
    lane = np.where(sender >= 0, sender * (int(destination.max()) + 2) + (destination + 1), -1)
    kg = np.where(np.isfinite(weight), weight, 0.0)
    facts["sender_lane_kg_30d"] = timeline.grouped(lane).in_window_before(kg)

    listed = [entry for entry in watch if entry.active_at(moment)]
    for role, codes, names in (
        ("sender", sender, sender_names),
        ("recipient", recipient, recipient_names),
    ):
        reason_of = {entry.party_id: entry.reason for entry in listed if entry.role == role}
        by_code = np.full(len(names) + 1, None, dtype=object)
        if reason_of:
            by_code[:-1] = pd.Series(names, dtype=object).map(reason_of).to_numpy(dtype=object)
            by_code[pd.isna(by_code)] = None
        reasons = by_code[codes]  # code -1 picks the trailing None
        facts[f"{role}_watch_reason"] = reasons
        facts[f"{role}_watchlisted"] = pd.notna(reasons).astype(np.float64)

    return _aligned(facts, counted, identity, target_pos, parcels.index)


# What `only_priors` counts.
_PRIOR_NAMES: Final = (*PRIOR_FACTS, "sender_prior_parcel", "recipient_prior_parcel")


def _aligned(
    facts: dict[str, np.ndarray],
    names: Sequence[str],
    identity: bool,
    target_pos: np.ndarray,
    index: pd.Index,
) -> pd.DataFrame:
    """The facts of the parcels asked about, in their order."""
    out = pd.DataFrame(
        {name: facts[name] if identity else facts[name][target_pos] for name in names},
        copy=False,
    )
    out.index = index
    return out


def _standing_scores(first_pass: np.ndarray, seized: np.ndarray, cleared: np.ndarray) -> np.ndarray:
    """What each parcel's first-pass score says of its parties (`one_parcel.standing_score`)."""
    known = np.where(np.isfinite(first_pass), np.clip(first_pass, 0.0, 1.0), 0.0)
    return np.where(seized, 1.0, np.where(cleared, 0.0, known))


def _tidy(parcels: pd.DataFrame) -> pd.DataFrame:
    """The columns read here, typed: datetimes, floats, and strings or None."""
    out = pd.DataFrame(index=range(len(parcels)))
    out[NAMED_COLUMN] = (
        parcels[NAMED_COLUMN].eq(True).to_numpy(dtype=bool)
        if NAMED_COLUMN in parcels.columns
        else np.zeros(len(parcels), dtype=bool)
    )
    out[FIRST_PASS_COLUMN] = (
        pd.to_numeric(parcels[FIRST_PASS_COLUMN], errors="coerce").to_numpy(np.float64)
        if FIRST_PASS_COLUMN in parcels.columns
        else np.full(len(parcels), np.nan)
    )
    for name in (*PARCEL_COLUMNS, *OUTCOME_COLUMNS):
        present = name in parcels.columns
        if name in ("posted_at", "outcome_at"):
            values = (
                parcels[name].to_numpy()
                if present
                else np.full(len(parcels), np.datetime64("NaT"), dtype="datetime64[ns]")
            )
            out[name] = pd.to_datetime(pd.Series(values), errors="coerce", utc=True).dt.tz_localize(
                None
            )
        elif name == "gross_weight_kg":
            values = parcels[name].to_numpy() if present else np.full(len(parcels), np.nan)
            out[name] = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
        else:
            out[name] = _texts(parcels[name] if present else None, len(parcels))
    return out


def _texts(column: pd.Series | None, length: int) -> np.ndarray:
    """Strings or None (blank and missing cells are None)."""
    if column is None:
        return np.full(length, None, dtype=object)
    values = pd.Series(column.to_numpy(dtype=object), dtype=object)
    blank = values.isna().to_numpy() | (values == "").to_numpy()
    # Normalised frames hold strings already: one C pass tells, and nothing is converted.
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        values = values.map(lambda v: v if isinstance(v, str) else str(v))
    out = values.to_numpy(dtype=object)
    out[blank] = None
    return out


def _codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a column's values (-1 for none) and the values by code."""
    codes, names = pd.factorize(column, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), np.asarray(names, dtype=object)


class _Timeline:
    """Parcels placed in time, for counting per group what came before each of them.

    A parcel's place is (time, rank): `rank` orders parcels by time, then declaration id.
    Window edges are compared on a dense numbering of the instants involved, so a group
    and an instant pack into one sortable integer.
    """

    def __init__(self, time: np.ndarray, rank: np.ndarray, window: int) -> None:
        self.time = time
        self.rank = rank
        self.window = window
        instants = np.unique(np.concatenate([time, time - window]))
        self.instant = np.searchsorted(instants, time)
        self.window_start = np.searchsorted(instants, time - window)
        self.bits = max(1, len(instants).bit_length())

    def grouped(self, group: np.ndarray) -> _Groups:
        return _Groups(self, group)


class _Groups:
    """Parcels sorted by (group, place): sums over earlier parcels of the same group."""

    def __init__(self, timeline: _Timeline, group: np.ndarray) -> None:
        self.timeline = timeline
        self.group = group
        # One integer key sorts by group, then place (ranks are 0..n-1).
        self.order = np.argsort(group * len(group) + timeline.rank, kind="stable")
        sorted_group = group[self.order]
        position = np.arange(len(group))
        starts = np.r_[True, sorted_group[1:] != sorted_group[:-1]] if len(group) else position
        # Each sorted position's group start.
        self.start = np.maximum.accumulate(np.where(starts, position, 0))
        self.sorted_group = sorted_group

    def _unsorted(self, values: np.ndarray) -> np.ndarray:
        out = np.empty_like(values)
        out[self.order] = values
        return np.where(self.group >= 0, out, 0) if out.dtype.kind == "f" else out

    def _prefix(self, values: np.ndarray) -> np.ndarray:
        """Per sorted position: the sum of `values` at earlier positions of its group."""
        ordered = np.asarray(values, dtype=np.float64)[self.order]
        running = np.cumsum(ordered) - ordered
        return np.asarray(running - running[self.start], dtype=np.float64)

    def before(self, values: np.ndarray) -> np.ndarray:
        """Per parcel: the sum of `values` over its group's earlier parcels."""
        return np.asarray(np.round(self._unsorted(self._prefix(values)), 6), dtype=np.float64)

    def in_window_before(self, values: np.ndarray, *, before_window: bool = False) -> np.ndarray:
        """Per parcel: the sum of `values` over its group's earlier parcels posted within
        the window before it (`before_window`: posted before that window instead)."""
        timeline = self.timeline
        prefix = self._prefix(values)
        shift = timeline.bits
        keys = (self.sorted_group << shift) | timeline.instant[self.order]
        wanted = (self.sorted_group << shift) | timeline.window_start[self.order]
        # The first position of the group posted at or after the window's start.
        edge = np.maximum(np.searchsorted(keys, wanted, side="left"), self.start)
        inside = prefix - prefix[np.minimum(edge, len(prefix) - 1)] if len(prefix) else prefix
        sums = prefix[np.minimum(edge, len(prefix) - 1)] if before_window else inside
        if before_window:
            # Parcels before the window: everything up to the edge, nothing when the edge
            # is the parcel itself or the group's start.
            sums = np.where(edge > self.start, sums, 0.0)
        return np.asarray(np.round(self._unsorted(sums), 6), dtype=np.float64)

    def runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per parcel of a group (a pair of parties): whether it is the group's first, and
        whether it starts or ends a run of parcels no more than the window apart."""
        time = self.timeline.time[self.order]
        group = self.sorted_group
        known = group >= 0
        same_before = np.r_[False, group[1:] == group[:-1]] & known
        gap_before = np.r_[0, np.diff(time)]
        same_after = np.r_[same_before[1:], False]
        gap_after = np.r_[np.diff(time), 0]
        window = self.timeline.window
        first = known & ~same_before
        enters = known & (~same_before | (gap_before > window))
        leaves = known & (~same_after | (gap_after > window))
        return tuple(  # type: ignore[return-value]
            self._unsorted(flag.astype(np.float64)) for flag in (first, enters, leaves)
        )

    def max_before(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per parcel: the highest of `values` (0 to 1) over its group's earlier parcels
        (0 without any), and the position of the parcel that holds it (-1: none; the
        latest one on a tie)."""
        ordered = np.asarray(values, dtype=np.float64)[self.order]
        position = np.arange(len(ordered))
        if not len(ordered):
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        # Groups are sorted, so lifting each by twice its number keeps one running maximum
        # from leaking into the next group; values stay in [0, 1].
        lift = 2.0 * np.cumsum(position == self.start)
        running = np.maximum.accumulate(ordered + lift)
        holder = np.maximum.accumulate(np.where(ordered + lift >= running, position, -1))
        earlier = position > self.start
        best_sorted = np.where(earlier, np.r_[0.0, running[:-1]] - lift, 0.0)
        where_sorted = np.where(earlier, np.r_[-1, holder[:-1]], -1)
        best = np.empty_like(best_sorted)
        best[self.order] = best_sorted
        where = np.empty_like(where_sorted)
        where[self.order] = self.order[np.maximum(where_sorted, 0)]
        where[self.order[where_sorted < 0]] = -1
        unknown = self.group < 0
        best[unknown] = 0.0
        where[unknown] = -1
        return np.round(best, 6), where

    def last_day_before(self, mask: np.ndarray) -> np.ndarray:
        """Per parcel: the ISO date of its group's latest earlier parcel where `mask` holds."""
        ordered = np.asarray(mask, dtype=bool)[self.order] & (self.sorted_group >= 0)
        position = np.arange(len(ordered))
        latest = (
            np.maximum.accumulate(np.where(ordered, position, -1)) if len(ordered) else position
        )
        previous = np.r_[-1, latest[:-1]] if len(ordered) else position
        found = (previous >= self.start) & (previous >= 0)
        out_sorted = np.full(len(ordered), None, dtype=object)
        if found.any():
            days = self.timeline.time[self.order][previous[found]] // _DAY_NS
            out_sorted[found] = [str(np.datetime64(int(d), "D")) for d in days.tolist()]
        out = np.empty(len(ordered), dtype=object)
        out[self.order] = out_sorted
        out[self.group < 0] = None
        return out
