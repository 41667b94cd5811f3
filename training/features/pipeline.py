"""The feature stack as one scikit-learn `Pipeline`: text signals, form features, scaling.

Each step is `fit(X, y)` and `transform(X)` with one X. The text step hands on the items
with their signals (`ItemSignals`); its `fit_transform` gives out-of-fold signals, so the
pipeline's fit trains the form layer on text it has not memorised, while `transform` uses
the models fitted on every row. The form step's output is a DataFrame, so the scaler knows
which columns are one-hot (by name) and floors their spread.
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from training.features.form import FormFeatures
from training.features.scale import RARE_INDICATOR_SPREAD, FlooredScaler
from training.features.text_signals import TextSignals


def feature_pipeline(random_state: int = 0) -> Pipeline:
    """Unfitted: `TextSignals` -> `FormFeatures` -> `FlooredScaler` (one-hot columns)."""
    return Pipeline(
        [
            ("text", TextSignals(random_state=random_state)),
            ("form", FormFeatures().set_output(transform="pandas")),
            (
                "scale",
                FlooredScaler(
                    min_scale=RARE_INDICATOR_SPREAD,
                    floored_prefixes=FormFeatures.ONE_HOT_PREFIXES,
                ),
            ),
        ]
    )
