"""The evaluation report and the champion/challenger gate."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from service.scorer import Scorer, ScoringPolicy
from training.evaluate import PLOTS, Evaluation, evaluate, write_report
from training.gate import DEFAULT_METRIC, compare_on_holdout, judge
from training.train import TrainingResult


@pytest.fixture(scope="module")
def evaluation(tiny_scorer: Scorer, synthetic_sample: pd.DataFrame) -> Evaluation:
    scorer = Scorer(tiny_scorer.model, tiny_scorer.card, ScoringPolicy(random_selection_rate=0))
    return evaluate(scorer, synthetic_sample.tail(2500), "sample.csv")


def test_metrics_cover_the_headline_and_calibration(evaluation: Evaluation) -> None:
    metrics = evaluation.metrics
    for name in (
        "roc_auc",
        "average_precision",
        "recall_at_1pct_fpr",
        "recall_at_2pct_fpr",
        "recall_at_5pct_fpr",
        "precision_top_1pct",
        "recall_top_5pct",
        "brier",
    ):
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["roc_auc"] > 0.7
    assert sum(row["items"] for row in metrics["reliability"]) == metrics["items"]
    assert {row["class"] for row in evaluation.class_rows} >= {"benign", "body_armor"}


def test_threshold_table_has_the_model_cut_offs_and_sane_rates(evaluation: Evaluation) -> None:
    rows = {row["cut_off"]: row for row in evaluation.threshold_rows}
    assert rows["review (model)"]["threshold"] == evaluation.thresholds["review"]
    assert rows["inspect (model)"]["threshold"] == evaluation.thresholds["inspect"]
    fixed = [row for name, row in rows.items() if name.startswith("score ")]
    recalls = [row["recall"] for row in fixed]
    assert recalls == sorted(recalls, reverse=True)  # a higher cut-off never catches more
    for row in evaluation.threshold_rows:
        for key in ("items_inspected", "parcels_inspected", "recall", "false_alarm_rate"):
            assert 0.0 <= row[key] <= 1.0
    # The review threshold was chosen for ~3% false alarms on benign items of the hold-out.
    assert rows["review (model)"]["false_alarm_rate"] < 0.15


def test_examples_carry_reasons(evaluation: Evaluation) -> None:
    review = evaluation.thresholds["review"]
    assert evaluation.false_alarms, "a tiny model on 2,500 rows has false alarms"
    for example in evaluation.false_alarms:
        assert example["risk_score"] >= review
        assert example["reasons"]
    scores = [example["risk_score"] for example in evaluation.missed]
    assert scores == sorted(scores)
    assert all(score < review for score in scores)
    assert evaluation.lane_rows[0]["items"] >= evaluation.lane_rows[-1]["items"]


def test_report_is_self_contained_and_complete(evaluation: Evaluation, tmp_path: Path) -> None:
    report = write_report(evaluation, tmp_path / "report")
    text = report.read_text("utf-8")
    assert text.count("data:image/png;base64,") == len(PLOTS)
    # Opens offline: nothing is fetched (no external scripts, styles, fonts or images).
    assert not re.search(r"(src|href)=['\"](https?:)?//", text)
    assert "<script" not in text and "<link" not in text
    for heading in ("Cut-offs", "By class", "By lane", "Gear missed", "False alarms"):
        assert heading in text
    for name in PLOTS:
        assert (tmp_path / "report" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Written through temporary files that are all renamed into place.
    assert not [p for p in (tmp_path / "report").iterdir() if p.name.startswith(".")]


def test_report_escapes_declaration_text(
    tiny_scorer: Scorer, synthetic_sample: pd.DataFrame, tmp_path: Path
) -> None:
    frame = synthetic_sample.tail(1500).copy()
    gear = frame.index[frame["label"] == 1][0]
    frame.loc[gear, "description"] = "<script>alert(1)</script>"
    frame.loc[gear, ["net_weight_kg", "value"]] = [0.1, 5.0]
    text = write_report(evaluate(tiny_scorer, frame, "x.csv"), tmp_path).read_text("utf-8")
    assert "<script>" not in text


# --- the gate ---------------------------------------------------------------------------------


def card_with(candidate: dict[str, float], active: dict[str, float] | None, against: str) -> Any:
    return {
        "comparison": {
            "active_version": against,
            "rows": 500,
            "positives": 80,
            "candidate": candidate,
            "active": active,
        }
    }


def test_gate_allows_an_equal_or_better_candidate() -> None:
    card = card_with({DEFAULT_METRIC: 0.61}, {DEFAULT_METRIC: 0.61}, "v1")
    assert judge("v2", card, "v1").allowed


def test_gate_refuses_a_worse_candidate_with_both_numbers() -> None:
    card = card_with(
        {DEFAULT_METRIC: 0.50, "brier": 0.08}, {DEFAULT_METRIC: 0.60, "brier": 0.09}, "v1"
    )
    decision = judge("v2", card, "v1")
    assert not decision.allowed
    assert "0.5000" in decision.message and "0.6000" in decision.message
    # Brier: lower is better, so the same candidate passes on it.
    assert judge("v2", card, "v1", metric="brier").allowed


def test_gate_refuses_a_stale_or_missing_comparison() -> None:
    card = card_with({DEFAULT_METRIC: 0.9}, {DEFAULT_METRIC: 0.1}, "v1")
    stale = judge("v3", card, "v2")
    assert not stale.allowed and "v1" in stale.message and "v2" in stale.message
    assert not judge("v3", {}, "v2").allowed
    assert judge("v3", {}, None).allowed  # the first model has nothing to beat
    with pytest.raises(ValueError, match="unknown metric"):
        judge("v3", card, "v1", metric="accuracy")


def test_comparison_scores_the_same_rows_with_both_models(tiny_training: TrainingResult) -> None:
    holdout = tiny_training.holdout
    same = compare_on_holdout(tiny_training.model, tiny_training.model, "v1", holdout, "newest")
    assert same["rows"] == len(holdout)
    assert same["candidate"] == same["active"]
    assert np.isclose(
        same["candidate"]["roc_auc"], tiny_training.card["metrics"]["holdout"]["roc_auc"]
    )
    first = compare_on_holdout(tiny_training.model, None, None, holdout, "newest")
    assert first["active"] is None
