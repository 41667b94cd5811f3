"""The description as numbers: TF-IDF of word-boundary character n-grams and of word
n-grams of its matching text (`training.text`), computed by `training.ngrams`.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils import Tags

from training import ngrams
from training.text import matching_text


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

    def __sklearn_tags__(self) -> Tags:
        # As sklearn's own text vectorisers: a sequence of strings in, no target.
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags

    def fit(self, descriptions: Sequence[str], y: Any = None) -> DescriptionVectorizer:
        self.fit_transform(descriptions)
        return self

    def fit_transform(self, descriptions: Sequence[str], y: Any = None) -> sp.csr_matrix:
        """`fit(descriptions).transform(descriptions)` in the one pass over the texts that
        fitting makes (sklearn's own `fit_transform`, equal to `transform` within float32
        rounding: a test pins the two). Training's texts were read twice."""
        texts = [matching_text(d) for d in descriptions]
        self.char_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.char_ngram_range,
            min_df=self.min_df,
            max_features=self.max_char_features,
            sublinear_tf=True,
            dtype=np.float32,
        )
        self.word_ = TfidfVectorizer(
            analyzer="word",
            token_pattern=r"(?u)\b\w+\b",
            ngram_range=self.word_ngram_range,
            min_df=self.min_df,
            max_features=self.max_word_features,
            sublinear_tf=True,
            dtype=np.float32,
        )
        char = self.char_.fit_transform(texts)
        word = self.word_.fit_transform(texts)
        return sp.hstack([char, word], format="csr", dtype=np.float32)

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
