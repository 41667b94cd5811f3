"""The lexicon compiled for vectorised sampling (`compiled_catalogue`): items, phrasings,
cover stories and lanes as arrays and cumulative tables, built once per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from training import knowledge
from training.knowledge import LANGUAGES, ItemType, PhraseGroup
from training.schema import CATEGORIES, LABEL_CLASSES, MAIL_CLASSES, RISK_CLASSES
from training.synth.dates import YEARS
from training.synth.sampling import (
    BoolArray,
    FloatArray,
    IntArray,
    ObjectArray,
    cumulative,
    cumulative_table,
    mapping_weights,
)

# --- the compiled catalogue ---------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
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
def compiled_catalogue() -> Catalogue:
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
            per_year.append(cumulative(weights))
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
    return Catalogue(
        items=items,
        item_class=item_class,
        weight_log_median=np.log([item.weight_median_kg for item in items]),
        weight_sigma=np.array([item.weight_sigma for item in items]),
        worth_log_low=np.log([max(item.worth_usd[0], 1e-3) for item in items]),
        worth_log_high=np.log([max(item.worth_usd[1], 1e-3) for item in items]),
        quantity_values=tuple(np.array(item.quantities, dtype=np.int64) for item in items),
        quantity_cumulative=tuple(cumulative(item.quantity_weights) for item in items),
        tactical_palette=np.array([item.palette == "tactical" for item in items]),
        plain_palette=np.array([item.palette == "plain" for item in items]),
        item_category=tuple(
            cumulative(mapping_weights(item.category, CATEGORIES)) if item.category else None
            for item in items
        ),
        item_mail=tuple(
            cumulative(mapping_weights(item.mail, MAIL_CLASSES)) if item.mail else None
            for item in items
        ),
        groups=groups,
        group_hs_cumulative=tuple(cumulative(group.hs_weights) for group in groups),
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
        companion_cumulative=cumulative(list(companions.values())),
        companion_items=np.array([index[key] for key in companions], dtype=np.int64),
        kit_cumulative=cumulative([items[i].share for i in kit]),
        kit_items=np.array(kit, dtype=np.int64),
        lane_origin=tuple(lane.origin for lane in lanes),
        lane_benign_cumulative=cumulative([lane.benign for lane in lanes]),
        lane_class_cumulative=cumulative(
            [lane.positive.get(name, 0.0) for lane in lanes for name in RISK_CLASSES]
        ),
        lane_benign_items=cumulative_table(benign_items),
        lane_class_items=cumulative_table(class_items),
        lane_currency=tuple(tuple(lane.currency) for lane in lanes),
        lane_currency_cumulative=tuple(cumulative(list(lane.currency.values())) for lane in lanes),
        lane_language=cumulative_table(
            np.array([mapping_weights(lane.language, LANGUAGES) for lane in lanes])
        ),
        lane_second_language=np.array(
            [language_index[lane.second_language] for lane in lanes], dtype=np.int64
        ),
        lane_hs_missing=np.array([lane.hs_missing for lane in lanes]),
        lane_category_benign=cumulative_table(
            np.array([mapping_weights(lane.category_benign, CATEGORIES) for lane in lanes])
        ),
        lane_category_positive=cumulative_table(
            np.array([mapping_weights(lane.category_positive, CATEGORIES) for lane in lanes])
        ),
        lane_mail=cumulative_table(
            np.array([mapping_weights(lane.mail, MAIL_CLASSES) for lane in lanes])
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
    return pool.astype(np.int64), cumulative(weights[pool])


@cache
def phrase_pool(group_no: int, language_no: int, year: int) -> ObjectArray:
    """The phrasings a sender writing `language` in `year` can pick for a phrase group.

    Falls back along the lexicon's language chain; transliterated Russian is derived from
    Russian phrasings, and pinyin from Chinese ones, when a group has none written in Latin
    letters.
    """
    group = compiled_catalogue().groups[group_no]
    fallback: dict[str, list[str]] = knowledge.generator_settings()["language_fallback"]
    available = [p for p in group.phrasings if p.since <= year] or list(group.phrasings)

    def texts(language: str) -> list[str]:
        if language == "ru_translit":
            return [knowledge.transliterate(p.text) for p in available if p.language == "ru"]
        if language == "zh_pinyin":
            return [knowledge.romanise_chinese(p.text) for p in available if p.language == "zh"]
        return [p.text for p in available if p.language == language]

    language = LANGUAGES[language_no]
    for candidate in (language, *fallback.get(language, [])):
        found = texts(candidate)
        if found:
            return np.array(found, dtype=object)
    return np.array([p.text for p in available], dtype=object)
