"""Words that say nothing about what is in a parcel.

Two tiers, both from well-kept word lists rather than a hand list:

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
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Final

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
# 1,500 most frequent words of each language.
COMMON_ZIPF: Final = 5.0
# A foreign or transliterated function word this frequent in English is an English word too.
_ENGLISH_WORD_ZIPF: Final = 3.0
# ... unless it is this much more frequent (Zipf) in its own language than in English.
_OWN_LANGUAGE_MARGIN: Final = 2.5
# The trade's own short terms that foreign stop-word lists hold: armour and tube generations
# in Roman numerals ("level IV", "Gen II"), ACH and MICH helmets.
_TRADE_TERM: Final = re.compile(r"^(?:[ivx]+|ach|mich)$")


@cache
def function_words() -> frozenset[str]:
    """Function words of the lanes' languages, casefolded, with transliterated Cyrillic."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from stop_words import get_stop_words
    from wordfreq import zipf_frequency

    from training.text import transliterate

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
        if zipf_frequency(latin, "en") < _ENGLISH_WORD_ZIPF:
            words.add(latin)
    return frozenset(w for w in words if w and not _TRADE_TERM.match(w))


@lru_cache(maxsize=20_000)
def is_common(word: str) -> bool:
    """A function word, a bare number or one of the most frequent words of a lane language."""
    from wordfreq import zipf_frequency

    folded = word.casefold()
    if folded in function_words() or folded.isdigit():
        return True
    return any(zipf_frequency(folded, lang) >= COMMON_ZIPF for lang in _FREQUENCY_LANGUAGES)
