"""TF-IDF of fitted vectorizers, as sklearn computes it, without walking every n-gram.

sklearn's `transform` builds and looks up each n-gram of each text in Python: about 70 us
per unseen description here, most of batch scoring. Two facts make that avoidable:

- `char_wb` n-grams never cross whitespace, so a text's n-gram counts are the sum of its
  words' counts; and words repeat far more than descriptions (1M synthetic rows: 134k
  distinct matching texts, 44k distinct words). Each word's n-grams are counted once per
  process, and a batch's counts are one sparse product (texts x words) @ (words x n-grams).
- Word uni- and bigrams are looked up as word ids and pairs of word ids, with numpy.

`tfidf` then applies sublinear tf, idf and the l2 norm per vectorizer block, as
`TfidfVectorizer` does (computed in float64, stored as float32).
"""

from __future__ import annotations

import itertools
import re
import threading
import weakref
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

# Words whose n-gram counts a process keeps (~30 n-grams each: ~25 MB at most, with the
# arrays' spare capacity). Past it, the bank starts over: a flood of junk words must not
# grow memory.
MAX_BANKED_WORDS: Final = 60_000
# New words whose n-grams are found at a time.
_WORD_BLOCK: Final = 4096
# Room per banked word for its distinct n-grams (a 10-letter word has 38 of 2-5 letters;
# the synthetic traffic averages ~44 with its long Cyrillic words).
_GRAMS_PER_WORD: Final = 48
# Up to this many texts are counted one n-gram at a time: cheaper than the batch set-up.
DIRECT_TEXTS: Final = 32


def _distinct(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    codes, distinct = pd.factorize(array)
    return np.asarray(codes, dtype=np.intp), np.asarray(distinct, dtype=object)


class CharGramCounts:
    """Counts of a fitted `char_wb` vectorizer's n-grams, built from per-word counts."""

    def __init__(self, vectorizer: TfidfVectorizer, max_words: int = MAX_BANKED_WORDS) -> None:
        if vectorizer.analyzer != "char_wb":
            raise ValueError("CharGramCounts needs a char_wb vectorizer")
        self._analyze = vectorizer.build_analyzer()
        vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.vocabulary = vocabulary  # what the counts were built from
        self._index = pd.Index(list(vocabulary), dtype=object)
        self._columns = np.fromiter(vocabulary.values(), dtype=np.int32, count=len(vocabulary))
        self._width = len(vocabulary)
        self._keys = _GramKeys.of(vectorizer)
        self._max_words = max_words
        self._ids: dict[str, int] = {}
        self._bank = _RowBank(self._width, self._max_words)
        # Threads of the server share one bank; growing it must not race a lookup.
        self._lock = threading.Lock()

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        # The analyzer lower-cases then splits on whitespace; lower-casing never makes or
        # removes whitespace, so splitting first gives the same words.
        words = [text.split() for text in texts]
        lengths = np.fromiter(map(len, words), dtype=np.intp, count=len(words))
        codes, distinct = _distinct(list(itertools.chain.from_iterable(words)))
        with self._lock:
            ids = self._bank_ids(distinct)
            bank = self._bank.matrix()
        rows = np.repeat(np.arange(len(texts)), lengths)
        occurrences = sp.csr_matrix(
            (np.ones(len(codes)), (rows, ids[codes])), shape=(len(texts), bank.shape[0])
        )
        return sp.csr_matrix(occurrences @ bank)

    def _bank_ids(self, words: np.ndarray) -> np.ndarray:
        known = self._ids
        ids = np.fromiter((known.get(w, -1) for w in words), dtype=np.intp, count=len(words))
        missing = np.flatnonzero(ids < 0)
        if not len(missing):
            return ids
        new_words = words[missing].tolist()
        counts = self._counts_in_blocks(new_words)
        fits = self._bank.has_room(len(new_words), sum(block.nnz for block in counts))
        if len(known) + len(new_words) > self._max_words or not fits:
            # Full: start over with this batch's words (never grow: the old and new arrays
            # alive at once were a worker's memory peak).
            known.clear()
            self._bank = _RowBank(self._width, self._max_words)
            ids[:] = -1
            missing = np.arange(len(words))
            new_words = words.tolist()
            counts = self._counts_in_blocks(new_words)
        start = self._bank.rows
        for block in counts:
            self._bank.append(block)
        known.update(zip(new_words, range(start, start + len(new_words)), strict=True))
        ids[missing] = np.arange(start, start + len(new_words))
        return ids

    def _counts_in_blocks(self, words: list[str]) -> list[sp.csr_matrix]:
        # In blocks: the n-gram arrays of tens of thousands of new words at once took
        # ~80 MB (seen on units of mostly unseen descriptions).
        return [
            self._word_counts(words[first : first + _WORD_BLOCK])
            for first in range(0, len(words), _WORD_BLOCK)
        ]

    def _word_counts(self, words: list[str]) -> sp.csr_matrix:
        if self._keys is not None:
            found = self._keys.lookup(words)
            if found is not None:
                rows, columns = found
                return sp.csr_matrix(
                    (np.ones(len(rows)), (rows, columns)), shape=(len(words), self._width)
                )
        # sklearn's own analyzer makes the n-grams (so they are exactly its n-grams); they
        # are looked up all at once in a hash index rather than one dict call each.
        grams = [self._analyze(word) for word in words]
        lengths = np.fromiter(map(len, grams), dtype=np.intp, count=len(grams))
        flat = np.empty(int(lengths.sum()), dtype=object)
        flat[:] = list(itertools.chain.from_iterable(grams))
        positions = self._index.get_indexer(pd.Index(flat, dtype=object))
        rows = np.repeat(np.arange(len(words)), lengths)
        known = positions >= 0
        return sp.csr_matrix(
            (np.ones(int(known.sum())), (rows[known], self._columns[positions[known]])),
            shape=(len(words), self._width),
        )


# Bits per character of a gram key: 5 characters fit in 60 bits.
_KEY_BITS: Final = 12


class _GramKeys:
    """The vocabulary's n-grams as integer keys, to find the n-grams of words with numpy.

    Each character of the vocabulary gets a number from 1 (at most 4094 of them); a gram of
    up to 5 characters is its numbers packed 12 bits apart, so keys are exact (no hashing)
    and a shorter gram never has a longer one's key. A character the vocabulary lacks gets
    a number no key uses. For words (no whitespace) `char_wb` n-grams are every substring of
    " word " with n in the n-gram range, lower-cased first: `lookup` takes exactly those.
    """

    def __init__(
        self,
        ngram_range: tuple[int, int],
        numbers: np.ndarray,
        keys: np.ndarray,
        columns: np.ndarray,
    ) -> None:
        self.ngram_range = ngram_range
        self._numbers = numbers  # character code point -> its number
        self._keys = keys  # sorted
        self._columns = columns  # aligned with the keys

    @classmethod
    def of(cls, vectorizer: TfidfVectorizer) -> _GramKeys | None:
        low, high = vectorizer.ngram_range
        # A word pads to at least 3 characters; a shorter n-gram minimum than that, a
        # preprocessor or accent stripping would make n-grams this class does not make.
        if low > 3 or high * _KEY_BITS > 63 or vectorizer.preprocessor is not None:
            return None
        if vectorizer.strip_accents is not None or not vectorizer.lowercase:
            return None
        vocabulary: dict[str, int] = vectorizer.vocabulary_
        try:
            points = _code_points("".join(vocabulary))
        except UnicodeEncodeError:
            return None
        alphabet = np.unique(points)
        if len(alphabet) + 2 > 1 << _KEY_BITS:
            return None
        # Unknown characters get len(alphabet) + 1, which no key uses; the table ends with
        # one, so characters past it can be clamped onto it.
        numbers = np.full(int(alphabet.max(initial=0)) + 2, len(alphabet) + 1, dtype=np.uint64)
        numbers[alphabet] = np.arange(1, len(alphabet) + 1, dtype=np.uint64)
        lengths = np.fromiter(map(len, vocabulary), dtype=np.int64, count=len(vocabulary))
        owner = np.repeat(np.arange(len(vocabulary)), lengths)
        place = np.arange(len(points)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        keys = np.zeros(len(vocabulary), dtype=np.uint64)
        np.bitwise_or.at(
            keys, owner, numbers[points] << (place.astype(np.uint64) * np.uint64(_KEY_BITS))
        )
        columns = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
        order = np.argsort(keys)
        return cls((low, high), numbers, keys[order], columns[order])

    def lookup(self, words: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """(word row, vocabulary column) of every known n-gram of each word (None: a word
        this cannot encode)."""
        if not words:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64)
        lowered = [word.lower() for word in words]
        try:
            points = _code_points(" " + "  ".join(lowered) + " ")
        except UnicodeEncodeError:
            return None
        padded = np.fromiter(map(len, lowered), dtype=np.int64, count=len(lowered)) + 2
        word_end = np.repeat(np.cumsum(padded), padded)
        word_of = np.repeat(np.arange(len(words)), padded)
        # Characters past the table are unknown too: the table's last entry is one of them.
        numbers = self._numbers[np.minimum(points, len(self._numbers) - 1)]
        low, high = self.ngram_range
        position = np.arange(len(points))
        key = np.zeros(len(points), dtype=np.uint64)
        rows: list[np.ndarray] = []
        columns: list[np.ndarray] = []
        for n in range(1, high + 1):
            if n > len(points):
                break  # a lone short word (" a ") has no longer n-grams
            shift = np.uint64(_KEY_BITS * (n - 1))
            key[: len(points) - n + 1] |= numbers[n - 1 :] << shift
            if n < low:
                continue
            starts = np.flatnonzero(
                position[: len(points) - n + 1] + n <= word_end[: len(points) - n + 1]
            )
            wanted = key[starts]
            at = np.minimum(np.searchsorted(self._keys, wanted), len(self._keys) - 1)
            hit = self._keys[at] == wanted
            rows.append(word_of[starts[hit]])
            columns.append(self._columns[at[hit]])
        return np.concatenate(rows), np.concatenate(columns)


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


class _RowBank:
    """Rows of a CSR matrix, appended in place (capacity doubles if it must).

    Appending copies only the new rows, where stacking matrices would copy the whole bank
    each time a batch brings new words; `matrix` is a view of the rows so far. Arrays are
    only ever written past what earlier views cover, so a view stays valid.
    """

    def __init__(self, width: int, rows: int = MAX_BANKED_WORDS) -> None:
        self.width = width
        self.rows = 0
        # Sized for a full bank up front: untouched pages take no memory, and a bank that
        # is full starts over rather than grow (see CharGramCounts).
        self._indptr = np.zeros(rows + 1, dtype=np.int32)
        self._indices = np.empty(rows * _GRAMS_PER_WORD, dtype=np.int32)
        self._data = np.empty(rows * _GRAMS_PER_WORD, dtype=np.float64)

    def has_room(self, rows: int, nnz: int) -> bool:
        """Whether that many more rows and entries fit without growing the arrays."""
        used = int(self._indptr[self.rows])
        return self.rows + rows < len(self._indptr) and used + nnz <= len(self._indices)

    def append(self, block: sp.csr_matrix) -> None:
        nnz = int(self._indptr[self.rows])
        rows, new_nnz = block.shape[0], block.nnz
        if self.rows + rows + 1 > len(self._indptr):
            self._indptr = _grown(self._indptr, self.rows + rows + 1)
        if nnz + new_nnz > len(self._indices):
            self._indices = _grown(self._indices, nnz + new_nnz)
            self._data = _grown(self._data, nnz + new_nnz)
        self._indptr[self.rows + 1 : self.rows + rows + 1] = block.indptr[1:] + nnz
        self._indices[nnz : nnz + new_nnz] = block.indices
        self._data[nnz : nnz + new_nnz] = block.data
        self.rows += rows

    def matrix(self) -> sp.csr_matrix:
        nnz = int(self._indptr[self.rows])
        return sp.csr_matrix(
            (self._data[:nnz], self._indices[:nnz], self._indptr[: self.rows + 1]),
            shape=(self.rows, self.width),
            copy=False,
        )


def _grown(array: np.ndarray, needed: int) -> np.ndarray:
    bigger = np.zeros(max(needed, 2 * len(array)), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


class WordGramCounts:
    """Counts of a fitted word vectorizer's unigrams and bigrams, found by word ids."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        if vectorizer.analyzer != "word" or tuple(vectorizer.ngram_range) not in {(1, 1), (1, 2)}:
            raise ValueError("WordGramCounts needs a word vectorizer of uni- (and bi)grams")
        if vectorizer.stop_words is not None or vectorizer.tokenizer is not None:
            raise ValueError("WordGramCounts does not apply stop words or custom tokenizers")
        self._lowercase = bool(vectorizer.lowercase)
        self._pattern = re.compile(vectorizer.token_pattern)
        vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.vocabulary = vocabulary  # what the counts were built from
        self._width = len(vocabulary)
        self._unigrams = {g: j for g, j in vocabulary.items() if " " not in g}
        bigrams = [(g.split(" "), j) for g, j in vocabulary.items() if " " in g]
        # Every word of a bigram gets an id; a pair of ids is one int64 key.
        self._word_ids: dict[str, int] = {}
        for (first, second), _ in bigrams:
            self._word_ids.setdefault(first, len(self._word_ids))
            self._word_ids.setdefault(second, len(self._word_ids))
        keys = np.array(
            [self._key(self._word_ids[a], self._word_ids[b]) for (a, b), _ in bigrams],
            dtype=np.int64,
        )
        order = np.argsort(keys)
        self._bigram_keys = keys[order]
        self._bigram_columns = np.array([j for _, j in bigrams], dtype=np.intp)[order]

    def _key(self, first: Any, second: Any) -> Any:
        return first * len(self._word_ids) + second

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        findall = self._pattern.findall
        words = [findall(t.lower() if self._lowercase else t) for t in texts]
        lengths = np.fromiter(map(len, words), dtype=np.intp, count=len(words))
        codes, distinct = _distinct(list(itertools.chain.from_iterable(words)))
        unigrams, word_ids = self._unigrams, self._word_ids
        unigram = np.fromiter((unigrams.get(w, -1) for w in distinct), np.intp, len(distinct))
        word_id = np.fromiter((word_ids.get(w, -1) for w in distinct), np.intp, len(distinct))
        rows = np.repeat(np.arange(len(texts)), lengths)
        columns = unigram[codes]
        found = columns >= 0
        out_rows, out_columns = [rows[found]], [columns[found]]
        if len(self._bigram_keys) and len(codes) > 1:
            ids = word_id[codes]
            first, second = ids[:-1], ids[1:]
            pair = (rows[:-1] == rows[1:]) & (first >= 0) & (second >= 0)
            keys = self._key(first[pair], second[pair])
            at = np.minimum(np.searchsorted(self._bigram_keys, keys), len(self._bigram_keys) - 1)
            hit = self._bigram_keys[at] == keys
            out_rows.append(rows[:-1][pair][hit])
            out_columns.append(self._bigram_columns[at[hit]])
        row = np.concatenate(out_rows)
        return sp.csr_matrix(
            (np.ones(len(row)), (row, np.concatenate(out_columns))),
            shape=(len(texts), self._width),
        )


_COUNTERS: weakref.WeakKeyDictionary[TfidfVectorizer, CharGramCounts | WordGramCounts] = (
    weakref.WeakKeyDictionary()
)
_COUNTERS_LOCK = threading.Lock()


def _counter(vectorizer: TfidfVectorizer) -> CharGramCounts | WordGramCounts:
    # Built on first use, outside the pickle: the bank is a cache, not part of the model.
    with _COUNTERS_LOCK:
        counter = _COUNTERS.get(vectorizer)
        # Checked by identity: refitting a vectorizer gives it a new vocabulary.
        if counter is None or counter.vocabulary is not vectorizer.vocabulary_:
            made = (
                CharGramCounts(vectorizer)
                if vectorizer.analyzer == "char_wb"
                else WordGramCounts(vectorizer)
            )
            counter = _COUNTERS[vectorizer] = made
        return counter


def tfidf(vectorizers: Sequence[TfidfVectorizer], texts: Sequence[str]) -> sp.csr_matrix:
    """`hstack([v.transform(texts) for v in vectorizers])` for fitted `char_wb` and word
    (1-2 gram) vectorizers with sublinear tf and the l2 norm.

    A few texts are counted directly (the batch machinery costs more than it saves); either
    way the counts go through one float pipeline in sorted column order, so a description
    gets the same values whichever way it came (and whatever a process saw before).
    """
    idf, starts = _idf_and_starts(vectorizers)
    if len(texts) <= DIRECT_TEXTS:
        counts = _direct_counts(vectorizers, texts, starts)
    else:
        blocks = [_counter(v).counts(texts) for v in vectorizers]
        counts = blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")
    counts.sort_indices()
    return _sublinear_tfidf(counts, idf, starts[1:-1])


def _direct_counts(
    vectorizers: Sequence[TfidfVectorizer], texts: Sequence[str], starts: np.ndarray
) -> sp.csr_matrix:
    analyzers = [
        (_analyzer(v), v.vocabulary_, int(s)) for v, s in zip(vectorizers, starts[:-1], strict=True)
    ]
    indices: list[int] = []
    data: list[int] = []
    indptr = [0]
    for text in texts:
        for analyze, vocabulary, start in analyzers:
            found = Counter(j for j in map(vocabulary.get, analyze(text)) if j is not None)
            indices.extend(start + j for j in found)
            data.extend(found.values())
        indptr.append(len(indices))
    return sp.csr_matrix(
        (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int32), indptr),
        shape=(len(texts), int(starts[-1])),
    )


# Per first vectorizer: (the idf arrays they were made from, idf as float64 end to end,
# block starts). Made once: converting and joining ~100k idf values took ~0.14 ms, a quarter
# of vectorising one new description.
_IDF: weakref.WeakKeyDictionary[TfidfVectorizer, tuple[list[Any], np.ndarray, np.ndarray]] = (
    weakref.WeakKeyDictionary()
)


def _idf_and_starts(vectorizers: Sequence[TfidfVectorizer]) -> tuple[np.ndarray, np.ndarray]:
    sources = [v.idf_ for v in vectorizers]
    cached = _IDF.get(vectorizers[0])
    # Checked by identity: refitting a vectorizer gives it new idf arrays.
    if (
        cached is None
        or len(cached[0]) != len(sources)
        or any(a is not b for a, b in zip(cached[0], sources, strict=False))
    ):
        idf = np.concatenate([np.asarray(v, dtype=np.float64) for v in sources])
        starts = np.cumsum([0] + [len(v.vocabulary_) for v in vectorizers])
        cached = _IDF[vectorizers[0]] = (sources, idf, starts)
    return cached[1], cached[2]


_ANALYZERS: weakref.WeakKeyDictionary[TfidfVectorizer, Any] = weakref.WeakKeyDictionary()


def _analyzer(vectorizer: TfidfVectorizer) -> Any:
    analyze = _ANALYZERS.get(vectorizer)
    if analyze is None:
        analyze = _ANALYZERS[vectorizer] = vectorizer.build_analyzer()
    return analyze


def _sublinear_tfidf(
    counts: sp.csr_matrix, idf: np.ndarray, block_starts: np.ndarray
) -> sp.csr_matrix:
    """(1 + log tf) * idf, each vectorizer's block of a row scaled to unit l2 norm: what
    `TfidfTransformer(sublinear_tf=True, norm="l2")` does to each block."""
    data = (1.0 + np.log(counts.data)) * idf[counts.indices]
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    blocks = len(block_starts) + 1
    segment = rows * blocks + np.searchsorted(block_starts, counts.indices, side="right")
    norms = np.sqrt(np.bincount(segment, weights=data * data, minlength=counts.shape[0] * blocks))
    data /= np.where(norms > 0, norms, 1.0)[segment]
    return sp.csr_matrix(
        (data.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape
    )
