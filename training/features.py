"""Features of a declaration item, the way an officer reads the form.

Two layers, both scikit-learn estimators with named outputs:

- `TextSignals` reads the description alone: how much it sounds like each kind of gear,
  what such goods normally weigh per unit and cost per kg (learned on benign items only),
  and which HS chapter they normally fall under. It is computed once per *distinct*
  description and cached, because real traffic repeats "clothes" and "одежда" endlessly.
- `FormFeatures` sets the rest of the form against those expectations: the residual of the
  declared weight and value, whether the HS code fits, category, mail class, lane and the
  parcel around the item.

Inputs are *item columns*: any mapping from contract field to an array-like, i.e. a
normalised frame or the plain lists of one JSON declaration (so one declaration does not pay
for a DataFrame).
"""

from __future__ import annotations

import copy
import itertools
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge, SGDClassifier
from sklearn.model_selection import KFold

from training import knowledge, ngrams
from training.common_words import is_common
from training.history import HISTORY_FEATURES
from training.row_cache import RowCache
from training.schema import CATEGORIES, LABEL_CLASSES, MAIL_CLASSES, RISK_CLASSES
from training.text import matching_text

# A normalised frame, or plain column lists (one JSON declaration, without pandas).
ItemColumns = Mapping[str, Any] | pd.DataFrame

# Below this many benign examples an HS chapter is not modelled (too few to learn from).
_MIN_CHAPTER_EXAMPLES: Final = 5
# HS chapters the text models tell apart; rarer ones are one class, OTHER_CHAPTER. Each
# modelled chapter is a column of a dense product for every new description: 81 chapters
# cost 16-19% of batch speed against 36 (docs/decisions.md).
_MAX_CHAPTERS: Final = 40
OTHER_CHAPTER: Final = "other"
_LOG_FLOOR: Final = 1e-3
_WORD: Final = re.compile(r"\w+")
# Entries of the per-process caches of text signals (per description: ~0.55 kB each with
# its key) and of gear leaning (per word, for reasons): bounded, so memory stays flat.
_SIGNAL_CACHE_ENTRIES: Final = 100_000
_LEANING_CACHE_ENTRIES: Final = 20_000
# New descriptions whose n-grams are counted at a time.
_TEXT_BLOCK: Final = 4096
# Lowest log-odds of gear that the text alone can contribute (see FormFeatures.transform).
_TEXT_FLOOR: Final = 4.0
# The least weight a residual against an expectation keeps when its wording is unknown.
_LEAST_TRUST: Final = 0.5
# Log-odds of the gear class a word must carry on its own to be named "typical of" it (a
# word that barely leans is no evidence an officer would accept).
_TERM_LEANING: Final = 1.0
# Rows of honest goods a word must appear in to count as honest senders' everyday wording:
# such a word ("жилет", "одеяло", "kiyim") is never named "typical of" gear, whatever the
# model learned of the covers smugglers prefer.
_HONEST_WORD_ROWS: Final = 20


def column(items: ItemColumns, name: str, dtype: Any = object) -> np.ndarray:
    """One column of item columns as a numpy array (None/NaN for a missing column)."""
    if name not in items:
        n = _length(items)
        if dtype is float:
            return np.full(n, np.nan)
        return np.full(n, None, dtype=object)
    values = items[name]
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    if dtype is float:
        try:
            # None becomes NaN: the JSON path hands over plain lists with None for missing.
            return np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
                dtype=float
            )
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        # Whole numbers (parcel keys made by the batch reader) stay unboxed: grouping them
        # is a C hash of ints, boxing them first cost more than the grouping.
        return values
    return np.asarray(values, dtype=object)


# Below this many rows a dict is faster than pandas' hashing machinery (fixed setup cost).
_SMALL: Final = 32


def factorize(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values) of a column, in order of first appearance; None is a value."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu" and len(values) > _SMALL:
        int_codes, int_uniques = pd.factorize(values)
        return np.asarray(int_codes, dtype=np.intp), np.asarray(int_uniques, dtype=object)
    array = np.asarray(values, dtype=object)
    if len(array) <= _SMALL:
        seen: dict[Any, int] = {}
        codes = np.fromiter(
            (seen.setdefault(v, len(seen)) for v in array.tolist()),
            dtype=np.intp,
            count=len(array),
        )
        uniques = np.empty(len(seen), dtype=object)
        uniques[:] = list(seen)
        return codes, uniques
    codes, uniques = pd.factorize(array, use_na_sentinel=False)
    distinct = np.asarray(uniques, dtype=object)
    # pandas turns a missing value into NaN; keep None, as the small-input path does.
    distinct[pd.isna(distinct)] = None
    return np.asarray(codes, dtype=np.intp), distinct


def trim_cache(cache: dict[Any, Any], limit: int) -> None:
    """Past `limit` entries, drop the older half (insertion order): a flood of unique keys
    must not grow memory, and dropping all would make the next batch start cold."""
    if len(cache) > limit:
        # One C-level pass over the keys: no other thread runs in the middle of it.
        for key in list(itertools.islice(cache, len(cache) - limit // 2)):
            cache.pop(key, None)


def parcel_codes(declaration_ids: Any) -> np.ndarray:
    """0..k-1 codes of the parcels of item rows (rows of one declaration share a code)."""
    return factorize(declaration_ids)[0]


def _length(items: ItemColumns) -> int:
    if isinstance(items, pd.DataFrame):
        return len(items)
    for values in items.values():
        return len(values)
    return 0


# --- the description -----------------------------------------------------------------------


class DescriptionVectorizer(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):  # type: ignore[misc,call-arg]
    """TF-IDF of word-boundary character n-grams and word n-grams of the matching text."""

    def __init__(
        self,
        char_ngram_range: tuple[int, int] = (2, 5),
        word_ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 2,
        max_char_features: int = 300_000,
        max_word_features: int = 100_000,
    ) -> None:
        self.char_ngram_range = char_ngram_range
        self.word_ngram_range = word_ngram_range
        self.min_df = min_df
        self.max_char_features = max_char_features
        self.max_word_features = max_word_features

    def fit(self, descriptions: Sequence[str], y: Any = None) -> DescriptionVectorizer:
        texts = [matching_text(d) for d in descriptions]
        self.char_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.char_ngram_range,
            min_df=self.min_df,
            max_features=self.max_char_features,
            sublinear_tf=True,
            dtype=np.float32,
        ).fit(texts)
        self.word_ = TfidfVectorizer(
            analyzer="word",
            token_pattern=r"(?u)\b\w+\b",
            ngram_range=self.word_ngram_range,
            min_df=self.min_df,
            max_features=self.max_word_features,
            sublinear_tf=True,
            dtype=np.float32,
        ).fit(texts)
        return self

    # The vocabularies travel as two arrays each: joblib unpickles with Python's pure-Python
    # unpickler, for which ~100k dict entries took ~0.5-1.4 s of every start (measured);
    # arrays load in milliseconds and the dict is rebuilt in C.
    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = dict(super().__getstate__())  # a copy: it may be __dict__
        for name in ("char_", "word_"):
            vectorizer = state.get(name)
            if vectorizer is not None and isinstance(vectorizer.vocabulary_, dict):
                compact = copy.copy(vectorizer)
                compact.vocabulary_ = _VocabularyArrays.of(vectorizer.vocabulary_)
                state[name] = compact
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in ("char_", "word_"):
            vectorizer = state.get(name)
            if vectorizer is not None and isinstance(vectorizer.vocabulary_, _VocabularyArrays):
                vectorizer.vocabulary_ = vectorizer.vocabulary_.as_dict()
        super().__setstate__(state)

    def transform(self, descriptions: Sequence[str]) -> sp.csr_matrix:
        return ngrams.tfidf((self.char_, self.word_), [matching_text(d) for d in descriptions])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        # sklearn sorts the whole vocabulary on every call (~50 ms), and reasons ask once
        # per distinct description: built once per fitted vocabulary, outside the pickle.
        cached = _FEATURE_NAMES.get(self)
        if cached is None or cached[0] is not self.char_ or cached[1] is not self.word_:
            char = [f"char:{n}" for n in self.char_.get_feature_names_out()]
            word = [f"word:{n}" for n in self.word_.get_feature_names_out()]
            cached = (self.char_, self.word_, np.asarray(char + word, dtype=object))
            _FEATURE_NAMES[self] = cached
        return cached[2]


@dataclass(frozen=True)
class _VocabularyArrays:
    """A fitted vocabulary as its terms end to end, their lengths and their columns: how it
    is pickled (three objects instead of two per term)."""

    text: str
    lengths: np.ndarray
    columns: np.ndarray

    @classmethod
    def of(cls, vocabulary: dict[str, int]) -> _VocabularyArrays:
        return cls(
            "".join(vocabulary),
            np.fromiter(map(len, vocabulary), dtype=np.int64, count=len(vocabulary)),
            np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary)),
        )

    def as_dict(self) -> dict[str, int]:
        ends = np.cumsum(self.lengths)
        starts = (ends - self.lengths).tolist()
        text = self.text
        terms = [text[a:b] for a, b in zip(starts, ends.tolist(), strict=True)]
        return dict(zip(terms, self.columns.tolist(), strict=True))


_FEATURE_NAMES: weakref.WeakKeyDictionary[
    DescriptionVectorizer, tuple[TfidfVectorizer, TfidfVectorizer, np.ndarray]
] = weakref.WeakKeyDictionary()


# The fitted text models' coefficients, transposed and side by side, built once per process
# for each set of models: one sparse product then serves them all. sklearn's predict on a
# sparse row multiplies by `coef_.T`, which scipy copies on every call (1.5 ms for the
# 36-chapter model per single declaration); and each product has a fixed cost (~50 us for
# one row), paid once instead of four times. Column by column the sums are scipy's own, so
# the values are those of one product per model.
_STACKED: weakref.WeakKeyDictionary[Any, tuple[tuple[np.ndarray, ...], np.ndarray, list[int]]] = (
    weakref.WeakKeyDictionary()
)


def _stacked_coef(models: Sequence[Any]) -> tuple[np.ndarray, list[int]]:
    """(coefficients as one features x outputs array, each model's first output column)."""
    sources = tuple(model.coef_ for model in models)
    cached = _STACKED.get(models[0])
    # Checked by identity: refitting a model gives it new coefficient arrays.
    if (
        cached is None
        or len(cached[0]) != len(sources)
        or any(a is not b for a, b in zip(cached[0], sources, strict=False))
    ):
        blocks = [np.atleast_2d(coef).T for coef in sources]
        starts = np.cumsum([0] + [block.shape[1] for block in blocks]).tolist()
        cached = _STACKED[models[0]] = (sources, np.ascontiguousarray(np.hstack(blocks)), starts)
    return cached[1], cached[2]


def _linear(models: Sequence[Any], matrix: sp.csr_matrix) -> list[np.ndarray]:
    """`decision_function` / `predict` of each linear model, from one sparse product."""
    coef, starts = _stacked_coef(models)
    scores = np.asarray(matrix @ coef)
    out = []
    for model, start, end in zip(models, starts, starts[1:], strict=False):
        part = scores[:, start:end] + model.intercept_
        out.append(part[:, 0] if end - start == 1 else part)
    return out


def _log_proba(decision: np.ndarray) -> np.ndarray:
    """`predict_log_proba` of a log-loss SGDClassifier (one-vs-rest, normalised) from its
    decision function, as sklearn computes it."""
    if decision.ndim == 1:  # two classes: sklearn keeps one column
        positive = expit(decision)
        proba = np.column_stack([1.0 - positive, positive])
    else:
        proba = expit(decision)
        totals = proba.sum(axis=1, keepdims=True)
        proba = np.divide(
            proba, totals, out=np.full_like(proba, 1.0 / proba.shape[1]), where=totals > 0
        )
    with np.errstate(divide="ignore"):
        return np.log(proba)


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
        ]
    )
}


class TextSignals(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):  # type: ignore[misc,call-arg]
    """What the description alone says: gear-likeness, expected weight, value and HS chapter.

    Fitted on distinct descriptions weighted by how often they occur, so training cost
    follows the vocabulary, not the row count. `fit_transform` returns out-of-fold signals
    (a description never sees a model that trained on it) so the form model downstream
    learns how far to trust text on text it has not memorised.
    """

    def __init__(
        self,
        n_folds: int = 3,
        text_alpha: float = 1e-5,
        ridge_alpha: float = 1.0,
        random_state: int = 0,
        vectorizer: DescriptionVectorizer | None = None,
    ) -> None:
        self.n_folds = n_folds
        self.text_alpha = text_alpha
        self.ridge_alpha = ridge_alpha
        self.random_state = random_state
        self.vectorizer = vectorizer

    # Learned: vectorizer_, chapters_, parts_ (the fitted text models), hs_expectations_
    # (weight and value per HS heading and chapter); caches: cache_ (signals per
    # description) and word_leaning_ (gear leaning per word, for reasons).

    def __getstate__(self) -> dict[str, Any]:
        # The caches are rebuilt from traffic; pickling them would bloat the artifact.
        state = dict(self.__dict__)
        state.pop("cache_", None)
        state.pop("word_leaning_", None)
        return state

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = [f"text_{c}" for c in RISK_CLASSES]
        names += ["expected_log_unit_weight", "expected_log_usd_per_kg", "expectation_confidence"]
        names += [f"chapter_logp_{c}" for c in self.chapters_]
        return np.asarray(names, dtype=object)

    @staticmethod
    def _targets(items: ItemColumns) -> dict[str, np.ndarray]:
        unit_weight = unit_weights(items)
        usd_kg = usd_values(items) / column(items, "net_weight_kg", float)
        chapters = hs_chapters(items)
        return {
            "log_unit_weight": np.log(np.clip(unit_weight, _LOG_FLOOR, None)),
            "log_usd_per_kg": np.log(np.clip(usd_kg, _LOG_FLOOR, None)),
            "chapter": chapters,
        }

    def _text_classifier(self) -> SGDClassifier:
        # SGD with log loss rather than lbfgs: on ~20k distinct texts x 50k n-grams it fits
        # in about a second where lbfgs took 13 s (5 classes) and 37 s (36 HS chapters).
        return SGDClassifier(
            loss="log_loss",
            alpha=self.text_alpha,
            max_iter=12,
            tol=None,
            random_state=self.random_state,
        )

    def _fit_parts(
        self,
        matrix: sp.csr_matrix,
        codes: np.ndarray,
        label_class: np.ndarray,
        targets: dict[str, np.ndarray],
        rows: np.ndarray,
    ) -> dict[str, Any]:
        """Fit the text models on item rows `rows`; `codes` maps rows to distinct texts."""
        parts: dict[str, Any] = {}
        row_codes = codes[rows]
        classes = np.asarray(label_class[rows], dtype=object)
        # Aggregate (text, class) pairs: one weighted example each.
        pairs = pd.DataFrame({"code": row_codes, "cls": classes}).value_counts().reset_index()
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
            ridge = Ridge(alpha=self.ridge_alpha)
            ridge.fit(
                matrix[agg.index.to_numpy()],
                agg["mean"].to_numpy(),
                sample_weight=np.sqrt(agg["count"].to_numpy(dtype=float)),
            )
            parts[name] = ridge
        chapter = targets["chapter"][rows]
        ok = benign & pd.notna(chapter)
        frame = pd.DataFrame({"code": row_codes[ok], "ch": chapter[ok]})
        frame["ch"] = frame["ch"].where(frame["ch"].isin(self.chapters_), OTHER_CHAPTER)
        pairs = frame.value_counts().reset_index()
        parts["chapter"] = None
        if pairs["ch"].nunique() >= 2:
            chapter_model = self._text_classifier()
            chapter_model.fit(
                matrix[pairs["code"].to_numpy()],
                pairs["ch"].to_numpy(),
                sample_weight=np.sqrt(pairs["count"].to_numpy(dtype=float)),
            )
            parts["chapter"] = chapter_model
        return parts

    def _signals(
        self, parts: dict[str, Any], matrix: sp.csr_matrix, known: np.ndarray
    ) -> np.ndarray:
        gear: SGDClassifier = parts["gear"]
        chapter_model: SGDClassifier | None = parts["chapter"]
        models = [gear, parts["log_unit_weight"], parts["log_usd_per_kg"]]
        decisions = _linear(models if chapter_model is None else [*models, chapter_model], matrix)
        log_proba = _log_proba(decisions[0])
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
        weight, value = decisions[1], decisions[2]
        chapter_lp = np.full((matrix.shape[0], len(self.chapters_)), np.log(_LOG_FLOOR))
        if chapter_model is not None:
            modelled = [self.chapters_.index(c) for c in chapter_model.classes_]
            chapter_lp[:, modelled] = _log_proba(decisions[3])
        return np.column_stack([text, weight, value, known, chapter_lp]).astype(np.float64)

    def _known_share(self, descriptions: Sequence[str]) -> np.ndarray:
        """Share of each description's words the text models learned from: how far its
        expected weight and value are the models' knowledge rather than their average."""
        vocabulary = self.vectorizer_.word_.vocabulary_
        out = np.zeros(len(descriptions))
        for i, description in enumerate(descriptions):
            words = _WORD.findall(matching_text(str(description)))
            if words:
                out[i] = sum(word in vocabulary for word in words) / len(words)
        return out

    def _fit_hs_expectations(
        self, targets: dict[str, np.ndarray], hs_codes: np.ndarray, benign: np.ndarray
    ) -> None:
        """Typical log weight per unit and log USD/kg of benign goods per HS heading (4
        digits) and chapter (2 digits): what to expect of goods the text models do not know."""
        digits = pd.Series(hs_codes, dtype=object).where(benign)
        frame = pd.DataFrame(
            {
                "w": targets["log_unit_weight"],
                "v": targets["log_usd_per_kg"],
                "heading": digits.str[:4],
                "chapter": digits.str[:2],
            }
        ).replace([np.inf, -np.inf], np.nan)
        tables: dict[str, dict[str, tuple[float, float]]] = {}
        for level in ("heading", "chapter"):
            grouped = frame.dropna(subset=[level]).groupby(level)
            stats = grouped[["w", "v"]].median()[grouped.size() >= _MIN_CHAPTER_EXAMPLES]
            tables[level] = {
                str(code): (float(row.w), float(row.v)) for code, row in stats.iterrows()
            }
        self.hs_expectations_ = tables

    def _with_hs_expectations(self, items: ItemColumns, signals: np.ndarray) -> np.ndarray:
        """Signals whose expected weight and value lean on the declared HS heading as far as
        the description is unknown; the confidence is then that of a known heading."""
        tables = self.__dict__.get("hs_expectations_")
        if not tables:
            return signals
        codes, distinct = factorize(column(items, "hs_code"))
        found = np.full((len(distinct), 2), np.nan)
        for i, code in enumerate(distinct.tolist()):
            if isinstance(code, str):
                hit = tables["heading"].get(code[:4]) or tables["chapter"].get(code[:2])
                if hit is not None:
                    found[i] = hit
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

    def fit(self, items: ItemColumns, label_class: np.ndarray) -> TextSignals:
        self.fit_transform(items, label_class)
        return self

    def fit_transform(self, items: ItemColumns, label_class: np.ndarray) -> np.ndarray:
        descriptions = column(items, "description")
        codes, uniques = _distinct(descriptions)
        label_class = np.asarray(label_class, dtype=object)
        targets = self._targets(items)
        self._fit_hs_expectations(targets, column(items, "hs_code"), label_class == "benign")
        benign_chapters = pd.Series(targets["chapter"][label_class == "benign"]).value_counts()
        frequent = benign_chapters[benign_chapters >= _MIN_CHAPTER_EXAMPLES]
        self.chapters_: list[str] = [
            *sorted(frequent.index[:_MAX_CHAPTERS].astype(str)),
            OTHER_CHAPTER,
        ]
        self.vectorizer_ = (self.vectorizer or DescriptionVectorizer()).fit(list(uniques))
        matrix = self.vectorizer_.transform(list(uniques))
        known = self._known_share(list(uniques))

        out = np.zeros((len(descriptions), len(self.get_feature_names_out())))
        # Folds over *distinct* descriptions: a text is never scored by a model that saw it.
        folds = KFold(self.n_folds, shuffle=True, random_state=self.random_state)
        for train_codes, held_codes in folds.split(np.arange(len(uniques))):
            in_train = np.isin(codes, train_codes)
            parts = self._fit_parts(matrix, codes, label_class, targets, np.flatnonzero(in_train))
            held = np.flatnonzero(~in_train)
            signals = self._signals(parts, matrix[held_codes], known[held_codes])
            lookup = np.full(len(uniques), -1)
            lookup[held_codes] = np.arange(len(held_codes))
            out[held] = signals[lookup[codes[held]]]
        self.honest_words_ = _honest_words(uniques, codes, label_class == "benign")
        self.parts_ = self._fit_parts(
            matrix, codes, label_class, targets, np.arange(len(descriptions))
        )
        return self._with_hs_expectations(items, out)

    def transform(self, items: ItemColumns) -> np.ndarray:
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
            computed = self._signals(
                self.parts_, self.vectorizer_.transform(texts), self._known_share(texts)
            )
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

    def top_terms(self, descriptions: Sequence[str], classes: Sequence[str]) -> list[str | None]:
        """For each description, its word that alone sounds most like the paired gear class.

        Each word is scored on its own by the gear model (log-odds of the class against
        benign), so the reason names the term as the sender wrote it ("Бронежилет", "6Б45",
        "防弹衣"). All words of all descriptions go through the vectorizer in one call.
        Function words, the most common words ("for", "на", "body", "вещи") and the words
        honest senders use every day ("жилет", "одеяло") are never named: an officer would
        not call them typical of gear. None where no other word leans clearly towards it.
        """
        gear: SGDClassifier = self.parts_["gear"]
        known = list(gear.classes_)
        if "benign" not in known:
            return [None] * len(descriptions)
        columns = [c for c in RISK_CLASSES if c in known]
        honest: frozenset[str] = self.__dict__.get("honest_words_", frozenset())
        words_of = [
            [w for w in _WORD.findall(d) if not is_common(w) and w.casefold() not in honest]
            for d in descriptions
        ]
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


# --- the rest of the form --------------------------------------------------------------------


def unit_weights(items: ItemColumns) -> np.ndarray:
    net = column(items, "net_weight_kg", float)
    quantity = column(items, "quantity", float)
    quantity = np.where(np.isfinite(quantity) & (quantity >= 1), quantity, 1.0)
    return net / quantity


def usd_values(items: ItemColumns) -> np.ndarray:
    rates = knowledge.usd_per_unit()
    value = column(items, "value", float)
    codes, currencies = factorize(column(items, "currency"))
    rate = np.array([rates.get(c, np.nan) if isinstance(c, str) else np.nan for c in currencies])
    return value * rate[codes]


def hs_chapters(items: ItemColumns) -> np.ndarray:
    hs_codes = column(items, "hs_code")
    if len(hs_codes) <= _SMALL:  # one declaration: grouping first costs more than it saves
        return np.array(
            [c[:2] if isinstance(c, str) and len(c) >= 2 else None for c in hs_codes.tolist()],
            dtype=object,
        )
    codes, distinct = factorize(hs_codes)
    chapters = np.array(
        [c[:2] if isinstance(c, str) and len(c) >= 2 else None for c in distinct], dtype=object
    )
    return chapters[codes] if len(codes) else np.full(0, None, dtype=object)


def vague_flags(descriptions: np.ndarray) -> np.ndarray:
    """1.0 where a description is only a vague word (\"gift\", \"вещи\"), else 0.0."""
    vague = knowledge.vague_descriptions()
    codes, distinct = factorize(descriptions)
    flags = np.array(
        [isinstance(d, str) and d.casefold().strip(" .,!") in vague for d in distinct],
        dtype=float,
    )
    return flags[codes]


def _lanes(origin: np.ndarray, destination: np.ndarray) -> np.ndarray:
    """ "origin-destination" per row, the text made once per distinct pair."""
    from_codes, from_distinct = factorize(origin)
    to_codes, to_distinct = factorize(destination)
    width = max(1, len(to_distinct))
    pair_codes, pairs = factorize(from_codes * width + to_codes)
    names = np.array(
        [f"{from_distinct[p // width]}-{to_distinct[p % width]}" for p in pairs.tolist()],
        dtype=object,
    )
    return names[pair_codes] if len(pair_codes) else np.full(0, "", dtype=object)


def _set_one_hot(out: np.ndarray, values: np.ndarray, column_of: dict[Any, int]) -> None:
    """Set the one-hot column of each row's value (values outside the vocabulary: none)."""
    if len(values) <= _SMALL:
        for row, value in enumerate(values.tolist()):
            j = column_of.get(value)
            if j is not None:
                out[row, j] = 1.0
        return
    codes, distinct = factorize(values)
    positions = np.array([column_of.get(v, -1) for v in distinct], dtype=np.intp)[codes]
    rows = np.flatnonzero(positions >= 0)
    out[rows, positions[rows]] = 1.0


def _parcel_context(items: ItemColumns, net: np.ndarray) -> tuple[np.ndarray, ...]:
    codes = parcel_codes(column(items, "declaration_id"))
    n_parcels = codes.max() + 1 if len(codes) else 0
    n_items = np.bincount(codes, minlength=n_parcels)[codes].astype(float)
    net_filled = np.where(np.isfinite(net), net, 0.0)
    net_sum = np.bincount(codes, weights=net_filled, minlength=n_parcels)[codes]
    gross = column(items, "gross_weight_kg", float)
    # Weight on the parcel that no item line accounts for (beyond ordinary packaging).
    # In kilograms, not as a share of the parcel: packaging is a large share of a small
    # parcel, while a vest declared at 2 kg in an 8 kg parcel leaves kilos unexplained.
    unexplained = np.where(
        np.isfinite(gross) & (gross > 0), np.log1p(np.maximum(gross - net_sum, 0.0)), 0.0
    )
    share = np.where(net_sum > 0, net_filled / np.where(net_sum > 0, net_sum, 1.0), 1.0)
    return n_items, unexplained, share


class FormFeatures(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):  # type: ignore[misc,call-arg]
    """Dense, named features of each item: the form set against what the text leads to expect.

    `top_lanes`/`top_countries` bound the one-hot vocabularies learned in `fit`.
    """

    def __init__(
        self, top_lanes: int = 30, top_countries: int = 25, top_chapters: int = 30
    ) -> None:
        self.top_lanes = top_lanes
        self.top_countries = top_countries
        self.top_chapters = top_chapters

    # Feature groups name the kind of reason a feature can give.
    GROUPS: Final = {
        "text_": "terms",
        "weight_": "weight",
        "value_": "value",
        "hs_": "hs_code",
        "vague": "vague_description",
        "category_": "category",
        "mail_": "mail_class",
        "lane_": "lane",
        "origin_": "lane",
        "destination_": "lane",
        "parcel_": "parcel",
        "quantity": "quantity",
        "sender_history_": "sender_history",
        "recipient_history_": "recipient_history",
        "watchlist_": "watchlist",
    }

    def fit(self, items: ItemColumns, signal_names: Sequence[str] | np.ndarray) -> FormFeatures:
        origin = column(items, "origin_country")
        destination = column(items, "destination_country")
        lanes = pd.Series([f"{o}-{d}" for o, d in zip(origin, destination, strict=True)])
        self.lanes_ = list(lanes.value_counts().index[: self.top_lanes])
        self.origins_ = list(pd.Series(origin).value_counts().index[: self.top_countries])
        self.destinations_ = list(pd.Series(destination).value_counts().index[: self.top_countries])
        chapters = pd.Series(hs_chapters(items)).dropna()
        self.chapters_ = list(chapters.value_counts().index[: self.top_chapters])
        self.signal_names_ = list(signal_names)
        self.feature_names_ = self._names()
        return self

    def _names(self) -> list[str]:
        names = [
            *(f"text_{c}" for c in RISK_CLASSES),
            "text_any",
            "weight_log_unit",
            "weight_residual_over",
            "weight_residual_far_over",
            "weight_residual_extreme",
            "weight_residual_under",
            "weight_heavy_gift",
            "weight_heavy_and_cheap",
            "weight_missing",
            "value_log_usd_unit",
            "value_residual",
            "value_residual_under",
            "value_residual_far_under",
            "value_residual_extreme_under",
            "value_missing",
            "value_zero",
            "quantity_log",
            "hs_missing",
            "hs_fit_logp",
            "hs_unfit",
            *(f"hs_chapter_{c}" for c in self.chapters_),
            "vague",
            *(f"category_{c}" for c in CATEGORIES),
            "category_missing",
            *(f"mail_{c}" for c in MAIL_CLASSES),
            *(f"lane_{lane}" for lane in self.lanes_),
            *(f"origin_{c}" for c in self.origins_),
            *(f"destination_{c}" for c in self.destinations_),
            "parcel_items_log",
            "parcel_unexplained_weight",
            "parcel_hidden_weight",
            "parcel_weight_share",
            "parcel_gross_log",
            *HISTORY_FEATURES,
        ]
        return names

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_names_, dtype=object)

    def _lookups(self) -> dict[str, Any]:
        """Column positions and vocabularies as dicts, built once per process (not pickled)."""
        cached: dict[str, Any] | None = self.__dict__.get("_lookups_cache")
        if cached is None:
            column_of = {name: j for j, name in enumerate(self.feature_names_)}
            signal_of = {name: j for j, name in enumerate(self.signal_names_)}
            cached = {
                "column": column_of,
                "signal": signal_of,
                "chapter_signal": {
                    name.removeprefix("chapter_logp_"): j
                    for name, j in signal_of.items()
                    if name.startswith("chapter_logp_")
                },
                "one_hot": {
                    prefix: {v: column_of[f"{prefix}{v}"] for v in vocabulary}
                    for prefix, vocabulary in (
                        ("hs_chapter_", self.chapters_),
                        ("category_", CATEGORIES),
                        ("mail_", MAIL_CLASSES),
                        ("lane_", self.lanes_),
                        ("origin_", self.origins_),
                        ("destination_", self.destinations_),
                    )
                },
            }
            self.__dict__["_lookups_cache"] = cached
        return cached

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lookups_cache", None)
        return state

    def transform(self, items: ItemColumns, signals: np.ndarray) -> np.ndarray:
        """The feature matrix, filled column by column into one preallocated array."""
        lookups = self._lookups()
        col = lookups["column"]
        sig = lookups["signal"]
        n = signals.shape[0]
        out = np.zeros((n, len(self.feature_names_)))

        # Innocent wording is bounded evidence: however benign "cotton T-shirt" sounds, it
        # must not outweigh a weight twenty times what a T-shirt weighs.
        text = np.maximum(signals[:, [sig[f"text_{c}"] for c in RISK_CLASSES]], -_TEXT_FLOOR)
        out[:, [col[f"text_{c}"] for c in RISK_CLASSES]] = text
        out[:, col["text_any"]] = np.log(np.exp(np.minimum(text, 30.0)).sum(axis=1))

        net = column(items, "net_weight_kg", float)
        quantity = column(items, "quantity", float)
        quantity = np.where(np.isfinite(quantity) & (quantity >= 1), quantity, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_unit = np.log(np.maximum(net / quantity, _LOG_FLOOR))
        weight_known = np.isfinite(log_unit)
        # An expectation for wording the models hardly know (and no HS heading to lean on) is
        # near the average of all goods: its residual counts half as much. (Training text is
        # known by construction, so the model cannot learn this discount itself.)
        trust = np.maximum(signals[:, sig["expectation_confidence"]], _LEAST_TRUST)
        weight_res = np.where(
            weight_known, log_unit - signals[:, sig["expected_log_unit_weight"]], 0.0
        )
        weight_res *= trust
        out[:, col["weight_log_unit"]] = np.where(weight_known, log_unit, 0.0)
        out[:, col["weight_residual_over"]] = np.maximum(weight_res, 0.0)
        out[:, col["weight_residual_far_over"]] = np.maximum(weight_res - 1.0, 0.0)
        out[:, col["weight_residual_extreme"]] = np.maximum(weight_res - 2.0, 0.0)
        out[:, col["weight_residual_under"]] = np.maximum(-weight_res - 1.0, 0.0)
        out[:, col["weight_missing"]] = ~weight_known

        usd = usd_values(items)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_usd_kg = np.log(np.maximum(usd / net, _LOG_FLOOR))
        value_known = np.isfinite(log_usd_kg)
        value_res = np.where(
            value_known, log_usd_kg - signals[:, sig["expected_log_usd_per_kg"]], 0.0
        )
        value_res *= trust
        usd_known = np.isfinite(usd)
        out[:, col["value_log_usd_unit"]] = np.where(
            usd_known, np.log1p(np.maximum(np.where(usd_known, usd, 0.0) / quantity, 0.0)), 0.0
        )
        out[:, col["value_residual"]] = value_res
        out[:, col["value_residual_under"]] = np.maximum(-value_res, 0.0)
        out[:, col["value_residual_far_under"]] = np.maximum(-value_res - 1.5, 0.0)
        out[:, col["value_residual_extreme_under"]] = np.maximum(-value_res - 3.0, 0.0)
        # Heavy for its wording *and* cheap for it: the signature of gear under the name of
        # ordinary goods (an honest heavy thing is declared at an honest value).
        heavy = np.maximum(weight_res - 0.5, 0.0)
        out[:, col["weight_heavy_and_cheap"]] = heavy * np.maximum(-value_res, 0.0)
        out[:, col["value_missing"]] = ~value_known
        out[:, col["value_zero"]] = usd_known & (np.where(usd_known, usd, 1.0) == 0)
        out[:, col["quantity_log"]] = np.log(quantity)

        chapters = hs_chapters(items)
        codes, distinct = factorize(chapters)
        chapter_signal = lookups["chapter_signal"]
        # A declared chapter the text models do not tell apart is read as "another chapter".
        other_chapter = chapter_signal.get(OTHER_CHAPTER, -1)
        signal_column = (
            np.array(
                [
                    -2 if c is None else chapter_signal.get(c, other_chapter)
                    for c in distinct.tolist()
                ],
                dtype=np.intp,
            )[codes]
            if len(codes)
            else np.zeros(0, dtype=np.intp)
        )
        hs_known = signal_column != -2
        fit_logp = np.full(n, np.log(_LOG_FLOOR))
        modelled = signal_column >= 0
        fit_logp[modelled] = signals[np.flatnonzero(modelled), signal_column[modelled]]
        fit_logp = np.minimum(np.maximum(fit_logp, np.log(_LOG_FLOOR)), 0.0)
        out[:, col["hs_missing"]] = ~hs_known
        out[:, col["hs_fit_logp"]] = np.where(hs_known, fit_logp, 0.0)
        out[:, col["hs_unfit"]] = hs_known & (fit_logp < np.log(0.05))

        one_hot = lookups["one_hot"]
        category = column(items, "category")
        origin = column(items, "origin_country")
        destination = column(items, "destination_country")
        lanes = _lanes(origin, destination)
        _set_one_hot(out, chapters, one_hot["hs_chapter_"])
        _set_one_hot(out, category, one_hot["category_"])
        _set_one_hot(out, column(items, "mail_class"), one_hot["mail_"])
        _set_one_hot(out, lanes, one_hot["lane_"])
        _set_one_hot(out, origin, one_hot["origin_"])
        _set_one_hot(out, destination, one_hot["destination_"])
        out[:, col["category_missing"]] = np.array([c is None for c in category], dtype=float)
        gift = out[:, col["category_gift"]]
        out[:, col["weight_heavy_gift"]] = gift * heavy
        out[:, col["vague"]] = vague_flags(column(items, "description"))

        n_items, unexplained, share = _parcel_context(items, net)
        gap_kg = np.expm1(unexplained)
        out[:, col["parcel_items_log"]] = np.log(n_items)
        out[:, col["parcel_unexplained_weight"]] = unexplained
        # Kilos a line is missing against its wording that the parcel's unexplained weight
        # could hold: an understated net weight of hidden gear. A line that is merely light
        # (a rubber part, a sensor module) in a parcel whose weight adds up says nothing.
        expected_kg = np.exp(signals[:, sig["expected_log_unit_weight"]]) * quantity
        missing_kg = np.maximum(expected_kg - np.where(np.isfinite(net), net, expected_kg), 0.0)
        out[:, col["parcel_hidden_weight"]] = np.log1p(np.minimum(missing_kg, gap_kg))
        out[:, col["parcel_weight_share"]] = share
        gross = column(items, "gross_weight_kg", float)
        out[:, col["parcel_gross_log"]] = np.where(np.isfinite(gross), np.log1p(gross), 0.0)
        # What the parties' past says; a parcel without history (no columns) reads as none.
        for name, (fact, scale) in HISTORY_FEATURES.items():
            values = column(items, fact, float)
            values = np.where(np.isfinite(values), values, 0.0)
            out[:, col[name]] = np.log1p(values) if scale == "log" else np.minimum(values, 1.0)
        return out

    def group_of(self, name: str) -> str:
        for prefix, group in self.GROUPS.items():
            if name.startswith(prefix):
                return group
        return "other"
