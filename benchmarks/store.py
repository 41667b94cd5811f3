"""The store's costs: audit writer throughput, and a declaration's party-history lookup
(two parties) cached and uncached, on a SQLite store in a scratch directory.

    python -m benchmarks.store [--records N] [--parcels N] [--database-url URL]

Prints the figures (nothing is asserted). `docs/decisions.md` keeps measured runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from service.store import Database, ScoredRecord, Store
from training.schema import DeclarationIn


def _declaration(number: int, parties: int, rng: random.Random) -> DeclarationIn:
    posted = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=number)
    return DeclarationIn.model_validate(
        {
            "declaration_id": f"RB{number:09d}RU",
            "posted_at": posted.isoformat(),
            "origin_country": "RU",
            "destination_country": "CN",
            "sender_id": f"S-{rng.randrange(parties)}",
            "recipient_id": f"R-{rng.randrange(parties)}",
            "gross_weight_kg": 4.3,
            "items": [
                {
                    "description": "cotton T-shirt",
                    "net_weight_kg": 2.1,
                    "value": 700,
                    "currency": "RUB",
                },
                {
                    "description": "Жилет мужской",
                    "net_weight_kg": 2.0,
                    "value": 900,
                    "currency": "RUB",
                },
            ],
        }
    )


def _result(declaration: DeclarationIn) -> dict[str, Any]:
    return {
        "declaration_id": declaration.declaration_id,
        "parcel_risk_score": 0.31,
        "decision": "review",
        "model_version": "2026-12-04.1",
        "items": [
            {"item_no": n, "risk_score": 0.31, "risk_class": "benign", "reasons": []}
            for n in (1, 2)
        ],
    }


def records(count: int, parties: int, seed: int = 1) -> list[ScoredRecord]:
    rng = random.Random(seed)
    made = []
    for number in range(count):
        declaration = _declaration(number, parties, rng)
        made.append(ScoredRecord("bench", "abcd1234", declaration, _result(declaration)))
    return made


def writer_throughput(make_log: Callable[[], Any], batch: list[ScoredRecord]) -> float:
    """Rows a second from the first record queued to the last committed (close)."""
    log = make_log()
    log.open()
    started = time.perf_counter()
    for record in batch:
        log.record(record)
    log.close()
    return len(batch) / (time.perf_counter() - started)


def lookup_costs(store: Store, parties: int, lookups: int) -> tuple[float, float]:
    """Median microseconds for one declaration's two parties: (uncached, cached)."""
    rng = random.Random(2)
    pairs = [(f"S-{rng.randrange(parties)}", f"R-{rng.randrange(parties)}") for _ in range(lookups)]
    at = datetime(2026, 12, 1)

    def timed(parcels: Callable[..., Any], watch: Callable[..., Any]) -> float:
        costs = []
        for pair in pairs:
            started = time.perf_counter()
            parcels(pair)
            watch(pair, at)
            costs.append(time.perf_counter() - started)
        return statistics.median(costs) * 1e6

    uncached = timed(store.party_parcels, store.watch_entries)
    store.history.clear()
    for pair in pairs:  # fill
        store.history.party_parcels(pair)
    cached = timed(store.history.party_parcels, store.history.watch_entries)
    return uncached, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--parcels", type=int, default=50_000)
    parser.add_argument("--parties", type=int, default=5_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--database-url", default=None, help="default: a scratch SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'store.sqlite3'}"
        batch = records(args.records, args.parties)
        rate = writer_throughput(lambda: Store(Database(url)).audit, batch)
        print(f"audit writer: {rate:,.0f} rows/s ({args.records:,} records, 2 items each)")
        store = Store(Database(url))
        store.open()
        fill = records(args.parcels, args.parties, seed=3)
        for record in fill:
            store.audit.record(record)
        store.audit.flush()
        for party in range(0, args.parties, 50):
            store.watch(f"S-{party}", "sender", "bench", by="bench")
        uncached, cached = lookup_costs(store, args.parties, args.lookups)
        store.close()
        print(
            f"history lookup, 2 parties (~{2 * args.parcels // args.parties} parcels each): "
            f"uncached {uncached:,.0f} us, cached {cached:,.1f} us (median)"
        )


if __name__ == "__main__":
    main()
