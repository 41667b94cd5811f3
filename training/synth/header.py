"""A parcel's header: the currency of its values, its category and mail class, its
origin, destination and declaration id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training import knowledge
from training.schema import MAIL_CLASSES
from training.synth.catalogue import Catalogue
from training.synth.numbers import hash_ids, s10_check_digit
from training.synth.registers import Wording
from training.synth.sampling import (
    FloatArray,
    IntArray,
    ObjectArray,
    Settings,
    draw,
    draw_by_row,
    grouped,
)
from training.synth.structure import BLOCK_PARCELS, Lines, Parcels


@dataclass(frozen=True)
class Header:
    """Per parcel: the currency of its values (and US dollars per unit of it), its
    category and mail class (indices into the contract's enums)."""

    currency: ObjectArray
    rates: FloatArray
    category: IntArray
    mail: IntArray


def draw_header(
    rng: np.random.Generator,
    cat: Catalogue,
    parcels: Parcels,
    lines: Lines,
    wording: Wording,
) -> Header:
    """The parcel header: currency, category, mail class."""
    lane = parcels.lane
    positive = parcels.positive
    currency_no = np.zeros(parcels.count, dtype=np.int64)
    currency = np.empty(parcels.count, dtype=object)
    uniform = rng.random(parcels.count)
    for lane_no, rows in grouped(lane):
        currency_no[rows] = draw(cat.lane_currency_cumulative[lane_no], uniform[rows])
        names = np.array(cat.lane_currency[lane_no], dtype=object)
        currency[rows] = names[currency_no[rows]]
    rates = np.array([cat.usd_per_unit[c] for c in currency], dtype=np.float64)

    # The parcel's category and mail class follow what its first line says it is (the
    # documents a disguise pretends to be travel as documents, by letter).
    first_item = wording.text_item[lines.starts]
    category = np.where(
        positive,
        draw_by_row(cat.lane_category_positive, lane, rng),
        draw_by_row(cat.lane_category_benign, lane, rng),
    )
    mail = draw_by_row(cat.lane_mail, lane, rng)
    uniform = rng.random(parcels.count)
    for it, rows in grouped(first_item):
        overrides = rows[~positive[rows] | (cat.item_class[it] == 0)]
        category_table = cat.item_category[it]
        if category_table is not None and len(overrides):
            category[overrides] = draw(category_table, uniform[overrides])
        mail_table = cat.item_mail[it]
        if mail_table is not None and len(overrides):
            mail[overrides] = draw(mail_table, uniform[overrides])
    return Header(currency=currency, rates=rates, category=category, mail=mail)


def declaration_ids(
    rng: np.random.Generator,
    cat: Catalogue,
    id_settings: Settings,
    seed: int,
    block_no: int,
    parcels: Parcels,
    mail: IntArray,
) -> tuple[ObjectArray, ObjectArray, ObjectArray]:
    """Origin, destination and the declaration id of each parcel: an S10 item number
    (letters by mail class, a serial with its check digit, the origin) or a courier's."""
    n_parcels = parcels.count
    lane = parcels.lane
    origin = np.array(cat.lane_origin, dtype=object)[lane]
    destination = np.array([lane_.destination for lane_ in knowledge.lanes()], dtype=object)[lane]
    global_parcel = block_no * BLOCK_PARCELS + np.arange(n_parcels, dtype=np.int64)
    serial = (global_parcel * 7_654_321 + hash_ids(np.array([seed]), 17)[0] * 37) % 100_000_000
    check = s10_check_digit(serial)
    first_letters: dict[str, list[str]] = id_settings["s10_first_letter"]
    second = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), dtype=object)[
        rng.integers(26, size=n_parcels)
    ]
    prefix_choice = rng.random(n_parcels)
    declaration_id = np.empty(n_parcels, dtype=object)
    for mail_no, mail_name in enumerate(MAIL_CLASSES):
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
    return origin, destination, declaration_id
