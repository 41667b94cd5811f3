"""The estimators follow scikit-learn's conventions as far as its checks can tell.

sklearn's generic checks fit on anonymous 2-D arrays of numbers. Most of these estimators
read item columns (named fields of text and numbers) or descriptions, and their tags say so,
so `check_estimator` skips those checks (docs/decisions.md). The checks of the API that need
no data run here as they are; what the data checks ask (fit returns self, leaves parameters
alone, fits the same twice, survives pickling) is asked of real declarations below.
`FlooredScaler` reads a matrix of numbers: every check applies to it, and it passes them all.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import SkipTestWarning
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator,
    check_estimator_cloneable,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
)

from training.features import (
    DescriptionVectorizer,
    FlooredScaler,
    FormFeatures,
    TextSignals,
    feature_pipeline,
)
from training.model import UNKNOWN_GEAR, RiskModel, columns_of

# Estimators of item columns or descriptions: sklearn's data checks do not apply to them.
ESTIMATORS = (DescriptionVectorizer(), TextSignals(), FormFeatures(), RiskModel())
API_CHECKS: tuple[Callable[[str, Any], None], ...] = (
    check_estimator_cloneable,
    check_estimator_tags_renamed,
    check_valid_tag_types,
    check_estimator_repr,
    check_no_attributes_set_in_init,
    check_do_not_raise_errors_in_init_or_set_params,
    check_mixin_order,
    check_parameters_default_constructible,
    check_get_params_invariance,
    check_set_params,
)


def _name(value: object) -> str:
    return getattr(value, "__name__", type(value).__name__)


@pytest.mark.parametrize("check", API_CHECKS, ids=_name)
@pytest.mark.parametrize("estimator", [*ESTIMATORS, feature_pipeline()], ids=_name)
def test_sklearn_api_checks_pass(estimator: BaseEstimator, check: Callable[..., None]) -> None:
    check(type(estimator).__name__, clone(estimator))


def test_the_floored_scaler_passes_every_sklearn_check() -> None:
    """It reads a matrix of numbers, so sklearn's data checks apply: none is expected to
    fail, and only the array-API check (for estimators run under SCIPY_ARRAY_API, which
    this one does not claim) is skipped. They feed arrays without column names, so nothing
    is floored there; the floor is pinned against StandardScaler in test_scale.py."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkipTestWarning)
        results = check_estimator(FlooredScaler(), on_fail="raise")
    assert len(results) > 40
    not_passed = {r["check_name"] for r in results if r["status"] != "passed"}
    assert not_passed <= {"check_array_api_input"}


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_sklearn_data_checks_are_skipped_for_what_the_tags_declare(
    estimator: BaseEstimator,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = check_estimator(clone(estimator), on_fail="raise")
    assert [r["check_name"] for r in results] == ["check_estimator_cloneable"]
    assert any(
        issubclass(w.category, SkipTestWarning) and "Can't test estimator" in str(w.message)
        for w in caught
    )


def _fitted_state(model: RiskModel, items: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    scores = model.score(items)
    return (
        scores.risk_score,
        scores.class_proba,
        model.raw_logit(scores.features),
        model.contributions(scores.features),
        model.class_.coef_,
    )


@pytest.fixture(scope="module")
def sample(synthetic_sample: pd.DataFrame) -> pd.DataFrame:
    return synthetic_sample.iloc[:2000].reset_index(drop=True)


def test_risk_model_fit_follows_the_data_checks_on_declarations(sample: pd.DataFrame) -> None:
    items = columns_of(sample)
    classes = sample["label_class"].to_numpy()
    label = sample["label"].to_numpy()
    model = RiskModel(random_state=3, max_form_rows=1500)
    params = model.get_params()
    public_before = {k for k in vars(model) if not k.startswith("_")}

    assert model.fit(items, classes, label=label) is model  # check_estimators_fit_returns_self
    assert model.get_params() == params  # check_estimators_overwrite_params
    added = {k for k in vars(model) if not k.startswith("_")} - public_before
    assert added and all(k.endswith("_") for k in added)  # check_dont_overwrite_parameters

    first = _fitted_state(model, items)
    refitted = _fitted_state(model.fit(items, classes, label=label), items)  # check_fit_idempotent
    restored = pickle.loads(pickle.dumps(model))  # check_estimators_pickle
    for a, b, c in zip(first, refitted, _fitted_state(restored, items), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_risk_model_reads_the_label_off_the_classes_unless_given(sample: pd.DataFrame) -> None:
    items = columns_of(sample)
    classes = sample["label_class"].to_numpy().copy()
    # Gear confirmed without a class: it counts as gear, and trains the risk score only.
    gear = np.flatnonzero(classes != "benign")
    classes[gear[::3]] = UNKNOWN_GEAR
    derived = RiskModel(random_state=3).fit(items, classes)
    given = RiskModel(random_state=3).fit(items, classes, label=(classes != "benign").astype(int))
    for a, b in zip(_fitted_state(derived, items), _fitted_state(given, items), strict=True):
        np.testing.assert_array_equal(a, b)
    assert UNKNOWN_GEAR not in derived.class_.classes_

    # A recorded label that disagrees with the class (an inspection error) is learned as
    # recorded by the risk score, so passing it changes the fit.
    recorded = (classes != "benign").astype(int)
    recorded[np.flatnonzero(classes == "benign")[:40]] = 1
    disagreeing = RiskModel(random_state=3).fit(items, classes, label=recorded)
    assert not np.array_equal(
        disagreeing.raw_logit(disagreeing.score(items).features),
        derived.raw_logit(derived.score(items).features),
    )


def test_risk_model_refuses_classes_it_does_not_know(sample: pd.DataFrame) -> None:
    classes = sample["label_class"].to_numpy().copy()
    classes[0] = "rifle"
    with pytest.raises(ValueError, match=r"label classes must be one of .*'rifle'"):
        RiskModel().fit(columns_of(sample), classes)
