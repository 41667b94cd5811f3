from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from training import ngrams
from training.text import matching_text

# Scripts, repeats, punctuation, digits, odd whitespace and texts without any known n-gram.
_EDGE_TEXTS = [
    "",
    "   ",
    "a",
    "x\u00a0y\tz\n",
    "防弹衣 防弹衣 防弹衣",
    "plate carrier plate carrier",
    "6б45-м класс бр4",
    "ΣΑΣ ΟΔΟΣ",
    "zzzq qqqz",
    "t-shirt, cotton (100%)",
]


def _vectorizers(corpus: list[str]) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    options = {"min_df": 2, "sublinear_tf": True, "dtype": np.float32}
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), **options).fit(corpus)
    word = TfidfVectorizer(
        analyzer="word", token_pattern=r"(?u)\b\w+\b", ngram_range=(1, 2), **options
    ).fit(corpus)
    return char, word


@pytest.fixture(scope="module")
def texts(synthetic_sample: pd.DataFrame) -> list[str]:
    descriptions = synthetic_sample["description"].dropna().unique().tolist()
    return [matching_text(d) for d in descriptions] + _EDGE_TEXTS


def _sklearn(vectorizers: tuple[TfidfVectorizer, ...], texts: list[str]) -> sp.csr_matrix:
    return sp.hstack([v.transform(texts) for v in vectorizers], format="csr")


def test_batch_tfidf_matches_sklearn(texts: list[str]) -> None:
    vectorizers = _vectorizers(texts[: len(texts) // 2])
    assert len(texts) > ngrams.DIRECT_TEXTS
    expected = _sklearn(vectorizers, texts)
    got = ngrams.tfidf(vectorizers, texts)
    assert got.shape == expected.shape
    assert got.dtype == np.float32
    # Same entries; values equal up to float32 rounding of a float64 computation.
    assert ((got != 0) != (expected != 0)).nnz == 0
    np.testing.assert_allclose(got.toarray(), expected.toarray(), rtol=0, atol=1e-6)


def test_a_few_texts_match_sklearn_too(texts: list[str]) -> None:
    vectorizers = _vectorizers(texts)
    few = _EDGE_TEXTS[:4] + texts[:3]
    assert len(few) <= ngrams.DIRECT_TEXTS
    np.testing.assert_allclose(
        ngrams.tfidf(vectorizers, few).toarray(),
        _sklearn(vectorizers, few).toarray(),
        rtol=0,
        atol=1e-6,
    )


def test_a_text_gets_the_same_bits_whatever_came_before(texts: list[str]) -> None:
    """Alone or in a batch, counted directly or from banked words, in any order."""
    vectorizers = _vectorizers(texts)
    batch = ngrams.tfidf(vectorizers, texts)
    backwards = ngrams.tfidf(vectorizers, texts[::-1])
    assert (batch != backwards[::-1]).nnz == 0
    for row in (0, 7, len(texts) - 4):
        alone = ngrams.tfidf(vectorizers, [texts[row]])
        assert (alone != batch[row]).nnz == 0


def test_the_word_bank_starts_over_when_full(texts: list[str]) -> None:
    char, _ = _vectorizers(texts)
    bounded = ngrams.CharGramCounts(char, max_words=50)
    expected = ngrams.CharGramCounts(char).counts(texts)
    capacity = len(bounded._bank._indices)
    for start in range(0, 200, 5):  # fills and overflows the bank several times
        part = texts[start : start + 5]
        assert (bounded.counts(part) != expected[start : start + 5]).nnz == 0
        assert len(bounded._ids) <= 50
        # Full means starting over, never growing (old and new arrays alive at once).
        assert len(bounded._bank._indices) == capacity


def test_other_vectorizer_settings_are_refused() -> None:
    char3 = TfidfVectorizer(analyzer="char", ngram_range=(2, 3)).fit(["abc", "abd"])
    with pytest.raises(ValueError, match="char_wb"):
        ngrams.CharGramCounts(char3)
    trigrams = TfidfVectorizer(ngram_range=(1, 3)).fit(["aa bb cc", "aa bb dd"])
    with pytest.raises(ValueError, match="bi"):
        ngrams.WordGramCounts(trigrams)


def test_word_grams_found_by_key_are_the_analyzers(texts: list[str]) -> None:
    char, _ = _vectorizers(texts)
    keys = ngrams._GramKeys.of(char)
    assert keys is not None
    words = [*sorted({w for t in texts for w in t.split()}), "İSTANBUL", "ŉ", "x\U0001f600y", "ǅa"]
    counter = ngrams.CharGramCounts(char)
    by_key = counter._word_counts(words)
    counter._keys = None  # the analyzer's way
    by_analyzer = counter._word_counts(words)
    assert (by_key != by_analyzer).nnz == 0
    # A lone surrogate (undecodable input) cannot be encoded: the analyzer's way is taken.
    assert keys.lookup(["ab\udcffc"]) is None
    assert (ngrams.CharGramCounts(char)._word_counts(["ab\udcffc"]) != 0).nnz > 0


@pytest.mark.parametrize("word", ["a", "ab", "я", "弹"])
def test_a_lone_short_word_is_looked_up_like_any_other(texts: list[str], word: str) -> None:
    """A block of new words can be one short word (its n-grams end before the longest n):
    this once raised, and batch scoring fell back to scoring the unit in halves."""
    char, _ = _vectorizers(texts)
    counter = ngrams.CharGramCounts(char)
    by_key = counter._word_counts([word])
    counter._keys = None
    assert (by_key != counter._word_counts([word])).nnz == 0


def test_a_refitted_vectorizer_is_never_served_from_what_it_was(texts: list[str]) -> None:
    """The per-vectorizer state (idf, word bank, word ids) follows a refit of the object."""
    char, word = _vectorizers(texts[:60])
    assert len(texts[:80]) > ngrams.DIRECT_TEXTS
    ngrams.tfidf((char, word), texts[:80])
    char.fit(texts[60:200])
    word.fit(texts[60:200])
    np.testing.assert_allclose(
        ngrams.tfidf((char, word), texts[:80]).toarray(),
        _sklearn((char, word), texts[:80]).toarray(),
        rtol=0,
        atol=1e-6,
    )
