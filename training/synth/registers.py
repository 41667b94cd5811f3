"""How each line is written (its register: plain, vague, explicit, disguised, stealth), the
item or vague words its text is drawn from, its description in one language or two, and
its HS code as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from training.knowledge import LANGUAGES
from training.synth.catalogue import Catalogue, phrase_pool
from training.synth.dates import YEARS, interpolate_by_year
from training.synth.sampling import (
    BoolArray,
    IntArray,
    ObjectArray,
    Settings,
    cumulative,
    draw,
    draw_by_row,
    grouped,
    sample_from_groups,
)
from training.synth.structure import Lines, Parcels

# How a line is written; kept beside the frame by `generate_declarations_with_registers`.
REGISTERS: Final = ("plain", "vague", "explicit", "disguised", "stealth")
PLAIN, VAGUE, EXPLICIT, DISGUISED, STEALTH = range(5)


@dataclass(frozen=True)
class Wording:
    """Per line: how the sender writes it (register) and what its words are taken from."""

    register: IntArray
    year: IntArray  # the line's year, as an index into YEARS
    # The item whose description, HS code (and for stealth, value) the line borrows.
    text_item: IntArray
    # The phrase group the description is drawn from.
    group: IntArray
    written_vague: BoolArray


def draw_wording(
    rng: np.random.Generator,
    cat: Catalogue,
    settings: Settings,
    parcels: Parcels,
    lines: Lines,
) -> Wording:
    """The register of each line and the item or vague words its text is drawn from."""
    n = lines.count
    parcel = lines.parcel
    item = lines.item
    register_settings = settings["register"]
    explicit_p = interpolate_by_year(register_settings["explicit"], parcels.fractional_year)
    stealth_p = interpolate_by_year(register_settings["stealth"], parcels.fractional_year)
    u = rng.random(parcels.count)
    parcel_register = np.where(
        u < explicit_p, EXPLICIT, np.where(u < explicit_p + stealth_p, STEALTH, DISGUISED)
    )
    vague_line = rng.random(n) < settings["benign"]["vague_share"]
    register = np.where(lines.is_gear, parcel_register[parcel], np.where(vague_line, VAGUE, PLAIN))
    line_year = parcels.year_no[parcel]

    # Stealth lines borrow a benign cover item's text, HS code and value.
    text_item = item.copy()
    stealth_rows = np.flatnonzero(register == STEALTH)
    for gear_item, positions in grouped(item[stealth_rows]):
        rows = stealth_rows[positions]
        covers = cat.cover_items[gear_item]
        text_item[rows] = covers[rng.integers(len(covers), size=len(rows))]

    # Disguised lines: a cover story, then an ordinary item of its pool whose description
    # and HS code the line borrows, written as honest senders write that item (or one of the
    # story's vague words); weight stays the gear's own.
    disguised_rows = np.flatnonzero(register == DISGUISED)
    keys = item[disguised_rows] * len(YEARS) + line_year[disguised_rows]
    story = np.zeros(len(disguised_rows), dtype=np.int64)
    uniform = rng.random(len(disguised_rows))
    for key, rows in grouped(keys):
        gear_item, year_index = divmod(key, len(YEARS))
        story[rows] = cat.disguise_choices[gear_item][
            draw(cat.disguise_cumulative[gear_item][year_index], uniform[rows])
        ]
    cover = np.zeros(len(disguised_rows), dtype=np.int64)
    uniform = rng.random(len(disguised_rows))
    for story_no, rows in grouped(story):
        pool = cat.story_items[story_no]
        cover[rows] = pool[draw(cat.story_item_cumulative[story_no], uniform[rows])]
    text_item[disguised_rows] = cover
    vague_story = (rng.random(len(disguised_rows)) < cat.story_vague_share[story]) & (
        cat.story_vague_group[story] >= 0
    )
    written_vague = register == VAGUE
    written_vague[disguised_rows[vague_story]] = True

    group = text_item.copy()
    group = np.where(register == VAGUE, cat.item_vague_group[item], group)
    group[disguised_rows[vague_story]] = cat.story_vague_group[story[vague_story]]
    return Wording(
        register=register,
        year=line_year,
        text_item=text_item,
        group=group,
        written_vague=written_vague,
    )


def draw_texts(
    rng: np.random.Generator,
    cat: Catalogue,
    parcels: Parcels,
    lines: Lines,
    wording: Wording,
) -> tuple[IntArray, ObjectArray, ObjectArray]:
    """Each line's language, its description in it, and one in the lane's second language
    (which senders add beside the first)."""
    n = lines.count
    line_lane = lines.lane
    parcel_language = draw_by_row(cat.lane_language, parcels.lane, rng)
    redraw = rng.random(n) < 0.12
    language = np.where(
        redraw, draw_by_row(cat.lane_language, line_lane, rng), parcel_language[lines.parcel]
    )
    second_language = cat.lane_second_language[line_lane]
    second_language = np.where(second_language == language, LANGUAGES.index("en"), second_language)

    def pick_text(languages: IntArray) -> ObjectArray:
        out = np.empty(n, dtype=object)
        combo = (wording.group * len(LANGUAGES) + languages) * len(YEARS) + wording.year
        uniform = rng.random(n)
        for key, rows in grouped(combo):
            rest, year_index = divmod(key, len(YEARS))
            group_no, language_no = divmod(rest, len(LANGUAGES))
            pool = phrase_pool(group_no, language_no, YEARS[year_index])
            out[rows] = pool[(uniform[rows] * len(pool)).astype(np.int64)]
        return out

    base_text = pick_text(language)
    second_text = pick_text(second_language)
    return language, base_text, second_text


def draw_hs_codes(
    rng: np.random.Generator,
    cat: Catalogue,
    hs_format: dict[str, float],
    lines: Lines,
    wording: Wording,
) -> ObjectArray:
    """Each line's HS code as written (digits, dotted, padded, the heading), or None.

    From the phrase group actually written; a vague word keeps the HS code of the goods it
    stands for: the item's own, or the disguise's cover.
    """
    n = lines.count
    hs_group = np.where(wording.written_vague, wording.text_item, wording.group)
    hs_index = sample_from_groups(hs_group, cat.group_hs_cumulative, rng)
    hs_text = np.empty(n, dtype=object)
    fmt = draw(cumulative(list(hs_format.values())), rng.random(n))
    hs_key = hs_group * 64 + hs_index
    for key, sub in grouped(hs_key):
        group_no, code_no = divmod(key, 64)
        dotted = cat.groups[group_no].hs_codes[code_no]
        digits = dotted.replace(".", "")
        forms = np.array(
            [digits, dotted if "." in dotted else digits, digits.ljust(10, "0"), digits[:4]],
            dtype=object,
        )
        hs_text[sub] = forms[fmt[sub]]
    hs_missing = rng.random(n) < cat.lane_hs_missing[lines.lane]
    hs_text[hs_missing] = None
    return hs_text
