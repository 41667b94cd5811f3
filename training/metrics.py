"""Metrics of item risk scores, as customs selection is judged.

Recall at a fixed false-alarm rate on benign items is the headline (an officer's time is
spent on false alarms); precision/recall when the top k% of items are inspected is the
customs-selection convention; Brier score and a reliability table check calibration.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from training.schema import RISK_CLASSES

FPR_POINTS: Final = (0.01, 0.02, 0.05)
TOP_SHARES: Final = (0.01, 0.02, 0.05)


def recall_at_fpr(label: np.ndarray, score: np.ndarray, fpr: float) -> float:
    """Share of positives scored above the cut that lets through `fpr` of negatives."""
    negatives = np.sort(score[label == 0])[::-1]
    positives = score[label == 1]
    if len(negatives) == 0 or len(positives) == 0:
        return float("nan")
    allowed = int(np.floor(fpr * len(negatives)))
    cut = negatives[min(allowed, len(negatives) - 1)]
    return float(np.mean(positives > cut))


def _top_share(label: np.ndarray, score: np.ndarray, share: float) -> tuple[float, float]:
    k = max(1, round(share * len(score)))
    order = np.argsort(-score, kind="stable")[:k]
    hits = label[order].sum()
    positives = label.sum()
    return float(hits / k), float(hits / positives) if positives else float("nan")


def reliability_table(label: np.ndarray, score: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(score, edges[1:-1]), 0, bins - 1)
    table = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            table.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "items": int(mask.sum()),
                    "mean_score": float(score[mask].mean()),
                    "observed_rate": float(label[mask].mean()),
                }
            )
    return table


def risk_metrics(
    label: np.ndarray,
    score: np.ndarray,
    label_class: np.ndarray | None = None,
    risk_class: np.ndarray | None = None,
) -> dict[str, Any]:
    label = np.asarray(label, dtype=int)
    score = np.asarray(score, dtype=float)
    out: dict[str, Any] = {"items": len(label), "positives": int(label.sum())}
    if 0 < label.sum() < len(label):
        out["roc_auc"] = float(roc_auc_score(label, score))
        out["average_precision"] = float(average_precision_score(label, score))
    out["brier"] = float(brier_score_loss(label, score)) if len(label) else float("nan")
    for fpr in FPR_POINTS:
        out[f"recall_at_{round(fpr * 100)}pct_fpr"] = recall_at_fpr(label, score, fpr)
    for share in TOP_SHARES:
        precision, recall = _top_share(label, score, share)
        out[f"precision_top_{round(share * 100)}pct"] = precision
        out[f"recall_top_{round(share * 100)}pct"] = recall
    if label_class is not None:
        label_class = np.asarray(label_class, dtype=object)
        negatives = np.sort(score[label == 0])[::-1]
        cut = (
            negatives[min(int(0.05 * len(negatives)), len(negatives) - 1)]
            if len(negatives)
            else 0.5
        )
        per_class: dict[str, Any] = {}
        for name in RISK_CLASSES:
            mask = label_class == name
            if mask.any():
                entry: dict[str, Any] = {
                    "items": int(mask.sum()),
                    "recall_at_5pct_fpr": float(np.mean(score[mask] > cut)),
                }
                if risk_class is not None:
                    entry["class_accuracy"] = float(
                        np.mean(np.asarray(risk_class, dtype=object)[mask] == name)
                    )
                per_class[name] = entry
        out["per_class"] = per_class
    out["reliability"] = reliability_table(label, score)
    return out


HEADLINE: Final = (
    "roc_auc",
    "average_precision",
    "recall_at_1pct_fpr",
    "recall_at_2pct_fpr",
    "recall_at_5pct_fpr",
    "precision_top_5pct",
    "brier",
)
