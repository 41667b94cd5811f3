"""Vectorised sampling: inverse-CDF draws from cumulative distributions, one per row or per
group of rows, and the array types the generator passes around.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]
# A section of the generator's settings (`knowledge.generator_settings()`).
Settings = dict[str, Any]


def probabilities(weights: Sequence[float] | FloatArray) -> FloatArray:
    array = np.asarray(weights, dtype=np.float64)
    total = array.sum()
    if total <= 0:
        raise ValueError("weights must have a positive sum")
    return np.asarray(array / total, dtype=np.float64)


def cumulative(weights: Sequence[float] | FloatArray) -> FloatArray:
    cumulative = np.cumsum(probabilities(weights))
    cumulative[-1] = 1.0
    return cumulative


def draw(cumulative: FloatArray, uniform: FloatArray) -> IntArray:
    """Inverse-CDF draws: indices into the distribution whose cumulative is given."""
    return np.searchsorted(cumulative, uniform, side="right").astype(np.int64)


def grouped(keys: IntArray) -> Iterator[tuple[int, IntArray]]:
    """(key, positions) for each distinct key, by sorting once instead of masking per key."""
    if len(keys) == 0:
        return
    order = np.argsort(keys, kind="stable")
    boundaries = np.flatnonzero(np.diff(keys[order])) + 1
    for rows in np.split(order, boundaries):
        yield int(keys[rows[0]]), rows


def draw_by_row(table: FloatArray, rows: IntArray, rng: np.random.Generator) -> IntArray:
    """One draw per element from the cumulative distribution in `table[rows[i]]`."""
    out = np.empty(len(rows), dtype=np.int64)
    uniform = rng.random(len(rows))
    for row, positions in grouped(rows):
        out[positions] = draw(table[row], uniform[positions])
    return np.asarray(np.minimum(out, table.shape[1] - 1), dtype=np.int64)


def cumulative_table(weights: FloatArray) -> FloatArray:
    """Row-wise cumulative distributions; rows with no weight fall back to uniform."""
    table = np.asarray(weights, dtype=np.float64).copy()
    empty = table.sum(axis=1) <= 0
    table[empty] = 1.0
    table = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    table[:, -1] = 1.0
    return table


def mapping_weights(mapping: dict[str, float], keys: Sequence[str]) -> FloatArray:
    return np.array([mapping.get(key, 0.0) for key in keys], dtype=np.float64)


def sample_from_groups(keys: IntArray, lookup: Sequence[Any], rng: np.random.Generator) -> IntArray:
    """Per element, an index drawn from the cumulative distribution `lookup[key]`."""
    out = np.zeros(len(keys), dtype=np.int64)
    uniform = rng.random(len(keys))
    for key, rows in grouped(keys):
        out[rows] = draw(lookup[key], uniform[rows])
    return out
