"""How current traffic differs from the data a model was trained on.

The population stability index (PSI) compares two distributions of one quantity over the
same bins: sum of (current% - reference%) * ln(current% / reference%). The usual reading in
credit and customs risk work: under 0.1 stable, 0.1-0.25 worth watching, above 0.25 a real
shift. Bins of numbers are deciles of the reference, so each holds a tenth of it; a
category keeps its own bin when the reference has it, and missing values are a bin too,
since a field that stops being filled in is drift as well.

A reference is either a labelled file / export, or the profile a model stored of its
held-out rows at training time (the newest traffic it was measured on).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from training import knowledge
from training.features import hs_chapters, unit_weights, usd_values
from training.model import columns_of
from training.schema import ERROR_COLUMN
from training.text import matching_text

PSI_MAJOR: Final = 0.25
PSI_MODERATE: Final = 0.1
# Retraining is advised when this share of the words of current descriptions is unknown
# to the reference: smugglers' new wording shows up here before it shows in the scores.
NEW_TERM_SHARE_LIMIT: Final = 0.10
# A feature PSI above PSI_MAJOR on this many key features advises retraining.
FEATURES_FOR_RETRAINING: Final = 2
NUMERIC_BINS: Final = 10
TOP_CATEGORIES: Final = 30
NEW_TERMS_SHOWN: Final = 20
# Proportions are floored so an empty bin on one side gives a large but finite PSI.
_FLOOR: Final = 1e-4
_MISSING: Final = "(missing)"
_OTHER: Final = "(other)"
_WORD: Final = re.compile(r"[^\W\d_]{3,}")

NUMERIC_FEATURES: Final = ("log_unit_weight_kg", "log_usd_per_kg", "description_length")
CATEGORICAL_FEATURES: Final = ("category", "mail_class", "lane", "hs_chapter")
KEY_FEATURES: Final = (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES)
SCORE: Final = "risk_score"


def feature_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The quantities drift is measured on, one value per item row."""
    items = columns_of(frame)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = unit_weights(items)
        net = frame["net_weight_kg"].to_numpy(dtype=float)
        usd_per_kg = usd_values(items) / net
        log_unit = np.where(unit > 0, np.log(unit), np.nan)
        log_usd_kg = np.where(usd_per_kg > 0, np.log(usd_per_kg), np.nan)
    origin = frame["origin_country"].fillna("?").astype(str).to_numpy()
    destination = frame["destination_country"].fillna("?").astype(str).to_numpy()
    descriptions = frame["description"].fillna("").astype(str)
    return {
        "log_unit_weight_kg": log_unit,
        "log_usd_per_kg": log_usd_kg,
        "description_length": descriptions.str.len().to_numpy(dtype=float),
        "category": frame["category"].to_numpy(dtype=object),
        "mail_class": frame["mail_class"].to_numpy(dtype=object),
        "lane": np.char.add(np.char.add(origin.astype(str), "-"), destination.astype(str)),
        "hs_chapter": hs_chapters(items),
    }


def _numeric_profile(values: np.ndarray) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        edges: list[float] = []
    else:
        quantiles = np.quantile(finite, np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1])
        edges = sorted({float(q) for q in quantiles})
    return {"kind": "numeric", "edges": edges, "shares": _numeric_shares(values, edges)}


def _numeric_shares(values: np.ndarray, edges: list[float]) -> dict[str, float]:
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    counts = np.bincount(
        np.searchsorted(edges, values[finite], side="right"), minlength=len(edges) + 1
    )
    total = max(len(values), 1)
    shares = {f"bin{i}": float(c / total) for i, c in enumerate(counts)}
    shares[_MISSING] = float((~finite).sum() / total)
    return shares


def _category_profile(values: np.ndarray) -> dict[str, Any]:
    series = pd.Series(values, dtype=object).where(pd.notna(values), _MISSING)
    counts = series.value_counts()
    kept = [str(k) for k in counts.index[:TOP_CATEGORIES]]
    return {"kind": "category", "categories": kept, "shares": _category_shares(values, kept)}


def _category_shares(values: np.ndarray, categories: list[str]) -> dict[str, float]:
    series = pd.Series(values, dtype=object).where(pd.notna(values), _MISSING).astype(str)
    known = set(categories)
    series = series.where(series.isin(known), _OTHER)
    total = max(len(series), 1)
    counts = series.value_counts()
    return {str(k): float(v / total) for k, v in counts.items()}


def psi(reference: dict[str, float], current: dict[str, float]) -> float:
    """Population stability index of two share tables over the union of their bins."""
    total = 0.0
    for key in set(reference) | set(current):
        r = max(reference.get(key, 0.0), _FLOOR)
        c = max(current.get(key, 0.0), _FLOOR)
        total += (c - r) * np.log(c / r)
    return float(total)


def description_words(description: str) -> list[str]:
    """The words of a description as data staff would read them (letters only, 3+ long)."""
    return _WORD.findall(description.casefold())


def matching_words(descriptions: Iterable[str]) -> set[str]:
    """Words as the model's text features see them (transliteration folded in)."""
    vocabulary: set[str] = set()
    for description in descriptions:
        vocabulary.update(re.findall(r"\w+", matching_text(description)))
    return vocabulary


def vague_share(descriptions: pd.Series) -> float:
    vague = knowledge.vague_descriptions()
    if len(descriptions) == 0:
        return float("nan")
    flags = descriptions.fillna("").astype(str).map(lambda d: d.casefold().strip(" .,!") in vague)
    return float(flags.mean())


@dataclass
class Profile:
    """What a drift check needs of the reference: bins and shares, vague share, vocabulary."""

    features: dict[str, dict[str, Any]]
    vague_share: float
    rows: int
    vocabulary: set[str] = field(default_factory=set)

    def to_card(self) -> dict[str, Any]:
        """The JSON kept in a model card (without the vocabulary: the model has its own)."""
        return {"features": self.features, "vague_share": self.vague_share, "rows": self.rows}

    @classmethod
    def from_card(cls, stored: dict[str, Any], vocabulary: set[str]) -> Profile:
        return cls(
            features=stored["features"],
            vague_share=float(stored["vague_share"]),
            rows=int(stored["rows"]),
            vocabulary=vocabulary,
        )


def profile_of(frame: pd.DataFrame, scores: np.ndarray | None) -> Profile:
    columns: dict[str, np.ndarray] = dict(feature_columns(frame))
    if scores is not None:
        columns[SCORE] = np.asarray(scores, dtype=float)
    features: dict[str, dict[str, Any]] = {}
    for name, values in columns.items():
        if name in CATEGORICAL_FEATURES:
            features[name] = _category_profile(values)
        else:
            features[name] = _numeric_profile(np.asarray(values, dtype=float))
    descriptions = frame["description"].fillna("").astype(str)
    return Profile(
        features=features,
        vague_share=vague_share(descriptions),
        rows=len(frame),
        vocabulary=matching_words(descriptions.unique()),
    )


def model_vocabulary(model: Any) -> set[str]:
    """Single words the model's text features know (its fitted word vocabulary)."""
    return {term for term in model.text_.vectorizer_.word_.vocabulary_ if " " not in term}


@dataclass
class DriftReport:
    reference_rows: int
    current_rows: int
    psi: dict[str, float]
    vague_share_reference: float
    vague_share_current: float
    new_terms: list[tuple[str, int]]
    new_term_share: float
    retrain_advised: bool
    reasons: list[str]

    @property
    def summary(self) -> str:
        if self.retrain_advised:
            return "RETRAINING ADVISED: " + "; ".join(self.reasons)
        return "no retraining needed: " + "; ".join(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "psi": self.psi,
            "vague_share": {
                "reference": self.vague_share_reference,
                "current": self.vague_share_current,
            },
            "new_terms": [{"term": t, "count": c} for t, c in self.new_terms],
            "new_term_share": self.new_term_share,
            "retrain_advised": self.retrain_advised,
            "reasons": self.reasons,
            "summary": self.summary,
            "thresholds": {
                "psi_major": PSI_MAJOR,
                "features_for_retraining": FEATURES_FOR_RETRAINING,
                "new_term_share": NEW_TERM_SHARE_LIMIT,
            },
        }


def psi_status(value: float) -> str:
    if value > PSI_MAJOR:
        return "major shift"
    if value > PSI_MODERATE:
        return "watch"
    return "stable"


def _new_terms(
    descriptions: pd.Series, vocabulary: set[str]
) -> tuple[list[tuple[str, int]], float]:
    counts: Counter[str] = Counter()
    for description, times in descriptions.fillna("").astype(str).value_counts().items():
        for word in description_words(str(description)):
            counts[word] += int(times)
    known: dict[str, bool] = {}
    for word in counts:
        known[word] = any(token in vocabulary for token in re.findall(r"\w+", matching_text(word)))
    # Terms seen once are mostly typos and one-off goods (ordinary traffic names thousands
    # of kinds of goods); wording that is catching on recurs, and only it counts as drift.
    unknown = {word: n for word, n in counts.items() if not known[word] and n >= 2}
    total = sum(counts.values())
    share = sum(unknown.values()) / total if total else 0.0
    frequent = sorted(unknown.items(), key=lambda item: (-item[1], item[0]))
    return frequent[:NEW_TERMS_SHOWN], float(share)


def compare(
    reference: Profile, current: pd.DataFrame, current_scores: np.ndarray | None
) -> DriftReport:
    columns: dict[str, np.ndarray] = dict(feature_columns(current))
    if current_scores is not None:
        columns[SCORE] = np.asarray(current_scores, dtype=float)
    values: dict[str, float] = {}
    for name, stored in reference.features.items():
        if name not in columns:
            continue
        if stored["kind"] == "category":
            shares = _category_shares(columns[name], list(stored["categories"]))
        else:
            shares = _numeric_shares(np.asarray(columns[name], dtype=float), list(stored["edges"]))
        values[name] = psi(stored["shares"], shares)
    descriptions = current["description"]
    new_terms, new_share = _new_terms(descriptions, reference.vocabulary)
    reasons: list[str] = []
    shifted = [name for name in KEY_FEATURES if values.get(name, 0.0) > PSI_MAJOR]
    score_psi = values.get(SCORE)
    advised = False
    if score_psi is not None and score_psi > PSI_MAJOR:
        advised = True
        reasons.append(f"risk scores shifted (PSI {score_psi:.2f} > {PSI_MAJOR})")
    if len(shifted) >= FEATURES_FOR_RETRAINING:
        advised = True
        reasons.append(f"{len(shifted)} key features shifted ({', '.join(shifted)})")
    if new_share > NEW_TERM_SHARE_LIMIT:
        advised = True
        reasons.append(
            f"{new_share:.0%} of description words are new (limit {NEW_TERM_SHARE_LIMIT:.0%})"
        )
    if not advised:
        biggest = max(values.items(), key=lambda item: item[1], default=("none", 0.0))
        reasons.append(
            f"largest PSI {biggest[1]:.2f} ({biggest[0]}), "
            f"{new_share:.0%} new words; all within limits"
        )
    return DriftReport(
        reference_rows=reference.rows,
        current_rows=len(current),
        psi=values,
        vague_share_reference=reference.vague_share,
        vague_share_current=vague_share(descriptions),
        new_terms=new_terms,
        new_term_share=new_share,
        retrain_advised=advised,
        reasons=reasons,
    )


def usable_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that could be scored (a row with an `error` says nothing about traffic)."""
    if ERROR_COLUMN in frame:
        return frame[frame[ERROR_COLUMN].isna()]
    return frame
