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
(`python -m training.derive_common_words` rewrites them) and read from there; a test pins the files
to what the libraries give.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from typing import Final

LEXICON_DIR: Final = Path(__file__).resolve().parent / "lexicon"
FUNCTION_WORDS_FILE: Final = LEXICON_DIR / "function_words.txt"
COMMON_WORDS_FILE: Final = LEXICON_DIR / "common_words.txt"


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
