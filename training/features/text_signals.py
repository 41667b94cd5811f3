"""What the description alone says (`TextSignals`): how much it sounds like each kind of
gear, what such goods normally weigh per unit and cost per kg (learned on benign items only),
and which HS chapter they normally fall under; and, for reasons, which of its words is
typical of a gear class.

Computed once per *distinct* description and cached, because real traffic repeats "clothes"
and "одежда" endlessly. As a pipeline step it hands on the item columns with their signals
(`ItemSignals`): the form step reads both.
"""

from __future__ import annotations

import math
import re
import weakref
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import Ridge, SGDClassifier
from sklearn.model_selection import KFold
from sklearn.utils import Tags

from training import knowledge
from training.common_words import is_common
from training.features.columns import (
    REPEAT_COLUMN,
    ItemColumns,
    column,
    factorize,
    item_columns_tags,
)
from training.features.linear import linear_outputs, log_probabilities
from training.features.measures import (
    LOG_FLOOR,
    hs_chapters,
    unit_weights,
    usd_values,
    vague_flags,
)
from training.features.vectorizer import DescriptionVectorizer
from training.gear_words import description_names_gear
from training.row_cache import RowCache, trim_cache
from training.schema import LABEL_CLASSES, RISK_CLASSES
from training.text import is_count, is_measure, matching_text, word_stem

# Training rows that carry this column as true are gear whose wording was borrowed from
# honest goods by the synthetic generator: the text models do not learn gear from them.
BORROWED_WORDING: Final = "borrowed_wording"
# A written line repeated in training (REPEAT_COLUMN) teaches the gear model its wording
# from this many of its repeats only: the repeats weigh a few hundred people's lines
# against the generator's many for the form, but one writer's words for a disguise would
# otherwise lean to gear as if every sender used them.
_TAUGHT_REPEATS: Final = 10
# Below this many benign examples an HS chapter is not modelled (too few to learn from).
_MIN_CHAPTER_EXAMPLES: Final = 5
# HS chapters the text models tell apart; rarer ones are one class, OTHER_CHAPTER. Each
# modelled chapter is a column of a dense product for every new description: 81 chapters
# cost 16-19% of batch speed against 36 (docs/decisions.md).
_MAX_CHAPTERS: Final = 40
# The levels of a declared HS code whose honest goods' weight and worth are expected of
# goods the text models do not know, most specific first: (table name, digits).
_HS_LEVELS: Final = (("subheading", 6), ("heading", 4), ("chapter", 2))
_HS_LEVEL_OF_WIDTH: Final = {width: level for level, width in _HS_LEVELS}
OTHER_CHAPTER: Final = "other"
_WORD: Final = re.compile(r"\w+")
# The attributes transform fills from traffic: cleared by a refit, never pickled.
_CACHES: Final = ("cache_", "word_leaning_", "honest_sorted_")
# Entries of the per-process caches of text signals (per description: ~0.55 kB each with
# its key) and of gear leaning (per word, for reasons): bounded, so memory stays flat.
_SIGNAL_CACHE_ENTRIES: Final = 100_000
_LEANING_CACHE_ENTRIES: Final = 20_000
# New descriptions whose n-grams are counted at a time.
_TEXT_BLOCK: Final = 4096
# Log-odds of the gear class a word must carry on its own to be named "typical of" it (a
# word that barely leans is no evidence an officer would accept).
_TERM_LEANING: Final = 1.0
# Rows of honest goods a word must appear in to count as honest senders' everyday wording:
# such a word ("жилет", "одеяло", "kiyim") is never named "typical of" gear, whatever the
# model learned of the covers smugglers prefer.
_HONEST_WORD_ROWS: Final = 20
# Added to a wording's mean squared log distance before its log is learned: a wording whose
# honest lines all weigh the same still strays by a tenth (e^0.1, 10%) from its expectation.
_LEAST_SQUARED_SPREAD: Final = 0.01
# The expectations' ridge solver stops at this relative residual (scikit-learn's default is
# 1e-4; 3e-3 moves few quoted expectations by a visible amount, keeps the blind sets level
# on two seeds and saves seconds of `make model`), the spread's at a looser one.
_EXPECTATION_TOLERANCE: Final = 3e-3
_SPREAD_TOLERANCE: Final = 1e-2
# Passes of SGD over the distinct texts. The HS-chapter model's 41 one-against-the-rest
# classes cost several times the gear model's few: at four passes instead of twelve `make
# model` takes about 15 s less, and the blind sets stay level on two seeds
# (docs/decisions.md).
_GEAR_EPOCHS: Final = 12
_CHAPTER_EPOCHS: Final = 4


def _distinct(descriptions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return factorize(np.where(pd.isna(descriptions), "", descriptions))


# Positions of the fixed signals (the HS chapter log-probabilities follow them).
_SIGNAL_COLUMNS: Final = {
    name: j
    for j, name in enumerate(
        [
            *(f"text_{c}" for c in RISK_CLASSES),
            "expected_log_unit_weight",
            "expected_log_usd_per_kg",
            "expectation_confidence",
            "names_gear",
            "log_unit_weight_spread",
            "log_usd_per_kg_spread",
        ]
    )
}
# The expectations' spreads, as signals: how far honest lines of the wording stray.
SPREAD_SIGNALS: Final = ("log_unit_weight_spread", "log_usd_per_kg_spread")


def _spreads(parts: dict[str, Any], matrix: sp.csr_matrix) -> np.ndarray | None:
    """The spreads of the texts of `matrix` (a standard deviation in log units, one column
    each of `SPREAD_SIGNALS`), or None for parts fitted without spread models."""
    if not all(name in parts for name in SPREAD_SIGNALS):
        return None
    logged = linear_outputs([parts[name] for name in SPREAD_SIGNALS], matrix)
    return np.asarray(np.sqrt(np.exp(np.column_stack(logged))))


@dataclass(frozen=True)
class ItemSignals:
    """Item columns and the text signals of their rows: what the text step of the feature
    pipeline hands to the form step (`names`: the signals' columns, as
    `TextSignals.get_feature_names_out()`)."""

    items: ItemColumns
    signals: np.ndarray
    names: np.ndarray


class TextSignals(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):  # type: ignore[misc,call-arg]
    """What the description alone says: gear-likeness, expected weight, value and HS chapter.

    Fitted on distinct descriptions weighted by how often they occur, so training cost
    follows the vocabulary, not the row count. `fit_transform` returns out-of-fold signals
    (a description never sees a model that trained on it) so the form model downstream
    learns how far to trust text on text it has not memorised; `transform` those of the
    models fitted on every row (sklearn's `TargetEncoder` cross-fits the same way). Both
    return the items with their signals (`ItemSignals`); `signals` the signals alone.

    A training column `borrowed_wording` (BORROWED_WORDING) marks generated gear written in
    the words of honest goods: the gear model does not learn wording from those rows; nor
    from a written line's repeats (REPEAT_COLUMN) beyond the first `_TAUGHT_REPEATS`.
    """

    def __init__(
        self,
        n_folds: int = 3,
        text_alpha: float = 1e-5,
        ridge_alpha: float = 1.0,
        random_state: int = 0,
        vectorizer: DescriptionVectorizer | None = None,
        n_jobs: int | None = -1,
    ) -> None:
        self.n_folds = n_folds
        self.text_alpha = text_alpha
        self.ridge_alpha = ridge_alpha
        self.random_state = random_state
        self.vectorizer = vectorizer
        self.n_jobs = n_jobs

    # Learned: vectorizer_, chapters_, parts_ (the fitted text models), hs_expectations_
    # (weight and value per HS subheading, heading and chapter), expectation_words_ (words
    # of honest goods' descriptions), honest_words_ (those of many honest rows, in every
    # spelling), thin_wordings_ (wordings with under two lines' worth of honest rows);
    # caches: cache_ (signals per description), word_leaning_ (gear leaning per word, for
    # reasons) and honest_sorted_ (the honest words sorted, and whether each word met may be
    # named typical of gear).

    def __getstate__(self) -> dict[str, Any]:
        # The caches are rebuilt from traffic; pickling them would bloat the artifact.
        state = dict(self.__dict__)
        for cache in _CACHES:
            state.pop(cache, None)
        return state

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = [f"text_{c}" for c in RISK_CLASSES]
        names += ["expected_log_unit_weight", "expected_log_usd_per_kg", "expectation_confidence"]
        names += ["names_gear", *SPREAD_SIGNALS]
        names += [f"chapter_logp_{c}" for c in self.chapters_]
        return np.asarray(names, dtype=object)

    @staticmethod
    def _targets(items: ItemColumns) -> dict[str, np.ndarray]:
        unit_weight = unit_weights(items)
        usd_kg = usd_values(items) / column(items, "net_weight_kg", float)
        chapters = hs_chapters(items)
        return {
            "log_unit_weight": np.log(np.clip(unit_weight, LOG_FLOOR, None)),
            "log_usd_per_kg": np.log(np.clip(usd_kg, LOG_FLOOR, None)),
            "chapter": chapters,
        }

    def _text_classifier(self, max_iter: int = _GEAR_EPOCHS) -> SGDClassifier:
        # SGD with log loss rather than lbfgs: on ~20k distinct texts x 50k n-grams it fits
        # in about a second where lbfgs took 13 s (5 classes) and 37 s (36 HS chapters).
        # Its one-against-the-rest classes fit in `n_jobs` threads (the SGD loop releases
        # the GIL), each from a seed drawn before they start: the fit is the same on any
        # number of cores, and the 41 HS-chapter classes no longer wait for each other.
        return SGDClassifier(
            loss="log_loss",
            alpha=self.text_alpha,
            max_iter=max_iter,
            tol=None,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )

    def _fit_parts(
        self,
        matrix: sp.csr_matrix,
        codes: np.ndarray,
        label_class: np.ndarray,
        targets: dict[str, np.ndarray],
        rows: np.ndarray,
        borrowed: np.ndarray,
        lines: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """Fit the text models on item rows `rows`; `codes` maps rows to distinct texts and
        `borrowed` marks the rows whose wording the gear model does not learn from. With
        `lines` (per row, whether it is a line of its own rather than a later repeat of a
        written one), also how far honest lines of each wording stray from its
        expectations."""
        parts: dict[str, Any] = {}
        row_codes = codes[rows]
        classes = np.asarray(label_class[rows], dtype=object)
        # Aggregate (text, class) pairs: one weighted example each.
        taught = ~borrowed[rows]
        pairs = (
            pd.DataFrame({"code": row_codes[taught], "cls": classes[taught]})
            .value_counts()
            .reset_index()
        )
        # Gear confirmed without a class ("unknown_gear") says nothing about which class.
        pairs = pairs[pairs["cls"].isin(LABEL_CLASSES)]
        gear = self._text_classifier()
        gear.fit(
            matrix[pairs["code"].to_numpy()],
            pairs["cls"].to_numpy(),
            sample_weight=np.sqrt(pairs["count"].to_numpy(dtype=float)),
        )
        parts["gear"] = gear
        benign = classes == "benign"
        for name in ("log_unit_weight", "log_usd_per_kg"):
            target = targets[name][rows]
            ok = benign & np.isfinite(target)
            frame = pd.DataFrame({"code": row_codes[ok], "t": target[ok]})
            agg = frame.groupby("code")["t"].agg(["mean", "count"])
            ridge = Ridge(alpha=self.ridge_alpha, tol=_EXPECTATION_TOLERANCE)
            ridge.fit(
                matrix[agg.index.to_numpy()],
                agg["mean"].to_numpy(),
                sample_weight=np.sqrt(agg["count"].to_numpy(dtype=float)),
            )
            parts[name] = ridge
            if lines is not None:
                own = pd.Series(lines[rows][ok]).groupby(frame["code"].to_numpy()).sum()
                parts[f"{name}_spread"] = self._fit_spread(matrix, frame, agg, ridge, own)
        chapter = targets["chapter"][rows]
        ok = benign & pd.notna(chapter)
        frame = pd.DataFrame({"code": row_codes[ok], "ch": chapter[ok]})
        frame["ch"] = frame["ch"].where(frame["ch"].isin(self.chapters_), OTHER_CHAPTER)
        pairs = frame.value_counts().reset_index()
        parts["chapter"] = None
        if pairs["ch"].nunique() >= 2:
            chapter_model = self._text_classifier(_CHAPTER_EPOCHS)
            chapter_model.fit(
                matrix[pairs["code"].to_numpy()],
                pairs["ch"].to_numpy(),
                sample_weight=np.sqrt(pairs["count"].to_numpy(dtype=float)),
            )
            parts["chapter"] = chapter_model
        return parts

    def _fit_spread(
        self,
        matrix: sp.csr_matrix,
        frame: pd.DataFrame,
        agg: pd.DataFrame,
        ridge: Ridge,
        lines: pd.Series,
    ) -> Ridge:
        """How far honest lines stray from the expectation of their wording: the log of the
        mean squared distance, learned from the wording like the expectation itself. A bare
        "датчик" is a car's 0.1 kg sensor or a 3 kg one, "футболка" weighs 0.2 kg.

        A wording weighs by its distinct lines less one (`lines` per text): one line says
        nothing of how lines stray, however often a written one is repeated in training
        (one writer's 3 kg "Датчик" would otherwise tell every "датчик" it weighs 1.5 kg
        give or take nothing). Such wording's spread comes from its words' other lines."""
        expected = pd.Series(ridge.predict(matrix[agg.index.to_numpy()]), index=agg.index)
        squared = (frame["t"].to_numpy() - expected.loc[frame["code"]].to_numpy()) ** 2
        mean_squared = pd.Series(squared).groupby(frame["code"].to_numpy()).mean()
        informative = (lines.reindex(agg.index).fillna(0.0) - 1.0).clip(lower=0.0)
        if (informative > 0).any():  # else (a tiny fit) every wording counts once
            agg = agg[informative.to_numpy() > 0]
            informative = informative[informative > 0]
        else:
            informative = informative + 1.0
        texts = agg.index.to_numpy()
        # Reasons compare a weight with two spreads, rounded: a loose tolerance is enough
        # (and saves seconds of `make model`).
        spread = Ridge(alpha=self.ridge_alpha, tol=_SPREAD_TOLERANCE)
        spread.fit(
            matrix[texts],
            np.log(mean_squared.loc[agg.index].to_numpy() + _LEAST_SQUARED_SPREAD),
            sample_weight=np.sqrt(informative.to_numpy(dtype=float)),
        )
        return spread

    def rests_on_few_lines(self, descriptions: Sequence[str]) -> np.ndarray:
        """Per description: whether its wording's expectations rest on under two lines'
        worth of honest training rows (`thin_wordings_`): they are one line's weight and
        worth, however often training repeats it, not knowledge of a kind of goods."""
        thin = self.__dict__.get("thin_wordings_", frozenset())
        return np.fromiter(
            (matching_text(str(d)) in thin for d in descriptions), bool, len(descriptions)
        )

    def expectation_spreads(self, descriptions: Sequence[str]) -> np.ndarray:
        """Per description: how far, in log units (a standard deviation), honest lines of
        such wording stray from its expected weight per unit and USD/kg (NaN for a model
        fitted without them): the `SPREAD_SIGNALS` columns of their signals."""
        spreads = None
        if len(descriptions):
            matrix = self.vectorizer_.transform([str(d) for d in descriptions])
            spreads = _spreads(self.parts_, matrix)
        if spreads is None:
            return np.full((len(descriptions), len(SPREAD_SIGNALS)), np.nan)
        return spreads

    def _signals(
        self, parts: dict[str, Any], matrix: sp.csr_matrix, texts: Sequence[str]
    ) -> np.ndarray:
        gear: SGDClassifier = parts["gear"]
        chapter_model: SGDClassifier | None = parts["chapter"]
        models = [gear, parts["log_unit_weight"], parts["log_usd_per_kg"]]
        decisions = linear_outputs(
            models if chapter_model is None else [*models, chapter_model], matrix
        )
        log_proba = log_probabilities(decisions[0])
        benign_col = list(gear.classes_).index("benign")
        # Log-odds of each gear class against benign: additive, so reasons can split it.
        text = np.column_stack(
            [
                log_proba[:, list(gear.classes_).index(c)] - log_proba[:, benign_col]
                if c in gear.classes_
                else np.full(matrix.shape[0], -10.0)
                for c in RISK_CLASSES
            ]
        )
        # A description that is only a vague word ("киім", "giysi", "одежда") does not say
        # what the goods are, so its words are no evidence of gear either way: disguises
        # borrow them at the rates honest senders use them, and a writer's liking for one
        # language's word would otherwise become evidence. It gets the average training
        # line's signals (not known yet during the cross-fit: `fit_transform` fills them in).
        text[_vague_rows(texts)] = parts.get("neutral_text", np.nan)
        weight, value = decisions[1], decisions[2]
        chapter_lp = np.full((matrix.shape[0], len(self.chapters_)), np.log(LOG_FLOOR))
        if chapter_model is not None:
            modelled = [self.chapters_.index(c) for c in chapter_model.classes_]
            chapter_lp[:, modelled] = log_probabilities(decisions[3])
        known = self.known_share(texts)
        # Gear named outright, by a word no honest phrasing uses (training.gear_words): the
        # text models learn each such word only as often as it occurs, this flag at once.
        named = np.fromiter((description_names_gear(t) for t in texts), bool, len(texts))
        # The cross-fit's parts have no spread models: `fit_transform` fills the spreads in.
        spreads = _spreads(parts, matrix)
        if spreads is None:
            spreads = np.full((matrix.shape[0], len(SPREAD_SIGNALS)), np.nan)
        return np.column_stack([text, weight, value, known, named, spreads, chapter_lp]).astype(
            np.float64
        )

    def known_share(self, descriptions: Sequence[str]) -> np.ndarray:
        """Share of each description's words the weight and value models learned from
        honest goods (0 to 1): how far its expected weight and value are the models'
        knowledge rather than their average. Where it is low and an HS code was declared,
        they are mostly the code's (`hs_expectations`)."""
        known = self.expectation_words_
        out = np.zeros(len(descriptions))
        for i, description in enumerate(descriptions):
            words = _WORD.findall(matching_text(str(description)))
            if words:
                out[i] = sum(word in known for word in words) / len(words)
        return out

    def _fit_hs_expectations(
        self, targets: dict[str, np.ndarray], hs_codes: np.ndarray, benign: np.ndarray
    ) -> None:
        """Typical log weight per unit and log USD/kg of benign goods per HS subheading (6
        digits), heading (4) and chapter (2): what to expect of goods the text models do not
        know."""
        frame = pd.DataFrame(
            {"w": targets["log_unit_weight"], "v": targets["log_usd_per_kg"]}
        ).replace([np.inf, -np.inf], np.nan)
        # Each level's digits per distinct code, then per row: a few thousand codes, not
        # millions of rows' strings.
        codes, distinct = pd.factorize(pd.Series(hs_codes, dtype=object).where(benign))
        tables: dict[str, dict[str, tuple[float, float]]] = {}
        # How far honest lines under each code stray (standard deviations of the same logs):
        # a catch-all subheading ("392690", other articles of plastics) holds phone cases
        # and crates, and its median is no weight to set a line against.
        spreads: dict[str, dict[str, tuple[float, float]]] = {}
        for level, width in _HS_LEVELS:
            # A heading typed alone ("6403") says nothing of its subheadings.
            prefixes = np.array(
                [str(code)[:width] if len(str(code)) >= width else None for code in distinct]
                + [None],
                dtype=object,
            )
            grouped = frame.assign(code=prefixes[codes]).dropna(subset=["code"]).groupby("code")
            enough = grouped.size() >= _MIN_CHAPTER_EXAMPLES
            stats = grouped[["w", "v"]].median()[enough]
            tables[level] = {
                str(key): (float(row.w), float(row.v)) for key, row in stats.iterrows()
            }
            stray = grouped[["w", "v"]].std()[enough]
            spreads[level] = {
                str(key): (float(row.w), float(row.v)) for key, row in stray.iterrows()
            }
        self.hs_expectations_ = tables
        self.hs_spreads_ = spreads

    def hs_expectations(self, hs_codes: Sequence[object]) -> list[tuple[str, float, float] | None]:
        """For each declared HS code, what honest goods declared under it typically weigh
        per unit (kg) and are worth (USD/kg), from its most specific level that enough
        honest lines were declared under: (that level's digits, kg, USD/kg), or None.

        A microwave oven under 851650 is expected at the weight of microwaves, not of the
        irons and hair dryers that make most of heading 8516."""
        tables = self.__dict__.get("hs_expectations_") or {}
        out: list[tuple[str, float, float] | None] = []
        for code in hs_codes:
            found = None
            if isinstance(code, str):
                for level, width in _HS_LEVELS:
                    # Models fitted before subheadings were kept have no table for them.
                    hit = tables.get(level, {}).get(code[:width]) if len(code) >= width else None
                    if hit is not None:
                        found = (code[:width], float(np.exp(hit[0])), float(np.exp(hit[1])))
                        break
            out.append(found)
        return out

    def hs_spread(self, digits: str) -> tuple[float, float]:
        """How far honest lines declared under an HS level of `hs_expectations` (its
        digits) stray from its expectations, as standard deviations of log weight per unit
        and log USD/kg; NaN where unknown (models fitted before spreads were kept)."""
        level = _HS_LEVEL_OF_WIDTH.get(len(digits))
        found = self.__dict__.get("hs_spreads_", {}).get(level, {}).get(digits)
        return found if found is not None else (math.nan, math.nan)

    def _with_hs_expectations(self, items: ItemColumns, signals: np.ndarray) -> np.ndarray:
        """Signals whose expected weight and value lean on the declared HS code (its most
        specific known level) as far as the description is unknown; the confidence is then
        that of a known code."""
        if not self.__dict__.get("hs_expectations_"):
            return signals
        codes, distinct = factorize(column(items, "hs_code"))
        found = np.full((len(distinct), 2), np.nan)
        for i, hit in enumerate(self.hs_expectations(distinct.tolist())):
            if hit is not None:
                found[i] = np.log(hit[1]), np.log(hit[2])
        per_row = found[codes] if len(codes) else np.zeros((0, 2))
        has_hs = np.isfinite(per_row[:, 0])
        if not has_hs.any():
            return signals
        names = _SIGNAL_COLUMNS
        known = signals[:, names["expectation_confidence"]]
        for j, name in enumerate(("expected_log_unit_weight", "expected_log_usd_per_kg")):
            text = signals[:, names[name]]
            signals[:, names[name]] = np.where(
                has_hs, known * text + (1 - known) * per_row[:, j], text
            )
        signals[:, names["expectation_confidence"]] = np.where(has_hs, 1.0, known)
        return signals

    def __sklearn_tags__(self) -> Tags:
        return item_columns_tags(super().__sklearn_tags__())

    def fit(self, items: ItemColumns, y: np.ndarray) -> TextSignals:
        """Fit on item columns and their label classes `y` (LABEL_CLASSES; any other value,
        such as "unknown_gear", counts as gear of no known class)."""
        self.fit_transform(items, y)
        return self

    def fit_transform(self, items: ItemColumns, y: np.ndarray) -> ItemSignals:
        """Fit, and the items with their out-of-fold signals."""
        # What transform cached belongs to the models being replaced.
        for stale in _CACHES:
            self.__dict__.pop(stale, None)
        descriptions = column(items, "description")
        codes, uniques = _distinct(descriptions)
        label_class = np.asarray(y, dtype=object)
        targets = self._targets(items)
        self._fit_hs_expectations(targets, column(items, "hs_code"), label_class == "benign")
        benign_chapters = pd.Series(targets["chapter"][label_class == "benign"]).value_counts()
        frequent = benign_chapters[benign_chapters >= _MIN_CHAPTER_EXAMPLES]
        self.chapters_: list[str] = [
            *sorted(frequent.index[:_MAX_CHAPTERS].astype(str)),
            OTHER_CHAPTER,
        ]
        self.vectorizer_ = self.vectorizer or DescriptionVectorizer()
        matrix = self.vectorizer_.fit_transform(list(uniques))
        texts = [str(u) for u in uniques]
        # The words the weight and value models learned from honest goods (they learn from
        # nothing else): a word known only from gear lines ("Entfernungsmesser" of one
        # writer's rangefinders) makes their expectation its letters' guess, not knowledge
        # ("usually about 0.9 USD/kg" for a laser rangefinder).
        vocabulary = self.vectorizer_.word_.vocabulary_
        honest_rows = np.bincount(codes[label_class == "benign"], minlength=len(uniques)) > 0
        self.expectation_words_ = frozenset(
            word
            for text, honest in zip(texts, honest_rows.tolist(), strict=True)
            if honest
            for word in _WORD.findall(matching_text(text))
            if word in vocabulary
        )

        # The generator's disguises borrow the words of the honest goods they pose as (a
        # ballistic helmet as "мотошлем"), from a few covers per kind of gear: learnt, those
        # words would lean to gear far beyond what real disguises borrow at honest traffic's
        # rates. The form model still learns from those rows what their weight, worth and
        # parcel give away. Written gear lines teach their wording as people wrote it.
        repeat = column(items, REPEAT_COLUMN, float)
        borrowed = (column(items, BORROWED_WORDING, float) == 1.0) | (
            np.isfinite(repeat) & (repeat >= _TAUGHT_REPEATS)
        )
        out = np.zeros((len(descriptions), len(self.get_feature_names_out())))
        # Folds over *distinct* descriptions: a text is never scored by a model that saw it.
        folds = KFold(self.n_folds, shuffle=True, random_state=self.random_state)
        for train_codes, held_codes in folds.split(np.arange(len(uniques))):
            in_train = np.isin(codes, train_codes)
            parts = self._fit_parts(
                matrix, codes, label_class, targets, np.flatnonzero(in_train), borrowed
            )
            held = np.flatnonzero(~in_train)
            signals = self._signals(parts, matrix[held_codes], [texts[i] for i in held_codes])
            lookup = np.full(len(uniques), -1)
            lookup[held_codes] = np.arange(len(held_codes))
            out[held] = signals[lookup[codes[held]]]
        # A vague description's words lean neither way: its text signals are the average
        # training line's, so its text contributes nothing and the form's `vague` feature
        # (and the weight and worth) carry what a vague line is worth.
        text = slice(0, len(RISK_CLASSES))
        vague = _vague_rows(texts)[codes]
        neutral = out[~vague, text].mean(axis=0) if (~vague).any() else np.zeros(len(RISK_CLASSES))
        out[vague, text] = neutral
        # Words of everyday goods count as honest wording even where training has few
        # lines of them: the catalogue knows contact lenses and Kyrgyz boots. Each also as
        # senders transliterate it: "Sportivnaya forma" is the "спортивная форма" of
        # honest lines, not a word of the armour once disguised as a "жилет спортивный".
        self.honest_words_ = _with_spellings(
            _honest_words(uniques, codes, label_class == "benign") | knowledge.everyday_words()
        )
        lines = ~(np.isfinite(repeat) & (repeat >= 1))
        self.thin_wordings_ = _thin_wordings(
            texts, codes, label_class == "benign", lines, np.isfinite(repeat)
        )
        self.parts_ = self._fit_parts(
            matrix, codes, label_class, targets, np.arange(len(descriptions)), borrowed, lines
        )
        self.parts_["neutral_text"] = neutral
        # The spreads are learnt once, from every honest line (the cross-fit's parts have
        # none): how far a wording's honest lines stray is a fact of the goods, which a
        # wording's own lines do not bend much.
        spreads = _spreads(self.parts_, matrix)
        if spreads is not None:
            for j, name in enumerate(SPREAD_SIGNALS):
                out[:, _SIGNAL_COLUMNS[name]] = spreads[codes, j]
        signals = self._with_hs_expectations(items, out)
        return ItemSignals(items, signals, self.get_feature_names_out())

    def transform(self, items: ItemColumns) -> ItemSignals:
        """The items with their signals from the models fitted on every row."""
        return ItemSignals(items, self.signals(items), self.get_feature_names_out())

    def signals(self, items: ItemColumns) -> np.ndarray:
        """The signals of each row (`transform` without the items around them)."""
        descriptions = column(items, "description")
        codes, uniques = _distinct(descriptions)
        return self._with_hs_expectations(items, self.signals_for(uniques)[codes])

    def signals_for(self, descriptions: Sequence[str] | np.ndarray) -> np.ndarray:
        """Signals for distinct descriptions, from the cache where they repeat (safe to call
        from several threads)."""
        width = len(self.get_feature_names_out())
        cache = self.__dict__.get("cache_")
        if not isinstance(cache, RowCache):  # first use (or a model pickled with a dict)
            cache = self.cache_ = RowCache(width, _SIGNAL_CACHE_ENTRIES)
        keys = [str(d) for d in descriptions]
        rows, found = cache.lookup(keys)
        missing = np.flatnonzero(~found)
        # New texts in blocks: the n-gram matrices of 20k new texts at once took ~80 MB.
        for start in range(0, len(missing), _TEXT_BLOCK):
            block = missing[start : start + _TEXT_BLOCK]
            texts = [keys[i] for i in block]
            computed = self._signals(self.parts_, self.vectorizer_.transform(texts), texts)
            rows[block] = computed
            cache.add(texts, computed)
        return rows

    def _word_leaning(
        self, words: list[str], gear: SGDClassifier, columns: list[str]
    ) -> np.ndarray:
        """Each word's gear leaning per class (rows of words), in blocks of new texts."""
        blocks = [
            np.asarray(
                self.vectorizer_.transform(words[i : i + _TEXT_BLOCK]) @ _leaning(gear, columns)
            )
            for i in range(0, len(words), _TEXT_BLOCK)
        ]
        return np.vstack(blocks) if blocks else np.zeros((0, len(columns)))

    def class_of_term(self, term: str, line_class: str | None = None) -> str:
        """The gear class a word alone leans to most: what a reason calls it typical of.

        The word is picked for the class an item is read as, but an officer reads the word:
        "военный" (military) of a "военный билет" read as optics is typical of military
        kit, not of optics. Given the class its line is read as (`line_class`), a word that
        alone also leans clearly to that class is said of it: "IIIA" is a protection level
        of vests as of helmets, and on a vest's line it names body armour."""
        gear: SGDClassifier = self.parts_["gear"]
        # The columns `top_terms` caches each word's leaning under.
        columns = [c for c in RISK_CLASSES if c in gear.classes_]
        row = self.__dict__.get("word_leaning_", {}).get(term)
        if row is None:
            row = self._word_leaning([term], gear, columns)[0]
        leaning = dict(zip(columns, np.asarray(row).tolist(), strict=True))
        if line_class in leaning and leaning[line_class] > _TERM_LEANING:
            return line_class
        return max(columns, key=leaning.__getitem__)

    def top_terms(self, descriptions: Sequence[str], classes: Sequence[str]) -> list[str | None]:
        """For each description, its word that alone sounds most like the paired gear class.

        Each word is scored on its own by the gear model (log-odds of the class against
        benign), so the reason names the term as the sender wrote it ("Бронежилет", "6Б45",
        "防弹衣"). All words of all descriptions go through the vectorizer in one call.
        Function words, the most common words ("for", "на", "body", "вещи"), counts ("2块"),
        the words honest senders use every day ("жилет", "одеяло"), or that three kinds of
        everyday goods of the catalogue are written with ("CONTACT" of contact lenses, Kyrgyz
        "өтүк", boots), and those that alone name a kind of ordinary goods ("瓷砖", tiles) are
        never named: an officer would not call them typical of gear, nor are words the models
        never read as words (their letters alone lean). None where no other word leans
        clearly towards it.
        """
        gear: SGDClassifier = self.parts_["gear"]
        known = list(gear.classes_)
        if "benign" not in known:
            return [None] * len(descriptions)
        columns = [c for c in RISK_CLASSES if c in known]
        honest: frozenset[str] = self.__dict__.get("honest_words_", frozenset())
        # An honest word counts in every form too: "одежду" (clothes, accusative) is the
        # "одежда" of honest lines, "boots" their "boot" (`_shares_a_stem`).
        ordered = self.__dict__.get("honest_sorted_")
        if ordered is None or ordered[0] is not honest:
            # The Russian stemmer reads "ё" as "е": so must the search by a stem's start.
            ordered = (honest, sorted({w.replace("ё", "е") for w in honest}), {})
            self.__dict__["honest_sorted_"] = ordered
        honest_sorted: list[str] = ordered[1]
        vocabulary = self.vectorizer_.word_.vocabulary_

        def may_be_named(w: str) -> bool:
            return (
                not is_common(w)
                and _spellings(w).isdisjoint(honest)
                # A word of a vague description ("numune", sample; "кече" of "кийим-кече",
                # clothes) says no more than the description: never typical of gear.
                and w.casefold() not in knowledge.vague_words()
                # Nor is a word that alone names ordinary goods ("瓷砖", ceramic tiles, over
                # plates): that is a cover, and the reason says so.
                and not knowledge.names_honest_goods(w)
                # Nor a word only honest goods are phrased in ("Jagd", hunting): gear
                # learned it from the covers that borrow it.
                and w.casefold() not in knowledge.honest_only_words()
                and not is_count(w)
                # Nor a measure: "3000m" of a rangefinder's range is a marketplace title's
                # figure, whatever the models learnt of it.
                and not is_measure(w)
                # A word the models never read as a word leans only by its letters ("КИМОНО",
                # "Acuvue" read as optics): no evidence an officer would accept.
                and all(k in vocabulary for k in _WORD.findall(matching_text(w)))
                and not _shares_a_stem(w, honest_sorted)
            )

        # Words repeat across descriptions and batches: each is decided once per process.
        decided: dict[str, bool] = ordered[2]

        def nameable(w: str) -> bool:
            found = decided.get(w)
            if found is None:
                found = may_be_named(w)
                trim_cache(decided, _LEANING_CACHE_ENTRIES)
                decided[w] = found
            return found

        words_of = [[w for w in _WORD.findall(d) if nameable(w)] for d in descriptions]
        # Words repeat across descriptions and batches: each is scored once per process.
        leaning_of: dict[str, np.ndarray] = self.__dict__.setdefault("word_leaning_", {})
        new_words = sorted({w for words in words_of for w in words} - leaning_of.keys())
        if new_words:
            scores = self._word_leaning(new_words, gear, columns)
            trim_cache(leaning_of, _LEANING_CACHE_ENTRIES)
            leaning_of.update(zip(new_words, scores, strict=True))
        # Read once: another thread may clear the shared cache between here and the loop.
        leaning = {w: leaning_of.get(w) for words in words_of for w in words}
        missing = [w for w, row in leaning.items() if row is None]
        if missing:
            leaning.update(zip(missing, self._word_leaning(missing, gear, columns), strict=True))
        out: list[str | None] = []
        for words, risk_class in zip(words_of, classes, strict=True):
            if risk_class not in columns or not words:
                out.append(None)
                continue
            j = columns.index(risk_class)
            best = max(words, key=lambda w: cast(np.ndarray, leaning[w])[j])
            out.append(best if cast(np.ndarray, leaning[best])[j] > _TERM_LEANING else None)
        return out


def _vague_rows(texts: Sequence[str]) -> np.ndarray:
    """Which descriptions are only a vague word ("киім", "giysi", "одежда")."""
    return vague_flags(np.asarray(texts, dtype=object)) == 1.0


# Below this many lines' worth of honest evidence (`_thin_wordings`) a wording's expectation
# is one line's weight and worth, not a kind of goods'.
_LEAST_QUOTED_LINES: Final = 2.0


def _thin_wordings(
    texts: Sequence[str],
    codes: np.ndarray,
    benign: np.ndarray,
    lines: np.ndarray,
    written: np.ndarray,
) -> frozenset[str]:
    """Wordings (as `matching_text` reads them) whose expectation rests on fewer than two
    lines' worth of honest rows: the effective number of lines, (sum of rows)^2 / (sum of
    squared rows per line), where a written line counts its repeats and a generated row is
    a line of its own. One writer's "датчик" of 3 kg repeated 50 times beside 11 generated
    car sensors is 1.5 lines' worth; two written lines, or a generated row alone, are not
    thin (a generated row is not repeated: its wording weighs as little as it says)."""
    n = len(texts)
    written_lines = np.bincount(codes[benign & written & lines], minlength=n)
    written_rows = np.bincount(codes[benign & written], minlength=n)
    generated_rows = np.bincount(codes[benign & ~written], minlength=n)
    per_wording: dict[str, list[int]] = {}
    for text, own, rows, generated in zip(
        texts, written_lines.tolist(), written_rows.tolist(), generated_rows.tolist(), strict=True
    ):
        if rows or generated:
            counts = per_wording.setdefault(matching_text(text), [0, 0, 0])
            counts[0] += own
            counts[1] += rows
            counts[2] += generated
    thin: set[str] = set()
    for key, (own, rows, generated) in per_wording.items():
        if not own:
            continue
        # Each written line of the wording repeated `rows / own` times.
        squares = rows * rows / own + generated
        if (rows + generated) ** 2 / squares < _LEAST_QUOTED_LINES:
            thin.add(key)
    return frozenset(thin)


@lru_cache(maxsize=50_000)
def _spellings(word: str) -> frozenset[str]:
    """A word casefolded and as the text models read it (`matching_text`: Cyrillic with its
    transliteration, Latin with its transliteration variants folded)."""
    return frozenset({word.casefold(), *_WORD.findall(matching_text(word))})


def _shares_a_stem(word: str, honest_sorted: list[str]) -> bool:
    """Whether a word of `honest_sorted` (sorted words) has the stem of `word`. A stem is
    the start of the words it stems but for its last letter at most (English "cry" is
    "cri"), so only the honest words that start so are stemmed, not every honest word in
    every process that names a term."""
    stem = word_stem(word)
    start = stem[:-1] or stem
    at = bisect_left(honest_sorted, start)
    while at < len(honest_sorted) and honest_sorted[at].startswith(start):
        if word_stem(honest_sorted[at]) == stem:
            return True
        at += 1
    return False


def _with_spellings(words: frozenset[str]) -> frozenset[str]:
    """Honest words in every spelling a reason may meet them in, Chinese ones in pinyin
    too: "头盔" (helmet) heads honest compounds, and so does "toukui" when a seller types it
    on a Latin keyboard."""
    spellings = {spelling for word in words for spelling in _spellings(word)}
    chinese = [word for word in words if knowledge.holds_chinese(word)]
    spellings.update(w for word in chinese for w in _WORD.findall(knowledge.romanise_chinese(word)))
    return frozenset(spellings)


def _honest_words(uniques: np.ndarray, codes: np.ndarray, benign: np.ndarray) -> frozenset[str]:
    """Words (casefolded) of at least _HONEST_WORD_ROWS rows of honest goods."""
    rows = np.bincount(codes[benign], minlength=len(uniques))
    counts: dict[str, int] = {}
    for description, n in zip(uniques.tolist(), rows.tolist(), strict=True):
        if n:
            for word in {w.casefold() for w in _WORD.findall(str(description))}:
                counts[word] = counts.get(word, 0) + n
    return frozenset(word for word, n in counts.items() if n >= _HONEST_WORD_ROWS)


_LEANING: weakref.WeakKeyDictionary[Any, tuple[list[str], np.ndarray]] = weakref.WeakKeyDictionary()


def _leaning(gear: SGDClassifier, columns: list[str]) -> np.ndarray:
    """Coefficients of each gear class minus benign's (n-grams x classes), made once."""
    cached = _LEANING.get(gear)
    if cached is None or cached[0] != columns:
        known = list(gear.classes_)
        benign = gear.coef_[known.index("benign")]
        matrix = np.column_stack([gear.coef_[known.index(c)] - benign for c in columns])
        cached = _LEANING[gear] = (columns, matrix)
    return cached[1]
