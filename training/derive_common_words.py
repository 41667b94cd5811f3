"""Derives the word lists of `training.common_words` from the libraries that keep them
(scikit-learn's and the `stop-words` package's stop words, wordfreq's frequencies) and
writes them into the lexicon: `python -m training.derive_common_words`. Slow (wordfreq's data
loads in ~2 s), so it runs when the libraries change, never while scoring; a test pins the
files to what it derives.
"""

from __future__ import annotations

import re
from typing import Final

from training.common_words import COMMON_WORDS_FILE, FUNCTION_WORDS_FILE
from training.text import fold_translit_variants, transliterate

# The languages of the lanes that have word lists (Chinese needs no function-word removal:
# its text is read as character n-grams, and wordfreq's Chinese words are segmented).
_STOP_WORD_LANGUAGES: Final = {
    "russian": "ru",
    "ukrainian": "uk",
    "polish": "pl",
    "german": "de",
    "turkish": "tr",
}
_FREQUENCY_LANGUAGES: Final = ("en", "ru", "uk", "de", "pl", "tr")
# Zipf frequency (log10 of uses per billion words) from which a word is "common": about the
# 1,000 most frequent words of each language.
COMMON_ZIPF: Final = 5.0
# How deep into each language's frequency list to look for words that common.
_FREQUENCY_DEPTH: Final = 3000
# A foreign or transliterated function word this frequent in English is an English word too.
_ENGLISH_WORD_ZIPF: Final = 3.0
# ... unless it is this much more frequent (Zipf) in its own language than in English.
_OWN_LANGUAGE_MARGIN: Final = 2.5
# The trade's own short terms that foreign stop-word lists hold: armour and tube generations
# in Roman numerals ("level IV", "Gen II"), ACH and MICH helmets.
_TRADE_TERM: Final = re.compile(r"^(?:[ivx]+|ach|mich)$")
_HEADER: Final = "# Derived by `python -m training.derive_common_words`; do not edit by hand.\n"


def derive_function_words() -> list[str]:
    """Function words of the lanes' languages from the stop-word lists, casefolded, with
    transliterated Cyrillic (slow: loads wordfreq's data)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from stop_words import get_stop_words
    from wordfreq import zipf_frequency

    words: set[str] = {w.casefold() for w in ENGLISH_STOP_WORDS}
    for language, code in _STOP_WORD_LANGUAGES.items():
        for word in get_stop_words(language):
            folded = word.casefold()
            # Another language's function word can be an English content word too ("hat",
            # "war", "man"): it stays unless it is far more frequent in its own language
            # ("und", "mit") or a letter or two long ("na", "w", "z").
            english = zipf_frequency(folded, "en")
            if (
                len(folded) <= 2
                or english < _ENGLISH_WORD_ZIPF
                or zipf_frequency(folded, code) - english >= _OWN_LANGUAGE_MARGIN
            ):
                words.add(folded)
    # Transliterated Russian and Ukrainian function words, unless the Latin spelling is an
    # English word too ("той" -> "toy", "год" -> "god", "нет" -> "net").
    cyrillic = [w for w in words if any("\u0400" <= c <= "\u04ff" for c in w)]
    for word in cyrillic:
        latin = transliterate(word)
        # Both spellings senders type: "nikh" as the table writes "х", "nih" as folded.
        for spelling in {latin, fold_translit_variants(latin)}:
            if zipf_frequency(spelling, "en") < _ENGLISH_WORD_ZIPF:
                words.add(spelling)
    return sorted(w for w in words if w and not _TRADE_TERM.match(w))


def derive_common_words() -> list[str]:
    """Words of Zipf frequency >= COMMON_ZIPF in a lane language (slow: loads wordfreq)."""
    from wordfreq import top_n_list, zipf_frequency

    words: set[str] = set()
    for language in _FREQUENCY_LANGUAGES:
        for word in top_n_list(language, _FREQUENCY_DEPTH):
            if zipf_frequency(word, language) >= COMMON_ZIPF:
                words.add(word.casefold())
    return sorted(words)


def write_word_lists() -> None:
    """Derive both lists from the libraries and write them (atomically) into the lexicon."""
    from training.files import atomic_file

    for path, words in (
        (FUNCTION_WORDS_FILE, derive_function_words()),
        (COMMON_WORDS_FILE, derive_common_words()),
    ):
        with atomic_file(path, "w") as handle:
            handle.write(_HEADER + "".join(f"{w}\n" for w in words))


if __name__ == "__main__":
    write_word_lists()
