"""Words that say nothing about what is in a parcel.

Two tiers, both derived from well-kept word lists rather than written by hand:

- *Function words* ("for", "на", "для", "mit", "ve") carry no evidence at all: they are
  dropped from the text the models read (`training.text.matching_text`). English comes from
  scikit-learn's stop-word list (the `stop-words` package's English list also holds "iv",
  "ir", "pe" and "ach", which are armour levels, infrared, polyethylene and a helmet);
  Russian, Ukrainian, Polish, German and Turkish from the `stop-words` package, Russian and
  Ukrainian also as senders transliterate them ("dlya", "bez").
- *Common words* are the most frequent words of the lanes' languages (wordfreq's Zipf
  frequency of 5 or more: "man", "small", "body", "вещи", "army"). They may still be evidence
  inside a phrase the model reads ("army boots"), but a reason never names one alone as
  "typical of" gear: an officer would not agree that "body" or "вещи" is.

Loading wordfreq's data takes ~2 s, too long for a service's start or its first request, so
both lists are derived once into `lexicon/function_words.txt` and `lexicon/common_words.txt`
(`python -m training.common_words` rewrites them) and read from there; a test pins the files
to what the libraries give.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Final

LEXICON_DIR: Final = Path(__file__).resolve().parent / "lexicon"
FUNCTION_WORDS_FILE: Final = LEXICON_DIR / "function_words.txt"
COMMON_WORDS_FILE: Final = LEXICON_DIR / "common_words.txt"

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
_HEADER: Final = "# Derived by `python -m training.common_words`; do not edit by hand.\n"


def derive_function_words() -> list[str]:
    """Function words of the lanes' languages from the stop-word lists, casefolded, with
    transliterated Cyrillic (slow: loads wordfreq's data)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from stop_words import get_stop_words
    from wordfreq import zipf_frequency

    from training.text import fold_translit_variants, transliterate

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


def _read(path: Path) -> frozenset[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


@cache
def function_words() -> frozenset[str]:
    """Function words of the lanes' languages (see the module's docstring)."""
    return _read(FUNCTION_WORDS_FILE)


@cache
def common_words() -> frozenset[str]:
    """The most frequent words of the lanes' languages (see the module's docstring)."""
    return _read(COMMON_WORDS_FILE)


@lru_cache(maxsize=20_000)
def is_common(word: str) -> bool:
    """A function word, a bare number or one of the most frequent words of a lane language."""
    folded = word.casefold()
    return folded.isdigit() or folded in function_words() or folded in common_words()


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
