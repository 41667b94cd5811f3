"""Training runs: split by time, fit, calibrate, choose thresholds, measure, describe.

The newest share of parcels (by `posted_at`) is held out: calibration, thresholds and the
reported metrics all come from data later than anything the model trained on, as in
service, where the model always scores tomorrow's declarations.
"""

from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from training import knowledge
from training.corpora import parcel_threshold
from training.features import REPEAT_COLUMN
from training.labelled import usable_labelled_rows
from training.metrics import risk_metrics
from training.model import RiskModel, Thresholds, columns_of, threshold_at_fpr

# name -> (review, inspect) false-alarm rates: on ordinary parcels of the calibration sets
# when there are any, else on benign items of the held-out split.
THRESHOLD_PROFILES = {"strict": (0.05, 0.01), "lenient": (0.01, 0.002)}
# Default false-alarm rates on ordinary written traffic: the share of ordinary parcels an
# officer is sent (review, inspect).
REVIEW_PARCEL_SHARE = 0.02
INSPECT_PARCEL_SHARE = 0.005
# Without ordinary written traffic: false-alarm rates on benign items of the hold-out.
REVIEW_ITEM_FPR = 0.03
INSPECT_ITEM_FPR = 0.005


@dataclass
class TrainingResult:
    model: RiskModel
    card: dict[str, Any]
    holdout: pd.DataFrame = field(repr=False)


def fingerprint(frame: pd.DataFrame) -> str:
    """A stable digest of the training rows (content, not file bytes)."""
    hashed = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def time_split(frame: pd.DataFrame, holdout_share: float) -> np.ndarray:
    """True for rows of the newest `holdout_share` of parcels (whole parcels, by date)."""
    posted = frame.groupby("declaration_id", sort=False)["posted_at"].transform("min")
    if posted.isna().all():
        # No dates at all: fall back to file order, the usual order of an export.
        order = frame.groupby("declaration_id", sort=False).ngroup().to_numpy()
        return np.asarray(order >= order.max() * (1 - holdout_share))
    cut = posted.quantile(1 - holdout_share)
    return np.asarray(posted > cut)


def with_repeats(train: pd.DataFrame, written: pd.DataFrame, repeat: int) -> dict[str, np.ndarray]:
    """Item columns of `train` followed by `repeat` copies of `written`, each copy numbered
    (`REPEAT_COLUMN`: a repeat is a parcel of its own for the parcel features).

    The same columns as concatenating `train` and the numbered copies as frames, without
    building a frame of ~50 copies and converting it column by column (8 s of every build).
    """
    both = columns_of(pd.concat([train, written.assign(**{REPEAT_COLUMN: 0})], ignore_index=True))
    own, copies = len(train), len(written)
    numbers = np.repeat(np.arange(repeat, dtype=float), copies)
    return {
        name: np.concatenate(
            [values[:own], numbers.astype(values.dtype)]
            if name == REPEAT_COLUMN
            else [values[:own], *[values[own:]] * repeat]
        )
        for name, values in both.items()
    }


def fit_and_evaluate(
    frame: pd.DataFrame,
    *,
    holdout_share: float = 0.2,
    random_state: int = 0,
    review_fpr: float | None = None,
    inspect_fpr: float | None = None,
    written: pd.DataFrame | None = None,
    written_repeat: int = 1,
    calibration: pd.DataFrame | None = None,
) -> TrainingResult:
    """Fit on the older rows, calibrate and measure on the newer ones.

    `written` rows (labelled declarations written by people) always train, each repeated
    `written_repeat` times so a few hundred of them weigh against the generator's many.
    With `calibration` (ordinary traffic, never trained on), the decision thresholds send
    `review_fpr` / `inspect_fpr` of its ordinary parcels to review / inspect (default 2% /
    0.5%); otherwise they are those rates on benign items of the held-out split (default
    3% / 0.5%).
    """
    started = time.perf_counter()
    frame, skipped = usable_labelled_rows(frame)
    if frame["label"].nunique() < 2:
        raise ValueError("training needs both positive and negative labelled items")
    holdout_mask = time_split(frame, holdout_share)
    train, holdout = frame[~holdout_mask], frame[holdout_mask]
    if holdout["label"].nunique() < 2:
        raise ValueError("the held-out (newest) rows need both positive and negative items")
    written_rows = 0
    if written is not None and len(written):
        written, _ = usable_labelled_rows(written)
        written_rows = len(written)
        train_items = with_repeats(train, written, written_repeat)
    else:
        train_items = columns_of(train)

    model = RiskModel(random_state=random_state)
    model.fit(train_items, train_items["label_class"], label=train_items["label"])
    holdout_items = columns_of(holdout)
    scores = model.calibrate(holdout_items, holdout["label"].to_numpy())
    # Cut-offs are set on the scores of benign items (the false-alarm rate the contract
    # names); a parcel is then flagged when its riskiest item passes them. Counting benign
    # lines of gear parcels as false alarms would push the cut-offs to near 1.
    benign = holdout["label"].to_numpy() == 0
    if calibration is not None:
        calibration, _ = usable_labelled_rows(calibration)
        calibration_scores = model.score_together(columns_of(calibration)).risk_score

        def cut(share: float) -> float:
            return parcel_threshold(calibration, calibration_scores, share)

        threshold_basis = (
            f"ordinary parcels of the calibration sets ({calibration['declaration_id'].nunique()}"
            " parcels of written traffic, never trained on)"
        )
    else:

        def cut(share: float) -> float:
            return threshold_at_fpr(scores.risk_score, benign, share)

        threshold_basis = "benign items of the synthetic hold-out"
    if review_fpr is None:
        review_fpr = REVIEW_PARCEL_SHARE if calibration is not None else REVIEW_ITEM_FPR
    if inspect_fpr is None:
        inspect_fpr = INSPECT_PARCEL_SHARE if calibration is not None else INSPECT_ITEM_FPR
    review_cut = cut(review_fpr)
    thresholds = Thresholds(review_cut, max(review_cut, cut(inspect_fpr)), review_fpr, inspect_fpr)
    model.thresholds_ = thresholds
    # Alternative operating points a deployment can pick by name (`--threshold-profile`):
    # review / inspect false-alarm rates on the same basis.
    profiles = {
        name: {
            "review": cut(review),
            "inspect": max(cut(review), cut(inspect)),
            "review_fpr": review,
            "inspect_fpr": inspect,
        }
        for name, (review, inspect) in THRESHOLD_PROFILES.items()
    }
    profiles["default"] = thresholds.as_dict()
    metrics = risk_metrics(
        holdout["label"].to_numpy(),
        scores.risk_score,
        holdout["label_class"].to_numpy(),
        scores.risk_class,
    )
    scored = holdout.assign(risk_score=scores.risk_score, risk_class=scores.risk_class)
    # The parcels whose sender had sent before: where the parties' history can speak.
    repeat_metrics = None
    if "sender_parcels_before" in holdout.columns:
        repeat = holdout["sender_parcels_before"].fillna(0).to_numpy(dtype=float) > 0
        if holdout["label"][repeat].nunique() == 2:
            repeat_metrics = risk_metrics(
                holdout["label"].to_numpy()[repeat],
                scores.risk_score[repeat],
                holdout["label_class"].to_numpy()[repeat],
                scores.risk_class[repeat],
            )
            repeat_metrics.pop("reliability", None)
            repeat_metrics["items"] = int(repeat.sum())
    card = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model.describe(),
        "training_data": {
            "rows": len(frame),
            "train_rows": len(train_items["label"]),
            "holdout_rows": len(holdout),
            "holdout": f"newest {holdout_share:.0%} of parcels by posted_at",
            "holdout_from": str(holdout["posted_at"].min()),
            "positives": int(frame["label"].sum()),
            "class_counts": {k: int(v) for k, v in frame["label_class"].value_counts().items()},
            "skipped": skipped,
            "fingerprint": fingerprint(frame),
            "written_rows": written_rows,
            "written_repeat": written_repeat if written_rows else 0,
        },
        "thresholds": thresholds.as_dict(),
        "thresholds_set_on": threshold_basis,
        "legal_basis": knowledge.legal_basis(),
        "threshold_profiles": profiles,
        "metrics": {
            "holdout": metrics,
            **({"holdout_repeat_senders": repeat_metrics} if repeat_metrics else {}),
        },
        "training_seconds": round(time.perf_counter() - started, 1),
        "python": platform.python_version(),
    }
    return TrainingResult(model=model, card=card, holdout=scored)


def evaluate_model(model: RiskModel, frame: pd.DataFrame) -> dict[str, Any]:
    """Metrics of a fitted model on labelled rows (e.g. the sim-to-real check)."""
    frame, _ = usable_labelled_rows(frame)
    scores = model.score_together(columns_of(frame))
    return risk_metrics(
        frame["label"].to_numpy(),
        scores.risk_score,
        frame["label_class"].to_numpy(),
        scores.risk_class,
    )
