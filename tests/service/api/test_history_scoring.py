"""Who sends it, end to end: outcomes and the watch list raise the next parcel of a party,
over HTTP and in batch alike, and forgetting the party takes it back (contract section 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.api.app import create_app
from service.cli import app as cli
from tests.service.conftest import SettingsFactory
from tests.service.factories import armour_declaration, make_declaration, make_item


def _jacket(declaration_id: str, sender: str, posted: str = "2026-05-01") -> dict[str, Any]:
    """An ordinary-looking parcel: a winter jacket, 3 kg, sent as a gift."""
    return make_declaration(
        declaration_id,
        items=[
            make_item(
                description="куртка зимняя",
                hs_code="6201",
                quantity=1,
                net_weight_kg=3.0,
                value=3000,
                currency="RUB",
            )
        ],
        posted_at=posted,
        gross_weight_kg=3.2,
        sender_id=sender,
        recipient_id="R-new",
    )


def _seize(client: TestClient, sender: str) -> None:
    """Five parcels of plates from `sender`, each confirmed on inspection."""
    for day in range(1, 6):
        declaration = armour_declaration(f"RB10000000{day}RU")
        declaration.update(sender_id=sender, recipient_id=f"R-{day}", posted_at=f"2026-03-0{day}")
        assert client.post("/v1/score", json=declaration).status_code == 200
        outcome = {"declaration_id": declaration["declaration_id"], "outcome": "confirmed"}
        assert client.post("/v1/feedback", json=outcome).status_code == 201


def _score(client: TestClient, declaration: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/score", json=declaration)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _codes(scored: dict[str, Any]) -> list[str]:
    return [reason["code"] for item in scored["items"] for reason in item["reasons"]]


def test_seizures_raise_the_senders_next_parcel_until_the_sender_is_forgotten(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    # Every parcel is looked at (review cut-off 0), so each says what weighed in its score,
    # whatever the cut-offs of this small model.
    settings = settings_factory(models_dir=models_dir, review_threshold=0.0)
    with TestClient(create_app(settings)) as client:
        _seize(client, "S-caught")
        caught = _score(client, _jacket("RB200000001RU", "S-caught"))
        new = _score(client, _jacket("RB200000002RU", "S-new"))
        assert caught["parcel_risk_score"] > new["parcel_risk_score"]
        assert "sender_history" in _codes(caught)
        assert "sender_history" not in _codes(new)
        message = next(
            r["message"] for r in caught["items"][0]["reasons"] if r["code"] == "sender_history"
        )
        assert message == "sender had 5 confirmed seizures, latest 2026-03-05"

        store = client.app.state.service.store  # type: ignore[attr-defined]
        store.audit.flush(timeout=10)
        store.forget("S-caught", by="test")
        again = _score(client, _jacket("RB200000001RU", "S-caught"))
        assert again["parcel_risk_score"] == pytest.approx(new["parcel_risk_score"], abs=1e-3)
        assert "sender_history" not in _codes(again)


def test_a_watch_listed_recipient_is_named_in_the_reasons(client: TestClient) -> None:
    listed = {"party_id": "R-list", "role": "recipient", "reason": "collects plates"}
    assert client.post("/v1/admin/watchlist", json=listed).status_code == 201
    declaration = _jacket("RB300000001RU", "S-any")
    declaration["recipient_id"] = "R-list"
    scored = _score(client, declaration)
    plain = _score(client, _jacket("RB300000002RU", "S-any2"))
    assert scored["parcel_risk_score"] > plain["parcel_risk_score"]
    reasons = [r for item in scored["items"] for r in item["reasons"] if r["code"] == "watchlist"]
    assert reasons and reasons[0]["message"] == "recipient on the watch list: collects plates"


def test_batch_reads_the_same_store(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seize(client, "S-caught")
    store = client.app.state.service.store  # type: ignore[attr-defined]
    store.audit.flush(timeout=10)
    over_http = _score(client, _jacket("RB400000001RU", "S-caught"))
    declaration = _jacket("RB400000001RU", "S-caught")
    item = declaration.pop("items")[0]
    export = tmp_path / "export.csv"
    pd.DataFrame([{**declaration, **item}]).to_csv(export, index=False)
    database = store.database.sqlite_path
    monkeypatch.setenv("PARCEL_SCREEN_DATABASE_URL", f"sqlite:///{database}")
    models = client.app.state.service.settings.models_dir  # type: ignore[attr-defined]
    out = tmp_path / "scored.csv"
    result = CliRunner().invoke(
        cli, ["score", str(export), "-o", str(out), "--models-dir", str(models), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out, dtype=str).iloc[0]
    assert float(scored["risk_score"]) == pytest.approx(
        over_http["items"][0]["risk_score"], abs=1e-4
    )
    assert "sender_history: sender had 5 confirmed seizures" in scored["reasons"]


def test_a_sender_who_named_gear_before_is_counted_over_http_and_in_batch(
    client: TestClient, tmp_path: Path
) -> None:
    """The store remembers that a parcel named gear; the sender's next parcel, however
    plainly worded, carries that fact, as the file's own first pass counts it."""
    from service.party_history import PartyHistory
    from training.schema import DeclarationIn

    named = armour_declaration("RB300000001RU")
    named["items"][0]["description"] = "бронежилет 6Б45 Ратник с плитами"
    named.update(sender_id="S-open", recipient_id="R-1", posted_at="2026-04-01")
    _score(client, named)
    store = client.app.state.service.store  # type: ignore[attr-defined]
    store.audit.flush(timeout=10)

    history: PartyHistory = client.app.state.service.party_history  # type: ignore[attr-defined]
    later = DeclarationIn.model_validate(_jacket("RB300000002RU", "S-open"))
    facts = history.facts([later])
    assert facts is not None
    assert facts[0]["sender_named_gear"] == 1.0
    assert facts[0]["sender_last_named_gear"] == "2026-04-01"
    plain = DeclarationIn.model_validate(_jacket("RB300000003RU", "S-plain"))
    assert history.facts([plain])[0]["sender_named_gear"] == 0.0  # type: ignore[index]

    # The batch command's first pass counts the same from a file of the two parcels
    # (the gear named on the second line of the first parcel).
    from service.batch_history import file_history
    from training.tables import detect_format

    rows = [
        {**{k: v for k, v in named.items() if k != "items"}, **named["items"][1], "item_no": 1},
        {**{k: v for k, v in named.items() if k != "items"}, **named["items"][0], "item_no": 2},
    ]
    jacket = _jacket("RB300000002RU", "S-open")
    rows.append({**{k: v for k, v in jacket.items() if k != "items"}, **jacket["items"][0]})
    export = tmp_path / "export.csv"
    pd.DataFrame(rows).to_csv(export, index=False)
    table = file_history(export, detect_format(export), 1)
    columns = table.columns_for(["RB300000001RU", "RB300000002RU"])
    assert columns["sender_named_gear"].tolist() == [0.0, 1.0]


def _disguised_armour(declaration_id: str) -> dict[str, Any]:
    # A vest of plates' weight in a parcel kilos heavier than its lines: the physical facts
    # alone carry its first-pass score well over a half, with the tiny model of any draw.
    declaration = armour_declaration(declaration_id)
    declaration["items"][0].update(description="vest with plates", net_weight_kg=9.5)
    declaration["gross_weight_kg"] = 14.0
    return declaration


def test_an_earlier_parcel_that_read_as_gear_raises_the_next_over_json_and_csv(
    settings_factory: SettingsFactory, models_dir: Path
) -> None:
    """The store keeps each parcel's first-pass score, from a JSON or a CSV answer alike;
    the sender's next parcel reads it and the officer is told which parcel it was."""
    settings = settings_factory(models_dir=models_dir, review_threshold=0.0)
    with TestClient(create_app(settings)) as client:
        store = client.app.state.service.store  # type: ignore[attr-defined]
        # Plates in a "vest with plates": no word names gear outright; the weight speaks.
        armour = _disguised_armour("RB500000001RU")
        armour.update(sender_id="S-json", recipient_id="R-1", posted_at="2026-04-01")
        _score(client, armour)
        armour_csv = _disguised_armour("RB500000002RU")
        armour_csv.update(sender_id="S-csv", recipient_id="R-2", posted_at="2026-04-01")
        items = armour_csv.pop("items")
        body = pd.DataFrame([{**armour_csv, **item} for item in items]).to_csv(index=False)
        answer = client.post("/v1/score/csv", content=body, headers={"Content-Type": "text/csv"})
        assert answer.status_code == 200, answer.text
        store.audit.flush(timeout=10)
        kept = {
            party: store.party_parcels([party])[party][0].first_pass_score
            for party in ("S-json", "S-csv")
        }
        assert kept["S-json"] is not None and kept["S-json"] > 0.5
        assert kept["S-csv"] == pytest.approx(kept["S-json"], abs=1e-4)

        after = _score(client, _jacket("RB500000003RU", "S-json"))
        fresh = _score(client, _jacket("RB500000004RU", "S-fresh"))
        assert after["parcel_risk_score"] > fresh["parcel_risk_score"]
        told = [r["message"] for r in after["items"][0]["reasons"] if r["code"] == "sender_history"]
        assert told == ["sender's earlier parcel RB500000001RU read as gear on its own form"]
