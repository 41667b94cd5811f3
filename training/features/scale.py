"""`FlooredScaler`: standardising whose spread is floored for named columns.

A one-hot column that is rarely set has a small spread, so standardising it lets the
penalty of the linear layer allow a huge raw effect: every parcel of a lane the training
data rarely saw would be judged by that lane alone. The spread of such columns is floored
instead (`RARE_INDICATOR_SPREAD`); every other column is standardised as `StandardScaler`
does, to the last bit.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

# The least spread a one-hot column is standardised by (that of one set in ~10 rows).
RARE_INDICATOR_SPREAD: Final = 0.3


class FlooredScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """`StandardScaler`, with the spread of the columns whose names start with one of
    `floored_prefixes` at least `min_scale`.

    Naming columns needs names: with `floored_prefixes`, fit on a DataFrame (as a pipeline
    step after a transformer whose output is set to pandas). Learned: `mean_`, `var_`,
    `scale_` (the spread divided by, floored where `floored_`), `n_samples_seen_`.
    """

    def __init__(
        self,
        min_scale: float = RARE_INDICATOR_SPREAD,
        floored_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.min_scale = min_scale
        self.floored_prefixes = floored_prefixes

    def fit(self, X: Any, y: Any = None) -> FlooredScaler:  # noqa: N803 (sklearn's name)
        """Learn each column's mean and spread; `y` is not used."""
        prefixes = tuple(self.floored_prefixes)
        data = validate_data(self, X, dtype=np.float64)
        names = getattr(self, "feature_names_in_", None)
        if prefixes and names is None:
            raise ValueError(
                "FlooredScaler names the columns to floor by prefix: fit it on a DataFrame "
                "(or leave floored_prefixes empty)"
            )
        # The moments as StandardScaler computes them, so unfloored columns match it exactly.
        moments = StandardScaler().fit(data)
        self.mean_: np.ndarray = moments.mean_
        self.var_: np.ndarray = moments.var_
        self.n_samples_seen_ = moments.n_samples_seen_
        self.floored_: np.ndarray = np.zeros(data.shape[1], dtype=bool)
        if prefixes and names is not None:
            self.floored_ = np.array([str(n).startswith(prefixes) for n in names], dtype=bool)
        spread = moments.scale_
        self.scale_: np.ndarray = np.where(
            self.floored_, np.maximum(spread, self.min_scale), spread
        )
        return self

    def transform(self, X: Any) -> np.ndarray:  # noqa: N803 (sklearn's name)
        """(X - mean_) / scale_, validated (`RiskModel.score` does the arithmetic itself)."""
        check_is_fitted(self)
        data = validate_data(self, X, dtype=np.float64, reset=False, copy=True)
        data -= self.mean_
        data /= self.scale_
        return np.asarray(data)
