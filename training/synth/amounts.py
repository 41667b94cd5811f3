"""What a line's goods are and what its form says of them: quantity, real weight and worth,
the worth and net weight declared, the parcel's gross weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.schema import CATEGORIES, MAIL_CLASSES
from training.synth.catalogue import Catalogue
from training.synth.header import Header
from training.synth.numbers import nice_round, shop_round
from training.synth.registers import DISGUISED, EXPLICIT, STEALTH, VAGUE, Wording
from training.synth.sampling import (
    FloatArray,
    IntArray,
    Settings,
    cumulative,
    draw,
    grouped,
    sample_from_groups,
)
from training.synth.structure import Lines, Parcels


def log_uniform(rng: np.random.Generator, bounds: list[float], size: int) -> FloatArray:
    """Ratios drawn evenly on a log scale between two bounds."""
    low, high = bounds
    spread = np.log(high) - np.log(low)
    return np.asarray(np.exp(np.log(low) + spread * rng.random(size)), dtype=np.float64)


@dataclass(frozen=True)
class Goods:
    """Per line: how many units, what they really weigh and are worth, and the worth the
    sender states (in US dollars)."""

    quantity: IntArray
    real_weight: FloatArray
    worth_usd: FloatArray
    declared_usd: FloatArray


def draw_goods(
    rng: np.random.Generator,
    cat: Catalogue,
    settings: Settings,
    lines: Lines,
    wording: Wording,
) -> Goods:
    """Quantity, real weight and worth of each line, and the worth declared."""
    n = lines.count
    item = lines.item
    register = wording.register
    qty_index = sample_from_groups(item, cat.quantity_cumulative, rng)
    quantity = np.zeros(n, dtype=np.int64)
    for it, rows in grouped(item):
        quantity[rows] = cat.quantity_values[it][qty_index[rows]]
    quantity = np.maximum(quantity, 1)
    deviation = cat.weight_sigma[item] * rng.standard_normal(n)
    units = bag_units(rng.spawn(1)[0], cat, settings["benign"], wording, item)
    # A bag is declared as one unit of its vague word; its things vary less, together, than
    # one thing does.
    unit_weight = np.exp(cat.weight_log_median[item] + deviation / np.sqrt(units)) * units
    quantity = np.where(units > 1, 1, quantity)
    real_weight = np.asarray(unit_weight * quantity, dtype=np.float64)
    positive_settings = settings["positive"]
    as_cover = (register == DISGUISED) & (rng.random(n) < positive_settings["declared_as_cover"])
    worth_item = np.where((register == STEALTH) | as_cover, wording.text_item, item)
    unit_worth = np.exp(
        cat.worth_log_low[worth_item]
        + (cat.worth_log_high[worth_item] - cat.worth_log_low[worth_item]) * rng.random(n)
    )
    worth_usd = np.where(cat.worth_log_high[worth_item] <= np.log(1e-3) + 1e-9, 0.0, unit_worth)
    worth_usd = np.asarray(worth_usd * quantity * units, dtype=np.float64)

    # Some declare what the goods they send are worth (a seller's invoice, insurance): a
    # "binocular" of 4,000 USD. Its words are a cover's, its value the kit's.
    at_own_worth = (
        (register == DISGUISED)
        & ~as_cover
        & (rng.random(n) < positive_settings["declared_own_worth_share"])
    )
    declared_ratio = np.where(
        register == EXPLICIT,
        log_uniform(rng, positive_settings["declared_ratio_explicit"], n),
        np.where(
            (register == DISGUISED) & ~as_cover & ~at_own_worth,
            log_uniform(rng, positive_settings["declared_ratio_disguised"], n),
            log_uniform(rng, settings["benign"]["declared_ratio"], n),
        ),
    )
    return Goods(
        quantity=quantity,
        real_weight=real_weight,
        worth_usd=worth_usd,
        declared_usd=worth_usd * declared_ratio,
    )


def bag_units(
    rng: np.random.Generator,
    cat: Catalogue,
    benign_settings: Settings,
    wording: Wording,
    item: IntArray,
) -> IntArray:
    """How many things of its kind each line holds when it is a bag of them, else 1.

    An honest sender who writes a vague word ("одежда", "вещи личные", "bola kiyimlari",
    "запчасти") often means a bag or box of such things, not one: a family's 9 kg of
    winter clothes. Drawn from a generator of its own, so the rest of the traffic is the
    same with or without bags."""
    n = len(item)
    kinds = [cat.vague_index[kind] for kind in benign_settings["vague_bag_kinds"]]
    bagged = (
        (wording.register == VAGUE)
        & np.isin(wording.group, kinds)
        & (rng.random(n) < benign_settings["vague_bag_share"])
    )
    wanted = np.round(log_uniform(rng, benign_settings["vague_bag_units"], n))
    # A bag the post carries: no heavier than the heaviest parcel people send.
    fits = np.floor(benign_settings["vague_bag_max_kg"] / np.exp(cat.weight_log_median[item]))
    return np.where(bagged, np.maximum(np.minimum(wanted, fits), 1), 1).astype(np.int64)


def declared_value(
    rng: np.random.Generator,
    benign_settings: Settings,
    lines: Lines,
    goods: Goods,
    header: Header,
) -> FloatArray:
    """Each line's value in the parcel's currency, rounded as senders and shops do."""
    n = lines.count
    parcel = lines.parcel
    is_gear = lines.is_gear
    line_category = header.category[parcel]
    value = goods.declared_usd / header.rates[parcel]
    shop = line_category == CATEGORIES.index("sale_of_goods")
    value = np.where(shop & ~is_gear, shop_round(value, header.rates[parcel]), nice_round(value))
    zero_gift = (
        (line_category == 0) & ~is_gear & (rng.random(n) < benign_settings["zero_value_gift_share"])
    )
    return np.asarray(np.where(zero_gift | (goods.worth_usd == 0), 0.0, value))


def draw_weights(
    rng: np.random.Generator,
    cat: Catalogue,
    settings: Settings,
    parcels: Parcels,
    lines: Lines,
    wording: Wording,
    goods: Goods,
    header: Header,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Declared net weight per line, gross weight per parcel, and the mail class once a
    letter too heavy for letter post is sent as a parcel."""
    n = lines.count
    parcel = lines.parcel
    register = wording.register
    positive_settings = settings["positive"]
    benign_settings = settings["benign"]
    parcel_settings = settings["parcel"]
    steps_table: dict[str, float] = settings["weight"]["round_step"]
    steps = np.array([float(s) for s in steps_table])
    step = steps[draw(cumulative(list(steps_table.values())), rng.random(n))]
    stated = goods.real_weight * np.exp(0.04 * rng.standard_normal(n))
    understate = (register == DISGUISED) & (
        rng.random(n) < positive_settings["net_understated_share"]
    )
    stated = np.where(
        understate,
        stated * log_uniform(rng, positive_settings["net_understated_ratio"], n),
        stated,
    )
    # Others write what the goods they name would weigh: "Футболки, 3 шт, 0.6 kg" over a
    # vest. The line then reads as honest goods at an honest weight, and only the parcel's
    # gross weight, which the post weighs, says kilos are missing.
    cover_weight = (
        np.exp(
            cat.weight_log_median[wording.text_item]
            + cat.weight_sigma[wording.text_item] * rng.standard_normal(n)
        )
        * goods.quantity
    )
    as_cover = (
        (register == DISGUISED)
        & ~wording.written_vague
        & (wording.text_item != lines.item)
        & (rng.random(n) < positive_settings["net_as_cover_share"])
    )
    stated = np.where(as_cover, np.minimum(cover_weight, goods.real_weight), stated)
    # Honest senders misstate net weight too: a family box weighed only as a whole, the
    # net guessed low.
    guessed = ~lines.is_gear & (rng.random(n) < benign_settings["net_guessed_low_share"])
    stated = np.where(
        guessed, stated * log_uniform(rng, benign_settings["net_guessed_low_ratio"], n), stated
    )
    # Nobody writes 0.5 kg steps for a 80 g letter: the step shrinks with the weight.
    step = np.minimum(step, 10.0 ** np.floor(np.log10(np.maximum(stated, 1e-3))))
    step = np.maximum(step, 0.001)
    net_weight = np.maximum(np.round(stated / step) * step, step)
    net_weight = np.round(net_weight, 3)
    real_sum = np.bincount(parcel, weights=goods.real_weight, minlength=parcels.count)
    packaging = (
        parcel_settings["packaging_kg_at_1kg"]
        * np.maximum(real_sum, 0.01) ** parcel_settings["packaging_power"]
        * np.exp(parcel_settings["packaging_spread"] * rng.standard_normal(parcels.count))
    )
    net_sum = np.bincount(parcel, weights=net_weight, minlength=parcels.count)
    gross = np.round(np.maximum(real_sum + packaging, net_sum + 0.01), 2)
    gross = np.where(gross < net_sum, np.ceil(net_sum * 100 + 1) / 100, gross)
    mail = header.mail
    letter_post = (mail == MAIL_CLASSES.index("letter")) | (
        mail == MAIL_CLASSES.index("small_packet")
    )
    mail = np.where(
        letter_post & (gross > parcel_settings["letter_max_kg"]),
        MAIL_CLASSES.index("parcel"),
        mail,
    )
    return net_weight, gross, mail
