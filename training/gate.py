"""Champion/challenger: a candidate model against the one in service, on the same rows.

`train` scores the candidate's held-out rows (its newest parcels, never trained on) with
both models and keeps the result in the candidate's card. `models promote` judges from
that record, because the held-out rows themselves are not kept with the model: a record
made against a model that is no longer active cannot judge the candidate against the new
one, and the gate says so rather than guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from training.metrics import risk_metrics
from training.model import RiskModel, columns_of

DEFAULT_METRIC: Final = "recall_at_2pct_fpr"

# Metrics where a smaller number is the better model; every other one is "higher is better".
LOWER_IS_BETTER: Final = frozenset({"brier"})

# What the comparison keeps of each model's metrics: the scalar ones a gate can use.
COMPARED_METRICS: Final = (
    "roc_auc",
    "average_precision",
    "recall_at_1pct_fpr",
    "recall_at_2pct_fpr",
    "recall_at_5pct_fpr",
    "precision_top_1pct",
    "precision_top_2pct",
    "precision_top_5pct",
    "recall_top_1pct",
    "recall_top_2pct",
    "recall_top_5pct",
    "brier",
)


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {name: float(metrics[name]) for name in COMPARED_METRICS if name in metrics}


def compare_on_holdout(
    candidate: RiskModel,
    active: RiskModel | None,
    active_version: str | None,
    holdout: pd.DataFrame,
    holdout_description: str,
) -> dict[str, Any]:
    """Metrics of both models on the candidate's held-out rows, for the card and the gate."""
    label = holdout["label"].to_numpy(dtype=int)
    items = columns_of(holdout)
    candidate_metrics = risk_metrics(label, candidate.score_together(items).risk_score)
    comparison: dict[str, Any] = {
        "active_version": active_version,
        "rows": len(holdout),
        "positives": int(label.sum()),
        "held_out": holdout_description,
        "candidate": scalar_metrics(candidate_metrics),
        "active": None,
    }
    if active is not None:
        comparison["active"] = scalar_metrics(
            risk_metrics(label, active.score_together(items).risk_score)
        )
    return comparison


def is_better_or_equal(metric: str, candidate: float, active: float) -> bool:
    if metric in LOWER_IS_BETTER:
        return candidate <= active
    return candidate >= active


@dataclass(frozen=True)
class GateDecision:
    """Whether a candidate may replace the active model, and the numbers behind it."""

    allowed: bool
    metric: str
    candidate_value: float | None
    active_value: float | None
    message: str


def judge(
    candidate_version: str,
    card: dict[str, Any],
    active_version: str | None,
    metric: str = DEFAULT_METRIC,
) -> GateDecision:
    """Decide from the comparison stored in the candidate's card at training time."""
    if metric not in COMPARED_METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(COMPARED_METRICS)}")
    if active_version is None:
        return GateDecision(True, metric, None, None, "no model is active: nothing to beat")
    if active_version == candidate_version:
        return GateDecision(False, metric, None, None, f"{candidate_version} is already active")
    comparison = card.get("comparison")
    if not comparison or comparison.get("active") is None:
        return GateDecision(
            False,
            metric,
            None,
            None,
            f"{candidate_version} has no comparison with the active model {active_version} "
            "(it was trained when no model was active, or before comparisons were kept); "
            "retrain it, or promote with --force --reason",
        )
    if comparison.get("active_version") != active_version:
        return GateDecision(
            False,
            metric,
            None,
            None,
            f"{candidate_version} was compared with {comparison.get('active_version')}, "
            f"but {active_version} is active now; retrain the candidate to compare it with "
            f"{active_version}, or promote with --force --reason",
        )
    candidate_value = comparison["candidate"].get(metric)
    active_value = comparison["active"].get(metric)
    if (
        candidate_value is None
        or active_value is None
        or not (math.isfinite(candidate_value) and math.isfinite(active_value))
    ):
        return GateDecision(
            False,
            metric,
            candidate_value,
            active_value,
            f"{metric} could not be measured on the held-out rows "
            f"({comparison.get('positives', '?')} positives); choose another --metric",
        )
    rows = comparison.get("rows", "?")
    numbers = (
        f"{metric} on {rows} held-out rows: candidate {candidate_version} {candidate_value:.4f}, "
        f"active {active_version} {active_value:.4f}"
    )
    if is_better_or_equal(metric, candidate_value, active_value):
        return GateDecision(True, metric, candidate_value, active_value, numbers)
    return GateDecision(
        False,
        metric,
        candidate_value,
        active_value,
        f"refused: the candidate is worse than the active model ({numbers})",
    )


def change_column(candidate: float | None, active: float | None) -> str:
    """`+0.012` style difference for tables; '-' when either side is missing."""
    if candidate is None or active is None or not np.isfinite([candidate, active]).all():
        return "-"
    return f"{candidate - active:+.3f}"
