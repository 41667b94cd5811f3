"""The history facts of one parcel, in plain Python: what one declaration over HTTP pays.

`parcel_history` counts over the records of the parcel's parties; `PartySummary` sums a
busy party's records up once, so each of its parcels costs a binary search
(`summarised_history`). Both are pinned to the vectorised count by the tests.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from training.history.facts import COUNT_FACTS, RECENT_DAYS, TEXT_FACTS
from training.history.records import ROLES, PartyParcel, Role, WatchEntry


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
        out[f"{role}_prior_score"], out[f"{role}_prior_parcel"] = _prior(mine)
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


def _prior(records: Iterable[PartyParcel]) -> tuple[float, str | None]:
    """The highest standing score of `records` and its parcel (the latest on a tie)."""
    best, holder = 0.0, None
    for record in sorted(records, key=lambda r: (r.posted_at, r.declaration_id)):
        score = standing_score(record)
        if score >= best:
            best, holder = score, record.declaration_id
    return round(best, 6), holder if best > 0 else None


def standing_score(record: PartyParcel) -> float:
    """What a parcel's first-pass score says of its parties: an inspection outcome stands
    above the model's reading (confirmed gear 1, cleared 0), and a parcel never scored on
    its own (recorded before the store kept the score) raises nothing."""
    if record.outcome == "confirmed":
        return 1.0
    if record.outcome == "cleared":
        return 0.0
    score = record.first_pass_score
    if score is None or not math.isfinite(score):
        return 0.0
    return min(max(score, 0.0), 1.0)


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
        self.prior: list[tuple[float, str | None]] = [(0.0, None)]
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
            score = standing_score(record)
            best = self.prior[-1]
            self.prior.append((score, record.declaration_id) if score >= best[0] else best)

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
            f"{role}_prior_score": round(self.prior[end][0], 6),
            f"{role}_prior_parcel": self.prior[end][1] if self.prior[end][0] > 0 else None,
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
