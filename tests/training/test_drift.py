"""Drift of current traffic against a reference."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from training.drift import (
    KEY_FEATURES,
    PSI_MAJOR,
    Profile,
    compare,
    description_words,
    model_vocabulary,
    profile_of,
    psi,
)
from training.train import TrainingResult


@pytest.fixture(scope="module")
def reference_and_current(synthetic_sample: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    # A reference three times the current traffic, as training data outnumbers a day's
    # export: ordinary goods are thousands of kinds, and a small reference would see many of
    # a day's kinds as new.
    shuffled = synthetic_sample.sample(frac=1.0, random_state=3)
    cut = len(shuffled) * 3 // 4
    return shuffled.iloc[:cut], shuffled.iloc[cut:]


def test_psi_of_identical_shares_is_zero_and_grows_with_the_shift() -> None:
    shares = {"a": 0.5, "b": 0.3, "c": 0.2}
    assert psi(shares, shares) == 0.0
    small = psi(shares, {"a": 0.45, "b": 0.33, "c": 0.22})
    large = psi(shares, {"a": 0.1, "b": 0.3, "c": 0.6})
    assert 0 < small < 0.1 < PSI_MAJOR < large
    # A bin the reference never had still counts (floored, not infinite).
    assert np.isfinite(psi({"a": 1.0}, {"a": 0.5, "new": 0.5}))


def test_two_parts_of_one_sample_do_not_drift(
    reference_and_current: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = reference_and_current
    report = compare(profile_of(reference, None), current, None)
    assert set(report.psi) == set(KEY_FEATURES)
    assert max(report.psi.values()) < 0.1
    assert not report.retrain_advised
    assert report.summary.startswith("no retraining needed")


def test_new_wording_and_heavier_parcels_advise_retraining(
    reference_and_current: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = reference_and_current
    shifted = current.copy()
    heavy = shifted.index[: len(shifted) // 2]
    shifted.loc[heavy, "net_weight_kg"] = shifted.loc[heavy, "net_weight_kg"] * 20
    shifted.loc[heavy, "description"] = "zorbexa quvotrin"
    shifted.loc[heavy, "category"] = "commercial_sample"
    report = compare(profile_of(reference, None), shifted, None)
    assert report.retrain_advised
    assert report.psi["log_unit_weight_kg"] > PSI_MAJOR
    terms = dict(report.new_terms)
    assert terms["zorbexa"] == len(heavy)
    assert report.new_term_share > 0.1
    assert "RETRAINING ADVISED" in report.summary
    json.dumps(report.as_dict())  # machine output must serialise


def test_score_shift_alone_advises_retraining(
    reference_and_current: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = reference_and_current
    rng = np.random.default_rng(0)
    profile = profile_of(reference, rng.beta(1, 8, len(reference)))
    report = compare(profile, current, rng.beta(4, 2, len(current)))
    assert report.psi["risk_score"] > PSI_MAJOR
    assert report.retrain_advised
    assert "risk scores shifted" in report.summary


def test_stored_profile_round_trips_through_json(tiny_training: TrainingResult) -> None:
    holdout = tiny_training.holdout
    scores = holdout["risk_score"].to_numpy()
    stored = json.loads(json.dumps(profile_of(holdout, scores).to_card()))
    vocabulary = model_vocabulary(tiny_training.model)
    assert "bronezhilet" in vocabulary or len(vocabulary) > 100
    profile = Profile.from_card(stored, vocabulary)
    report = compare(profile, holdout, scores)
    assert max(report.psi.values()) < 0.01
    # New words are judged against what the model learned from its (older) training rows;
    # a tiny model knows few words, so only a bound is certain here.
    assert report.new_term_share < 0.3


def test_description_words_keep_letters_only() -> None:
    assert description_words("Бронежилет 6Б23, size XL!") == ["бронежилет", "size"]
