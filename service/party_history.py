"""The history of a declaration's parties as the store knows it, for scoring.

The store hands over records (`training.history.PartyParcel`, `WatchEntry`); this module
turns them into the facts the model reads, for one declaration at a time over HTTP
(`parcel_history`, plain Python) or for a whole file in batch (`StoreLookup`). A service
without a store scores every parcel as one from parties with no history.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from training.gross_weight import parcel_gross_kg
from training.history import (
    PartyParcel,
    PartySummary,
    WatchEntry,
    parcel_history,
    records_frame,
    summarised_history,
)
from training.schema import DeclarationIn


@runtime_checkable
class Summarising(Protocol):
    """Party records that also come summed up (the store's cache)."""

    def summaries(self, party_ids: Collection[str]) -> Mapping[str, PartySummary]: ...

    def summaries_and_watch(
        self, party_ids: Collection[str], at: datetime
    ) -> tuple[Mapping[str, PartySummary], list[WatchEntry]]:
        """`summaries(party_ids)` and `watch_entries(party_ids, at)` in one lookup."""
        ...


class PartyRecords(Protocol):
    """What the store answers about parties (see `service.store`)."""

    def party_parcels(self, party_ids: Collection[str]) -> Mapping[str, list[PartyParcel]]: ...

    def watch_entries(self, party_ids: Collection[str], at: datetime) -> list[WatchEntry]: ...


def utc_naive_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def parcel_fields(declaration: DeclarationIn) -> dict[str, Any]:
    """The parcel fields history is counted from, as `parcel_history` reads them."""
    columns = declaration.to_columns()
    return {
        "declaration_id": declaration.declaration_id,
        "posted_at": columns["posted_at"][0],
        "sender_id": declaration.sender_id,
        "recipient_id": declaration.recipient_id,
        "destination_country": declaration.destination_country,
        "gross_weight_kg": parcel_gross_kg(
            declaration.gross_weight_kg, (item.net_weight_kg for item in declaration.items)
        ),
    }


class PartyHistory:
    """History facts of declarations from the store's records (None without a store).

    `records` answers one declaration's parties (the store's cache, on the HTTP path);
    `bulk` a whole file's (the store itself: a file's parties would only churn a cache).
    """

    def __init__(self, records: PartyRecords | None, bulk: PartyRecords | None = None) -> None:
        self.records = records
        self.bulk = bulk if bulk is not None else records
        # Asked once: a runtime protocol check walks the protocol's members (~15 us a call).
        self._summarising = records if isinstance(records, Summarising) else None

    def facts(
        self, declarations: Sequence[DeclarationIn], now: datetime | None = None
    ) -> list[dict[str, Any]] | None:
        """Each declaration's history facts, or None when there is no history to read."""
        if self.records is None:
            return None
        parties = {
            party
            for declaration in declarations
            for party in (declaration.sender_id, declaration.recipient_id)
            if party is not None
        }
        if not parties:
            return None
        moment = now or utc_naive_now()
        if self._summarising is not None:
            # The store's cache keeps each party's records summed up: a parcel's facts cost
            # a binary search, however many parcels its parties sent before.
            summaries, watch = self._summarising.summaries_and_watch(parties, moment)
            return [
                summarised_history(parcel_fields(d), summaries, watch=watch, now=moment)
                for d in declarations
            ]
        watch = self.records.watch_entries(parties, moment)
        parcels = self.records.party_parcels(parties)
        out = []
        for declaration in declarations:
            own = [
                record
                for party in (declaration.sender_id, declaration.recipient_id)
                if party is not None
                for record in parcels.get(party, ())
            ]
            out.append(parcel_history(parcel_fields(declaration), own, watch=watch, now=moment))
        return out

    def lookup(self, party_ids: list[str]) -> tuple[pd.DataFrame | None, list[WatchEntry]]:
        """What the store knows of a file's parties, for the batch pass (StoreLookup)."""
        if self.bulk is None or not party_ids:
            return None, []
        records: dict[str, PartyParcel] = {}
        # In slices: a file can name hundreds of thousands of parties.
        for start in range(0, len(party_ids), 1000):
            chunk = party_ids[start : start + 1000]
            for parcels in self.bulk.party_parcels(chunk).values():
                for record in parcels:
                    records.setdefault(record.declaration_id, record)
        watch = self.bulk.watch_entries(party_ids, utc_naive_now())
        return records_frame(records.values()), watch
