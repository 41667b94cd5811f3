"""Accuracy on the realistic labelled sample and on every written set (corpora/): the
default model against the baselines.

The sample (`dev_declarations.csv`, beside the repository) is only ever evaluated on. The
model and the embedding baseline learn from the same synthetic training data; the watch-list
learns from nothing (it is written by hand). With 250 rows (89 positives, 161 benign) one
benign item is 0.6% of the false-alarm budget, so bootstrap intervals are shown as well.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from benchmarks import common, embedding
from training.metrics import recall_at_fpr

FPRS = (0.01, 0.02, 0.05)
BOOTSTRAP = 1000


def headline(label: np.ndarray, score: np.ndarray) -> dict[str, float]:
    out = {
        "roc_auc": float(roc_auc_score(label, score)),
        "average_precision": float(average_precision_score(label, score)),
    }
    for fpr in FPRS:
        out[f"recall_at_{round(fpr * 100)}pct_fpr"] = recall_at_fpr(label, score, fpr)
    return out


def bootstrap(label: np.ndarray, score: np.ndarray, seed: int = 0) -> dict[str, list[float]]:
    """95% percentile intervals of AP and recall at 2% FPR over resampled rows."""
    rng = np.random.default_rng(seed)
    ap, recall = [], []
    for _ in range(BOOTSTRAP):
        pick = rng.integers(0, len(label), len(label))
        if 0 < label[pick].sum() < len(pick):
            ap.append(average_precision_score(label[pick], score[pick]))
            recall.append(recall_at_fpr(label[pick], score[pick], 0.02))
    return {
        "average_precision_95ci": [round(float(q), 3) for q in np.percentile(ap, [2.5, 97.5])],
        "recall_at_2pct_fpr_95ci": [round(float(q), 3) for q in np.percentile(recall, [2.5, 97.5])],
    }


def written_sets(model: Any, watchlist: Any) -> dict[str, Any]:
    """Every written set (corpora/), the model beside the watch-list: item metrics where a
    set has gear, and the model's parcel decisions at its stored thresholds."""
    from training import corpora
    from training.model import columns_of

    out: dict[str, Any] = {}
    for use in (corpora.BLIND, corpora.CALIBRATION, corpora.TRAIN):
        for written in corpora.written_sets(common.CORPORA, use):
            frame = corpora.read_set(written)
            entry: dict[str, Any] = {"use": use, "items": len(frame)}
            entry["parcel-screen"] = corpora.measure(model, frame)
            label = frame["label"].to_numpy(dtype=int)
            if 0 < label.sum() < len(label):
                entry["watch-list"] = headline(label, watchlist.score(columns_of(frame)))
            out[written.name] = entry
    return out


def run(quick: bool, budget: common.Budget) -> dict[str, Any]:
    from training.baselines import Watchlist
    from training.labelled import read_labelled, usable_labelled_rows
    from training.model import columns_of
    from training.pipeline import synthetic_frame
    from training.registry import Registry

    version = common.ensure_default_model()
    loaded = Registry(common.MODELS).load(version)
    watchlist = Watchlist.load()
    written = written_sets(loaded.model, watchlist)
    if not common.DEV_DATA.is_file():
        return {"skipped": f"no labelled sample at {common.DEV_DATA.name}", "written": written}
    dev, _ = usable_labelled_rows(read_labelled(common.DEV_DATA))
    label = dev["label"].to_numpy(dtype=int)
    results: dict[str, Any] = {
        "sample": {"file": common.DEV_DATA.name, "items": len(dev), "positives": int(label.sum())},
        "model_version": version,
        "systems": {},
        "written": written,
    }
    systems: dict[str, dict[str, Any]] = results["systems"]

    model_score = loaded.model.score_together(columns_of(dev)).risk_score
    systems["parcel-screen"] = {**headline(label, model_score), **bootstrap(label, model_score)}

    watch_score = watchlist.score(columns_of(dev))
    systems["watch-list"] = {
        **headline(label, watch_score),
        **bootstrap(label, watch_score),
        "rules": len(watchlist.rules),
        "items_with_any_hit": int((watch_score > 0).sum()),
    }

    reason = embedding.unavailable()
    if reason is not None:
        print(f"  {reason}")
        systems["embedding"] = {"skipped": reason}
        return results
    # Embedding every distinct description of the 300k training rows (~63k) takes minutes
    # on two cores; a random sixth of the parcels (~16k distinct descriptions) keeps the
    # run inside its budget. --quick uses fewer.
    train_rows = 5_000 if quick else 50_000
    began = time.perf_counter()
    frame = synthetic_frame(common.DEFAULT_ROWS, common.DEFAULT_SEED)
    frame = embedding.subsample_parcels(frame, train_rows, seed=0)
    baseline = embedding.train_baseline(frame)
    embed_score = baseline.score(dev)
    systems["embedding"] = {
        **headline(label, embed_score),
        **bootstrap(label, embed_score),
        "trained_on": (
            f"{baseline.train_rows:,} rows (older 80% of a random {len(frame):,}-row parcel "
            f"sample of the {common.DEFAULT_ROWS:,}-row, seed {common.DEFAULT_SEED} "
            "training data)"
        ),
        "train_distinct_descriptions": baseline.train_distinct_descriptions,
        "embed_seconds": round(baseline.embed_seconds, 1),
        "fit_seconds": round(baseline.fit_seconds, 1),
        "total_seconds": round(time.perf_counter() - began, 1),
    }
    results["_baseline"] = baseline  # reused by the batch benchmark; not written out
    return results
