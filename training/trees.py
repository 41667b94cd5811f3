"""A fitted gradient-boosted tree ensemble's log-odds, fast for one row and for many, and
what each feature added to them (`TreeTable`).

scikit-learn's `HistGradientBoostingClassifier.decision_function` walks its trees one at a
time from Python: ~15 us a tree for every call, ~1.2 ms for one declaration on 80 trees,
several times the rest of its scoring. For a few rows every tree of the ensemble is one row
of flat node arrays here, and all trees advance one level at a time for all rows together:
a call costs a few numpy operations per level of depth (~40 us). For many rows
scikit-learn's compiled walk is faster (~9 us a row against ~25) and is used as it is. A
test pins both to `decision_function`.

What each feature added is read off each row's path (Saabas's attribution): every split
moves the row from a node's average log-odds to its child's, and that step is credited to
the feature the node splits on. The steps of a path sum to its leaf's value less the tree's
average, so a row's contributions sum to its log-odds less the ensemble's average (`bias_`).
"""

from __future__ import annotations

from typing import Final

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

# Up to this many rows the flat tables answer; above it scikit-learn's compiled walk does.
_TABLE_ROWS: Final = 64


class TreeTable:
    """The nodes of every tree of a fitted binary `HistGradientBoostingClassifier`, flat.

    `decision(X)` equals the classifier's `decision_function(X)` (the raw log-odds).
    """

    def __init__(self, fitted: HistGradientBoostingClassifier) -> None:
        if fitted.n_trees_per_iteration_ != 1:
            raise ValueError("only a binary classifier's trees can be tabled")
        trees = [predictors[0].nodes for predictors in fitted._predictors]
        if any(tree["is_categorical"].any() for tree in trees):
            raise ValueError("categorical splits are not supported")
        offsets = np.cumsum([0] + [len(tree) for tree in trees[:-1]])
        nodes = np.concatenate(trees)
        starts = np.repeat(offsets, [len(tree) for tree in trees])
        leaf = nodes["is_leaf"].astype(bool)
        # A leaf points at itself, so rows that reach a leaf early stay there.
        here = np.arange(len(nodes))
        self.left_ = np.where(leaf, here, nodes["left"] + starts).astype(np.intp)
        self.right_ = np.where(leaf, here, nodes["right"] + starts).astype(np.intp)
        self.feature_ = np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp)
        self.threshold_ = nodes["num_threshold"].astype(np.float64)
        self.missing_left_ = nodes["missing_go_to_left"].astype(bool)
        self.roots_ = offsets.astype(np.intp)
        # A leaf's value is its share of the log-odds; a split node's, the average of the
        # leaves below it (what reasons measure each split's step from).
        self.node_value_ = _node_values(nodes, leaf, offsets, fitted.learning_rate)
        self.depth_ = int(nodes["depth"].max()) if len(nodes) else 0
        self.baseline_ = float(np.ravel(fitted._baseline_prediction)[0])
        self.bias_ = float(self.node_value_[self.roots_].sum()) + self.baseline_
        self.fitted_ = fitted

    def decision(self, features: np.ndarray) -> np.ndarray:
        """The ensemble's raw log-odds for each row of `features` (rows x features)."""
        features = np.asarray(features, dtype=np.float64)
        if len(features) > _TABLE_ROWS:
            return np.asarray(self.fitted_.decision_function(features), dtype=np.float64)
        return self._walk(features)

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """Per row and feature, the log-odds the feature's splits added on the row's paths
        (rows x features); each row sums to `decision(features) - bias_`."""
        features = np.asarray(features, dtype=np.float64)
        n, width = features.shape
        rows = np.arange(n)[:, None]
        node = self._roots(n)
        out = np.zeros(n * width)
        for _ in range(self.depth_):
            child = self._step(features, rows, node)
            # A row already at its leaf steps to itself and adds nothing.
            step = self.node_value_[child] - self.node_value_[node]
            out += np.bincount(
                (rows * width + self.feature_[node]).ravel(),
                weights=step.ravel(),
                minlength=n * width,
            )
            node = child
        return out.reshape(n, width)

    def _walk(self, features: np.ndarray) -> np.ndarray:
        rows = np.arange(len(features))[:, None]
        node = self._roots(len(features))
        for _ in range(self.depth_):
            node = self._step(features, rows, node)
        return np.asarray(self.node_value_[node].sum(axis=1) + self.baseline_)

    def _roots(self, n: int) -> np.ndarray:
        """Every tree's root, for each of `n` rows (rows x trees)."""
        return np.broadcast_to(self.roots_, (n, len(self.roots_))).copy()

    def _step(self, features: np.ndarray, rows: np.ndarray, node: np.ndarray) -> np.ndarray:
        """Each row's node one level down in every tree (a leaf stays where it is)."""
        x = features[rows, self.feature_[node]]
        left = np.where(np.isnan(x), self.missing_left_[node], x <= self.threshold_[node])
        return np.where(left, self.left_[node], self.right_[node])


def _node_values(
    nodes: np.ndarray, leaf: np.ndarray, offsets: np.ndarray, learning_rate: float
) -> np.ndarray:
    """Every node's average log-odds contribution, on the scale of its tree's leaves.

    scikit-learn keeps a split node's value before the learning rate's shrinkage (a leaf's
    after it) and leaves a root's unset: the root's is the count-weighted mean of its
    children's.
    """
    value = np.where(leaf, nodes["value"], nodes["value"] * learning_rate).astype(np.float64)
    count = nodes["count"].astype(np.float64)
    for root in offsets.tolist():
        if leaf[root]:
            continue
        left, right = int(nodes["left"][root]) + root, int(nodes["right"][root]) + root
        value[root] = (value[left] * count[left] + value[right] * count[right]) / (
            count[left] + count[right]
        )
    return value
