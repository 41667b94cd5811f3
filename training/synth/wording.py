"""What senders add around a name (`decorate`): counts, condition, colour, a second
language, vague prefixes, typos, CAPS.
"""

from __future__ import annotations

import random
import re
from typing import Any, Final

import numpy as np

from training import knowledge
from training.knowledge import LANGUAGES
from training.synth.sampling import IntArray, ObjectArray


def _typo(text: str, rng: random.Random) -> str:
    letters = [i for i, char in enumerate(text) if char.isalpha()]
    if len(letters) < 4:
        return text
    i = letters[rng.randrange(1, len(letters) - 1)]
    kind = rng.random()
    if kind < 0.4 and i + 1 < len(text) and text[i + 1].isalpha():
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind < 0.8:
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i] + text[i:]


# Russian and Ukrainian adjective endings: a word with one is not the noun that names goods.
_ADJECTIVE: Final = re.compile(r"(?:ый|ий|ой|ая|яя|ое|ее|ые|ие|ій|ого|его)$")
_LETTERS: Final = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def head_word(text: str, language: str, settings: dict[str, Any]) -> str | None:
    """The one word naming the goods of a phrase, as a sender writing only that would write
    it ("куртка мужская зимняя" -> "куртка", "qishki etik" -> "etik"); None where the
    language's word order is not known or no such word stands out."""
    if language in settings["last"]:
        ends = set(settings["phrase_ends"].get(language, ()))
        phrase = []
        for word in _LETTERS.findall(text):
            if word.casefold() in ends:
                break
            phrase.append(word)
        named = [w for w in phrase if len(w) >= 3]
        return named[-1] if named else None
    words = [w for w in _LETTERS.findall(text) if len(w) >= 3]
    if not words:
        return None
    if language not in settings["first"]:
        return None
    if language not in settings["adjectives_before"]:
        return words[0]
    nouns = [w for w in words if not _ADJECTIVE.search(w.casefold())]
    return nouns[0] if nouns else None


def shorten_to_head_words(
    base: ObjectArray, *, language: IntArray, eligible: np.ndarray, rng: np.random.Generator
) -> ObjectArray:
    """Eligible lines written as their head word alone, at the generator's share."""
    settings: dict[str, Any] = knowledge.generator_settings()["head_word"]
    chosen = np.flatnonzero(eligible & (rng.random(len(base)) < settings["share"]))
    out = base.copy()
    for i in chosen.tolist():
        word = head_word(str(base[i]), LANGUAGES[language[i]], settings)
        if word is not None:
            out[i] = word
    return out


def decorate(
    base: ObjectArray,
    *,
    language: IntArray,
    second_text: ObjectArray,
    quantity: IntArray,
    palette: IntArray,
    rng: np.random.Generator,
) -> list[str]:
    """Add what senders add around a name: counts, condition, colour, typos, CAPS."""
    settings = knowledge.generator_settings()
    rates: dict[str, float] = settings["text_rates"]
    templates: dict[str, Any] = settings["text"]
    n = len(base)
    flags = {name: rng.random(n) < rate for name, rate in rates.items()}
    flags["quantity_suffix"] &= quantity > 1
    flags["colour"] &= palette > 0
    any_flag = np.zeros(n, dtype=bool)
    for mask in flags.values():
        any_flag |= mask
    texts: list[str] = base.tolist()
    local = random.Random(int(rng.integers(2**63)))
    suffixes: dict[str, list[str]] = templates["quantity_suffix"]
    conditions: dict[str, list[str]] = templates["condition"]
    colours: dict[str, dict[str, list[str]]] = templates["colour"]
    prefixes: dict[str, list[str]] = templates["vague_prefix"]
    separators: list[str] = templates["bilingual_separator"]["values"]
    palettes = ("", "tactical", "plain")
    fallback: dict[str, list[str]] = settings["language_fallback"]

    def localised(table: dict[str, list[str]], language: str) -> list[str]:
        for candidate in (language, *fallback.get(language, []), "en"):
            if candidate in table:
                return table[candidate]
        return next(iter(table.values()))

    for i in np.flatnonzero(any_flag).tolist():
        text = texts[i]
        lang = LANGUAGES[language[i]]
        if flags["colour"][i]:
            text = f"{text} {local.choice(localised(colours[palettes[palette[i]]], lang))}"
        if flags["condition"][i]:
            text = f"{text} {local.choice(localised(conditions, lang))}"
        if flags["quantity_suffix"][i]:
            text = f"{text} {local.choice(localised(suffixes, lang)).format(q=quantity[i])}"
        if flags["bilingual"][i] and second_text[i] != texts[i]:
            separator = local.choice(separators)
            closing = ")" if separator == " (" else ""
            text = f"{text}{separator}{second_text[i]}{closing}"
        if flags["vague_prefix"][i]:
            text = f"{local.choice(localised(prefixes, lang))} {text}"
        if flags["typo"][i]:
            text = _typo(text, local)
        if flags["caps"][i]:
            text = text.upper()
        texts[i] = text[:512]
    return texts
