"""What the past says about the parties of a parcel: the history facts the model reads.

A parcel's history is counted from the parcels its sender and recipient took part in
*before* it (by `posted_at`, ties broken by declaration id, so arrival order never
matters), the inspection outcomes on them and the watch list. The parcel being scored
never counts in its own history, so scoring the same declaration twice gives the same
answer.

The facts are deliberately model-independent: earlier parcels, counterparties, weight
sent down the same lane, confirmed and cleared outcomes, earlier parcels whose description
named gear outright (`training.gear_words`: a fact of the form, not a score), the watch
list. Earlier
*decisions* are not a fact the model reads (the store keeps them for officers): a model
fed its own past decisions amplifies its own mistakes, and a CSV export has none.

The store (service side) hands over `PartyParcel` records and `WatchEntry` rows; the batch
command builds the same records from the file itself. One definition, counted three ways,
each pinned to the others by the tests: `history_facts` (vectorised: a file, a training
set), `parcel_history` (plain Python over one parcel's records) and `PartySummary` (a
party's records summed up once, for the many parcels of a busy shipper). So HTTP and batch
give the same score for the same history.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from training.gear_words import names_gear

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
    # Whether a line of it named gear (`training.gear_words`): what an officer reading the
    # party's earlier forms notices.
    names_gear: bool = False


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


# The facts of a parcel's history, as columns beside its item rows. Counts are of parcels
# posted before it (within what the store or the file holds).
SENDER_FACTS: Final = (
    "sender_parcels_before",  # parcels the sender sent
    "sender_recipients",  # distinct recipients of those
    "sender_recipients_30d",  # distinct recipients of those in the last RECENT_DAYS
    "sender_lane_kg_30d",  # gross kg the sender sent to this destination, last RECENT_DAYS
    "sender_confirmed",  # the sender's parcels on which gear was confirmed
    "sender_cleared",  # ... and which inspection cleared
    "sender_named_gear",  # the sender's parcels whose description named gear
)
RECIPIENT_FACTS: Final = (
    "recipient_parcels_before",
    "recipient_senders",  # distinct senders to the recipient
    "recipient_senders_30d",  # distinct senders to the recipient in the last RECENT_DAYS
    "recipient_confirmed",
    "recipient_cleared",
    "recipient_named_gear",
)
WATCH_FACTS: Final = ("sender_watchlisted", "recipient_watchlisted")
COUNT_FACTS: Final = (*SENDER_FACTS, *RECIPIENT_FACTS, *WATCH_FACTS)
# For the wording of reasons only: the latest confirmed seizure (ISO date) and why a party
# is on the watch list.
TEXT_FACTS: Final = (
    "sender_last_confirmed",
    "recipient_last_confirmed",
    "sender_watch_reason",
    "recipient_watch_reason",
    "sender_last_named_gear",
    "recipient_last_named_gear",
)
HISTORY_FACTS: Final = (*COUNT_FACTS, *TEXT_FACTS)

# The model's features of history (training.features.FormFeatures): name -> (fact, scale).
# The prefixes name the reason a feature gives (sender_history, recipient_history,
# watchlist). Counts are read on a log scale: the tenth parcel says less than the second.
HISTORY_FEATURES: Final[dict[str, tuple[str, str]]] = {
    "sender_history_parcels": ("sender_parcels_before", "log"),
    "sender_history_recipients": ("sender_recipients", "log"),
    "sender_history_recipients_30d": ("sender_recipients_30d", "log"),
    "sender_history_lane_kg_30d": ("sender_lane_kg_30d", "log"),
    "sender_history_confirmed": ("sender_confirmed", "log"),
    "sender_history_cleared": ("sender_cleared", "log"),
    "sender_history_named_gear": ("sender_named_gear", "log"),
    "recipient_history_parcels": ("recipient_parcels_before", "log"),
    "recipient_history_senders": ("recipient_senders", "log"),
    "recipient_history_senders_30d": ("recipient_senders_30d", "log"),
    "recipient_history_confirmed": ("recipient_confirmed", "log"),
    "recipient_history_cleared": ("recipient_cleared", "log"),
    "recipient_history_named_gear": ("recipient_named_gear", "log"),
    "watchlist_sender": ("sender_watchlisted", "flag"),
    "watchlist_recipient": ("recipient_watchlisted", "flag"),
}

HISTORY_PREFIXES: Final = ("sender_history_", "recipient_history_", "watchlist_")

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

_DAY_NS: Final = 86_400 * 10**9


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
        },
        columns=[*PARCEL_COLUMNS, *OUTCOME_COLUMNS, NAMED_COLUMN],
    )


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
        if not pd.Index(parcels["declaration_id"]).is_unique:
            if NAMED_COLUMN in parcels.columns:
                # Listed twice (a run's files), a parcel names gear if either listing does.
                named = parcels.groupby("declaration_id", sort=False)[NAMED_COLUMN].transform("any")
                parcels = parcels.assign(**{NAMED_COLUMN: named})
            parcels = parcels.drop_duplicates("declaration_id")
        parcels = parcels.reset_index(drop=True)
        facts = history_facts(parcels, known=known, watch=watch, now=now)
        keys = _id_hashes(parcels["declaration_id"].to_numpy(dtype=object))
        order = np.argsort(keys, kind="stable")
        return cls(
            keys[order],
            {
                name: (
                    facts[name].to_numpy(dtype=np.float32)
                    if name in COUNT_FACTS
                    else facts[name].to_numpy(dtype=object)
                )[order]
                for name in HISTORY_FACTS
            },
        )

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


def parcels_of(items: pd.DataFrame) -> pd.DataFrame:
    """One row per parcel (its first item row) of an item frame, with the columns read here,
    and whether any of its lines named gear."""
    present = [c for c in (*PARCEL_COLUMNS, *OUTCOME_COLUMNS) if c in items.columns]
    first = items.drop_duplicates("declaration_id")[present].reset_index(drop=True)
    if "description" in items.columns:
        named_ids = items["declaration_id"][names_gear(items["description"])]
        first[NAMED_COLUMN] = first["declaration_id"].isin(named_ids).to_numpy()
    return first


def history_facts(
    parcels: pd.DataFrame,
    *,
    known: pd.DataFrame | None = None,
    watch: Sequence[WatchEntry] = (),
    now: datetime | None = None,
) -> pd.DataFrame:
    """The history facts of each parcel of `parcels` (aligned with its rows).

    `parcels` holds one row per parcel to score (`PARCEL_COLUMNS`, optionally
    `OUTCOME_COLUMNS`); `known` the parcels the store holds for their parties (a row with
    the declaration id of a parcel being scored is that same parcel: its outcome is kept,
    it is not counted twice). A parcel without `posted_at` is placed at `now` (the
    scoring time), after every dated parcel of that moment. The watch list is read as it
    stands at `now`.
    """
    moment = pd.Timestamp(now if now is not None else datetime.now(UTC).replace(tzinfo=None))
    if len(parcels) == 0:
        return pd.DataFrame({name: [] for name in HISTORY_FACTS}, index=parcels.index)
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

    facts: dict[str, np.ndarray] = {}
    for role, party, other in (("sender", sender, recipient), ("recipient", recipient, sender)):
        counterpart = "recipients" if role == "sender" else "senders"
        by_party = timeline.grouped(party)
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

    out = pd.DataFrame(
        {name: facts[name] if identity else facts[name][target_pos] for name in HISTORY_FACTS},
        copy=False,
    )
    out.index = parcels.index
    return out


def _tidy(parcels: pd.DataFrame) -> pd.DataFrame:
    """The columns read here, typed: datetimes, floats, and strings or None."""
    out = pd.DataFrame(index=range(len(parcels)))
    out[NAMED_COLUMN] = (
        parcels[NAMED_COLUMN].eq(True).to_numpy(dtype=bool)
        if NAMED_COLUMN in parcels.columns
        else np.zeros(len(parcels), dtype=bool)
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


def _plural(n: float, one: str, many: str) -> str:
    return f"{n:.0f} {one if round(n) == 1 else many}"


def history_message(role: Role, facts: Mapping[str, Any]) -> str | None:
    """What an officer is told of a party's past, in plain words (None: nothing that
    would raise suspicion). Seizures first: they are what officers lean on."""
    confirmed = float(facts.get(f"{role}_confirmed") or 0)
    if confirmed > 0:
        latest = facts.get(f"{role}_last_confirmed")
        return f"{role} had {_plural(confirmed, 'confirmed seizure', 'confirmed seizures')}" + (
            f", latest {latest}" if latest else ""
        )
    named = float(facts.get(f"{role}_named_gear") or 0)
    if named > 0:
        latest = facts.get(f"{role}_last_named_gear")
        return (
            f"{role} declared gear by name on {_plural(named, 'earlier parcel', 'earlier parcels')}"
            + (f", latest {latest}" if latest else "")
        )
    parcels = float(facts.get(f"{role}_parcels_before") or 0)
    if parcels <= 0:
        return None
    # Repeat shipping alone is what families and small sellers do: said only where it looks
    # like the trade (many counterparties, kilos down one lane), else left unsaid.
    if role == "sender" and not _sender_pattern(facts):
        return None
    if role == "recipient" and not _recipient_pattern(facts):
        return None
    if role == "sender":
        kg = float(facts.get("sender_lane_kg_30d") or 0)
        recent = float(facts.get("sender_recipients_30d") or 0)
        said = (
            f"sender sent {_plural(parcels, 'earlier parcel', 'earlier parcels')} to "
            f"{_plural(float(facts.get('sender_recipients') or 0), 'recipient', 'recipients')}"
        )
        if recent >= 2:
            said += f", {recent:.0f} of them in the last {RECENT_DAYS} days"
        if kg > 0:
            where = facts.get("destination_country") or "this destination"
            said += f"; {kg:.1f} kg to {where} in the last {RECENT_DAYS} days"
        return said
    recent = float(facts.get("recipient_senders_30d") or 0)
    if recent >= 2:
        return f"recipient received parcels from {recent:.0f} senders in {RECENT_DAYS} days"
    senders = float(facts.get("recipient_senders") or 0)
    return (
        f"recipient received {_plural(parcels, 'earlier parcel', 'earlier parcels')} "
        f"from {_plural(senders, 'sender', 'senders')}"
    )


# What makes a party's past worth an officer's attention without a seizure on it.
_MANY_COUNTERPARTIES: Final = 3
_HEAVY_LANE_KG: Final = 20.0


def _sender_pattern(facts: Mapping[str, Any]) -> bool:
    return (
        float(facts.get("sender_recipients") or 0) >= _MANY_COUNTERPARTIES
        or float(facts.get("sender_recipients_30d") or 0) >= 2
        or float(facts.get("sender_lane_kg_30d") or 0) >= _HEAVY_LANE_KG
    )


def _recipient_pattern(facts: Mapping[str, Any]) -> bool:
    return (
        float(facts.get("recipient_senders") or 0) >= _MANY_COUNTERPARTIES
        or float(facts.get("recipient_senders_30d") or 0) >= 2
    )


def watchlist_message(facts: Mapping[str, Any]) -> str | None:
    """Why a party of the parcel is on the watch list (None: neither is)."""
    said = [
        f"{role} on the watch list: {facts.get(f'{role}_watch_reason') or 'no reason given'}"
        for role in ROLES
        if float(facts.get(f"{role}_watchlisted") or 0) > 0
    ]
    return "; ".join(said) or None


def _placed(posted: datetime | None, moment: datetime) -> datetime:
    """Where a parcel sits in time: its posted_at, or `moment` without one. A date pandas
    cannot hold (before 1677 or after 2262: a typo, "0001-01-01") counts as none, as the
    vectorised count reads it."""
    if posted is None or not pd.Timestamp.min < pd.Timestamp(posted) < pd.Timestamp.max:
        return moment
    return posted


def parcel_history(
    parcel: Mapping[str, Any],
    records: Iterable[PartyParcel],
    *,
    watch: Iterable[WatchEntry] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """`history_facts` of one parcel, in plain Python: what one declaration over HTTP pays.

    `parcel` has the `PARCEL_COLUMNS` (posted_at a naive UTC datetime or None); `records`
    are the store's parcels of its parties. Pinned to `history_facts` by the tests.
    """
    moment = now if now is not None else datetime.now(UTC).replace(tzinfo=None)
    own_id = str(parcel["declaration_id"])
    time = _placed(parcel.get("posted_at"), moment)
    place = (time, own_id)
    window_start = time - timedelta(days=RECENT_DAYS)
    earlier: dict[str, PartyParcel] = {}
    for record in records:
        if record.declaration_id != own_id and (record.posted_at, record.declaration_id) < place:
            earlier.setdefault(record.declaration_id, record)
    out: dict[str, Any] = dict.fromkeys(COUNT_FACTS, 0.0)
    out.update(dict.fromkeys(TEXT_FACTS))
    for role, other in (("sender", "recipient"), ("recipient", "sender")):
        party = parcel.get(f"{role}_id")
        if party is None:
            continue
        mine = [r for r in earlier.values() if getattr(r, f"{role}_id") == party]
        counterpart = "recipients" if role == "sender" else "senders"
        others = [getattr(r, f"{other}_id") for r in mine]
        recent = [getattr(r, f"{other}_id") for r in mine if r.posted_at >= window_start]
        seized = [r.posted_at for r in mine if r.outcome == "confirmed"]
        named = [r.posted_at for r in mine if r.names_gear]
        out[f"{role}_parcels_before"] = float(len(mine))
        out[f"{role}_{counterpart}"] = float(len({o for o in others if o is not None}))
        out[f"{role}_{counterpart}_30d"] = float(len({o for o in recent if o is not None}))
        out[f"{role}_confirmed"] = float(len(seized))
        out[f"{role}_cleared"] = float(sum(r.outcome == "cleared" for r in mine))
        out[f"{role}_last_confirmed"] = max(seized).date().isoformat() if seized else None
        out[f"{role}_named_gear"] = float(len(named))
        out[f"{role}_last_named_gear"] = max(named).date().isoformat() if named else None
        if role == "sender":
            out["sender_lane_kg_30d"] = float(
                sum(
                    r.gross_weight_kg
                    for r in mine
                    if r.gross_weight_kg is not None and math.isfinite(r.gross_weight_kg)
                    if r.posted_at >= window_start
                    and r.destination_country == parcel.get("destination_country")
                )
            )
    for entry in watch:
        if entry.active_at(moment) and parcel.get(f"{entry.role}_id") == entry.party_id:
            out[f"{entry.role}_watchlisted"] = 1.0
            out[f"{entry.role}_watch_reason"] = entry.reason
    return out


class PartySummary:
    """One party's records, sorted and summed up once, for the facts of many parcels.

    `parcel_history` counts over every record each time: fine for a few, costly for a
    shipper with thousands over the retention window, on every one of its parcels. This
    keeps per role the records in place order with running counts, so a parcel's facts
    cost a binary search plus a scan of its last `RECENT_DAYS`. Pinned to
    `parcel_history` by the tests.
    """

    def __init__(self, party: str, records: Iterable[PartyParcel]) -> None:
        self.party = party
        unique: dict[str, PartyParcel] = {}
        for record in records:
            unique.setdefault(record.declaration_id, record)
        ordered = sorted(unique.values(), key=lambda r: (r.posted_at, r.declaration_id))
        self.records = ordered
        self._roles = {
            role: _RoleRecords([r for r in ordered if getattr(r, f"{role}_id") == party], role)
            for role in ROLES
        }

    def facts(self, role: Role, parcel: Mapping[str, Any], moment: datetime) -> dict[str, Any]:
        """The facts of `role` (the party in that role on `parcel`), or {} to be counted
        the plain way (the parcel's own record sits before it: a re-dated scoring)."""
        return self._roles[role].facts(parcel, moment)


class _RoleRecords:
    def __init__(self, records: list[PartyParcel], role: Role) -> None:
        other = "recipient" if role == "sender" else "sender"
        self.role = role
        self.records = records
        self.keys = [(r.posted_at, r.declaration_id) for r in records]
        self.positions = {r.declaration_id: i for i, r in enumerate(records)}
        self.counterparts = [getattr(r, f"{other}_id") for r in records]
        distinct: set[str] = set()
        self.distinct = [0]
        self.confirmed = [0]
        self.cleared = [0]
        self.last_confirmed: list[datetime | None] = [None]
        self.named = [0]
        self.last_named: list[datetime | None] = [None]
        for record, counterpart in zip(records, self.counterparts, strict=True):
            if counterpart is not None:
                distinct.add(counterpart)
            self.distinct.append(len(distinct))
            self.confirmed.append(self.confirmed[-1] + (record.outcome == "confirmed"))
            self.cleared.append(self.cleared[-1] + (record.outcome == "cleared"))
            latest = self.last_confirmed[-1]
            if record.outcome == "confirmed" and (latest is None or record.posted_at > latest):
                latest = record.posted_at
            self.last_confirmed.append(latest)
            self.named.append(self.named[-1] + record.names_gear)
            # Records are in place order, so the latest named one is the last seen.
            self.last_named.append(record.posted_at if record.names_gear else self.last_named[-1])

    def facts(self, parcel: Mapping[str, Any], moment: datetime) -> dict[str, Any]:
        own_id = str(parcel["declaration_id"])
        time = _placed(parcel.get("posted_at"), moment)
        end = bisect.bisect_left(self.keys, (time, own_id))
        own = self.positions.get(own_id)
        if own is not None and own < end:
            return {}
        start = bisect.bisect_left(self.keys, (time - timedelta(days=RECENT_DAYS), ""), 0, end)
        recent = {c for c in self.counterparts[start:end] if c is not None}
        role = self.role
        counterpart = "recipients" if role == "sender" else "senders"
        last = self.last_confirmed[end]
        last_named = self.last_named[end]
        out: dict[str, Any] = {
            f"{role}_parcels_before": float(end),
            f"{role}_{counterpart}": float(self.distinct[end]),
            f"{role}_{counterpart}_30d": float(len(recent)),
            f"{role}_confirmed": float(self.confirmed[end]),
            f"{role}_cleared": float(self.cleared[end]),
            f"{role}_last_confirmed": last.date().isoformat() if last is not None else None,
            f"{role}_named_gear": float(self.named[end]),
            f"{role}_last_named_gear": (
                last_named.date().isoformat() if last_named is not None else None
            ),
        }
        if role == "sender":
            destination = parcel.get("destination_country")
            out["sender_lane_kg_30d"] = float(
                sum(
                    r.gross_weight_kg
                    for r in self.records[start:end]
                    if r.gross_weight_kg is not None
                    and math.isfinite(r.gross_weight_kg)
                    and r.destination_country == destination
                )
            )
        return out


def summarised_history(
    parcel: Mapping[str, Any],
    summaries: Mapping[str, PartySummary],
    *,
    watch: Iterable[WatchEntry] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """`parcel_history` from the summaries of the parcel's parties."""
    moment = now if now is not None else datetime.now(UTC).replace(tzinfo=None)
    out: dict[str, Any] = dict.fromkeys(COUNT_FACTS, 0.0)
    out.update(dict.fromkeys(TEXT_FACTS))
    for role in ROLES:
        party = parcel.get(f"{role}_id")
        summary = summaries.get(party) if party is not None else None
        if summary is None:
            continue
        facts = summary.facts(role, parcel, moment)
        if not facts:
            plain = parcel_history(parcel, summary.records, now=moment)
            facts = {k: v for k, v in plain.items() if k.startswith(f"{role}_")}
            facts.pop(f"{role}_watchlisted", None)
            facts.pop(f"{role}_watch_reason", None)
        out.update(facts)
    for entry in watch:
        if entry.active_at(moment) and parcel.get(f"{entry.role}_id") == entry.party_id:
            out[f"{entry.role}_watchlisted"] = 1.0
            out[f"{entry.role}_watch_reason"] = entry.reason
    return out
