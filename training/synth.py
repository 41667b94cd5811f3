"""Synthetic labelled CN22/CN23 declarations for training.

There is no public labelled corpus, so the model learns only what this generator encodes.
All domain knowledge (item catalogue, phrasings, disguises, lanes, currencies, rates) lives
in `training/lexicon/`; this module is sampling machinery only. See docs/generator.md.

Parcels are generated in fixed-size blocks, each with its own random stream derived from
(seed, block number), so the output depends only on (rows, seed): `chunk_rows` merely
decides where the stream of parcels is cut into frames.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from training import knowledge
from training.files import atomic_file
from training.history import ROLES, WatchEntry
from training.knowledge import LANGUAGES, ItemType, PhraseGroup
from training.schema import ALL_FIELDS, CATEGORIES, LABEL_CLASSES, MAIL_CLASSES, RISK_CLASSES

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

# Parcels per block: large enough to vectorise well, small enough to keep memory flat.
BLOCK_PARCELS: Final = 16384
YEARS: Final = (2023, 2024, 2025, 2026)

# How a line is written; kept beside the frame by `generate_declarations_with_registers`.
REGISTERS: Final = ("plain", "vague", "explicit", "disguised", "stealth")
_PLAIN, _VAGUE, _EXPLICIT, _DISGUISED, _STEALTH = range(5)

# What a line is within its parcel.
_BENIGN_LINE, _GEAR_LINE, _KIT_LINE, _COMPANION_LINE = range(4)

# Index positions into the contract's enums (the order is the contract's).
_MAIL_CLASSES: Final = MAIL_CLASSES
_CATEGORIES: Final = CATEGORIES
_NICE_MANTISSAS: Final = np.array([1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 7.5, 8.0, 10.0])


def _probabilities(weights: Sequence[float] | FloatArray) -> FloatArray:
    array = np.asarray(weights, dtype=np.float64)
    total = array.sum()
    if total <= 0:
        raise ValueError("weights must have a positive sum")
    return np.asarray(array / total, dtype=np.float64)


def _cumulative(weights: Sequence[float] | FloatArray) -> FloatArray:
    cumulative = np.cumsum(_probabilities(weights))
    cumulative[-1] = 1.0
    return cumulative


def _draw(cumulative: FloatArray, uniform: FloatArray) -> IntArray:
    """Inverse-CDF draws: indices into the distribution whose cumulative is given."""
    return np.searchsorted(cumulative, uniform, side="right").astype(np.int64)


def _grouped(keys: IntArray) -> Iterator[tuple[int, IntArray]]:
    """(key, positions) for each distinct key, by sorting once instead of masking per key."""
    if len(keys) == 0:
        return
    order = np.argsort(keys, kind="stable")
    boundaries = np.flatnonzero(np.diff(keys[order])) + 1
    for rows in np.split(order, boundaries):
        yield int(keys[rows[0]]), rows


def _draw_by_row(table: FloatArray, rows: IntArray, rng: np.random.Generator) -> IntArray:
    """One draw per element from the cumulative distribution in `table[rows[i]]`."""
    out = np.empty(len(rows), dtype=np.int64)
    uniform = rng.random(len(rows))
    for row, positions in _grouped(rows):
        out[positions] = _draw(table[row], uniform[positions])
    return np.asarray(np.minimum(out, table.shape[1] - 1), dtype=np.int64)


def _cumulative_table(weights: FloatArray) -> FloatArray:
    """Row-wise cumulative distributions; rows with no weight fall back to uniform."""
    table = np.asarray(weights, dtype=np.float64).copy()
    empty = table.sum(axis=1) <= 0
    table[empty] = 1.0
    table = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    table[:, -1] = 1.0
    return table


def _mapping_weights(mapping: dict[str, float], keys: Sequence[str]) -> FloatArray:
    return np.array([mapping.get(key, 0.0) for key in keys], dtype=np.float64)


# --- the compiled catalogue ---------------------------------------------------------------


@dataclass(frozen=True)
class _Catalogue:
    """The lexicon turned into arrays and lookup tables for vectorised sampling."""

    items: tuple[ItemType, ...]
    item_class: IntArray
    weight_log_median: FloatArray
    weight_sigma: FloatArray
    worth_log_low: FloatArray
    worth_log_high: FloatArray
    quantity_values: tuple[IntArray, ...]
    quantity_cumulative: tuple[FloatArray, ...]
    tactical_palette: BoolArray
    plain_palette: BoolArray
    item_category: tuple[FloatArray | None, ...]
    item_mail: tuple[FloatArray | None, ...]
    # phrase groups: item names first (same index as items), then vague kinds
    groups: tuple[PhraseGroup, ...]
    group_hs_cumulative: tuple[FloatArray, ...]
    vague_index: dict[str, int]
    item_vague_group: IntArray
    # per item and year: cumulative over the item's cover stories, and the story ids
    disguise_choices: tuple[IntArray, ...]
    disguise_cumulative: tuple[tuple[FloatArray, ...], ...]
    # per cover story: the ordinary items it borrows (cumulative by honest traffic), and
    # its vague words (group id, -1 for none) with the share of lines that use them
    story_items: tuple[IntArray, ...]
    story_item_cumulative: tuple[FloatArray, ...]
    story_vague_group: IntArray
    story_vague_share: FloatArray
    cover_items: tuple[IntArray, ...]
    companion_cumulative: FloatArray
    companion_items: IntArray
    kit_cumulative: FloatArray
    kit_items: IntArray
    # lanes
    lane_origin: tuple[str, ...]
    lane_benign_cumulative: FloatArray
    lane_class_cumulative: FloatArray  # flattened (lane, risk class)
    lane_benign_items: FloatArray  # lanes x items, cumulative
    lane_class_items: FloatArray  # (lane * 4 + class) x items, cumulative
    lane_currency: tuple[tuple[str, ...], ...]
    lane_currency_cumulative: tuple[FloatArray, ...]
    lane_language: FloatArray  # lanes x languages, cumulative
    lane_second_language: IntArray
    lane_hs_missing: FloatArray
    lane_category_benign: FloatArray
    lane_category_positive: FloatArray
    lane_mail: FloatArray
    usd_per_unit: dict[str, float]


@cache
def _catalogue() -> _Catalogue:
    items = knowledge.item_catalogue()
    keys = [item.key for item in items]
    index = {key: i for i, key in enumerate(keys)}
    stories = knowledge.cover_stories()
    story_names = list(stories)
    story_index = {key: i for i, key in enumerate(story_names)}
    vague = knowledge.vague_groups()
    groups = tuple(item.names for item in items) + tuple(vague.values())
    vague_index = {key: len(items) + i for i, key in enumerate(vague)}

    disguise_choices: list[IntArray] = []
    disguise_cumulative: list[tuple[FloatArray, ...]] = []
    for item in items:
        names = list(item.disguises) or ["gift_vague"]
        ids = np.array([story_index[name] for name in names], dtype=np.int64)
        per_year: list[FloatArray] = []
        for year in YEARS:
            weights = np.array(
                [
                    item.disguises.get(name, 1.0) if stories[name].since <= year else 0.0
                    for name in names
                ]
            )
            if weights.sum() <= 0:
                weights = np.ones(len(names))
            per_year.append(_cumulative(weights))
        disguise_choices.append(ids)
        disguise_cumulative.append(tuple(per_year))

    settings = knowledge.generator_settings()
    companions: dict[str, float] = settings["parcel"]["mixed_companions"]
    kit = [i for i, item in enumerate(items) if item.kit]

    lanes = knowledge.lanes()
    class_of = {name: i for i, name in enumerate(LABEL_CLASSES)}
    item_class = np.array([class_of[item.label_class] for item in items], dtype=np.int64)
    shares = _traffic_shares(items, float(settings["benign"]["catalogue_share"]))
    story_pools = [_cover_pool(stories[name], items, shares) for name in story_names]

    def origin_factor(origin: str) -> FloatArray:
        return np.array([item.origins.get(origin, item.elsewhere) for item in items])

    benign_items = np.zeros((len(lanes), len(items)))
    class_items = np.zeros((len(lanes) * len(RISK_CLASSES), len(items)))
    for lane_no, lane in enumerate(lanes):
        weights = shares * origin_factor(lane.origin)
        benign_items[lane_no] = np.where(item_class == 0, weights, 0.0)
        for class_no in range(len(RISK_CLASSES)):
            class_items[lane_no * len(RISK_CLASSES) + class_no] = np.where(
                item_class == class_no + 1, weights, 0.0
            )

    language_index = {language: i for i, language in enumerate(LANGUAGES)}
    return _Catalogue(
        items=items,
        item_class=item_class,
        weight_log_median=np.log([item.weight_median_kg for item in items]),
        weight_sigma=np.array([item.weight_sigma for item in items]),
        worth_log_low=np.log([max(item.worth_usd[0], 1e-3) for item in items]),
        worth_log_high=np.log([max(item.worth_usd[1], 1e-3) for item in items]),
        quantity_values=tuple(np.array(item.quantities, dtype=np.int64) for item in items),
        quantity_cumulative=tuple(_cumulative(item.quantity_weights) for item in items),
        tactical_palette=np.array([item.palette == "tactical" for item in items]),
        plain_palette=np.array([item.palette == "plain" for item in items]),
        item_category=tuple(
            _cumulative(_mapping_weights(item.category, _CATEGORIES)) if item.category else None
            for item in items
        ),
        item_mail=tuple(
            _cumulative(_mapping_weights(item.mail, _MAIL_CLASSES)) if item.mail else None
            for item in items
        ),
        groups=groups,
        group_hs_cumulative=tuple(_cumulative(group.hs_weights) for group in groups),
        vague_index=vague_index,
        item_vague_group=np.array(
            [vague_index.get(item.vague_kind, vague_index["general"]) for item in items],
            dtype=np.int64,
        ),
        disguise_choices=tuple(disguise_choices),
        disguise_cumulative=tuple(disguise_cumulative),
        story_items=tuple(pool for pool, _ in story_pools),
        story_item_cumulative=tuple(cumulative for _, cumulative in story_pools),
        story_vague_group=np.array(
            [
                -1 if (kind := stories[name].vague_kind) is None else vague_index[kind]
                for name in story_names
            ],
            dtype=np.int64,
        ),
        story_vague_share=np.array([stories[name].vague_share for name in story_names]),
        cover_items=tuple(
            np.array([index[cover] for cover in item.covers], dtype=np.int64) for item in items
        ),
        companion_cumulative=_cumulative(list(companions.values())),
        companion_items=np.array([index[key] for key in companions], dtype=np.int64),
        kit_cumulative=_cumulative([items[i].share for i in kit]),
        kit_items=np.array(kit, dtype=np.int64),
        lane_origin=tuple(lane.origin for lane in lanes),
        lane_benign_cumulative=_cumulative([lane.benign for lane in lanes]),
        lane_class_cumulative=_cumulative(
            [lane.positive.get(name, 0.0) for lane in lanes for name in RISK_CLASSES]
        ),
        lane_benign_items=_cumulative_table(benign_items),
        lane_class_items=_cumulative_table(class_items),
        lane_currency=tuple(tuple(lane.currency) for lane in lanes),
        lane_currency_cumulative=tuple(_cumulative(list(lane.currency.values())) for lane in lanes),
        lane_language=_cumulative_table(
            np.array([_mapping_weights(lane.language, LANGUAGES) for lane in lanes])
        ),
        lane_second_language=np.array(
            [language_index[lane.second_language] for lane in lanes], dtype=np.int64
        ),
        lane_hs_missing=np.array([lane.hs_missing for lane in lanes]),
        lane_category_benign=_cumulative_table(
            np.array([_mapping_weights(lane.category_benign, _CATEGORIES) for lane in lanes])
        ),
        lane_category_positive=_cumulative_table(
            np.array([_mapping_weights(lane.category_positive, _CATEGORIES) for lane in lanes])
        ),
        lane_mail=_cumulative_table(
            np.array([_mapping_weights(lane.mail, _MAIL_CLASSES) for lane in lanes])
        ),
        usd_per_unit=knowledge.usd_per_unit(),
    )


def _traffic_shares(items: Sequence[ItemType], catalogue_share: float) -> FloatArray:
    """Each item's relative volume; the goods catalogue scaled to `catalogue_share` of the
    benign traffic (its shares are on their own scale)."""
    shares = np.array([item.share for item in items], dtype=np.float64)
    catalogue = {item.key for item in knowledge.goods_catalogue()}
    from_catalogue = np.array([item.key in catalogue for item in items])
    benign = np.array([item.label_class == "benign" for item in items])
    kept_total = shares[benign & ~from_catalogue].sum()
    catalogue_total = shares[from_catalogue].sum()
    if catalogue_total > 0 and kept_total > 0:
        scale = catalogue_share / (1.0 - catalogue_share) * kept_total / catalogue_total
        shares = np.where(from_catalogue, shares * scale, shares)
    return shares


def _cover_pool(
    story: knowledge.CoverStory, items: Sequence[ItemType], shares: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Ordinary items a cover story borrows, and the cumulative chance of each: within each
    of the story's families (and its look-alike keys) in proportion to honest traffic."""
    weights = np.zeros(len(items))
    benign = np.array([item.label_class == "benign" for item in items])
    family = np.array([item.family or "" for item in items], dtype=object)
    for name, family_weight in story.families.items():
        members = benign & (family == name)
        if members.any():
            weights += np.where(members, family_weight * shares / shares[members].sum(), 0.0)
    if story.keys:
        members = benign & np.array([any(k in item.key for k in story.keys) for item in items])
        if members.any():
            weights += np.where(members, story.keys_weight * shares / shares[members].sum(), 0.0)
    pool = np.flatnonzero(weights > 0)
    if len(pool) == 0:
        raise ValueError(f"cover story {story.key!r} finds no ordinary items")
    return pool.astype(np.int64), _cumulative(weights[pool])


@cache
def _phrase_pool(group_no: int, language_no: int, year: int) -> ObjectArray:
    """The phrasings a sender writing `language` in `year` can pick for a phrase group.

    Falls back along the lexicon's language chain; transliterated Russian is derived from
    Russian phrasings when a group has none written in Latin letters.
    """
    group = _catalogue().groups[group_no]
    fallback: dict[str, list[str]] = knowledge.generator_settings()["language_fallback"]
    available = [p for p in group.phrasings if p.since <= year] or list(group.phrasings)

    def texts(language: str) -> list[str]:
        if language == "ru_translit":
            return [knowledge.transliterate(p.text) for p in available if p.language == "ru"]
        return [p.text for p in available if p.language == language]

    language = LANGUAGES[language_no]
    for candidate in (language, *fallback.get(language, [])):
        found = texts(candidate)
        if found:
            return np.array(found, dtype=object)
    return np.array([p.text for p in available], dtype=object)


@cache
def _day_distribution() -> tuple[npt.NDArray[np.datetime64], FloatArray]:
    settings = knowledge.generator_settings()["time"]
    days = np.arange(
        np.datetime64(date.fromisoformat(settings["start"])),
        np.datetime64(date.fromisoformat(settings["end"])) + np.timedelta64(1, "D"),
        dtype="datetime64[D]",
    )
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    month_weight = {int(month): float(w) for month, w in settings["month_weight"].items()}
    years = (days - days[0]).astype(np.float64) / 365.25
    weights = (
        np.array([month_weight[m] for m in months.tolist()])
        * (1 + settings["yearly_growth"]) ** years
    )
    return days, _cumulative(weights)


def _interpolate_by_year(anchors: dict[str, float], fractional_year: FloatArray) -> FloatArray:
    points = sorted((int(year), float(share)) for year, share in anchors.items())
    return np.interp(fractional_year, [p[0] + 0.5 for p in points], [p[1] for p in points])


# --- numbers as people write them --------------------------------------------------------------


def _nice_round(values: FloatArray) -> FloatArray:
    """Round to the numbers people write on a form: 500, 1000, 1500, 2000, 30, 50, 150."""
    out = np.zeros_like(values)
    positive = values > 0
    magnitude = 10.0 ** np.floor(np.log10(values[positive]))
    mantissa = values[positive] / magnitude
    nearest = _NICE_MANTISSAS[np.abs(mantissa[:, None] - _NICE_MANTISSAS[None, :]).argmin(axis=1)]
    out[positive] = nearest * magnitude
    return out


def _shop_round(values: FloatArray, usd_rate: FloatArray) -> FloatArray:
    """Shop prices: cents for strong currencies (12.37), whole ...9 / ...0 for weak ones."""
    strong = usd_rate >= 0.05
    cents = np.round(values, 2)
    whole = np.maximum(np.round(values / 10.0) * 10.0 - 1.0, 1.0)
    whole = np.where(values < 20, np.maximum(np.round(values), 1.0), whole)
    return np.where(strong, np.maximum(cents, 0.01), whole)


def _s10_check_digit(serials: IntArray) -> IntArray:
    digits = (serials[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    total = (digits * np.array([8, 6, 4, 2, 3, 5, 9, 7])).sum(axis=1)
    check = 11 - total % 11
    return np.where(check == 10, 0, np.where(check == 11, 5, check)).astype(np.int64)


def _hash_ids(values: IntArray, salt: int, bits: int = 24) -> IntArray:
    """Stable `bits`-bit ids from integers (splitmix64 finaliser)."""
    with np.errstate(over="ignore"):
        x = values.astype(np.uint64) + np.uint64(salt & 0xFFFFFFFFFFFF) * np.uint64(
            0x9E3779B97F4A7C15
        )
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x & np.uint64((1 << bits) - 1)).astype(np.int64)


# --- parties --------------------------------------------------------------------------------


def _parties(
    settings: dict[str, Any],
    rows: int,
    rng: np.random.Generator,
    seed: int,
    positive: BoolArray,
    origin: ObjectArray,
    destination: ObjectArray,
    category: IntArray,
) -> tuple[ObjectArray, ObjectArray]:
    """Sender and recipient ids of each parcel: who ships, to whom, and how often.

    Ids of the same party recur across blocks (they hash the seed, not the block), so a
    party's parcels spread over the years the generator covers. Gear comes from repeat
    shippers and goes to collectors who buy from many sellers; honest traffic has its own
    repeat shippers (families sending to the same relatives, small sellers) and its own
    collectors (forwarding addresses), so being a repeat party alone proves little. Pools
    are sized per 100,000 rows generated, so a party ships about as often in a small run
    as in a large one.
    """
    n = len(positive)
    scale = rows / 100_000
    draw = rng.random((3, n))
    pick = rng.integers(0, 2**31, size=(3, n))
    salt = seed * 16
    # Everyone else ships once: wide ids so that chance collisions make no false history.
    sender = _hash_ids(rng.integers(0, 2**62, size=n), salt + 1, bits=40)
    recipient = _hash_ids(rng.integers(0, 2**62, size=n), salt + 2, bits=40)

    def pool(key: IntArray, per_100k: int, salt_no: int) -> IntArray:
        size = max(1, round(per_100k * scale))
        return _hash_ids(key * 1_000_003 + pick[salt_no % 3] % size, salt + salt_no, bits=40)

    origin_code = np.array([sum(map(ord, str(o))) for o in origin], dtype=np.int64)
    destination_code = np.array([sum(map(ord, str(d))) for d in destination], dtype=np.int64)
    benign = ~positive
    # Gear: repeat senders per origin, a few contacts of their own or a collector abroad.
    offender = positive & (draw[0] < settings["offender_share"])
    # Offenders ship ordinary parcels too (presents, their own belongings).
    offender |= benign & (draw[0] < settings["offender_benign_share"])
    sender = np.where(offender, pool(np.zeros(n, np.int64), settings["offenders"], 3), sender)
    collector = positive & (draw[1] < settings["collector_share"])
    contact = offender & ~collector
    recipient = np.where(
        contact,
        _hash_ids(sender * 8 + pick[2] % settings["offender_contacts"], salt + 4, bits=40),
        recipient,
    )
    recipient = np.where(collector, pool(destination_code, settings["collectors"], 5), recipient)
    # Honest repeat shippers: families (to one or two relatives), small sellers (to many).
    family = benign & ~offender & (draw[0] >= 1 - settings["family_share"])
    sender = np.where(family, pool(np.zeros(n, np.int64), settings["families"], 6), sender)
    recipient = np.where(family, _hash_ids(sender * 8 + pick[2] % 2, salt + 7, bits=40), recipient)
    sale = category == CATEGORIES.index("sale_of_goods")
    seller = benign & ~offender & ~family & sale & (draw[2] < settings["seller_share"])
    sender = np.where(seller, pool(origin_code, settings["sellers"], 8), sender)
    # Forwarding addresses receive from many senders, like collectors of gear do.
    forwarder = benign & ~family & (draw[1] < settings["forwarder_share"])
    recipient = np.where(forwarder, pool(destination_code, settings["forwarders"], 9), recipient)
    return (
        np.array([f"S-{v:010x}" for v in sender.tolist()], dtype=object),
        np.array([f"R-{v:010x}" for v in recipient.tolist()], dtype=object),
    )


# --- text decoration ------------------------------------------------------------------------


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


def _decorate(
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


# --- one block of parcels -------------------------------------------------------------------


def _sample_from_groups(
    keys: IntArray, lookup: Sequence[Any], rng: np.random.Generator
) -> IntArray:
    """Per element, an index drawn from the cumulative distribution `lookup[key]`."""
    out = np.zeros(len(keys), dtype=np.int64)
    uniform = rng.random(len(keys))
    for key, rows in _grouped(keys):
        out[rows] = _draw(lookup[key], uniform[rows])
    return out


def _block(
    seed: int, block_no: int, positive_share: float, row_budget: int | None, total_rows: int
) -> tuple[pd.DataFrame, IntArray]:
    """One block of parcels as (frame with ALL_FIELDS, register code per row)."""
    cat = _catalogue()
    settings = knowledge.generator_settings()
    rng = np.random.default_rng([seed, block_no])
    n_parcels = BLOCK_PARCELS

    # --- parcels: kind, date, lane, structure
    positive = rng.random(n_parcels) < positive_share
    days, day_cumulative = _day_distribution()
    posted = days[_draw(day_cumulative, rng.random(n_parcels))]
    year_float = posted.astype("datetime64[Y]").astype(np.int64) + 1970
    day_of_year = (posted - posted.astype("datetime64[Y]")).astype(np.int64)
    fractional_year = year_float + day_of_year / 365.25
    year_no = np.clip(year_float - YEARS[0], 0, len(YEARS) - 1)

    lane = _draw(cat.lane_benign_cumulative, rng.random(n_parcels))
    lane_class = _draw(cat.lane_class_cumulative, rng.random(n_parcels))
    gear_class = lane_class % len(RISK_CLASSES)
    lane = np.where(positive, lane_class // len(RISK_CLASSES), lane)

    parcel_settings = settings["parcel"]

    def counts(table: dict[str, float], size: int) -> IntArray:
        values = np.array([int(k) for k in table], dtype=np.int64)
        return values[_draw(_cumulative(list(table.values())), rng.random(size))]

    structure = _draw(
        _cumulative(list(parcel_settings["positive_structure"].values())), rng.random(n_parcels)
    )  # 0 single, 1 mixed, 2 kit
    n_lines = counts(parcel_settings["benign_lines"], n_parcels)
    n_lines = np.where(positive & (structure == 0), 1, n_lines)
    n_lines = np.where(
        positive & (structure == 1),
        1 + counts(parcel_settings["mixed_benign_lines"], n_parcels),
        n_lines,
    )
    n_lines = np.where(
        positive & (structure == 2),
        1 + counts(parcel_settings["kit_extra_lines"], n_parcels),
        n_lines,
    )
    gear_position = np.floor(rng.random(n_parcels) * n_lines).astype(np.int64)
    gear_position = np.where(structure == 1, gear_position, 0)

    ends = np.cumsum(n_lines)
    if row_budget is not None and row_budget < ends[-1]:
        keep = int(np.searchsorted(ends, row_budget, side="left")) + 1
        keep = min(keep, n_parcels)
        n_parcels = keep
        before = int(ends[keep - 2]) if keep >= 2 else 0
        n_lines = n_lines[:keep].copy()
        n_lines[-1] = row_budget - before

    def cut(array: Any) -> Any:
        return array[:n_parcels]

    positive, posted, fractional_year, year_no = map(
        cut, (positive, posted, fractional_year, year_no)
    )
    lane, gear_class, structure, gear_position = map(
        cut, (lane, gear_class, structure, gear_position)
    )

    # --- lines
    parcel = np.repeat(np.arange(n_parcels), n_lines)
    n = len(parcel)
    starts = np.cumsum(n_lines) - n_lines
    line_no = np.arange(n) - starts[parcel]
    pos_line = positive[parcel]
    kind = np.full(n, _BENIGN_LINE)
    kind = np.where(pos_line & (structure[parcel] == 0), _GEAR_LINE, kind)
    mixed = pos_line & (structure[parcel] == 1)
    kind = np.where(
        mixed,
        np.where(line_no == gear_position[parcel], _GEAR_LINE, _COMPANION_LINE),
        kind,
    )
    kit = pos_line & (structure[parcel] == 2)
    kind = np.where(kit, np.where(line_no == 0, _GEAR_LINE, _KIT_LINE), kind)
    line_lane = lane[parcel]

    item = np.zeros(n, dtype=np.int64)
    benign_rows = np.flatnonzero(kind == _BENIGN_LINE)
    item[benign_rows] = _draw_by_row(cat.lane_benign_items, line_lane[benign_rows], rng)
    companion_rows = np.flatnonzero(kind == _COMPANION_LINE)
    item[companion_rows] = cat.companion_items[
        _draw(cat.companion_cumulative, rng.random(len(companion_rows)))
    ]
    gear_rows = np.flatnonzero(kind == _GEAR_LINE)
    item[gear_rows] = _draw_by_row(
        cat.lane_class_items,
        line_lane[gear_rows] * len(RISK_CLASSES) + gear_class[parcel[gear_rows]],
        rng,
    )
    kit_rows = np.flatnonzero(kind == _KIT_LINE)
    item[kit_rows] = cat.kit_items[_draw(cat.kit_cumulative, rng.random(len(kit_rows)))]
    label_class = cat.item_class[item]
    is_gear = label_class > 0

    # --- register: how the sender writes the line
    register_settings = settings["register"]
    explicit_p = _interpolate_by_year(register_settings["explicit"], fractional_year)
    stealth_p = _interpolate_by_year(register_settings["stealth"], fractional_year)
    u = rng.random(n_parcels)
    parcel_register = np.where(
        u < explicit_p, _EXPLICIT, np.where(u < explicit_p + stealth_p, _STEALTH, _DISGUISED)
    )
    vague_line = rng.random(n) < settings["benign"]["vague_share"]
    register = np.where(is_gear, parcel_register[parcel], np.where(vague_line, _VAGUE, _PLAIN))
    line_year = year_no[parcel]

    # Stealth lines borrow a benign cover item's text, HS code and value.
    text_item = item.copy()
    stealth_rows = np.flatnonzero(register == _STEALTH)
    for gear_item, positions in _grouped(item[stealth_rows]):
        rows = stealth_rows[positions]
        covers = cat.cover_items[gear_item]
        text_item[rows] = covers[rng.integers(len(covers), size=len(rows))]

    # Disguised lines: a cover story, then an ordinary item of its pool whose description
    # and HS code the line borrows, written as honest senders write that item (or one of the
    # story's vague words); weight stays the gear's own.
    disguised_rows = np.flatnonzero(register == _DISGUISED)
    keys = item[disguised_rows] * len(YEARS) + line_year[disguised_rows]
    story = np.zeros(len(disguised_rows), dtype=np.int64)
    uniform = rng.random(len(disguised_rows))
    for key, rows in _grouped(keys):
        gear_item, year_index = divmod(key, len(YEARS))
        story[rows] = cat.disguise_choices[gear_item][
            _draw(cat.disguise_cumulative[gear_item][year_index], uniform[rows])
        ]
    cover = np.zeros(len(disguised_rows), dtype=np.int64)
    uniform = rng.random(len(disguised_rows))
    for story_no, rows in _grouped(story):
        pool = cat.story_items[story_no]
        cover[rows] = pool[_draw(cat.story_item_cumulative[story_no], uniform[rows])]
    text_item[disguised_rows] = cover
    vague_story = (rng.random(len(disguised_rows)) < cat.story_vague_share[story]) & (
        cat.story_vague_group[story] >= 0
    )
    written_vague = register == _VAGUE
    written_vague[disguised_rows[vague_story]] = True

    group = text_item.copy()
    group = np.where(register == _VAGUE, cat.item_vague_group[item], group)
    group[disguised_rows[vague_story]] = cat.story_vague_group[story[vague_story]]

    # --- language and text
    parcel_language = _draw_by_row(cat.lane_language, lane, rng)
    redraw = rng.random(n) < 0.12
    language = np.where(
        redraw, _draw_by_row(cat.lane_language, line_lane, rng), parcel_language[parcel]
    )
    second_language = cat.lane_second_language[line_lane]
    second_language = np.where(second_language == language, LANGUAGES.index("en"), second_language)

    def pick_text(languages: IntArray) -> ObjectArray:
        out = np.empty(n, dtype=object)
        combo = (group * len(LANGUAGES) + languages) * len(YEARS) + line_year
        uniform = rng.random(n)
        for key, rows in _grouped(combo):
            rest, year_index = divmod(key, len(YEARS))
            group_no, language_no = divmod(rest, len(LANGUAGES))
            pool = _phrase_pool(group_no, language_no, YEARS[year_index])
            out[rows] = pool[(uniform[rows] * len(pool)).astype(np.int64)]
        return out

    base_text = pick_text(language)
    second_text = pick_text(second_language)

    # --- HS code (from the phrase group actually written; a vague word keeps the HS code of
    # the goods it stands for: the item's own, or the disguise's cover)
    hs_group = np.where(written_vague, text_item, group)
    hs_index = _sample_from_groups(hs_group, cat.group_hs_cumulative, rng)
    hs_text = np.empty(n, dtype=object)
    hs_format = settings["hs_format"]
    fmt = _draw(_cumulative(list(hs_format.values())), rng.random(n))
    hs_key = hs_group * 64 + hs_index
    for key, sub in _grouped(hs_key):
        group_no, code_no = divmod(key, 64)
        dotted = cat.groups[group_no].hs_codes[code_no]
        digits = dotted.replace(".", "")
        forms = np.array(
            [digits, dotted if "." in dotted else digits, digits.ljust(10, "0"), digits[:4]],
            dtype=object,
        )
        hs_text[sub] = forms[fmt[sub]]
    hs_missing = rng.random(n) < cat.lane_hs_missing[line_lane]
    hs_text[hs_missing] = None

    # --- quantity, weight, worth
    qty_index = _sample_from_groups(item, cat.quantity_cumulative, rng)
    quantity = np.zeros(n, dtype=np.int64)
    for it, rows in _grouped(item):
        quantity[rows] = cat.quantity_values[it][qty_index[rows]]
    quantity = np.maximum(quantity, 1)
    unit_weight = np.exp(
        cat.weight_log_median[item] + cat.weight_sigma[item] * rng.standard_normal(n)
    )
    real_weight = unit_weight * quantity
    positive_settings = settings["positive"]
    as_cover = (register == _DISGUISED) & (rng.random(n) < positive_settings["declared_as_cover"])
    worth_item = np.where((register == _STEALTH) | as_cover, text_item, item)
    unit_worth = np.exp(
        cat.worth_log_low[worth_item]
        + (cat.worth_log_high[worth_item] - cat.worth_log_low[worth_item]) * rng.random(n)
    )
    worth_usd = np.where(cat.worth_log_high[worth_item] <= np.log(1e-3) + 1e-9, 0.0, unit_worth)
    worth_usd = worth_usd * quantity

    benign_settings = settings["benign"]

    def ratio(bounds: list[float]) -> FloatArray:
        low, high = bounds
        spread = np.log(high) - np.log(low)
        return np.asarray(np.exp(np.log(low) + spread * rng.random(n)), dtype=np.float64)

    declared_ratio = np.where(
        register == _EXPLICIT,
        ratio(positive_settings["declared_ratio_explicit"]),
        np.where(
            (register == _DISGUISED) & ~as_cover,
            ratio(positive_settings["declared_ratio_disguised"]),
            ratio(benign_settings["declared_ratio"]),
        ),
    )
    declared_usd = worth_usd * declared_ratio

    # --- parcel header: currency, category, mail class
    currency_no = np.zeros(n_parcels, dtype=np.int64)
    currency = np.empty(n_parcels, dtype=object)
    uniform = rng.random(n_parcels)
    for lane_no, rows in _grouped(lane):
        currency_no[rows] = _draw(cat.lane_currency_cumulative[lane_no], uniform[rows])
        names = np.array(cat.lane_currency[lane_no], dtype=object)
        currency[rows] = names[currency_no[rows]]
    rates = np.array([cat.usd_per_unit[c] for c in currency], dtype=np.float64)

    # The parcel's category and mail class follow what its first line says it is (the
    # documents a disguise pretends to be travel as documents, by letter).
    first_item = text_item[starts]
    category = np.where(
        positive,
        _draw_by_row(cat.lane_category_positive, lane, rng),
        _draw_by_row(cat.lane_category_benign, lane, rng),
    )
    mail = _draw_by_row(cat.lane_mail, lane, rng)
    uniform = rng.random(n_parcels)
    for it, rows in _grouped(first_item):
        overrides = rows[~positive[rows] | (cat.item_class[it] == 0)]
        category_table = cat.item_category[it]
        if category_table is not None and len(overrides):
            category[overrides] = _draw(category_table, uniform[overrides])
        mail_table = cat.item_mail[it]
        if mail_table is not None and len(overrides):
            mail[overrides] = _draw(mail_table, uniform[overrides])

    line_category = category[parcel]
    value = declared_usd / rates[parcel]
    shop = line_category == _CATEGORIES.index("sale_of_goods")
    value = np.where(shop & ~is_gear, _shop_round(value, rates[parcel]), _nice_round(value))
    zero_gift = (
        (line_category == 0) & ~is_gear & (rng.random(n) < benign_settings["zero_value_gift_share"])
    )
    value = np.where(zero_gift | (worth_usd == 0), 0.0, value)

    # --- declared net weight, gross weight
    steps_table: dict[str, float] = settings["weight"]["round_step"]
    steps = np.array([float(s) for s in steps_table])
    step = steps[_draw(_cumulative(list(steps_table.values())), rng.random(n))]
    stated = real_weight * np.exp(0.04 * rng.standard_normal(n))
    understate = (register == _DISGUISED) & (
        rng.random(n) < positive_settings["net_understated_share"]
    )
    stated = np.where(
        understate, stated * ratio(positive_settings["net_understated_ratio"]), stated
    )
    # Honest senders misstate net weight too: a family box weighed only as a whole, the
    # net guessed low.
    guessed = ~is_gear & (rng.random(n) < benign_settings["net_guessed_low_share"])
    stated = np.where(guessed, stated * ratio(benign_settings["net_guessed_low_ratio"]), stated)
    # Nobody writes 0.5 kg steps for a 80 g letter: the step shrinks with the weight.
    step = np.minimum(step, 10.0 ** np.floor(np.log10(np.maximum(stated, 1e-3))))
    step = np.maximum(step, 0.001)
    net_weight = np.maximum(np.round(stated / step) * step, step)
    net_weight = np.round(net_weight, 3)
    low, high = parcel_settings["packaging_kg"]
    packaging = low + (high - low) * rng.random(n_parcels) ** 1.5
    real_sum = np.bincount(parcel, weights=real_weight, minlength=n_parcels)
    net_sum = np.bincount(parcel, weights=net_weight, minlength=n_parcels)
    gross = np.round(np.maximum(real_sum + packaging, net_sum + 0.01), 2)
    gross = np.where(gross < net_sum, np.ceil(net_sum * 100 + 1) / 100, gross)
    letter_post = (mail == _MAIL_CLASSES.index("letter")) | (
        mail == _MAIL_CLASSES.index("small_packet")
    )
    mail = np.where(
        letter_post & (gross > parcel_settings["letter_max_kg"]),
        _MAIL_CLASSES.index("parcel"),
        mail,
    )

    # --- ids
    id_settings = settings["ids"]
    origin = np.array(cat.lane_origin, dtype=object)[lane]
    destination = np.array([lane_.destination for lane_ in knowledge.lanes()], dtype=object)[lane]
    global_parcel = block_no * BLOCK_PARCELS + np.arange(n_parcels, dtype=np.int64)
    serial = (global_parcel * 7_654_321 + _hash_ids(np.array([seed]), 17)[0] * 37) % 100_000_000
    check = _s10_check_digit(serial)
    first_letters: dict[str, list[str]] = id_settings["s10_first_letter"]
    second = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), dtype=object)[
        rng.integers(26, size=n_parcels)
    ]
    prefix_choice = rng.random(n_parcels)
    declaration_id = np.empty(n_parcels, dtype=object)
    for mail_no, mail_name in enumerate(_MAIL_CLASSES):
        rows = np.flatnonzero(mail == mail_no)
        if mail_name == "courier":
            declaration_id[rows] = [
                f"{'LP00' if o == 'CN' else 'CR'}{s:08d}{c}{o}"
                for s, c, o in zip(serial[rows], check[rows], origin[rows], strict=True)
            ]
            continue
        letters = first_letters[mail_name]
        first = np.array(letters, dtype=object)[(prefix_choice[rows] * len(letters)).astype(int)]
        declaration_id[rows] = [
            f"{a}{b}{s:08d}{c}{o}"
            for a, b, s, c, o in zip(
                first, second[rows], serial[rows], check[rows], origin[rows], strict=True
            )
        ]

    sender_id, recipient_id = _parties(
        settings["parties"], total_rows, rng, seed, positive, origin, destination, category
    )

    # --- text
    palette = np.where(
        cat.tactical_palette[text_item], 1, np.where(cat.plain_palette[text_item], 2, 0)
    )
    description = _decorate(
        base_text,
        language=language,
        second_text=second_text,
        quantity=quantity,
        palette=palette,
        rng=rng,
    )

    # --- labels, with recording errors
    label = is_gear.astype(np.int64)
    noisy = rng.random(n) < settings["label"]["noise"]
    label = np.where(noisy, 1 - label, label)

    # --- missing values
    missing: dict[str, float] = settings["missing"]

    def blank_parcel(values: ObjectArray, field: str) -> ObjectArray:
        out = values.astype(object)
        out[rng.random(len(out)) < missing[field]] = None
        return out

    quantity_out = quantity.astype(np.float64)
    quantity_out[rng.random(n) < missing["quantity"]] = np.nan
    currency_line = currency[parcel].astype(object)
    currency_line[rng.random(n) < missing["currency"]] = None
    mail_out = blank_parcel(np.array(_MAIL_CLASSES, dtype=object)[mail], "mail_class")
    category_name = blank_parcel(np.array(_CATEGORIES, dtype=object)[category], "category")
    sender_out = blank_parcel(sender_id, "sender_id")
    recipient_out = blank_parcel(recipient_id, "recipient_id")

    frame = pd.DataFrame(
        {
            "declaration_id": declaration_id[parcel],
            "posted_at": posted[parcel].astype("datetime64[ns]"),
            "mail_class": mail_out[parcel],
            "category": category_name[parcel],
            "origin_country": origin[parcel],
            "destination_country": destination[parcel],
            "sender_id": sender_out[parcel],
            "recipient_id": recipient_out[parcel],
            "gross_weight_kg": gross[parcel].astype(np.float64),
            "item_no": (line_no + 1).astype(np.float64),
            "description": np.array(description, dtype=object),
            "hs_code": hs_text,
            "quantity": quantity_out,
            "net_weight_kg": net_weight.astype(np.float64),
            "value": np.round(value, 2).astype(np.float64),
            "currency": currency_line,
            "label": label,
            "label_class": np.array(LABEL_CLASSES, dtype=object)[label_class],
        },
        columns=list(ALL_FIELDS),
    )
    return frame, register.astype(np.int64)


# --- what a store would know of those parties -------------------------------------------------


def simulated_store(frame: pd.DataFrame, seed: int) -> tuple[pd.Series, list[WatchEntry]]:
    """Inspection outcomes and a watch list for generated declarations, as officers' work
    would leave them: the outcome of each parcel (None for most) and the listed parties.

    A share of gear parcels was inspected and confirmed, a smaller share of honest parcels
    inspected and cleared; a share of the parties that shipped or collected gear were put
    on the watch list, and a few honest ones (a false lead). Depends only on the frame and
    the seed.
    """
    settings = knowledge.generator_settings()["store"]
    rng = np.random.default_rng([seed, 1299])
    parcels = frame.groupby("declaration_id", sort=False).agg(
        label=("label", "max"),
        sender_id=("sender_id", "first"),
        recipient_id=("recipient_id", "first"),
    )
    gear = parcels["label"].to_numpy() == 1
    draw = rng.random(len(parcels))
    outcome = np.full(len(parcels), None, dtype=object)
    outcome[gear & (draw < settings["confirmed_share"])] = "confirmed"
    outcome[~gear & (draw < settings["cleared_share"])] = "cleared"
    by_declaration = pd.Series(outcome, index=parcels.index)

    listed_at = datetime(min(YEARS), 1, 1)
    watch: list[WatchEntry] = []
    for role in ROLES:
        ids = parcels[f"{role}_id"]
        shipped_gear = set(ids[gear].dropna())
        for party in sorted(set(ids.dropna())):
            share = settings["watch_gear_share" if party in shipped_gear else "watch_honest_share"]
            # One draw per party from its id, so the list does not depend on parcel order.
            if _unit_hash(f"{seed}:{role}:{party}") < share:
                watch.append(
                    WatchEntry(
                        party_id=party,
                        role=role,
                        reason="earlier seizure reported by another office",
                        listed_by="generator",
                        listed_at=listed_at,
                    )
                )
    return frame["declaration_id"].map(by_declaration), watch


def _unit_hash(text: str) -> float:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


# --- public interface --------------------------------------------------------------------------


def _blocks(rows: int, seed: int, positive_share: float) -> Iterator[tuple[pd.DataFrame, IntArray]]:
    produced = 0
    block_no = 0
    # A block of BLOCK_PARCELS parcels never has fewer rows than parcels.
    while produced < rows:
        remaining = rows - produced
        frame, register = _block(seed, block_no, positive_share, remaining, rows)
        produced += len(frame)
        block_no += 1
        yield frame, register


def generate_declarations_with_registers(
    rows: int,
    seed: int,
    *,
    chunk_rows: int = 100_000,
    positive_share: float = 0.25,
) -> Iterator[tuple[pd.DataFrame, IntArray]]:
    """As `generate_declarations`, with each row's register code (index into REGISTERS)."""
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    if not 0.0 <= positive_share <= 1.0:
        raise ValueError("positive_share must be within [0, 1]")
    pending_frames: list[pd.DataFrame] = []
    pending_registers: list[IntArray] = []
    pending_rows = 0
    for frame, register in _blocks(rows, seed, positive_share):
        pending_frames.append(frame)
        pending_registers.append(register)
        pending_rows += len(frame)
        while pending_rows >= chunk_rows:
            buffer = pd.concat(pending_frames, ignore_index=True)
            codes = np.concatenate(pending_registers)
            cut = _parcel_cut(buffer, chunk_rows)
            yield buffer.iloc[:cut].reset_index(drop=True), codes[:cut]
            pending_frames = [buffer.iloc[cut:].reset_index(drop=True)]
            pending_registers = [codes[cut:]]
            pending_rows = len(pending_frames[0])
    if pending_rows:
        yield (
            pd.concat(pending_frames, ignore_index=True),
            np.concatenate(pending_registers),
        )


def _parcel_cut(frame: pd.DataFrame, chunk_rows: int) -> int:
    """The largest row count <= chunk_rows that ends on a parcel boundary (at least one parcel)."""
    item_no = frame["item_no"].to_numpy()
    starts = np.flatnonzero(item_no == 1)
    boundary = starts[(starts <= chunk_rows) & (starts > 0)]
    if len(boundary):
        return int(boundary[-1])
    later = starts[starts > 0]
    return int(later[0]) if len(later) else len(frame)


def generate_declarations(
    rows: int,
    seed: int,
    *,
    chunk_rows: int = 100_000,
    positive_share: float = 0.25,
) -> Iterator[pd.DataFrame]:
    """Labelled synthetic declarations, `rows` item rows in total, as frames of ALL_FIELDS.

    `positive_share` is the share of parcels that carry gear; mixed parcels also carry
    benign lines, so the share of positive item rows is somewhat lower. Each parcel's rows
    are contiguous and never split across frames; frames hold at most `chunk_rows` rows
    (unless a single parcel is larger). Output depends only on (rows, seed).
    """
    for frame, _ in generate_declarations_with_registers(
        rows, seed, chunk_rows=chunk_rows, positive_share=positive_share
    ):
        yield frame


def _csv_form(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["posted_at"] = out["posted_at"].dt.strftime("%Y-%m-%d")
    for field in ("gross_weight_kg", "net_weight_kg", "value", "quantity", "item_no"):
        numbers = out[field]
        whole = numbers.notna() & (numbers == np.floor(numbers))
        text = numbers.map(lambda v: "" if pd.isna(v) else f"{v:.3f}".rstrip("0").rstrip("."))
        out[field] = text.where(~whole, numbers.map(lambda v: "" if pd.isna(v) else f"{v:.0f}"))
    return out


def write_synthetic_csv(path: Path, rows: int, seed: int) -> int:
    """Write `rows` generated declarations as the contract CSV, atomically; returns rows."""
    written = 0
    with atomic_file(Path(path), "w", newline="") as handle:
        header = True
        for frame in generate_declarations(rows, seed):
            _csv_form(frame).to_csv(handle, index=False, header=header)
            header = False
            written += len(frame)
        if header:
            handle.write(",".join(ALL_FIELDS) + "\n")
    return written
