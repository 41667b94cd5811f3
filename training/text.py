"""Text normalisation that makes languages and scripts meet.

Senders write the same thing as "БРОНЕЖИЛЕТ", "бронежилет", "bronezhilet" or "бpoнeжилeт"
(Latin look-alike letters typed into Cyrillic). Matching text is NFKC, casefolded,
homoglyph-folded, stripped of Latin accents, and carries a Latin transliteration of any
Cyrillic beside the original, so character n-grams of all spellings overlap. Chinese needs
no segmentation: character n-grams handle it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

import snowballstemmer

from training.common_words import function_words
from training.knowledge import count_words, transliteration

# One transliteration table for the project (`lexicon/translit.csv`, the scheme senders
# mostly type: "х" as "kh"); the folds below make the other spellings meet it.
_TRANSLIT_TABLE: Final = str.maketrans(transliteration())

# Transliteration spellings people actually type, folded onto one spelling so the n-grams
# meet: "kh"/"h" for х, "j"/"i" for й, "ja" for я, "ju" for ю.
_TRANSLIT_VARIANTS: Final = (
    (re.compile(r"(?<=[aeiouy])j\b"), "y"),
    (re.compile(r"yj\b|ij\b|iy\b"), "yy"),
    (re.compile(r"\bja|(?<=[aeiou])ja"), "ya"),
    (re.compile(r"\bju|(?<=[aeiou])ju"), "yu"),
    (re.compile(r"shh"), "shch"),
    (re.compile(r"(?<![sczt])kh"), "h"),
)

# Latin letters that look like Cyrillic ones; inside a mostly-Cyrillic word they are
# almost always typed (or OCR'd) for the Cyrillic letter, and the reverse for Latin words.
_LATIN_TO_CYRILLIC: Final = str.maketrans(
    {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "k": "к",
     "m": "м", "t": "т", "b": "в", "h": "н", "i": "і"}
)  # fmt: skip
_CYRILLIC_TO_LATIN_LOOKALIKE: Final = str.maketrans(
    {"а": "a", "с": "c", "е": "e", "о": "o", "р": "p", "х": "x", "у": "y", "к": "k",
     "м": "m", "т": "t", "в": "b", "н": "h", "і": "i"}
)  # fmt: skip

_CYRILLIC: Final = re.compile(r"[\u0400-\u04ff]")
_LATIN: Final = re.compile(r"[a-z]")
# Punctuation that may cling to a word ("for,", "(2", "вещи.").
_PUNCTUATION: Final = ".,;:!?()[]{}\"'«»„“”/\\-–—*#№+"
_LATIN_EXTRAS: Final = str.maketrans({"ł": "l", "ß": "ss", "ø": "o", "æ": "ae", "đ": "d"})
# Letters that can lose an accent (Latin-1 Supplement to Latin Extended-B); text without
# any, most of it, is left as it is without a look at each character.
_ACCENTABLE: Final = re.compile(r"[\u00c0-\u024f]")
# Words with both Cyrillic and Latin letters: the only ones homoglyph folding changes.
_MIXED_WORD: Final = re.compile(r"\b(?=\w*[\u0400-\u04ff])(?=\w*[a-z])\w+")
# Every transliteration variant rule needs one of these; most text has none.
_VARIANT_MARKS: Final = ("j", "kh", "shh", "iy")


def _fold_homoglyphs(word: str) -> str:
    cyrillic = len(_CYRILLIC.findall(word))
    latin = len(_LATIN.findall(word))
    if cyrillic and latin:
        if cyrillic >= latin:
            return word.translate(_LATIN_TO_CYRILLIC)
        return word.translate(_CYRILLIC_TO_LATIN_LOOKALIKE)
    return word


def _strip_latin_accents(text: str) -> str:
    # Decompose, drop combining marks, recompose: "Wärmebild" -> "warmebild", "hełm" -> "helm".
    # Only Latin letters lose their marks: "й" and "ё" must keep theirs to transliterate.
    if not _ACCENTABLE.search(text):
        return text
    out = []
    for char in text.translate(_LATIN_EXTRAS):
        if "a" <= char <= "z" or char < "\u00c0" or _CYRILLIC.match(char) or char > "\u024f":
            out.append(char)
            continue
        decomposed = unicodedata.normalize("NFD", char)
        out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    return "".join(out)


def transliterate(text: str) -> str:
    """Latin transliteration of Cyrillic (GOST-like, the way senders type it)."""
    return text.translate(_TRANSLIT_TABLE)


def fold_translit_variants(text: str) -> str:
    if not any(mark in text for mark in _VARIANT_MARKS):
        return text
    for pattern, replacement in _TRANSLIT_VARIANTS:
        text = pattern.sub(replacement, text)
    return text


# Bounded well below a scorer's own caches of signals per description (which spare most
# calls): ~270 bytes an entry.
@lru_cache(maxsize=50_000)
def matching_text(description: str) -> str:
    """The form of a description that text features see.

    Cyrillic text is followed by its transliteration (" | " between), so features fire
    on both "бронежилет" and "bronezhilet"; Latin text gets its transliteration spelling
    variants folded the same way.
    """
    if description.isascii():
        # The steps of `_matching_text` that ASCII can need: NFKC, accents, homoglyphs and
        # transliteration leave it as it is, and `split` cuts where `\s` matches
        # (3.8 -> 1.3 us a text; tested equal).
        return fold_translit_variants(without_function_words(description.lower()))
    return _matching_text(description)


def without_function_words(text: str) -> str:
    """Casefolded text without its function words, bare numbers and counts ("x2", "3шт",
    "pcs": `_COUNT`), spaces collapsed.

    "for", "на", "dlya", a lone "2" or "(2 pcs)" carry no evidence of what is in a parcel; left in,
    a model learns them from whatever text it was shown (see `training.common_words`).
    Words are cut at whitespace and judged without the punctuation around them ("for,").
    """
    noise = function_words()
    kept = []
    for token in text.split():
        core = token.strip(_PUNCTUATION)
        if core not in noise and not core.isdigit() and _COUNT.fullmatch(core) is None:
            kept.append(token)
    return " ".join(kept)


def _count_pattern() -> re.Pattern[str]:
    units = {w for word in count_words() for w in (word, _strip_latin_accents(word))}
    alternatives = "|".join(sorted(map(re.escape, units), key=len, reverse=True))
    return re.compile(rf"[x×х*]?\d+[x×х]?|\d*(?:{alternatives})\.?")


# A word that only counts ("x2", "3шт", "pcs", "5 dona"'s "dona"): "(2 pcs)" says how many
# units a line holds, not what they are, yet left in it moved a winter jacket's expected
# weight by a third.
_COUNT: Final = _count_pattern()
# Chinese writes a count as a number and a classifier, one letter that says what is counted
# in ("2块", two pieces; "10双", ten pairs; "3箱", three boxes).
_CHINESE_COUNT: Final = re.compile(r"\d+[\u4e00-\u9fff]")


def is_count(word: str) -> bool:
    """Whether a word only counts ("x2", "3шт", "pcs", "2块"): how many, never what."""
    folded = word.casefold()
    return bool(_COUNT.fullmatch(folded) or _CHINESE_COUNT.fullmatch(folded))


# Units a measure is written with on forms and marketplace titles, in Latin and Cyrillic.
_MEASURE_UNITS: Final = (
    "m", "mm", "cm", "km", "kg", "g", "gr", "mg", "w", "kw", "v", "mah", "wh", "l", "ml",
    "gb", "tb", "mb", "hz", "ghz", "mhz", "mp", "lm", "м", "мм", "см", "км", "кг", "г", "гр",
    "мг", "вт", "квт", "в", "мач", "л", "мл", "гб", "тб", "мб", "гц", "мп",
)  # fmt: skip
_MEASURE: Final = re.compile(
    r"\d+(?:[.,]\d+)?(?:" + "|".join(sorted(_MEASURE_UNITS, key=len, reverse=True)) + ")"
)


def is_measure(word: str) -> bool:
    """Whether a word is a number and its unit ("3000m", "48W", "5000mAh", "20кг"): how much
    of something, never what it is. "640x512" (a sensor's resolution) and "6Б45" (a
    designation) are no measures."""
    return _MEASURE.fullmatch(word.casefold()) is not None


def _matching_text(description: str) -> str:
    text = unicodedata.normalize("NFKC", description).casefold()
    text = _strip_latin_accents(text)
    text = _MIXED_WORD.sub(lambda match: _fold_homoglyphs(match.group(0)), text)
    text = without_function_words(text)
    if _CYRILLIC.search(text):
        return f"{text} | {fold_translit_variants(transliterate(text))}"
    return fold_translit_variants(text)


# Snowball stemmers by script: a Cyrillic word is stemmed as Russian, an Armenian one as
# Armenian, a Latin one as English (the Latin-letter languages of the lanes have no stemmer
# there, or share the script with English).
_STEMMERS: Final = {
    script: snowballstemmer.stemmer(language)
    for script, language in (
        ("cyrillic", "russian"),
        ("armenian", "armenian"),
        ("latin", "english"),
    )
}


def _script(word: str) -> str | None:
    for letter in word:
        if "\u0400" <= letter <= "\u04ff":
            return "cyrillic"
        if "\u0530" <= letter <= "\u058f":
            return "armenian"
        if letter.isascii() and letter.isalpha():
            return "latin"
    return None


@lru_cache(maxsize=50_000)
def word_stem(word: str) -> str:
    """A word casefolded and stemmed in its script's language ("одежду" and "одежда" are
    "одежд", "boots" is "boot"); unchanged in a script without a stemmer."""
    folded = word.casefold()
    script = _script(folded)
    return folded if script is None else _STEMMERS[script].stemWord(folded)
