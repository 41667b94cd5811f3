"""The flat tree tables give what scikit-learn's trees give (`training.trees`)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from training.trees import TreeTable


@pytest.fixture(scope="module")
def fitted() -> tuple[HistGradientBoostingClassifier, np.ndarray]:
    rng = np.random.default_rng(7)
    features = rng.standard_normal((3000, 6))
    # An interaction a linear score cannot draw, and missing values the trees route.
    label = ((features[:, 0] > 0.3) & (features[:, 1] < 0.5)) | (features[:, 2] > 1.5)
    features[rng.random(features.shape) < 0.05] = np.nan
    model = HistGradientBoostingClassifier(max_iter=30, max_depth=5, random_state=0)
    return model.fit(features, label.astype(int)), features


@pytest.mark.parametrize("rows", [1, 3, 64, 65, 20_000])
def test_tables_give_the_classifiers_log_odds(
    fitted: tuple[HistGradientBoostingClassifier, np.ndarray], rows: int
) -> None:
    model, features = fitted
    batch = np.resize(features, (rows, features.shape[1]))
    table = TreeTable(model)
    np.testing.assert_allclose(
        table.decision(batch), model.decision_function(batch), rtol=1e-12, atol=1e-12
    )


def test_a_row_of_missing_values_follows_each_trees_missing_branch(
    fitted: tuple[HistGradientBoostingClassifier, np.ndarray],
) -> None:
    model, features = fitted
    empty = np.full((1, features.shape[1]), np.nan)
    np.testing.assert_allclose(TreeTable(model).decision(empty), model.decision_function(empty))


def test_only_binary_classifiers_are_tabled() -> None:
    rng = np.random.default_rng(0)
    three = HistGradientBoostingClassifier(max_iter=3).fit(
        rng.standard_normal((90, 2)), np.repeat([0, 1, 2], 30)
    )
    with pytest.raises(ValueError, match="binary"):
        TreeTable(three)


def test_the_flat_walk_gives_the_classifiers_log_odds_for_many_rows_too(
    fitted: tuple[HistGradientBoostingClassifier, np.ndarray],
) -> None:
    """The walk used for a few rows is right for any number of them."""
    model, features = fitted
    np.testing.assert_allclose(
        TreeTable(model)._walk(features), model.decision_function(features), rtol=1e-12, atol=1e-12
    )


def test_contributions_sum_to_the_log_odds_less_the_average(
    fitted: tuple[HistGradientBoostingClassifier, np.ndarray],
) -> None:
    model, features = fitted
    table = TreeTable(model)
    credited = table.contributions(features)
    assert credited.shape == features.shape
    np.testing.assert_allclose(
        credited.sum(axis=1) + table.bias_, model.decision_function(features), atol=1e-9
    )


def test_contributions_credit_the_features_the_label_depends_on(
    fitted: tuple[HistGradientBoostingClassifier, np.ndarray],
) -> None:
    """Features 3-5 carry no signal: the trees' splits on them move little."""
    model, features = fitted
    credited = np.abs(TreeTable(model).contributions(features)).mean(axis=0)
    assert credited[:3].min() > 3 * credited[3:].max()
    # A row far inside the gear rule is credited on the facts of the rule.
    row = np.array([[1.5, -1.0, 0.0, 0.0, 0.0, 0.0]])
    credit = TreeTable(model).contributions(row)[0]
    assert credit[0] > 0 and credit[1] > 0
    assert credit[:2].sum() > np.abs(credit[3:]).sum()
