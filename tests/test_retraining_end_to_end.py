"""The data staff's retraining loop, end to end, in a temporary registry.

Default model -> service scores -> officers' feedback -> export -> retrain on it ->
evaluate -> promote (refused when worse, forced with a reason) -> roll back, with the
running service reloaded after each change and checked to serve the right version.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from service.api import create_app
from service.cli import app
from service.settings import Settings
from training.pipeline import synthetic_frame
from training.registry import Registry
from training.schema import RISK_CLASSES
from training.train import fit_and_evaluate

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PARCEL_SCREEN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "160")  # tables print whole, so their text can be checked


def invoke(*args: str | Path | int) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def succeeded(result: Result) -> Result:
    assert result.exit_code == 0, result.output + result.stderr
    return result


def declarations(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Labelled rows as the JSON declarations an intake system would send."""
    parcel_fields = (
        "declaration_id",
        "mail_class",
        "category",
        "origin_country",
        "destination_country",
        "gross_weight_kg",
    )
    item_fields = ("description", "hs_code", "quantity", "net_weight_kg", "value", "currency")

    def present(value: Any) -> bool:
        return value is not None and not (isinstance(value, float) and math.isnan(value))

    out = []
    for declaration_id, rows in frame.groupby("declaration_id", sort=False):
        first = rows.iloc[0]
        declaration: dict[str, Any] = {
            name: first[name] for name in parcel_fields if present(first[name])
        }
        declaration["declaration_id"] = str(declaration_id)
        declaration["posted_at"] = first["posted_at"].date().isoformat()
        declaration["items"] = [
            {
                "item_no": position,
                **{
                    name: int(row[name]) if name == "quantity" else row[name]
                    for name in item_fields
                    if present(row[name])
                },
            }
            for position, (_, row) in enumerate(rows.iterrows(), start=1)
        ]
        out.append(declaration)
    return out


def feedback_for(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """What inspecting officers report: the gear they found (class named), or a parcel cleared.

    Gear confirmed without a class named is left out: training on it fails today (see
    `test_gear_confirmed_without_a_class_trains`).
    """
    out: list[dict[str, Any]] = []
    for declaration_id, rows in frame.groupby("declaration_id", sort=False):
        gear = [
            (position, row["label_class"])
            for position, (_, row) in enumerate(rows.iterrows(), start=1)
            if row["label"] == 1
        ]
        if not gear:
            out.append({"declaration_id": str(declaration_id), "outcome": "cleared"})
        out.extend(
            {
                "declaration_id": str(declaration_id),
                "item_no": item_no,
                "outcome": "confirmed",
                "label_class": label_class,
            }
            for item_no, label_class in gear
            if label_class in RISK_CLASSES
        )
    return out


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[tuple[Path, TestClient]]:
    models = tmp_path / "models"
    succeeded(
        invoke("models", "ensure-default", "--models-dir", models, "--rows", 2500, "--seed", 5)
    )
    settings = Settings(
        models_dir=models,
        audit_db=tmp_path / "audit.sqlite3",
        log_format="plain",
        reload_on_sighup=False,
        # Outcomes are posted in one backfill here, faster than an integration posts them.
        feedback_burst=100_000,
    )
    with TestClient(create_app(settings)) as client:
        yield tmp_path, client


def serves(client: TestClient, version: str) -> bool:
    reload = client.post("/v1/admin/reload")
    assert reload.status_code == 200, reload.text
    return bool(client.get("/v1/model").json()["version"] == version)


def test_retraining_loop(workspace: tuple[Path, TestClient]) -> None:
    tmp_path, client = workspace
    models = tmp_path / "models"
    registry = Registry(models)
    default = registry.active_version()
    assert default is not None and serves(client, default)

    # Traffic scored by the service, then inspection outcomes fed back on it.
    traffic = synthetic_frame(900, 11)
    batch = declarations(traffic)
    response = client.post("/v1/score/batch", json={"declarations": batch})
    assert response.status_code == 200
    assert all("error" not in r for r in response.json()["results"])
    outcomes = feedback_for(traffic)
    for payload in outcomes:
        posted = client.post("/v1/feedback", json=payload)
        assert posted.status_code == 201, posted.text

    export = tmp_path / "export.csv"
    exported = succeeded(
        invoke("feedback", "export", "-o", export, "--audit-db", tmp_path / "audit.sqlite3")
    )
    rows = pd.read_csv(export)
    assert f"exported {len(rows):,} labelled rows" in exported.stdout
    confirmed = (traffic["label"] == 1) & traffic["label_class"].isin(RISK_CLASSES)
    assert rows["label"].sum() == confirmed.sum()

    # Drift of the audited traffic against the default model's stored profile.
    drifted = succeeded(
        invoke("drift", "--models-dir", models, "--audit-db", tmp_path / "audit.sqlite3", "--json")
    )
    drift_report = json.loads(drifted.stdout)
    assert drift_report["current_rows"] == len(traffic)
    assert "risk_score" in drift_report["psi"]
    assert drift_report["summary"]

    # The export trains as it is, with synthetic rows added.
    trained = succeeded(
        invoke("train", "--models-dir", models, "--data", export, "--synthetic", 2000, "--seed", 6)
    )
    candidate = registry.versions()[-1]
    card = registry.card(candidate)
    assert card["comparison"]["active_version"] == default
    assert card["comparison"]["rows"] == card["training_data"]["holdout_rows"]
    assert f"candidate {candidate} vs active {default}" in trained.stdout
    assert "rows skipped" in trained.stdout
    assert card["training_data"]["profile"]["features"]["risk_score"]["kind"] == "numeric"
    assert registry.active_version() == default  # a candidate until promoted

    # Evaluate it on the exported outcomes, with the report.
    report_dir = tmp_path / "report"
    evaluated = succeeded(
        invoke(
            "evaluate",
            "--models-dir",
            models,
            "--model",
            candidate,
            "--data",
            export,
            "--report",
            report_dir,
        )
    )
    assert "recall_at_2pct_fpr" in evaluated.stdout
    html = (report_dir / "report.html").read_text("utf-8")
    assert html.count("data:image/png;base64,") == 4
    assert "http://" not in html and "https://" not in html

    # A candidate that learnt from scrambled labels (its held-out, newest rows keep the true
    # ones) is worse: refused, then forced with a reason.
    scrambled = synthetic_frame(2000, 12).drop(columns=["error"])
    older = scrambled.index[scrambled["posted_at"] < scrambled["posted_at"].quantile(0.7)]
    permuted = scrambled.loc[older].sample(frac=1.0, random_state=1)
    scrambled.loc[older, "label"] = permuted["label"].to_numpy()
    scrambled.loc[older, "label_class"] = permuted["label_class"].to_numpy()
    scrambled.to_csv(tmp_path / "scrambled.csv", index=False)
    succeeded(invoke("train", "--models-dir", models, "--data", tmp_path / "scrambled.csv"))
    bad = registry.versions()[-1]
    comparison = registry.card(bad)["comparison"]
    refused = invoke("models", "promote", bad, "--models-dir", models)
    assert refused.exit_code != 0
    assert f"{comparison['candidate']['recall_at_2pct_fpr']:.4f}" in refused.stderr
    assert f"{comparison['active']['recall_at_2pct_fpr']:.4f}" in refused.stderr
    assert registry.active_version() == default
    no_reason = invoke("models", "promote", bad, "--models-dir", models, "--force")
    assert no_reason.exit_code != 0 and "--reason" in no_reason.stderr
    forced = succeeded(
        invoke(
            "models",
            "promote",
            bad,
            "--models-dir",
            models,
            "--force",
            "--reason",
            "test of the forced path",
        )
    )
    assert "/v1/admin/reload" in forced.stdout and "SIGHUP" in forced.stdout
    assert registry.active_version() == bad
    assert "test of the forced path" in registry.history()[-1]["reason"]
    assert serves(client, bad)

    # Roll back to the default, and the service follows after a reload.
    rolled = succeeded(invoke("models", "rollback", "--models-dir", models))
    assert "/v1/admin/reload" in rolled.stdout
    assert registry.active_version() == default
    assert serves(client, default)

    # The retrained candidate was compared with the default, active again: the gate decides.
    stored = registry.card(candidate)["comparison"]
    better = stored["candidate"]["recall_at_2pct_fpr"] >= stored["active"]["recall_at_2pct_fpr"]
    promoted = invoke("models", "promote", candidate, "--models-dir", models)
    assert (promoted.exit_code == 0) == better, promoted.output + promoted.stderr
    assert serves(client, candidate if better else default)


def test_train_on_the_dev_sample_with_synthetic_rows(dev_csv: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    result = succeeded(
        invoke("train", "--models-dir", models, "--data", dev_csv, "--synthetic", 5000)
    )
    card = Registry(models).card(Registry(models).versions()[-1])
    assert card["training_data"]["sources"][0] == {
        "kind": "file",
        "name": dev_csv.name,
        "rows": 250,
    }
    assert card["metrics"]["holdout"]["roc_auc"] > 0.8
    assert "no active model to compare with" in result.stdout
    assert "too few" not in result.stdout
    print(
        json.dumps(
            {
                "training_data": {k: v for k, v in card["training_data"].items() if k != "profile"},
                "holdout": {
                    k: v
                    for k, v in card["metrics"]["holdout"].items()
                    if k not in ("reliability", "per_class")
                },
            },
            indent=1,
        )
    )


def test_gear_confirmed_without_a_class_trains() -> None:
    # Feedback exports leave label_class empty when an officer confirms gear without
    # naming a class: such rows teach the risk score, not the class.
    frame = synthetic_frame(1200, 3)
    gear = frame.index[frame["label"] == 1][:20]
    frame.loc[gear, "label_class"] = None
    result = fit_and_evaluate(frame)
    assert result.holdout["risk_class"].isin(["benign", *RISK_CLASSES]).all()


def test_a_file_without_labels_is_refused_in_one_line(tmp_path: Path) -> None:
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("declaration_id,description\nRB1,cotton T-shirt\n", encoding="utf-8")
    result = invoke("train", "--models-dir", tmp_path / "models", "--data", unlabelled)
    assert result.exit_code != 0
    assert "no usable labels" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "models").exists()


def test_feedback_export_without_an_audit_database_fails_cleanly(tmp_path: Path) -> None:
    result = invoke(
        "feedback", "export", "-o", tmp_path / "x.csv", "--audit-db", tmp_path / "none.sqlite3"
    )
    assert result.exit_code != 0
    assert "no audit database" in result.stderr


def test_drift_needs_exactly_one_current_source(tmp_path: Path) -> None:
    result = invoke("drift", "--models-dir", tmp_path, "--reference", tmp_path / "a.csv")
    assert result.exit_code != 0
    assert "--current" in result.stderr


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["train"], ["--data", "--synthetic", "--rows", "--seed", "held out"]),
        (["evaluate"], ["--data", "--model", "--models-dir", "--report", "report.html"]),
        (["models", "promote"], ["VERSION", "--force", "--reason", "--metric", "held-out"]),
        (["models", "rollback"], ["previous", "reload"]),
        (["drift"], ["--reference", "--current", "--audit-db", "--model", "--json", "PSI"]),
        (["feedback", "export"], ["--output", "--audit-db", "train --data"]),
    ],
)
def test_help_explains_each_command(command: list[str], expected: list[str]) -> None:
    result = succeeded(invoke(*command, "--help"))
    text = " ".join(result.stdout.split())
    for word in expected:
        assert word in text, (command, word)
