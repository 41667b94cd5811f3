"""The risk model: fitting, calibration, thresholds, and per-feature contributions.

`RiskModel` holds the feature pipeline (`training.features.feature_pipeline`: text signals
fitted out-of-fold, the named form features, scaling), then the models over the
standardised features: gradient-boosted trees for the risk score, because what gives a
disguise away is a combination (a word honest helmets share *and* a ballistic helmet's
weight; a heavy "жилет" that is no weighted vest), which a linear score can only add up.
Reasons are read off the same trees (what each feature's splits added to an item's
log-odds). Logistic regressions give the gear class and the first pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, cast

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import Tags

from training.features import (
    FlooredScaler,
    FormFeatures,
    ItemColumns,
    ItemSignals,
    TextSignals,
    column,
    feature_pipeline,
    item_columns_tags,
    parcel_codes,
    repeat_twins,
)
from training.features.measures import weights_as_meant
from training.history import (
    FIRST_PASS_COLUMN,
    PRIOR_FACTS,
    PRIOR_SCORE_FEATURES,
    history_facts,
    parcels_of,
)
from training.schema import LABEL_CLASSES
from training.trees import TreeTable

DEFAULT_REVIEW_FPR: Final = 0.03
DEFAULT_INSPECT_FPR: Final = 0.005
# Folds of the out-of-fold first-pass scores training reads its parties' earlier parcels by.
FIRST_PASS_FOLDS: Final = 4
# The quantiles of training rows between which the first pass reads each feature.
FIRST_PASS_RANGE: Final = (0.005, 0.995)
# The label class of gear confirmed without saying which kind (a labelled row with no class).
UNKNOWN_GEAR: Final = "unknown_gear"
# The risk score's trees: shallow and few, so one declaration's score stays a fraction of a
# millisecond and a batch pays a few microseconds a row (docs/decisions.md, "Trees for the
# risk score"). Early stopping is off: its validation split would make the number of trees
# depend on the data's order.
TREE_SETTINGS: Final = {
    "max_iter": 80,
    "learning_rate": 0.2,
    "max_depth": 6,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": False,
}


# Physical facts whose growth can only add to the risk: a line heavier than its kind of goods,
# heavier and cheaper, worth less, or kilos of the parcel no line accounts for. The trees may
# weigh each as they learn, but never read more of it as less risk ("жилет страйкбольный"
# of 8.5 kg is no likelier honest than of 3 kg). Grams typed as kilograms have a feature of
# their own (weight_residual_extreme), left free.
RISES_WITH_RISK: Final = frozenset(
    {
        "weight_residual_over",
        "weight_residual_far_over",
        "weight_beyond_honest_spread",
        "weight_heavy_and_cheap",
        "value_below_honest_spread",
        "value_residual_under",
        "value_residual_far_under",
        "parcel_unexplained_weight",
        "parcel_unexplained_kilos",
        "parcel_hidden_weight",
    }
)


@dataclass(frozen=True)
class Thresholds:
    """Cut-offs for parcel scores, chosen for a false-alarm rate on benign items' scores."""

    review: float
    inspect: float
    review_fpr: float = DEFAULT_REVIEW_FPR
    inspect_fpr: float = DEFAULT_INSPECT_FPR

    def as_dict(self) -> dict[str, float]:
        return {
            "review": self.review,
            "inspect": self.inspect,
            "review_fpr": self.review_fpr,
            "inspect_fpr": self.inspect_fpr,
        }


@dataclass(frozen=True)
class ItemScores:
    """Scores for a batch of items, aligned with the input rows."""

    risk_score: np.ndarray  # calibrated P(any gear class)
    class_proba: np.ndarray  # (n, len(LABEL_CLASSES))
    features: np.ndarray  # the standardised form features, for contributions
    signals: np.ndarray  # text signals, for reasons
    # P(gear) from the item's own form and its parties' counts, without the parties'
    # earlier scores: what a later parcel of the same parties reads (`PRIOR_FACTS`).
    first_pass: np.ndarray

    @property
    def risk_class(self) -> np.ndarray:
        """The most likely of the five classes. The class model's own benign share may
        disagree with the calibrated risk score (an item at 0.92 read as benign), so the
        classes are weighed as P(benign) = 1 - risk_score and P(class) = risk_score times
        the class model's share of that class among the gear classes."""
        gear = self.class_proba[:, 1:]
        total = gear.sum(axis=1, keepdims=True)
        share = gear / np.where(total > 0, total, 1.0)
        joint = np.column_stack([1.0 - self.risk_score, self.risk_score[:, None] * share])
        return np.asarray(LABEL_CLASSES, dtype=object)[joint.argmax(axis=1)]


def threshold_at_fpr(scores: np.ndarray, benign: np.ndarray, fpr: float) -> float:
    """The lowest score whose false-alarm rate on benign items stays within `fpr`."""
    negatives = np.sort(scores[benign])[::-1]
    if len(negatives) == 0:
        return 0.5
    allowed = int(np.floor(fpr * len(negatives)))
    # Strictly above the (allowed+1)-th highest benign score.
    cut = negatives[min(allowed, len(negatives) - 1)]
    return float(np.nextafter(cut, np.inf))


class RiskModel(BaseEstimator):  # type: ignore[misc]
    """The feature pipeline + the calibrated risk trees, and the linear models beside them
    (the gear class, the first pass).

    Learned: `features_` (the fitted `feature_pipeline`; its steps also as `text_`, `form_`
    and `scaler_`), `risk_` (the trees of the risk score) and `risk_trees_` (the same trees
    as flat tables, for speed and for reasons), `class_`, `first_pass_` (a linear risk
    model without the parties' earlier scores, over the columns `first_pass_columns_`),
    `calibration_` (Platt scaling of the trees' log-odds), `thresholds_`.
    """

    def __init__(self, c: float = 0.5, random_state: int = 0, max_form_rows: int = 80_000) -> None:
        self.c = c
        self.random_state = random_state
        self.max_form_rows = max_form_rows

    def __sklearn_tags__(self) -> Tags:
        return item_columns_tags(super().__sklearn_tags__())

    def fit(
        self, items: ItemColumns, y: np.ndarray, *, label: np.ndarray | None = None
    ) -> RiskModel:
        """Fit on item columns and their label classes `y`: one of LABEL_CLASSES, or
        UNKNOWN_GEAR for gear confirmed without a class (such rows train the risk score
        only).

        `label` is the recorded outcome (1 gear, 0 none); without it, it is read off `y`
        (every class but "benign" is gear). Training passes it: a recorded label can
        disagree with the class (an inspection error, which the generator makes on
        purpose), and the risk score learns from the label as recorded.
        """
        items = weights_as_meant(items)
        label_class = np.asarray(y, dtype=object)
        unknown = sorted(set(label_class.tolist()) - {*LABEL_CLASSES, UNKNOWN_GEAR}, key=str)
        if unknown:
            raise ValueError(
                f"label classes must be one of {', '.join((*LABEL_CLASSES, UNKNOWN_GEAR))}; "
                f"got {', '.join(map(repr, unknown[:5]))}"
            )
        if label is None:
            label = (label_class != "benign").astype(int)
        label = np.asarray(label, dtype=int)
        self.features_: Pipeline = feature_pipeline(self.random_state)
        # The text and form steps learn from every row (the text step's signals out of fold),
        # the scaler and the linear models below from a fixed sample of at most
        # max_form_rows: ~150 dense features need far fewer rows than the text models, and
        # the sample keeps their fit time flat as training sets grow. Without a sample this
        # is `self.features_.fit_transform(items, label_class)`.
        signals = self.text_.fit_transform(items, label_class)
        self.form_.fit(signals)
        # A written line's fifty repeats share every feature: the form features and first
        # pass are computed once per kind of row (`distinct`) and read through `twin`
        # (tests pin this to the form step over every row).
        first, twin = repeat_twins(items)
        # The form step's output is a DataFrame (`set_output`), so the scaler knows columns.
        distinct: pd.DataFrame = self.form_.transform(  # type: ignore[assignment]
            ItemSignals(
                {str(name): np.asarray(values)[first] for name, values in items.items()},
                signals.signals[first],
                signals.names,
            )
        )
        n_rows = len(twin)
        if n_rows > self.max_form_rows:
            keep = np.random.default_rng(self.random_state).choice(
                n_rows, self.max_form_rows, replace=False
            )
            keep.sort()
            label, label_class = label[keep], label_class[keep]
        else:
            keep = np.arange(n_rows)
        raw = distinct.iloc[twin[keep]].reset_index(drop=True)
        prior_columns = [list(distinct.columns).index(name) for name in PRIOR_SCORE_FEATURES]
        self.first_pass_columns_ = np.setdiff1d(np.arange(distinct.shape[1]), prior_columns)
        features = self.scaler_.fit_transform(raw)
        own = features[:, self.first_pass_columns_]
        # The first pass is linear: a value far past what training saw (a counter weight
        # typed 33.5 for 3.35 kg, 31 kg "not accounted for") would push it to certainty, and
        # every later parcel of the parties with it. It reads each feature within the
        # range of the middle 99% of training rows.
        self.first_pass_bounds_ = np.quantile(own, FIRST_PASS_RANGE, axis=0)
        own = np.clip(own, *self.first_pass_bounds_)
        self.first_pass_ = LogisticRegression(C=self.c, max_iter=1000).fit(own, label)
        # The parties' earlier parcels as training reads them: every row scored by a fit
        # that never saw its sender (folds by sender), as service scores a parcel before
        # any later one of its parties is seen; then counted over all training parcels.
        senders = column(items, "sender_id")
        first_pass = self._first_pass_by_sender_folds(
            own, label, senders[keep], distinct, senders[first]
        )[twin]
        raw[list(PRIOR_SCORE_FEATURES)] = _prior_features(items, first_pass)[keep]
        del distinct
        features = self.scaler_.fit_transform(raw)
        self.risk_ = HistGradientBoostingClassifier(
            **TREE_SETTINGS,
            monotonic_cst=[int(str(name) in RISES_WITH_RISK) for name in raw.columns],
            random_state=self.random_state,
        ).fit(features, label)
        self.risk_trees_ = TreeTable(self.risk_)
        # Rows of gear confirmed without a class train the risk score only.
        known = np.isin(label_class, LABEL_CLASSES)
        self.class_ = LogisticRegression(C=self.c, max_iter=1000).fit(
            features[known], label_class[known]
        )
        # Identity calibration until `calibrate` sees held-out data.
        self.calibration_ = (1.0, 0.0)
        self.thresholds_ = Thresholds(review=0.5, inspect=0.9)
        return self

    def _first_pass_by_sender_folds(
        self,
        own: np.ndarray,
        label: np.ndarray,
        senders: np.ndarray,
        every: pd.DataFrame,
        every_sender: np.ndarray,
    ) -> np.ndarray:
        """First-pass P(gear) of every training row (`every`, unscaled) from a fit on the
        sampled rows (`own`, scaled) of the other senders' folds."""
        fold_of = _sender_folds(senders)
        every_fold = _sender_folds(every_sender)
        out = np.zeros(len(every))
        for k in range(FIRST_PASS_FOLDS):
            held = fold_of == k
            rows = np.flatnonzero(every_fold == k)
            if not len(rows):
                continue
            fitted = self.first_pass_
            if held.any() and len(np.unique(label[~held])) == 2:
                # Started from the fit on every fold, most of the way there already.
                fitted = LogisticRegression(C=self.c, max_iter=1000, warm_start=True)
                fitted.coef_ = self.first_pass_.coef_.copy()
                fitted.intercept_ = self.first_pass_.intercept_.copy()
                fitted.fit(own[~held], label[~held])
            scaled = self.scaler_.transform(every.iloc[rows])[:, self.first_pass_columns_]
            out[rows] = fitted.predict_proba(np.clip(scaled, *self.first_pass_bounds_))[:, 1]
        return out

    # The fitted steps of the feature pipeline by the names its readers know them by.
    @property
    def text_(self) -> TextSignals:
        return cast(TextSignals, self.features_.named_steps["text"])

    @property
    def form_(self) -> FormFeatures:
        return cast(FormFeatures, self.features_.named_steps["form"])

    @property
    def scaler_(self) -> FlooredScaler:
        return cast(FlooredScaler, self.features_.named_steps["scale"])

    @property
    def feature_names(self) -> list[str]:
        return list(self.features_.get_feature_names_out())

    def raw_logit(self, features: np.ndarray) -> np.ndarray:
        """The risk trees' log-odds, before calibration."""
        return self.risk_trees_.decision(features)

    def calibrate(self, items: ItemColumns, label: np.ndarray) -> ItemScores:
        """Platt scaling of the risk trees' log-odds on held-out (later) items, read as one
        file; returns their scores under it, as `score_together` now gives them (only the
        risk score depends on the calibration, so they are not read twice)."""
        scores = self.score_together(items)
        raw = self.raw_logit(scores.features)
        self.calibration_ = _platt(raw, label)
        return replace(scores, risk_score=self._calibrated(raw))

    def _calibrated(self, raw_logit: np.ndarray) -> np.ndarray:
        slope, intercept = self.calibration_
        return np.asarray(1.0 / (1.0 + np.exp(-(slope * raw_logit + intercept))))

    def score(self, items: ItemColumns) -> ItemScores:
        """Scores of item columns: `self.features_.transform(weights_as_meant(items))` (each
        line's weight as the clerk meant it) and the models, in plain numpy rather than
        through the pipeline, the scaler's transform and `predict_proba`: their input
        validation and the DataFrame between the form and the scaling steps cost more than
        the arithmetic for a single declaration (tests pin the two paths equal)."""
        signals, features = self._standardised(items)
        return ItemScores(
            risk_score=self._calibrated(self.raw_logit(features)),
            class_proba=self._class_proba(features),
            features=features,
            signals=signals,
            first_pass=self._first_pass(features),
        )

    def first_pass_scores(self, items: ItemColumns) -> np.ndarray:
        """`score(items).first_pass` alone, without the risk trees and the gear class: all
        that a parcel a later one of its parties reads needs (`PRIOR_FACTS`)."""
        return self._first_pass(self._standardised(items)[1])

    def score_together(self, items: ItemColumns) -> ItemScores:
        """Scores of declarations read as one file, as the batch command scores them: each
        parcel with its parties' earlier parcels *in these items* as they scored on their
        own (`PRIOR_FACTS`), on top of whatever history facts the items carry."""
        first = self.first_pass_scores(items)
        return self.score({**items, **with_prior_scores(items, first)})

    def _standardised(self, items: ItemColumns) -> tuple[np.ndarray, np.ndarray]:
        """The text signals and the standardised form features of item columns."""
        (_, text), (_, form), (_, scaler) = self.features_.steps
        items = weights_as_meant(items)
        signals = text.signals(items)
        # In place: the matrix is the largest array of a batch (129 floats an item), and a
        # copy per step doubled it.
        features = form.features(items, signals)
        features -= scaler.mean_
        features /= scaler.scale_
        return signals, features

    def _first_pass(self, features: np.ndarray) -> np.ndarray:
        own = np.clip(features[:, self.first_pass_columns_], *self.first_pass_bounds_)
        first = own @ self.first_pass_.coef_[0]
        return np.asarray(1.0 / (1.0 + np.exp(-(first + self.first_pass_.intercept_[0]))))

    def _class_proba(self, features: np.ndarray) -> np.ndarray:
        logits = features @ self.class_.coef_.T + self.class_.intercept_
        if logits.shape[1] == 1:  # two classes: sklearn keeps one logit
            logits = np.column_stack([np.zeros(len(logits)), logits[:, 0]])
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        out = np.zeros((features.shape[0], len(LABEL_CLASSES)))
        for j, name in enumerate(self.class_.classes_):
            out[:, LABEL_CLASSES.index(name)] = proba[:, j]
        return out

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """Each feature's share of the calibrated log-odds of the risk score, relative to
        the average training item: what reasons are read from.

        Read off the trees' paths (`TreeTable.contributions`): a feature is credited with
        what its splits moved the row's log-odds, so a fact the score weighs only in
        combination (a heavy line that is also cheap) is credited where the trees split
        on it. A row's entries sum to its calibrated log-odds less the average item's.
        """
        slope, _ = self.calibration_
        return np.asarray(self.risk_trees_.contributions(features) * slope)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": (
                "text-signals + form features, calibrated gradient-boosted trees "
                "(reasons read off their paths)"
            ),
            "trees": self.risk_.n_iter_,
            "features": self.feature_names,
            "text_vocabulary": len(self.text_.vectorizer_.get_feature_names_out()),
            "hs_chapters_modelled": list(self.text_.chapters_),
            "calibration": {"slope": self.calibration_[0], "intercept": self.calibration_[1]},
        }


def parcel_scores(declaration_ids: np.ndarray, item_scores: np.ndarray) -> np.ndarray:
    """A parcel is as risky as its riskiest item (per item row, aligned)."""
    codes = parcel_codes(declaration_ids)
    if len(codes) == 0:
        return np.zeros(0)
    best = np.full(codes.max() + 1, -np.inf)
    np.maximum.at(best, codes, item_scores)
    return best[codes]


def riskiest_rows(declaration_ids: np.ndarray, item_scores: np.ndarray) -> np.ndarray:
    """Per item row, the row of its parcel's riskiest item (the first of equals)."""
    codes = parcel_codes(declaration_ids)
    if len(codes) == 0:
        return np.zeros(0, dtype=np.intp)
    # Rows by parcel, and within a parcel from the highest score down: each parcel's first.
    order = np.lexsort((np.arange(len(codes)), -np.asarray(item_scores), codes))
    first = np.ones(len(order), dtype=bool)
    first[1:] = codes[order][1:] != codes[order][:-1]
    lead = np.empty(codes.max() + 1, dtype=np.intp)
    lead[codes[order][first]] = order[first]
    return lead[codes]


def with_prior_scores(items: ItemColumns, first_pass: np.ndarray) -> dict[str, np.ndarray]:
    """The `PRIOR_FACTS` of item rows counted among the rows themselves, from each row's
    first-pass score; where the rows carry prior facts already (the store's parcels), the
    higher of the two stands."""
    parcels = parcels_of(
        pd.DataFrame(
            {
                **{
                    name: column(items, name)
                    for name in ("declaration_id", "posted_at", "sender_id", "recipient_id")
                    if name in items
                },
                FIRST_PASS_COLUMN: first_pass,
            }
        )
    )
    facts = history_facts(parcels, now=_AFTER_EVERY_DATE, only_priors=True)
    rows = pd.Index(parcels["declaration_id"]).get_indexer(column(items, "declaration_id"))
    out: dict[str, np.ndarray] = {}
    for name in PRIOR_FACTS:
        counted = facts[name].to_numpy(dtype=np.float64)[rows]
        carried = column(items, name, float) if name in items else np.zeros(len(rows))
        out[name] = np.fmax(counted, np.where(np.isfinite(carried), carried, 0.0))
    return out


def _platt(logit: np.ndarray, label: np.ndarray) -> tuple[float, float]:
    platt = LogisticRegression(C=1e4, max_iter=1000).fit(
        logit[:, None], np.asarray(label, dtype=int)
    )
    return float(platt.coef_[0, 0]), float(platt.intercept_[0])


# Where an undated parcel sits among the items: after every dated one, as it does when a
# file is scored today.
_AFTER_EVERY_DATE: Final = datetime(2262, 1, 1)


def _prior_features(items: ItemColumns, first_pass: np.ndarray) -> np.ndarray:
    """The prior-score features of training rows (as `FormFeatures` reads the facts)."""
    facts = with_prior_scores(items, first_pass)
    return np.column_stack([np.minimum(facts[name], 1.0) for name in PRIOR_FACTS])


def _sender_folds(senders: np.ndarray) -> np.ndarray:
    """A fold per sender (a stable hash of the id; rows without one share a fold)."""
    texts = np.asarray(senders, dtype=object).astype(str)
    return np.asarray(pd.util.hash_array(texts) % FIRST_PASS_FOLDS, dtype=np.int64)


def columns_of(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Item columns of a normalised frame: numbers as numbers, the rest as objects."""
    return {
        name: frame[name].to_numpy() if frame[name].dtype.kind in "fiub" else column(frame, name)
        for name in frame.columns
    }
