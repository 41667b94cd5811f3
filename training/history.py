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

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

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


# The facts of a parcel's history, as columns beside its item rows. Counts are of parcels
# posted before it (within what the store or the file holds).
SENDER_FACTS: Final = (
    "sender_parcels_before",  # parcels the sender sent
    "sender_recipients",  # distinct recipients of those
    "sender_recipients_30d",  # distinct recipients of those in the last RECENT_DAYS
    "sender_lane_kg_30d",  # gross kg the sender sent to this destination, last RECENT_DAYS
    "sender_confirmed",  # the sender's parcels on which gear was confirmed
    "sender_cleared",  # ... and which inspection cleared
)
RECIPIENT_FACTS: Final = (
    "recipient_parcels_before",
    "recipient_senders",  # distinct senders to the recipient
    "recipient_senders_30d",  # distinct senders to the recipient in the last RECENT_DAYS
    "recipient_confirmed",
    "recipient_cleared",
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
    "recipient_history_parcels": ("recipient_parcels_before", "log"),
    "recipient_history_senders": ("recipient_senders", "log"),
    "recipient_history_senders_30d": ("recipient_senders_30d", "log"),
    "recipient_history_confirmed": ("recipient_confirmed", "log"),
    "recipient_history_cleared": ("recipient_cleared", "log"),
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

_DAY_NS: Final = 86_400 * 10**9
# A window longer than any history (and short enough that no time overflows with it).
_EVER: Final = 100 * 366 * _DAY_NS


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
        },
        columns=[*PARCEL_COLUMNS, *OUTCOME_COLUMNS],
    )


@dataclass(frozen=True)
class HistoryTable:
    """History facts by declaration id, for item rows to look up (a batch run computes
    them for a whole file before scoring any of it)."""

    ids: pd.Index
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
        parcels = parcels.drop_duplicates("declaration_id").reset_index(drop=True)
        facts = history_facts(parcels, known=known, watch=watch, now=now)
        return cls(
            pd.Index(parcels["declaration_id"]),
            {name: facts[name].to_numpy() for name in HISTORY_FACTS},
        )

    def columns_for(self, declaration_ids: Any) -> dict[str, np.ndarray]:
        """The facts of each item row by its declaration id (none for an unknown id)."""
        position = self.ids.get_indexer(pd.Index(np.asarray(declaration_ids, dtype=object)))
        found = position >= 0
        out: dict[str, np.ndarray] = {}
        for name, values in self.facts.items():
            column = np.full(len(position), np.nan if values.dtype.kind == "f" else None)
            column = column.astype(values.dtype if values.dtype.kind == "f" else object)
            column[found] = values[position[found]]
            out[name] = column
        return out


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
    """One row per parcel (its first item row) of an item frame, with the columns read here."""
    present = [c for c in (*PARCEL_COLUMNS, *OUTCOME_COLUMNS) if c in items.columns]
    first = items.drop_duplicates("declaration_id")[present]
    return first.reset_index(drop=True)


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
    everything = everything.drop_duplicates("declaration_id", keep="first").reset_index(drop=True)
    n_targets = len(targets.drop_duplicates("declaration_id"))
    target_pos = (
        pd.Index(everything["declaration_id"]).get_indexer(targets["declaration_id"])
        if n_targets != len(targets) or len(everything) != len(targets)
        else np.arange(len(targets))
    )

    time = everything["posted_at"].fillna(moment).to_numpy("datetime64[ns]").astype(np.int64)
    # Ties in time (date-only posted_at) are broken by declaration id, never arrival order.
    rank = np.empty(len(everything), dtype=np.int64)
    rank[np.lexsort((everything["declaration_id"].to_numpy(dtype=str), time))] = np.arange(
        len(everything)
    )
    sender = everything["sender_id"].to_numpy(dtype=object)
    recipient = everything["recipient_id"].to_numpy(dtype=object)
    destination = everything["destination_country"].to_numpy(dtype=object)
    weight = everything["gross_weight_kg"].to_numpy(dtype=np.float64)
    outcomes: pd.Series = everything["outcome"]
    seized = outcomes.eq("confirmed").to_numpy(dtype=bool)
    confirmed = seized.astype(np.float64)
    cleared = outcomes.eq("cleared").to_numpy(dtype=np.float64)
    window = RECENT_DAYS * _DAY_NS

    facts: dict[str, np.ndarray] = {}
    for role, party, other in (("sender", sender, recipient), ("recipient", recipient, sender)):
        known_party = _present(party)
        ones = known_party.astype(np.float64)
        facts[f"{role}_parcels_before"] = _before(party, time, rank, ones)
        counterpart = "recipients" if role == "sender" else "senders"
        facts[f"{role}_{counterpart}"] = _distinct_recent(party, other, time, rank, _EVER)
        facts[f"{role}_{counterpart}_30d"] = _distinct_recent(party, other, time, rank, window)
        facts[f"{role}_confirmed"] = _before(party, time, rank, confirmed)
        facts[f"{role}_cleared"] = _before(party, time, rank, cleared)
        facts[f"{role}_last_confirmed"] = _last_before(party, time, rank, seized)
    lane = np.array(
        [None if s is None else f"{s}\x1f{d}" for s, d in zip(sender, destination, strict=True)],
        dtype=object,
    )
    kg = np.where(np.isfinite(weight), weight, 0.0)
    facts["sender_lane_kg_30d"] = _before(lane, time, rank, kg, expire_after=window)

    listed: dict[tuple[str, str], str] = {
        (entry.party_id, entry.role): entry.reason for entry in watch if entry.active_at(moment)
    }
    for role, party in (("sender", sender), ("recipient", recipient)):
        reasons = np.empty(len(party), dtype=object)
        reasons[:] = [listed.get((p, role)) for p in party.tolist()]
        facts[f"{role}_watch_reason"] = reasons
        facts[f"{role}_watchlisted"] = np.array([r is not None for r in reasons], dtype=np.float64)

    out = pd.DataFrame({name: facts[name][target_pos] for name in HISTORY_FACTS})
    out.index = parcels.index
    return out


def _tidy(parcels: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(parcels)))
    for name in (*PARCEL_COLUMNS, *OUTCOME_COLUMNS):
        values = parcels[name].to_numpy() if name in parcels.columns else None
        if name in ("posted_at", "outcome_at"):
            out[name] = pd.to_datetime(
                pd.Series(values if values is not None else [pd.NaT] * len(parcels)),
                errors="coerce",
                utc=True,
            ).dt.tz_localize(None)
        elif name == "gross_weight_kg":
            out[name] = pd.to_numeric(
                pd.Series(values if values is not None else [np.nan] * len(parcels)),
                errors="coerce",
            ).to_numpy(dtype=np.float64)
        else:
            column = np.full(len(parcels), None, dtype=object)
            if values is not None:
                column[:] = [None if _missing(v) else str(v) for v in values.tolist()]
            out[name] = column
    out["declaration_id"] = out["declaration_id"].astype(object)
    return out


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value == ""


def _present(party: np.ndarray) -> np.ndarray:
    return np.array([p is not None for p in party.tolist()], dtype=bool)


def _codes(keys: np.ndarray) -> np.ndarray:
    """Integer codes of keys; -1 for a missing key."""
    codes, _ = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def _sweep(
    events: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    queries: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """For each query: the sum of its group's event values strictly before it.

    Events `(group, time, order, value)` and queries `(group, time, order)` are placed by
    (time, order); a query comes before an event at the same place, so a parcel never
    counts its own event. Group -1 (no such party) has no events and gets 0.
    """
    e_group, e_time, e_order, e_value = events
    q_group, q_time, q_order = queries
    keep = e_group >= 0
    e_group, e_time, e_order, e_value = e_group[keep], e_time[keep], e_order[keep], e_value[keep]
    n_events = len(e_group)
    group = np.concatenate([e_group, q_group])
    is_event = np.concatenate([np.ones(n_events, np.int8), np.zeros(len(q_group), np.int8)])
    place = np.lexsort(
        (is_event, np.concatenate([e_order, q_order]), np.concatenate([e_time, q_time]), group)
    )
    value = np.concatenate([e_value, np.zeros(len(q_group))])[place]
    running = np.cumsum(value)
    sorted_group = group[place]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    # What was summed before each group began, spread over the group's rows.
    before_group = np.repeat(running[starts] - value[starts], np.diff(np.r_[starts, len(place)]))
    within = running - before_group
    position = np.empty(len(place), dtype=np.int64)
    position[place] = np.arange(len(place))
    out = within[position[n_events:]]
    out[q_group < 0] = 0.0
    # Sums of whole numbers stay whole despite the running total's rounding.
    return np.asarray(np.round(out, 6), dtype=np.float64)


def _before(
    party: np.ndarray,
    time: np.ndarray,
    rank: np.ndarray,
    value: np.ndarray,
    *,
    expire_after: int | None = None,
) -> np.ndarray:
    """Per parcel: the sum of `value` over its party's earlier parcels (optionally only
    those of the last `expire_after` nanoseconds)."""
    group = _codes(party)
    last = np.full(len(time), np.iinfo(np.int64).max)
    e_group, e_time, e_order, e_value = group, time, rank, value
    if expire_after is not None:
        # A parcel leaves the window just after `expire_after`: a parcel posted exactly
        # that much later still counts it.
        e_group = np.concatenate([group, group])
        e_time = np.concatenate([time, time + expire_after])
        e_order = np.concatenate([rank, last])
        e_value = np.concatenate([value, -value])
    return _sweep((e_group, e_time, e_order, e_value), (group, time, rank))


def _distinct_recent(
    party: np.ndarray, other: np.ndarray, time: np.ndarray, rank: np.ndarray, window: int
) -> np.ndarray:
    """Per parcel: distinct counterparties of its party's parcels in the last `window`.

    A (party, counterparty) pair counts while one of its parcels lies in the window: it
    enters at a parcel that follows a gap longer than the window (or its first parcel) and
    leaves `window` after a parcel that no other parcel of the pair follows within it.
    """
    group = _codes(party)
    pair = _codes(
        np.array(
            [
                None if p is None or o is None else f"{p}\x1f{o}"
                for p, o in zip(party, other, strict=True)
            ],
            dtype=object,
        )
    )
    known = np.flatnonzero(pair >= 0)
    if len(known) == 0:
        return np.zeros(len(time))
    order = known[np.lexsort((rank[known], time[known], pair[known]))]
    same_as_previous = np.r_[False, pair[order][1:] == pair[order][:-1]]
    gap_before = np.r_[0, np.diff(time[order])]
    enters = ~same_as_previous | (gap_before > window)
    same_as_next = np.r_[same_as_previous[1:], False]
    gap_after = np.r_[np.diff(time[order]), 0]
    leaves = ~same_as_next | (gap_after > window)
    last = np.iinfo(np.int64).max
    entering, leaving = order[enters], order[leaves]
    events = (
        np.concatenate([group[entering], group[leaving]]),
        np.concatenate([time[entering], time[leaving] + window]),
        np.concatenate([rank[entering], np.full(len(leaving), last)]),
        np.concatenate([np.ones(len(entering)), -np.ones(len(leaving))]),
    )
    return _sweep(events, (group, time, rank))


def _last_before(
    party: np.ndarray, time: np.ndarray, rank: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Per parcel: the ISO date of its party's latest earlier parcel where `mask` holds."""
    group = _codes(party)
    out = np.full(len(time), None, dtype=object)
    events = np.flatnonzero(mask & (group >= 0))
    if len(events) == 0:
        return out
    n_events = len(events)
    all_group = np.concatenate([group[events], group])
    all_time = np.concatenate([time[events], time])
    is_event = np.concatenate([np.ones(n_events, np.int8), np.zeros(len(time), np.int8)])
    place = np.lexsort((is_event, np.concatenate([rank[events], rank]), all_time, all_group))
    day = all_time[place] // _DAY_NS
    seen = pd.Series(np.where(is_event[place] == 1, day, np.nan))
    # Within a group places run in time order: the latest earlier event is the last one.
    latest = seen.groupby(all_group[place]).ffill().to_numpy()
    position = np.empty(len(place), dtype=np.int64)
    position[place] = np.arange(len(place))
    found = latest[position[n_events:]]
    has = np.isfinite(found) & (group >= 0)
    out[has] = [str(np.datetime64(int(v), "D")) for v in found[has].tolist()]
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
    parcels = float(facts.get(f"{role}_parcels_before") or 0)
    if parcels <= 0:
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


def watchlist_message(facts: Mapping[str, Any]) -> str | None:
    """Why a party of the parcel is on the watch list (None: neither is)."""
    said = [
        f"{role} on the watch list: {facts.get(f'{role}_watch_reason') or 'no reason given'}"
        for role in ROLES
        if float(facts.get(f"{role}_watchlisted") or 0) > 0
    ]
    return "; ".join(said) or None


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
    time = parcel.get("posted_at") or moment
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
        out[f"{role}_parcels_before"] = float(len(mine))
        out[f"{role}_{counterpart}"] = float(len({o for o in others if o is not None}))
        out[f"{role}_{counterpart}_30d"] = float(len({o for o in recent if o is not None}))
        out[f"{role}_confirmed"] = float(len(seized))
        out[f"{role}_cleared"] = float(sum(r.outcome == "cleared" for r in mine))
        out[f"{role}_last_confirmed"] = max(seized).date().isoformat() if seized else None
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
