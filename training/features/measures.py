"""What the form states, measured per item row: weight per unit, value in US dollars, HS
chapter, and whether the description is only a vague word.

Both layers of features read these (the text signals learn what to expect of them, the form
features set them against it), and so do drift and the baselines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np

from training import knowledge
from training.features.columns import SMALL_INPUT, ItemColumns, column, factorize
from training.gross_weight import net_in_kg

# Floor under quantities whose logarithm is taken (kilograms, dollars per kilogram).
LOG_FLOOR: Final = 1e-3
# Below this probability (of the text models' chapters, given the wording) a declared HS
# chapter does not fit the goods; above it the nomenclature allows it (a building thermal
# camera under 8525 or 9025).
UNFIT_CHAPTER_PROBABILITY: Final = 0.05
# The least spread (a standard deviation in log units) a residual is measured in: the
# narrowest wording's honest lines still stray by a sixth or so.
SPREAD_FLOOR: Final = 0.15


def weights_as_meant(items: ItemColumns) -> ItemColumns:
    """Item columns with each line's net weight as the clerk meant it (`net_in_kg`: "6150"
    for a box of spare parts is 6.15 kg). Every reader of a line's weight (the features,
    the text models' targets, the reasons) reads it so, once, where the items come in."""
    if "net_weight_kg" not in items:
        return items
    missing = np.full(len(items["net_weight_kg"]), np.nan)
    net = net_in_kg(
        column(items, "net_weight_kg", float),
        column(items, "quantity", float) if "quantity" in items else missing,
        column(items, "gross_weight_kg", float) if "gross_weight_kg" in items else missing,
    )
    return {**items, "net_weight_kg": net}


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


def hs_headings(items: ItemColumns) -> np.ndarray:
    """Per row, the declared HS heading (the code's first four digits; a two-digit chapter
    as typed), or None."""
    hs_codes = column(items, "hs_code")
    codes, distinct = factorize(hs_codes)
    headings = np.array(
        [c[:4] if isinstance(c, str) and len(c) >= 2 else None for c in distinct], dtype=object
    )
    return headings[codes] if len(codes) else np.full(0, None, dtype=object)


def kind_columns(heading: str, chapter_signal: Mapping[str, int]) -> tuple[int, ...]:
    """The text models' chapter columns, other than the declared chapter's, whose goods the
    nomenclature also classes under `heading` (`knowledge.chapters_classing`): wording that
    reads as a jacket of chapter 62 fits 4203 (apparel of leather) and 6101 alike."""
    return tuple(
        sorted(
            {
                chapter_signal[chapter]
                for chapter in knowledge.chapters_classing(heading)
                if chapter != heading[:2] and chapter in chapter_signal
            }
        )
    )


def vague_flags(descriptions: np.ndarray) -> np.ndarray:
    """1.0 where a description is only a vague word (\"gift\", \"вещи\"), else 0.0."""
    vague = knowledge.vague_descriptions()
    codes, distinct = factorize(descriptions)
    flags = np.array(
        [isinstance(d, str) and d.casefold().strip(" .,!") in vague for d in distinct],
        dtype=float,
    )
    return flags[codes]
