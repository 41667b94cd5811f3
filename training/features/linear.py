"""Outputs of the fitted linear text models, computed the way sklearn computes them but
without its cost per call: one sparse product serves every model of a set.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

# The fitted text models' coefficients, transposed and side by side, built once per process
# for each set of models: one sparse product then serves them all. sklearn's predict on a
# sparse row multiplies by `coef_.T`, which scipy copies on every call (1.5 ms for the
# 36-chapter model per single declaration); and each product has a fixed cost (~50 us for
# one row), paid once instead of four times. Column by column the sums are scipy's own, so
# the values are those of one product per model.
_STACKED: weakref.WeakKeyDictionary[Any, tuple[tuple[np.ndarray, ...], np.ndarray, list[int]]] = (
    weakref.WeakKeyDictionary()
)


def _stacked_coef(models: Sequence[Any]) -> tuple[np.ndarray, list[int]]:
    """(coefficients as one features x outputs array, each model's first output column)."""
    sources = tuple(model.coef_ for model in models)
    cached = _STACKED.get(models[0])
    # Checked by identity: refitting a model gives it new coefficient arrays.
    if (
        cached is None
        or len(cached[0]) != len(sources)
        or any(a is not b for a, b in zip(cached[0], sources, strict=False))
    ):
        blocks = [np.atleast_2d(coef).T for coef in sources]
        starts = np.cumsum([0] + [block.shape[1] for block in blocks]).tolist()
        cached = _STACKED[models[0]] = (sources, np.ascontiguousarray(np.hstack(blocks)), starts)
    return cached[1], cached[2]


def linear_outputs(models: Sequence[Any], matrix: sp.csr_matrix) -> list[np.ndarray]:
    """`decision_function` / `predict` of each linear model, from one sparse product."""
    coef, starts = _stacked_coef(models)
    scores = np.asarray(matrix @ coef)
    out = []
    for model, start, end in zip(models, starts, starts[1:], strict=False):
        part = scores[:, start:end] + model.intercept_
        out.append(part[:, 0] if end - start == 1 else part)
    return out


def log_probabilities(decision: np.ndarray) -> np.ndarray:
    """`predict_log_proba` of a log-loss SGDClassifier (one-vs-rest, normalised) from its
    decision function, as sklearn computes it."""
    if decision.ndim == 1:  # two classes: sklearn keeps one column
        positive = expit(decision)
        proba = np.column_stack([1.0 - positive, positive])
    else:
        proba = expit(decision)
        totals = proba.sum(axis=1, keepdims=True)
        proba = np.divide(
            proba, totals, out=np.full_like(proba, 1.0 / proba.shape[1]), where=totals > 0
        )
    with np.errstate(divide="ignore"):
        return np.log(proba)
