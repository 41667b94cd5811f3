"""The parties' history in scoring: one declaration, a batch file, the CSV endpoint."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from service.batch import BatchOptions, score_csv_bytes, score_table
from service.batch_history import file_parcels, parcels_read_later
from service.party_history import PartyHistory, parcel_fields
from service.scorer import Scorer, ScoringPolicy
from training.history import PartyParcel, WatchEntry, with_history
from training.history.records import parcels_of
from training.model import columns_of
from training.schema import DeclarationIn
from training.tables import detect_format, read_declarations

NOW = datetime(2026, 6, 1)


class MemoryRecords:
    """Party records kept in memory, as the store answers them."""

    def __init__(self, parcels: list[PartyParcel], watch: list[WatchEntry] = ()) -> None:  # type: ignore[assignment]
        self.parcels = parcels
        self.watch = list(watch)

    def party_parcels(self, party_ids: Collection[str]) -> Mapping[str, list[PartyParcel]]:
        return {
            party: [p for p in self.parcels if party in (p.sender_id, p.recipient_id)]
            for party in party_ids
        }

    def watch_entries(self, party_ids: Collection[str], at: datetime) -> list[WatchEntry]:
        return [w for w in self.watch if w.party_id in party_ids and w.active_at(at)]


def _jacket(declaration_id: str, sender: str, recipient: str = "R-new") -> DeclarationIn:
    return DeclarationIn.model_validate(
        {
            "declaration_id": declaration_id,
            "posted_at": "2026-05-01",
            "origin_country": "RU",
            "destination_country": "CN",
            "category": "gift",
            "mail_class": "parcel",
            "gross_weight_kg": 3.2,
            "sender_id": sender,
            "recipient_id": recipient,
            "items": [
                {
                    "description": "куртка зимняя",
                    "hs_code": "6201",
                    "quantity": 1,
                    "net_weight_kg": 3.0,
                    "value": 3000,
                    "currency": "RUB",
                }
            ],
        }
    )


def _seizures(sender: str) -> list[PartyParcel]:
    """Five parcels of gear, confirmed on inspection, to five recipients."""
    return [
        PartyParcel(
            f"RB00000000{day}RU",
            datetime(2026, 3, day),
            sender,
            f"R-old-{day}",
            "CN",
            9.0,
            decision="inspect",
            outcome="confirmed",
            outcome_at=datetime(2026, 3, 20),
        )
        for day in range(1, 6)
    ]


def test_a_sender_with_seizures_scores_higher_and_is_told_why(tiny_scorer: Scorer) -> None:
    history = PartyHistory(MemoryRecords(_seizures("S-caught")))
    caught = _jacket("RB100000001RU", "S-caught")
    new = _jacket("RB100000002RU", "S-new")
    facts = history.facts([caught, new], now=NOW)
    assert facts is not None
    # Every parcel looked at (review cut-off 0): each says what weighed in its score,
    # whatever the cut-offs of this small model.
    strict = Scorer(
        tiny_scorer.model,
        tiny_scorer.card,
        ScoringPolicy(review_threshold=0.0, inspect_threshold=1.0, random_selection_rate=0.0),
    )
    scored_caught, scored_new = strict.score_declarations([caught, new], facts)
    assert scored_caught["parcel_risk_score"] > scored_new["parcel_risk_score"]
    assert "sender_history" in [r["code"] for r in scored_caught["items"][0]["reasons"]]
    assert "sender_history" not in [r["code"] for r in scored_new["items"][0]["reasons"]]


@pytest.mark.parametrize(
    ("gross", "nets", "read"),
    [
        (3056.0, [2.7], 3.056),  # typed in grams at the counter
        (8.9, [0.01], 8.9),  # kilos over lines declared at grams: gear's tell, kept
        (3.2, [1.5, None], 3.2),
        (None, [2.0], None),
    ],
)
def test_one_declaration_reads_its_gross_as_a_file_of_parcels_does(
    gross: float | None, nets: list[float | None], read: float | None
) -> None:
    base = _jacket("RB100000009RU", "S-grams")
    items = [_with_net(base.items[0], net) for net in nets]
    declaration = base.model_copy(update={"gross_weight_kg": gross, "items": items})
    one = parcel_fields(declaration)["gross_weight_kg"]
    file = parcels_of(
        pd.DataFrame(
            {
                "declaration_id": [declaration.declaration_id] * len(nets),
                "gross_weight_kg": [gross] * len(nets),
                "net_weight_kg": nets,
            }
        )
    )["gross_weight_kg"].iloc[0]
    if read is None:
        assert one is None
        assert np.isnan(file)
    else:
        assert one == pytest.approx(read)
        assert file == pytest.approx(read)


def _with_net(item: Any, net: float | None) -> Any:
    """The item with another net weight."""
    return item.model_copy(update={"net_weight_kg": net})


def test_no_history_scores_as_without_a_store(tiny_scorer: Scorer) -> None:
    declaration = _jacket("RB100000003RU", "S-first")
    facts = PartyHistory(MemoryRecords([])).facts([declaration], now=NOW)
    assert tiny_scorer.score_declarations([declaration], facts) == (
        tiny_scorer.score_declarations([declaration])
    )
    assert PartyHistory(None).facts([declaration]) is None


def test_a_watch_listed_recipient_is_named_in_the_facts(tiny_scorer: Scorer) -> None:
    entry = WatchEntry("R-list", "recipient", "collects plates", "officer", datetime(2026, 1, 1))
    facts = PartyHistory(MemoryRecords([], [entry])).facts(
        [_jacket("RB100000004RU", "S-x", "R-list")], now=NOW
    )
    assert facts is not None
    assert facts[0]["recipient_watchlisted"] == 1
    assert facts[0]["recipient_watch_reason"] == "collects plates"


def _file(tmp_path: Path) -> Path:
    rows = []
    for number, (sender, posted) in enumerate(
        [("S-a", "2026-01-03"), ("S-a", "2026-01-01"), ("S-b", "2026-01-02"), ("S-a", "2026-01-02")]
    ):
        rows.append(
            {
                "declaration_id": f"RB20000000{number}RU",
                "posted_at": posted,
                "origin_country": "RU",
                "destination_country": "KZ",
                "sender_id": sender,
                "recipient_id": f"R-{number % 2}",
                "gross_weight_kg": 6.5,
                "description": "подарок",
                "net_weight_kg": 6.0,
                "value": 1000,
                "currency": "RUB",
            }
        )
    path = tmp_path / "export.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_batch_counts_the_file_as_history_and_agrees_with_one_declaration(
    tiny_scorer: Scorer, tmp_path: Path
) -> None:
    source = _file(tmp_path)
    out = tmp_path / "scored.csv"
    score_table(source, out, tiny_scorer, BatchOptions(workers=1, progress=False))
    scored = pd.read_csv(out, dtype=str)
    without = tmp_path / "alone.csv"
    score_table(
        source, without, tiny_scorer, BatchOptions(workers=1, progress=False, history=False)
    )
    alone = pd.read_csv(without, dtype=str)
    # The same parcel, scored alone over HTTP with the file's other parcels as the store.
    frame = pd.read_csv(source, dtype=str)
    records = [
        PartyParcel(
            r.declaration_id,
            datetime.fromisoformat(r.posted_at),
            r.sender_id,
            r.recipient_id,
            r.destination_country,
            float(r.gross_weight_kg),
        )
        for r in frame.itertuples()
    ]
    declarations = [
        DeclarationIn.model_validate(
            {
                "declaration_id": row.declaration_id,
                "posted_at": row.posted_at,
                "origin_country": "RU",
                "destination_country": "KZ",
                "sender_id": row.sender_id,
                "recipient_id": row.recipient_id,
                "gross_weight_kg": 6.5,
                "items": [
                    {
                        "description": "подарок",
                        "net_weight_kg": 6.0,
                        "value": 1000,
                        "currency": "RUB",
                    }
                ],
            }
        )
        for row in frame.itertuples()
    ]
    # The store keeps each parcel's first-pass score from when it was scored (it does not
    # depend on the parties' earlier scores, so the order of scoring does not matter).
    counted = PartyHistory(MemoryRecords(records))
    first_pass = {
        d.declaration_id: tiny_scorer.score_declarations([d], counted.facts([d], now=NOW))[
            0
        ].first_pass_score
        for d in declarations
    }
    history = PartyHistory(
        MemoryRecords([replace(r, first_pass_score=first_pass[r.declaration_id]) for r in records])
    )
    for position, declaration in enumerate(declarations):
        one = tiny_scorer.score_declarations([declaration], history.facts([declaration], now=NOW))
        assert float(scored.loc[position, "risk_score"]) == pytest.approx(
            one[0]["items"][0]["risk_score"], abs=1e-4
        )
    # The third parcel of S-a (by posted_at, not by file order) has the most history.
    assert (scored["risk_score"] != alone["risk_score"]).any()


def test_batch_reads_earlier_scores_as_training_measures_a_file(
    tiny_scorer: Scorer, tmp_path: Path
) -> None:
    """The batch command's first pass gives each parcel the first-pass scores of its
    parties' earlier parcels in the file, as `RiskModel.score_together` does when the
    written sets are measured."""
    source = _file(tmp_path)
    out = tmp_path / "scored.csv"
    score_table(source, out, tiny_scorer, BatchOptions(workers=1, progress=False))
    frame = with_history(read_declarations(source), now=NOW)
    together = tiny_scorer.model.score_together(columns_of(frame)).risk_score
    np.testing.assert_allclose(pd.read_csv(out)["risk_score"], together, atol=1e-4)
    # The parcels a later parcel of a party follows: not the latest of them all (S-a's of
    # 3 January, to R-0, who got S-b's parcel before it).
    assert sorted(parcels_read_later(file_parcels(source, detect_format(source), 64))) == [
        "RB200000001RU",
        "RB200000002RU",
        "RB200000003RU",
    ]


def test_the_first_pass_on_two_workers_gives_what_one_gives(
    tiny_scorer: Scorer, tmp_path: Path
) -> None:
    source = _file(tmp_path)
    outputs = []
    for workers in (1, 2):
        out = tmp_path / f"scored-{workers}.csv"
        score_table(source, out, tiny_scorer, BatchOptions(workers=workers, chunk_rows=1))
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_a_file_without_repeat_parties_is_read_once_for_history(
    tiny_scorer: Scorer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = pd.read_csv(_file(tmp_path), dtype=str)
    frame["sender_id"] = [f"S-{n}" for n in range(len(frame))]
    frame["recipient_id"] = [f"R-{n}" for n in range(len(frame))]
    source = tmp_path / "strangers.csv"
    frame.to_csv(source, index=False)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("no parcel of the file has a later one to read its score")

    monkeypatch.setattr("service.batch_pool.Scoring.first_pass_scores", never)
    summary = score_table(source, tmp_path / "out.csv", tiny_scorer, BatchOptions(workers=1))
    assert summary.scored == len(frame)


def test_the_csv_endpoint_path_counts_the_body_like_the_batch_command(
    tiny_scorer: Scorer, tmp_path: Path
) -> None:
    source = _file(tmp_path)
    out = tmp_path / "scored.csv"
    score_table(source, out, tiny_scorer, BatchOptions(workers=1, progress=False))
    body = b"".join(score_csv_bytes(tiny_scorer, source.read_bytes()))
    assert body == out.read_bytes()


def test_the_cli_scores_with_and_without_history(
    tiny_scorer: Scorer, tiny_registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    # No store to read: the file alone is the history (a store file is never created).
    store = tmp_path / "none.sqlite3"
    monkeypatch.setenv("PARCEL_SCREEN_DATABASE_URL", f"sqlite:///{store}")
    source = _file(tmp_path)
    models = tiny_registry
    outputs = {}
    for flag in ("--history", "--no-history"):
        out = tmp_path / f"cli{flag}.csv"
        args = ["score", str(source), "-o", str(out), "--models-dir", str(models), "--workers", "1"]
        result = CliRunner().invoke(app, [*args, flag])
        assert result.exit_code == 0, result.output
        outputs[flag] = out.read_bytes()
    for flag, history in (("--history", True), ("--no-history", False)):
        expected = tmp_path / f"api{flag}.csv"
        options = BatchOptions(workers=1, progress=False, history=history)
        score_table(source, expected, tiny_scorer, options)
        assert outputs[flag] == expected.read_bytes(), flag
    assert outputs["--history"] != outputs["--no-history"]
    assert not store.exists()
