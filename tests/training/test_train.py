from __future__ import annotations

import numpy as np
import pandas as pd

from training.features import BORROWED_WORDING, REPEAT_COLUMN
from training.labelled import usable_labelled_rows
from training.model import columns_of
from training.train import with_repeats


def _same(left: np.ndarray, right: np.ndarray) -> bool:
    """Equal element for element, a missing value (None or NaN) equal to a missing one."""
    if left.dtype != right.dtype or len(left) != len(right):
        return False
    missing = pd.isna(left)
    return bool((missing == pd.isna(right)).all() and (left[~missing] == right[~missing]).all())


def test_repeated_written_rows_are_the_columns_of_the_concatenated_frames(
    synthetic_sample: pd.DataFrame,
) -> None:
    frame, _ = usable_labelled_rows(synthetic_sample)
    train = frame.iloc[:300]
    # Written sets lack the generator's own columns and may bring one of their own.
    written = frame.iloc[300:380].drop(columns=[BORROWED_WORDING]).assign(writer="w1")
    plain = columns_of(
        pd.concat(
            [train, *(written.assign(**{REPEAT_COLUMN: k}) for k in range(4))],
            ignore_index=True,
        )
    )

    fast = with_repeats(train, written, 4)

    assert set(fast) == set(plain)
    for name in plain:
        assert _same(fast[name], plain[name]), name
    repeat = np.asarray(fast[REPEAT_COLUMN], dtype=float)
    assert np.isnan(repeat[:300]).all()
    assert (repeat[300:] == np.repeat(np.arange(4.0), 80)).all()
