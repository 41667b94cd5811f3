"""What the form states, measured per item row: weight per unit, value in US dollars, HS
chapter, and whether the description is only a vague word.

Both layers of features read these (the text signals learn what to expect of them, the form
features set them against it), and so do drift and the baselines.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from training import knowledge
from training.features.columns import SMALL_INPUT, ItemColumns, column, factorize

# Floor under quantities whose logarithm is taken (kilograms, dollars per kilogram).
LOG_FLOOR: Final = 1e-3
# Weight beyond the lines that ordinary parcels still leave unexplained (packaging, a net
# weight guessed low) grows with the parcel: a box, tape and filler for 30 kg of goods weigh
# kilos. 2 kg and a tenth of the lines' kilos: 99.0% of the written sets' ordinary parcels
# stay under it, as under a flat 2.5 kg, and 97.6% of those over 10 kg (94.1% under 2.5 kg),
# while 10.8% of gear parcels pass it (10.5%) (docs/decisions.md, "Packaging grows with the
# parcel").
_UNEXPLAINED_KG: Final = 2.0
_UNEXPLAINED_SHARE: Final = 0.1


def ordinary_unexplained_kg(declared_kg: Any) -> Any:
    """The weight an ordinary parcel whose lines declare `declared_kg` may leave
    unexplained (a number or an array of them)."""
    return _UNEXPLAINED_KG + _UNEXPLAINED_SHARE * declared_kg


# A gross weight over this many times what the parcel's lines declare, and over what a postal
# parcel may weigh (30 kg, the UPU's usual limit), may have been typed in grams (see
# `gross_in_kg`). Below it a heavy parcel of lines declared at grams is gear's tell.
_GRAMS_RATIO: Final = 50.0
_GRAMS_FLOOR_KG: Final = 30.0


def gross_in_kg(gross: Any, declared_kg: Any) -> Any:
    """The parcel's gross weight in kilograms, as typed or, where it can only have been
    typed in grams, a thousandth of it: over 30 kg and fifty times what its lines declare,
    and in grams as heavy as the lines (80% of them at least) with no more over them than
    ordinary parcels of the size leave ("3056" at a counter for a 2.7 kg tracksuit, "33"
    for a 20 g letter). An 8.9 kg parcel of lines declared at 10 g stays as typed: that is
    how gear declared at its cover's weight shows. Numbers or arrays; NaN stays NaN."""
    gross = np.asarray(gross, dtype=np.float64)
    declared_kg = np.asarray(declared_kg, dtype=np.float64)
    grams = gross / 1000.0
    # Schema-valid extremes (1e308 kg) overflow to infinity: compared, they read as typed.
    with np.errstate(invalid="ignore", over="ignore"):
        typed_in_grams = (
            (declared_kg > 0)
            & (gross > _GRAMS_FLOOR_KG)
            & (gross > _GRAMS_RATIO * declared_kg)
            & (grams >= 0.8 * declared_kg)
            & (grams <= declared_kg + ordinary_unexplained_kg(declared_kg))
        )
    return np.where(typed_in_grams, grams, gross)


def unusual_packaging_kg(declared_kg: float) -> float:
    """Weight beyond the lines that few ordinary parcels of this size leave: what a reason
    may call "not accounted for". 97% of the written sets' ordinary parcels stay under it:
    0.8 kg for 0.3 kg of goods (a small packet's box weighs grams), 1.9 kg for 5 kg, 4.2 kg
    for 30 kg. Lower than `ordinary_unexplained_kg` for small parcels, where a kilo beyond
    the lines is the fact the score rests on."""
    return 0.5 + 0.6 * max(declared_kg, 0.01) ** 0.54


# Below this probability (of the text models' chapters, given the wording) a declared HS
# chapter does not fit the goods; above it the nomenclature allows it (a building thermal
# camera under 8525 or 9025).
UNFIT_CHAPTER_PROBABILITY: Final = 0.05


def unit_weights(items: ItemColumns) -> np.ndarray:
    net = column(items, "net_weight_kg", float)
    quantity = column(items, "quantity", float)
    quantity = np.where(np.isfinite(quantity) & (quantity >= 1), quantity, 1.0)
    return net / quantity


def usd_values(items: ItemColumns) -> np.ndarray:
    rates = knowledge.usd_per_unit()
    value = column(items, "value", float)
    codes, currencies = factorize(column(items, "currency"))
    rate = np.array([rates.get(c, np.nan) if isinstance(c, str) else np.nan for c in currencies])
    return value * rate[codes]


def hs_chapters(items: ItemColumns) -> np.ndarray:
    hs_codes = column(items, "hs_code")
    if len(hs_codes) <= SMALL_INPUT:  # one declaration: grouping first costs more than it saves
        return np.array(
            [c[:2] if isinstance(c, str) and len(c) >= 2 else None for c in hs_codes.tolist()],
            dtype=object,
        )
    codes, distinct = factorize(hs_codes)
    chapters = np.array(
        [c[:2] if isinstance(c, str) and len(c) >= 2 else None for c in distinct], dtype=object
    )
    return chapters[codes] if len(codes) else np.full(0, None, dtype=object)


def vague_flags(descriptions: np.ndarray) -> np.ndarray:
    """1.0 where a description is only a vague word (\"gift\", \"вещи\"), else 0.0."""
    vague = knowledge.vague_descriptions()
    codes, distinct = factorize(descriptions)
    flags = np.array(
        [isinstance(d, str) and d.casefold().strip(" .,!") in vague for d in distinct],
        dtype=float,
    )
    return flags[codes]
