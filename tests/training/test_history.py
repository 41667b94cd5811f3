"""History facts: counted as their definition says, the same by every path."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from training.history import (
    COUNT_FACTS,
    HISTORY_FACTS,
    HistoryTable,
    PartyParcel,
    WatchEntry,
    history_facts,
    history_message,
    parcel_history,
    parcels_of,
    prior_message,
    records_frame,
    watchlist_message,
    with_history,
)

NOW = datetime(2026, 6, 1)


def _parcels(count: int, seed: int) -> list[PartyParcel]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        out.append(
            PartyParcel(
                declaration_id=f"D{rng.randrange(10**6):06d}-{i}",
                posted_at=datetime(2026, 1, 1) + timedelta(days=rng.randint(0, 90)),
                sender_id=rng.choice(["a", "b", "c", None, "d"]),
                recipient_id=rng.choice(["x", "y", "z", None, "a"]),
                destination_country=rng.choice(["CN", "KZ", None]),
                gross_weight_kg=rng.choice([1.0, 2.5, None]),
                outcome=rng.choice([None, None, "confirmed", "cleared"]),
                names_gear=rng.random() < 0.2,
                # Repeated values: ties go to the latest parcel.
                first_pass_score=rng.choice([None, 0.1, 0.7, 0.7, 0.95]),
            )
        )
    return out


def _by_definition(target: PartyParcel, others: list[PartyParcel]) -> dict[str, object]:
    """The facts of one parcel, counted one by one as the module's docstring defines them."""
    key = (target.posted_at, target.declaration_id)
    earlier = [p for p in others if (p.posted_at, p.declaration_id) < key]
    start = target.posted_at - timedelta(days=30)
    out: dict[str, object] = {}
    for role, other in (("sender", "recipient"), ("recipient", "sender")):
        party = getattr(target, f"{role}_id")
        mine = [p for p in earlier if party is not None and getattr(p, f"{role}_id") == party]
        word = "recipients" if role == "sender" else "senders"
        out[f"{role}_parcels_before"] = len(mine)
        out[f"{role}_{word}"] = len({getattr(p, f"{other}_id") for p in mine} - {None})
        out[f"{role}_{word}_30d"] = len(
            {getattr(p, f"{other}_id") for p in mine if p.posted_at >= start} - {None}
        )
        out[f"{role}_confirmed"] = sum(p.outcome == "confirmed" for p in mine)
        out[f"{role}_cleared"] = sum(p.outcome == "cleared" for p in mine)
        seized = [p.posted_at for p in mine if p.outcome == "confirmed"]
        out[f"{role}_last_confirmed"] = max(seized).date().isoformat() if seized else None
        named = [p.posted_at for p in mine if p.names_gear]
        out[f"{role}_named_gear"] = len(named)
        out[f"{role}_last_named_gear"] = max(named).date().isoformat() if named else None
        # An outcome stands above the model's reading; an unscored parcel raises nothing.
        standing = [
            (
                1.0
                if p.outcome == "confirmed"
                else 0.0
                if p.outcome == "cleared"
                else p.first_pass_score or 0.0,
                (p.posted_at, p.declaration_id),
            )
            for p in mine
        ]
        best, place = max(standing, default=(0.0, None))
        out[f"{role}_prior_score"] = best
        out[f"{role}_prior_parcel"] = place[1] if place is not None and best > 0 else None
    out["sender_lane_kg_30d"] = sum(
        p.gross_weight_kg or 0.0
        for p in earlier
        if target.sender_id is not None
        and p.sender_id == target.sender_id
        and p.destination_country == target.destination_country
        and p.posted_at >= start
    )
    return out


def test_facts_count_what_the_definition_counts() -> None:
    parcels = _parcels(300, seed=1)
    facts = history_facts(records_frame(parcels), now=NOW)
    for row, target in enumerate(parcels):
        expected = _by_definition(target, parcels)
        for name, value in expected.items():
            assert facts[name].iloc[row] == value, (target, name)


def test_one_parcel_in_plain_python_matches_the_vectorised_facts() -> None:
    parcels = _parcels(200, seed=2)
    watch = [
        WatchEntry("a", "sender", "seized before", "officer", datetime(2025, 1, 1)),
        WatchEntry("x", "recipient", "expired", "officer", datetime(2025, 1, 1), NOW),
    ]
    known = records_frame(parcels)
    for target in parcels[:60]:
        frame = records_frame([target]).drop(columns=["outcome", "outcome_at", "names_gear"])
        vectorised = history_facts(frame, known=known, watch=watch, now=NOW).iloc[0].to_dict()
        plain = parcel_history(vars(target), parcels, watch=watch, now=NOW)
        assert plain == {
            k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
            for k, v in vectorised.items()
        }


def test_the_parcel_itself_never_counts_and_rescoring_is_idempotent() -> None:
    first = PartyParcel("D1", datetime(2026, 1, 1), "s", "r", "CN", 3.0, outcome="confirmed")
    again = PartyParcel("D1", datetime(2026, 1, 1), "s", "r", "CN", 3.0)
    facts = parcel_history(vars(again), [first], now=NOW)
    assert facts["sender_parcels_before"] == 0
    assert facts["sender_confirmed"] == 0


def test_a_seizure_before_is_history_and_one_after_is_not() -> None:
    seized = PartyParcel("D1", datetime(2026, 3, 2), "s", "r1", "CN", 9.0, outcome="confirmed")
    later = {"declaration_id": "D2", "posted_at": datetime(2026, 4, 1), "sender_id": "s"}
    earlier = {"declaration_id": "D0", "posted_at": datetime(2026, 2, 1), "sender_id": "s"}
    facts = parcel_history(later, [seized], now=NOW)
    assert facts["sender_confirmed"] == 1
    assert facts["sender_last_confirmed"] == "2026-03-02"
    assert history_message("sender", facts) == ("sender had 1 confirmed seizure, latest 2026-03-02")
    assert parcel_history(earlier, [seized], now=NOW)["sender_confirmed"] == 0


def test_ties_in_time_are_broken_by_declaration_id_not_by_order() -> None:
    day = datetime(2026, 1, 5)
    parcels = [PartyParcel(f"D{i}", day, "s", f"r{i}", "CN", 1.0) for i in (3, 1, 2)]
    facts = history_facts(records_frame(parcels), now=NOW)
    assert facts["sender_parcels_before"].tolist() == [2.0, 0.0, 1.0]


def test_the_window_keeps_parcels_exactly_thirty_days_old() -> None:
    start = datetime(2026, 1, 1)
    parcels = [
        PartyParcel("A", start, "s", "r1", "CN", 2.0),
        PartyParcel("B", start + timedelta(days=30), "s", "r2", "CN", 1.0),
        PartyParcel("C", start + timedelta(days=31), "s", "r3", "CN", 1.0),
    ]
    facts = history_facts(records_frame(parcels), now=NOW)
    assert facts["sender_recipients_30d"].tolist() == [0.0, 1.0, 1.0]
    assert facts["sender_lane_kg_30d"].tolist() == [0.0, 2.0, 1.0]
    assert facts["sender_recipients"].tolist() == [0.0, 1.0, 2.0]


def test_a_gross_typed_in_grams_counts_as_kilograms_to_the_lane() -> None:
    # "3056" typed for a 2.7 kg tracksuit is 3.056 kg, as the features read it; a heavy
    # gross over light lines (gear declared at its cover's weight) stays as typed.
    items = pd.DataFrame(
        {
            "declaration_id": ["A", "A", "B", "C"],
            "posted_at": pd.to_datetime(["2026-01-01"] * 2 + ["2026-01-02", "2026-01-03"]),
            "sender_id": ["s"] * 4,
            "recipient_id": ["r"] * 4,
            "destination_country": ["KZ"] * 4,
            "gross_weight_kg": [3056.0, 3056.0, 8.9, 2.0],
            "net_weight_kg": [1.5, 1.2, 0.01, 1.8],
        }
    )
    parcels = parcels_of(items)
    assert parcels["gross_weight_kg"].tolist() == [3.056, 8.9, 2.0]
    facts = history_facts(parcels, now=NOW)
    assert facts["sender_lane_kg_30d"].tolist() == pytest.approx([0.0, 3.056, 11.956])


def test_a_watch_entry_counts_while_it_is_active() -> None:
    parcel = {"declaration_id": "D1", "sender_id": "s", "recipient_id": "r"}
    active = WatchEntry(
        "r", "recipient", "collects from many sellers", "officer", datetime(2026, 1, 1)
    )
    expired = WatchEntry(
        "s", "sender", "old lead", "officer", datetime(2025, 1, 1), datetime(2026, 1, 1)
    )
    facts = parcel_history(parcel, [], watch=[active, expired], now=NOW)
    assert facts["recipient_watchlisted"] == 1 and facts["sender_watchlisted"] == 0
    assert watchlist_message(facts) == "recipient on the watch list: collects from many sellers"
    # The role matters: a recipient on the list is not flagged when it sends.
    assert (
        parcel_history({"declaration_id": "D2", "sender_id": "r"}, [], watch=[active], now=NOW)[
            "sender_watchlisted"
        ]
        == 0
    )


def test_no_history_gives_zero_facts_and_no_message() -> None:
    facts = parcel_history({"declaration_id": "D1", "sender_id": "new"}, [], now=NOW)
    assert all(facts[name] == 0 for name in COUNT_FACTS)
    assert history_message("sender", facts) is None
    assert watchlist_message(facts) is None


def test_item_rows_and_a_history_table_carry_their_parcels_facts() -> None:
    items = pd.DataFrame(
        {
            "declaration_id": ["D1", "D1", "D2", "D3"],
            "posted_at": pd.to_datetime(["2026-01-01"] * 2 + ["2026-01-02", None]),
            "sender_id": ["s", "s", "s", "s"],
            "recipient_id": ["r1", "r1", "r2", "r3"],
            "destination_country": ["CN"] * 4,
            "gross_weight_kg": [4.0, 4.0, 1.0, 2.0],
        }
    )
    out = with_history(items, now=NOW)
    assert out["sender_parcels_before"].tolist() == [0.0, 0.0, 1.0, 2.0]
    assert set(HISTORY_FACTS) <= set(out.columns)
    table = HistoryTable.of(items, now=NOW)
    looked_up = table.columns_for(np.array(["D3", "D1", "unknown"], dtype=object))
    assert looked_up["sender_parcels_before"][:2].tolist() == [2.0, 0.0]
    assert np.isnan(looked_up["sender_parcels_before"][2])


def test_parcels_without_parties_or_dates_have_no_history() -> None:
    parcels = pd.DataFrame(
        {
            "declaration_id": ["W1", "W2"],
            "posted_at": [pd.NaT, pd.NaT],
            "sender_id": [None, None],
            "recipient_id": [None, None],
            "destination_country": [None, None],
            "gross_weight_kg": [np.nan, np.nan],
        }
    )
    facts = history_facts(parcels, now=NOW)
    assert (facts[list(COUNT_FACTS)] == 0).all().all()
    assert len(history_facts(parcels.iloc[:0], now=NOW)) == 0


def test_a_declaration_listed_twice_is_one_parcel_beside_the_stores() -> None:
    day = datetime(2026, 1, 5)
    listed = records_frame([PartyParcel("A", day, "s", "r", "CN", 1.0)] * 2)
    known = records_frame([PartyParcel("B", day - timedelta(days=1), "s", "r2", "CN", 1.0)])
    facts = history_facts(listed, known=known, now=NOW)
    assert facts["sender_parcels_before"].tolist() == [1.0, 1.0]


def test_party_summaries_give_the_plain_facts() -> None:
    from training.history import PartySummary, summarised_history

    parcels = _parcels(250, seed=4)
    # Scorings of parcels already recorded, one of them re-dated earlier than its record.
    moved = PartyParcel(
        parcels[0].declaration_id,
        parcels[0].posted_at + timedelta(days=20),
        parcels[0].sender_id,
        parcels[0].recipient_id,
        "CN",
        2.0,
    )
    watch = [WatchEntry("b", "sender", "seized before", "officer", datetime(2025, 1, 1))]
    for target in [*parcels[:80], moved]:
        parcel = vars(target)
        parties = {p for p in (target.sender_id, target.recipient_id) if p is not None}
        records = {
            party: [p for p in parcels if party in (p.sender_id, p.recipient_id)]
            for party in parties
        }
        summaries = {party: PartySummary(party, rows) for party, rows in records.items()}
        own = [r for rows in records.values() for r in rows]
        assert summarised_history(parcel, summaries, watch=watch, now=NOW) == parcel_history(
            parcel, own, watch=watch, now=NOW
        ), target


def test_repeat_shipping_alone_is_not_told_as_suspicious() -> None:
    family = {"sender_parcels_before": 4.0, "sender_recipients": 1.0}
    assert history_message("sender", family) is None
    seller_of_many = {**family, "sender_recipients": 6.0}
    assert history_message("sender", seller_of_many) == (
        "sender sent 4 earlier parcels to 6 recipients"
    )
    relatives = {"recipient_parcels_before": 3.0, "recipient_senders": 2.0}
    assert history_message("recipient", relatives) is None
    collector = {"recipient_parcels_before": 7.0, "recipient_senders_30d": 7.0}
    assert history_message("recipient", collector) == (
        "recipient received parcels from 7 senders in 30 days"
    )


def test_a_date_out_of_range_counts_as_no_date() -> None:
    """ "0001-01-01" passes the contract's date check; it must not break the count (it did,
    found by the schema fuzzer) and reads as no date, as the vectorised count reads it."""
    from training.history import PartySummary, summarised_history

    earlier = [PartyParcel("A", datetime(2026, 1, 1), "s", "r", "CN", 1.0)]
    parcel = {"declaration_id": "B", "posted_at": datetime(1, 1, 1), "sender_id": "s"}
    plain = parcel_history(parcel, earlier, now=NOW)
    summed = summarised_history(parcel, {"s": PartySummary("s", earlier)}, now=NOW)
    assert plain == summed
    assert plain["sender_parcels_before"] == 1.0


def test_a_party_that_named_gear_before_is_told_so() -> None:
    """An officer reading the sender's earlier forms sees "бронежилет 6Б45"; the count and
    the reason say so, on the parcel after it only."""
    from training.history import history_message

    items = pd.DataFrame(
        {
            "declaration_id": ["A", "B", "C"],
            "posted_at": pd.to_datetime(["2026-01-05", "2026-02-01", "2026-02-01"]),
            "sender_id": ["s", "s", "other"],
            "recipient_id": ["r1", "r2", "r3"],
            "destination_country": ["CN", "CN", "CN"],
            "gross_weight_kg": [9.0, 9.5, 9.5],
            "description": ["бронежилет 6Б45 с плитами", "одежда", "одежда"],
        }
    )
    facts = with_history(items, now=NOW).set_index("declaration_id")
    assert facts.loc["A", "sender_named_gear"] == 0
    assert facts.loc["B", "sender_named_gear"] == 1
    assert facts.loc["B", "sender_last_named_gear"] == "2026-01-05"
    assert facts.loc["C", "sender_named_gear"] == 0
    assert history_message("sender", facts.loc["B"].to_dict()) == (
        "sender declared gear by name on 1 earlier parcel, latest 2026-01-05"
    )
    said_of_recipient = {"recipient_named_gear": 2.0, "recipient_last_named_gear": "2026-01-05"}
    assert history_message("recipient", said_of_recipient) == (
        "recipient was sent 2 earlier parcels that declared gear by name, latest 2026-01-05"
    )


def test_an_earlier_parcel_that_read_as_gear_is_named_for_the_officer() -> None:
    facts = {"sender_parcels_before": 1.0, "sender_prior_score": 0.93, "sender_prior_parcel": "E1"}
    assert prior_message("sender", facts) == (
        "sender's earlier parcel E1 read as gear on its own form"
    )
    # Below even odds it is no evidence an officer would accept.
    assert prior_message("sender", {**facts, "sender_prior_score": 0.3}) is None
    recipient = {"recipient_parcels_before": 2.0, "recipient_prior_score": 0.8}
    assert prior_message("recipient", {**recipient, "recipient_prior_parcel": "E2"}) == (
        "recipient was sent earlier parcel E2, which read as gear on its own form"
    )
    # A series is told as one: the earlier parcel, and the pattern of the party's past.
    series = {**facts, "sender_parcels_before": 3.0, "sender_recipients": 3.0}
    series["sender_recipients_30d"] = 3.0
    assert prior_message("sender", series) == (
        "sender's earlier parcel E1 read as gear on its own form; sender sent 3 earlier"
        " parcels to 3 recipients, 3 of them in the last 30 days"
    )


def test_a_seized_earlier_parcel_is_told_as_the_seizure() -> None:
    facts = {
        "sender_parcels_before": 1.0,
        "sender_confirmed": 1.0,
        "sender_last_confirmed": "2026-03-02",
        "sender_prior_score": 1.0,
        "sender_prior_parcel": "S1",
    }
    assert prior_message("sender", facts) == "sender had 1 confirmed seizure, latest 2026-03-02"
