"""`FlooredScaler` standardises as StandardScaler does, but for the floor of the spread of
the columns it names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

from training.features import RARE_INDICATOR_SPREAD, FlooredScaler


def _mixed_columns(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "weight": rng.lognormal(0.0, 1.0, rows),
            "value": rng.normal(40.0, 0.01, rows),  # a small spread, but not one-hot
            "lane_rare": (rng.random(rows) < 0.01).astype(float),  # spread ~0.1: floored
            "lane_common": (rng.random(rows) < 0.5).astype(float),  # spread ~0.5: kept
            "lane_never": np.zeros(rows),  # no spread at all: 1 as StandardScaler, kept
            "constant": np.full(rows, 3.0),
        }
    )


def test_the_floored_scaler_is_standard_scaling_but_for_rare_indicators() -> None:
    frame = _mixed_columns()
    standard = StandardScaler().fit(frame)
    floored = FlooredScaler(floored_prefixes=("lane_",)).fit(frame)

    assert list(floored.feature_names_in_) == list(frame.columns)
    assert floored.floored_.tolist() == [False, False, True, True, True, False]
    np.testing.assert_array_equal(floored.mean_, standard.mean_)
    np.testing.assert_array_equal(floored.var_, standard.var_)
    assert floored.n_samples_seen_ == standard.n_samples_seen_
    expected = standard.scale_.copy()
    expected[2] = RARE_INDICATOR_SPREAD  # its own spread is below the floor
    assert standard.scale_[2] < RARE_INDICATOR_SPREAD < standard.scale_[3]
    np.testing.assert_array_equal(floored.scale_, expected)

    # Columns not floored are StandardScaler's to the last bit; a floored one is divided
    # by the floor.
    ours, theirs = floored.transform(frame), standard.transform(frame)
    kept = ~np.isclose(floored.scale_, RARE_INDICATOR_SPREAD)
    np.testing.assert_array_equal(ours[:, kept], theirs[:, kept])
    np.testing.assert_array_equal(
        ours[:, 2], (frame["lane_rare"] - standard.mean_[2]) / RARE_INDICATOR_SPREAD
    )
    np.testing.assert_array_equal(floored.fit_transform(frame), ours)
    assert list(floored.get_feature_names_out()) == list(frame.columns)

    # Without prefixes it is StandardScaler everywhere, on names or plain arrays.
    plain = FlooredScaler().fit(frame.to_numpy())
    assert not plain.floored_.any()
    np.testing.assert_array_equal(plain.transform(frame.to_numpy()), theirs)


def test_the_floored_scaler_needs_names_to_floor_by() -> None:
    with pytest.raises(ValueError, match="fit it on a DataFrame"):
        FlooredScaler(floored_prefixes=("lane_",)).fit(_mixed_columns().to_numpy())
