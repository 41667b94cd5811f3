"""What senders add around a name (`decorate`): counts, condition, colour, a second
language, vague prefixes, typos, CAPS.
"""

from __future__ import annotations

import random
from typing import Any

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
