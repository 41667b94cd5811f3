"""The written corpora: labelled declarations written by people, not by the generator.

A model learned from a generator is only as good as the generator's picture of the trade, so
it is judged on declarations written independently of it (see corpora/README.md for how
each set was made). Sets live in three folders of `corpora/` by what they may be used for:

- `train/`: written sets the model may learn from (added to the synthetic data);
- `calibration/`: ordinary traffic that sets the decision thresholds (never trained on);
- `blind/`: sets nobody tuning the model reads; only their aggregate metrics are looked at,
  once per model change.

This module finds the sets and measures a model on them, parcel by parcel as an officer
meets them: how many ordinary parcels go to review or inspect, how much gear is caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from training.labelled import read_labelled, usable_labelled_rows
from training.metrics import risk_metrics
from training.model import RiskModel, Thresholds, columns_of, parcel_scores, threshold_at_fpr

# Folders of a corpora directory, by use.
TRAIN: Final = "train"
CALIBRATION: Final = "calibration"
BLIND: Final = "blind"
# Headline figures of a set, in the order they are reported.
HEADLINE: Final = (
    "roc_auc",
    "average_precision",
    "recall_at_2pct_fpr",
    "benign_parcels_flagged",
    "benign_parcels_inspected",
    "gear_parcels_caught",
    "gear_parcels_caught_new_parties",
    "gear_parcels_caught_alone",
)


@dataclass(frozen=True)
class WrittenSet:
    name: str
    use: str
    path: Path


def written_sets(root: Path, use: str) -> list[WrittenSet]:
    """The CSV sets of one use under a corpora directory, by name (none if it is absent)."""
    folder = Path(root) / use
    if not folder.is_dir():
        return []
    return [WrittenSet(p.stem, use, p) for p in sorted(folder.glob("*.csv"))]


def read_set(written: WrittenSet) -> pd.DataFrame:
    """A written set, normalised and with usable labels only (through the export reader)."""
    frame, _ = usable_labelled_rows(read_labelled(written.path))
    return frame


def _parcels(frame: pd.DataFrame, risk_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per parcel (in order of first appearance): its score (that of its riskiest item) and
    whether it carries gear."""
    ids = frame["declaration_id"].to_numpy()
    parcel = parcel_scores(ids, np.asarray(risk_score, dtype=float))
    gear = frame.groupby("declaration_id", sort=False)["label"].transform("max").to_numpy()
    first = ~pd.Series(ids).duplicated().to_numpy()
    return parcel[first], gear[first] == 1


def new_parties(frame: pd.DataFrame) -> np.ndarray:
    """Per parcel (in order of first appearance): whether neither its sender nor its
    recipient is on a parcel posted before it in the set (the file's order breaks ties), so
    that nothing in the set speaks for or against them yet."""
    parcels = frame.drop_duplicates("declaration_id")
    order = np.argsort(pd.to_datetime(parcels["posted_at"]).to_numpy(), kind="stable")
    new = np.zeros(len(parcels), dtype=bool)
    seen_senders: set[object] = set()
    seen_recipients: set[object] = set()
    senders = parcels["sender_id"].to_numpy()
    recipients = parcels["recipient_id"].to_numpy()
    for i in order:
        sender, recipient = senders[i], recipients[i]
        new[i] = (pd.isna(sender) or sender not in seen_senders) and (
            pd.isna(recipient) or recipient not in seen_recipients
        )
        if not pd.isna(sender):
            seen_senders.add(sender)
        if not pd.isna(recipient):
            seen_recipients.add(recipient)
    return new


def parcel_rates(
    frame: pd.DataFrame, risk_score: np.ndarray, thresholds: Thresholds
) -> dict[str, Any]:
    """Decisions per parcel at the thresholds: the share of all-benign parcels sent to review
    or inspect (the officers' false alarms) and of parcels with gear caught at review."""
    score, gear = _parcels(frame, risk_score)
    out: dict[str, Any] = {
        "parcels": len(score),
        "benign_parcels": int((~gear).sum()),
        "gear_parcels": int(gear.sum()),
    }
    if (~gear).any():
        out["benign_parcels_flagged"] = float(np.mean(score[~gear] >= thresholds.review))
        out["benign_parcels_inspected"] = float(np.mean(score[~gear] >= thresholds.inspect))
    if gear.any():
        out["gear_parcels_caught"] = float(np.mean(score[gear] >= thresholds.review))
        out["gear_parcels_inspected"] = float(np.mean(score[gear] >= thresholds.inspect))
    return out


def measure(model: RiskModel, frame: pd.DataFrame) -> dict[str, Any]:
    """Item metrics (where the set has both labels) and parcel decisions of a model."""
    scores = model.score_together(columns_of(frame))
    labels = frame["label"].to_numpy()
    metrics: dict[str, Any] = {"items": len(frame), "positives": int(labels.sum())}
    if 0 < labels.sum() < len(labels):
        metrics = risk_metrics(
            labels, scores.risk_score, frame["label_class"].to_numpy(), scores.risk_class
        )
        metrics.pop("reliability", None)
    metrics.update(parcel_rates(frame, scores.risk_score, model.thresholds_))
    if metrics.get("gear_parcels"):
        # Gear from parties the set has not met before: what a new sender's first parcel
        # meets (the written sets' repeat senders lift the rate above).
        score, gear = _parcels(frame, scores.risk_score)
        first = new_parties(frame) & gear
        if first.any():
            caught = float(np.mean(score[first] >= model.thresholds_.review))
            metrics["gear_parcels_caught_new_parties"] = caught
        # Every parcel scored on its own facts, as if none of its parties' earlier parcels
        # were at hand (an empty store, a file cut after them): a repeat sender's later,
        # better hidden parcels then read as a stranger's.
        alone = model.score(columns_of(frame)).risk_score
        caught = parcel_rates(frame, alone, model.thresholds_)["gear_parcels_caught"]
        metrics["gear_parcels_caught_alone"] = caught
    return metrics


def parcel_threshold(frame: pd.DataFrame, risk_score: np.ndarray, flagged_share: float) -> float:
    """The lowest cut-off that sends at most `flagged_share` of the all-benign parcels of
    `frame` to a decision (a parcel is as risky as its riskiest item)."""
    score, gear = _parcels(frame, risk_score)
    if gear.all():
        raise ValueError("no ordinary parcels to set thresholds on")
    return threshold_at_fpr(score, ~gear, flagged_share)
