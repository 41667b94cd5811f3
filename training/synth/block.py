"""One block of parcels (`generate_block`): kind, date, lane and structure of each parcel;
its lines' items, how each is written (register), text, HS code, quantity, weight and
value; the parcel's header, ids and parties; labels and missing values. Every draw comes
from the block's own random stream, (seed, block number).

Each step is one function (`structure`, `registers`, `amounts`, `header`, then the parties,
the text around the names, labels and blanks here), called in a fixed order: they share that
stream, so the order of the steps (and of the draws within each) is what makes a seed give
the same file. Mail classes and categories are indices into the contract's enums.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training import knowledge
from training.schema import ALL_FIELDS, CATEGORIES, LABEL_CLASSES, MAIL_CLASSES
from training.synth.amounts import declared_value, draw_goods, draw_weights
from training.synth.catalogue import compiled_catalogue
from training.synth.header import Header, declaration_ids, draw_header
from training.synth.parties import party_ids
from training.synth.registers import (
    DISGUISED,
    PLAIN,
    REGISTERS,
    STEALTH,
    draw_hs_codes,
    draw_texts,
    draw_wording,
)
from training.synth.sampling import FloatArray, IntArray, ObjectArray, Settings
from training.synth.structure import BLOCK_PARCELS, Lines, Parcels, draw_lines, draw_parcels
from training.synth.wording import decorate, shorten_to_head_words

__all__ = ["BLOCK_PARCELS", "REGISTERS", "generate_block"]


def generate_block(
    seed: int, block_no: int, positive_share: float, row_budget: int | None, total_rows: int
) -> tuple[pd.DataFrame, IntArray]:
    """One block of parcels as (frame with ALL_FIELDS, register code per row)."""
    cat = compiled_catalogue()
    settings = knowledge.generator_settings()
    rng = np.random.default_rng([seed, block_no])
    parcels = draw_parcels(rng, cat, settings["parcel"], positive_share, row_budget)
    lines = draw_lines(rng, cat, parcels)
    wording = draw_wording(rng, cat, settings, parcels, lines)
    language, base_text, second_text = draw_texts(rng, cat, parcels, lines, wording)
    # Ordinary goods, and gear posing as them, are often written as one word.
    base_text = shorten_to_head_words(
        base_text,
        language=language,
        eligible=np.isin(wording.register, (PLAIN, DISGUISED, STEALTH)),
        rng=rng,
    )
    hs_text = draw_hs_codes(rng, cat, settings["hs_format"], lines, wording)
    goods = draw_goods(rng, cat, settings, lines, wording)
    header = draw_header(rng, cat, parcels, lines, wording)
    value = declared_value(rng, settings["benign"], lines, goods, header)
    net_weight, gross, mail = draw_weights(
        rng, cat, settings, parcels, lines, wording, goods, header
    )
    ids = declaration_ids(rng, cat, settings["ids"], seed, block_no, parcels, mail)
    origin, destination, _ = ids
    sender_id, recipient_id = party_ids(
        settings["parties"],
        total_rows,
        rng,
        seed,
        parcels.positive,
        origin,
        destination,
        header.category,
    )
    text_item = wording.text_item
    palette = np.where(
        cat.tactical_palette[text_item], 1, np.where(cat.plain_palette[text_item], 2, 0)
    )
    description = decorate(
        base_text,
        language=language,
        second_text=second_text,
        quantity=goods.quantity,
        palette=palette,
        rng=rng,
    )
    label = _labels(rng, settings["label"], lines)
    frame = _frame(
        rng,
        settings["missing"],
        parcels=parcels,
        lines=lines,
        header=header,
        ids=ids,
        parties=(sender_id, recipient_id),
        mail=mail,
        gross=gross,
        description=description,
        hs_text=hs_text,
        quantity=goods.quantity,
        net_weight=net_weight,
        value=value,
        label=label,
    )
    return frame, wording.register.astype(np.int64)


def _labels(rng: np.random.Generator, label_settings: Settings, lines: Lines) -> IntArray:
    """Each line's recorded label: whether it is gear, with recording errors."""
    label = lines.is_gear.astype(np.int64)
    noisy = rng.random(lines.count) < label_settings["noise"]
    return np.asarray(np.where(noisy, 1 - label, label), dtype=np.int64)


def _frame(
    rng: np.random.Generator,
    missing: dict[str, float],
    *,
    parcels: Parcels,
    lines: Lines,
    header: Header,
    ids: tuple[ObjectArray, ObjectArray, ObjectArray],
    parties: tuple[ObjectArray, ObjectArray],
    mail: IntArray,
    gross: FloatArray,
    description: list[str],
    hs_text: ObjectArray,
    quantity: IntArray,
    net_weight: FloatArray,
    value: FloatArray,
    label: IntArray,
) -> pd.DataFrame:
    """The block's rows in the contract's fields, parcel fields repeated on each line,
    with the values senders leave out blanked."""
    n = lines.count
    parcel = lines.parcel
    origin, destination, declaration_id = ids
    sender_id, recipient_id = parties

    def blank_parcel(values: ObjectArray, field: str) -> ObjectArray:
        out = values.astype(object)
        out[rng.random(len(out)) < missing[field]] = None
        return out

    quantity_out = quantity.astype(np.float64)
    quantity_out[rng.random(n) < missing["quantity"]] = np.nan
    currency_line = header.currency[parcel].astype(object)
    currency_line[rng.random(n) < missing["currency"]] = None
    mail_out = blank_parcel(np.array(MAIL_CLASSES, dtype=object)[mail], "mail_class")
    category_name = blank_parcel(np.array(CATEGORIES, dtype=object)[header.category], "category")
    sender_out = blank_parcel(sender_id, "sender_id")
    recipient_out = blank_parcel(recipient_id, "recipient_id")

    return pd.DataFrame(
        {
            "declaration_id": declaration_id[parcel],
            "posted_at": parcels.posted[parcel].astype("datetime64[ns]"),
            "mail_class": mail_out[parcel],
            "category": category_name[parcel],
            "origin_country": origin[parcel],
            "destination_country": destination[parcel],
            "sender_id": sender_out[parcel],
            "recipient_id": recipient_out[parcel],
            "gross_weight_kg": gross[parcel].astype(np.float64),
            "item_no": (lines.line_no + 1).astype(np.float64),
            "description": np.array(description, dtype=object),
            "hs_code": hs_text,
            "quantity": quantity_out,
            "net_weight_kg": net_weight.astype(np.float64),
            "value": np.round(value, 2).astype(np.float64),
            "currency": currency_line,
            "label": label,
            "label_class": np.array(LABEL_CLASSES, dtype=object)[lines.label_class],
        },
        columns=list(ALL_FIELDS),
    )
