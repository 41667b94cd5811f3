"""The written corpora: parcel decisions, thresholds set on ordinary traffic, measurement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.training.written_sets import write_set
from training import corpora
from training.model import Thresholds, columns_of
from training.train import TrainingResult, fit_and_evaluate


def _frame(labels_by_parcel: list[list[int]]) -> pd.DataFrame:
    rows = []
    for p, labels in enumerate(labels_by_parcel):
        for i, label in enumerate(labels):
            rows.append({"declaration_id": f"P{p}", "item_no": i + 1, "label": label})
    return pd.DataFrame(rows)


def test_parcel_rates_count_parcels_by_their_riskiest_item() -> None:
    # P0 benign (flagged by its second line), P1 benign (clear), P2 gear caught, P3 gear
    # missed, P4 benign inspected.
    frame = _frame([[0, 0], [0], [0, 1], [1], [0]])
    scores = np.array([0.1, 0.6, 0.2, 0.3, 0.7, 0.4, 0.95])
    rates = corpora.parcel_rates(frame, scores, Thresholds(review=0.5, inspect=0.9))
    assert rates["parcels"] == 5
    assert rates["benign_parcels"] == 3
    assert rates["benign_parcels_flagged"] == pytest.approx(2 / 3)
    assert rates["benign_parcels_inspected"] == pytest.approx(1 / 3)
    assert rates["gear_parcels_caught"] == pytest.approx(1 / 2)


def test_parcel_threshold_flags_at_most_the_share_asked_for() -> None:
    frame = _frame([[0]] * 10 + [[1]])
    scores = np.r_[np.linspace(0.05, 0.95, 10), 0.99]
    cut = corpora.parcel_threshold(frame, scores, 0.2)
    benign = scores[:10]
    assert np.mean(benign >= cut) == pytest.approx(0.2)
    assert corpora.parcel_threshold(frame, scores, 0.0) > benign.max()
    with pytest.raises(ValueError, match="no ordinary parcels"):
        corpora.parcel_threshold(_frame([[1]]), np.array([0.5]), 0.1)


@pytest.fixture(scope="module")
def corpora_dir(tmp_path_factory: pytest.TempPathFactory, synthetic_sample: pd.DataFrame) -> Path:
    """A corpora folder written by the test: a labelled set per use."""
    root = tmp_path_factory.mktemp("corpora")
    parcels = synthetic_sample["declaration_id"].drop_duplicates()
    blind = synthetic_sample[synthetic_sample["declaration_id"].isin(parcels.iloc[:300])]
    ordinary = synthetic_sample[synthetic_sample["declaration_id"].isin(parcels.iloc[300:900])]
    ordinary = ordinary.groupby("declaration_id").filter(lambda p: p["label"].max() == 0)
    write_set(blind, root / corpora.BLIND / "some_blind_set.csv")
    write_set(ordinary, root / corpora.CALIBRATION / "ordinary.csv")
    return root


def test_written_sets_are_found_by_use(corpora_dir: Path) -> None:
    assert [w.name for w in corpora.written_sets(corpora_dir, corpora.BLIND)] == ["some_blind_set"]
    assert corpora.written_sets(corpora_dir, corpora.TRAIN) == []
    assert corpora.written_sets(corpora_dir / "missing", corpora.BLIND) == []


def test_thresholds_set_on_ordinary_traffic_hold_their_rate_there(
    corpora_dir: Path, synthetic_sample: pd.DataFrame, tiny_training: TrainingResult
) -> None:
    (calibration,) = corpora.written_sets(corpora_dir, corpora.CALIBRATION)
    ordinary = corpora.read_set(calibration)
    result = fit_and_evaluate(synthetic_sample, random_state=7, calibration=ordinary)
    assert result.card["thresholds_set_on"].startswith("ordinary parcels of the calibration")
    assert result.card["thresholds"]["review_fpr"] == 0.02
    measured = corpora.measure(result.model, ordinary)
    assert measured["benign_parcels_flagged"] <= 0.02
    assert measured["benign_parcels_inspected"] <= 0.005
    # Without ordinary traffic the cut-offs come from benign items of the hold-out.
    assert tiny_training.card["thresholds_set_on"] == "benign items of the synthetic hold-out"


def test_measure_reports_items_and_parcels(
    corpora_dir: Path, tiny_training: TrainingResult
) -> None:
    (blind,) = corpora.written_sets(corpora_dir, corpora.BLIND)
    measured = corpora.measure(tiny_training.model, corpora.read_set(blind))
    assert set(corpora.HEADLINE) <= set(measured)
    assert 0.5 < measured["roc_auc"] <= 1.0
    assert measured["parcels"] == 300


def test_caught_alone_is_each_parcel_scored_in_a_file_of_its_own(
    corpora_dir: Path, tiny_training: TrainingResult
) -> None:
    (blind,) = corpora.written_sets(corpora_dir, corpora.BLIND)
    frame = corpora.read_set(blind)
    frame = frame[frame["declaration_id"].isin(frame["declaration_id"].unique()[:60])]
    model = tiny_training.model
    measured = corpora.measure(model, frame)
    one_by_one = np.concatenate(
        [
            model.score_together(columns_of(parcel)).risk_score
            for _, parcel in frame.groupby("declaration_id", sort=False)
        ]
    )
    alone = corpora.parcel_rates(frame, one_by_one, model.thresholds_)
    assert measured["gear_parcels_caught_alone"] == pytest.approx(alone["gear_parcels_caught"])


def test_new_parties_are_those_no_earlier_parcel_of_the_set_names() -> None:
    """A parcel is from new parties when neither its sender nor its recipient is on a
    parcel posted before it; the file's order does not matter, the dates do."""
    frame = pd.DataFrame(
        {
            "declaration_id": ["P1", "P1", "P2", "P3", "P4", "P5"],
            "posted_at": pd.to_datetime(
                ["2026-11-02", "2026-11-02", "2026-11-01", "2026-11-03", "2026-11-04", "2026-11-02"]
            ),
            "sender_id": ["S1", "S1", "S2", "S1", "S4", None],
            "recipient_id": ["R1", "R1", "R2", "R3", "R2", "R5"],
        }
    )
    # P2 is earlier than P1 though later in the file; P3 repeats P1's sender, P4 P2's
    # recipient; P5 has no sender to have met.
    assert corpora.new_parties(frame).tolist() == [True, True, False, False, True]


def test_measure_tells_gear_of_new_parties_apart(
    corpora_dir: Path, tiny_training: TrainingResult
) -> None:
    (blind,) = corpora.written_sets(corpora_dir, corpora.BLIND)
    frame = corpora.read_set(blind)
    measured = corpora.measure(tiny_training.model, frame)
    scores = tiny_training.model.score_together(columns_of(frame)).risk_score
    score, gear = corpora._parcels(frame, scores)
    first = corpora.new_parties(frame) & gear
    assert 0 < first.sum() < gear.sum()
    expected = np.mean(score[first] >= tiny_training.model.thresholds_.review)
    assert measured["gear_parcels_caught_new_parties"] == pytest.approx(expected)
