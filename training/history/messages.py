"""What an officer is told of a parcel's parties: their past and the watch list, in plain
words, from the history facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from training.history.facts import RECENT_DAYS
from training.history.records import ROLES, Role

# A party's earlier parcel is told to the officer when its first-pass score (its own form,
# before its parties' earlier scores) reached this: likelier gear than not, as the model
# read it.
NOTABLE_PRIOR_SCORE: Final = 0.5


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
        parcels_named = _plural(named, "earlier parcel", "earlier parcels")
        # The sender wrote the form; the recipient only had such parcels sent to them.
        said = (
            f"sender declared gear by name on {parcels_named}"
            if role == "sender"
            else f"recipient was sent {parcels_named} that declared gear by name"
        )
        return said + (f", latest {latest}" if latest else "")
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


def prior_message(role: Role, facts: Mapping[str, Any]) -> str | None:
    """What an officer is told of a party's earlier parcel that read as gear on its own
    form (None: none did). The parcel is named, so the officer can pull its form up; where
    the party's past shows more (`history_message`: a series of parcels to many recipients,
    gear declared by name), that is said after it. An officer read four like parcels in four
    days to four recipients told only as "its earlier parcel" as a series left untold."""
    if float(facts.get(f"{role}_confirmed") or 0) > 0:
        # A seizure stands above any reading of a form (and scores 1 as an earlier parcel).
        return history_message(role, facts)
    prior = float(facts.get(f"{role}_prior_score") or 0)
    parcel = facts.get(f"{role}_prior_parcel")
    if prior < NOTABLE_PRIOR_SCORE or not parcel:
        return None
    # No figure: the first-pass score is on no printed row (the earlier parcel's own score
    # counts its parties' history too), and officers read two figures for one parcel as a
    # contradiction.
    read = "read as gear on its own form"
    if role == "sender":
        said = f"sender's earlier parcel {parcel} {read}"
    else:
        said = f"recipient was sent earlier parcel {parcel}, which {read}"
    more = history_message(role, facts)
    return said if more is None else f"{said}; {more}"


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
