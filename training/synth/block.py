"""One block of parcels (`generate_block`): kind, date, lane and structure of each parcel;
its lines' items, how each is written (register), text, HS code, quantity, weight and
value; the parcel's header, ids and parties; labels and missing values. Every draw comes
from the block's own random stream, (seed, block number).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from training import knowledge
from training.knowledge import LANGUAGES
from training.schema import ALL_FIELDS, CATEGORIES, LABEL_CLASSES, MAIL_CLASSES, RISK_CLASSES
from training.synth.catalogue import compiled_catalogue, phrase_pool
from training.synth.dates import YEARS, day_distribution, interpolate_by_year
from training.synth.numbers import hash_ids, nice_round, s10_check_digit, shop_round
from training.synth.parties import party_ids
from training.synth.sampling import (
    FloatArray,
    IntArray,
    ObjectArray,
    cumulative,
    draw,
    draw_by_row,
    grouped,
    sample_from_groups,
)
from training.synth.wording import decorate

# Parcels per block: large enough to vectorise well, small enough to keep memory flat.
BLOCK_PARCELS: Final = 16384

# How a line is written; kept beside the frame by `generate_declarations_with_registers`.
REGISTERS: Final = ("plain", "vague", "explicit", "disguised", "stealth")
_PLAIN, _VAGUE, _EXPLICIT, _DISGUISED, _STEALTH = range(5)

# What a line is within its parcel.
_BENIGN_LINE, _GEAR_LINE, _KIT_LINE, _COMPANION_LINE = range(4)

# Index positions into the contract's enums (the order is the contract's).
_MAIL_CLASSES: Final = MAIL_CLASSES
_CATEGORIES: Final = CATEGORIES


def generate_block(
    seed: int, block_no: int, positive_share: float, row_budget: int | None, total_rows: int
) -> tuple[pd.DataFrame, IntArray]:
    """One block of parcels as (frame with ALL_FIELDS, register code per row)."""
    cat = compiled_catalogue()
    settings = knowledge.generator_settings()
    rng = np.random.default_rng([seed, block_no])
    n_parcels = BLOCK_PARCELS

    # --- parcels: kind, date, lane, structure
    positive = rng.random(n_parcels) < positive_share
    days, day_cumulative = day_distribution()
    posted = days[draw(day_cumulative, rng.random(n_parcels))]
    year_float = posted.astype("datetime64[Y]").astype(np.int64) + 1970
    day_of_year = (posted - posted.astype("datetime64[Y]")).astype(np.int64)
    fractional_year = year_float + day_of_year / 365.25
    year_no = np.clip(year_float - YEARS[0], 0, len(YEARS) - 1)

    lane = draw(cat.lane_benign_cumulative, rng.random(n_parcels))
    lane_class = draw(cat.lane_class_cumulative, rng.random(n_parcels))
    gear_class = lane_class % len(RISK_CLASSES)
    lane = np.where(positive, lane_class // len(RISK_CLASSES), lane)

    parcel_settings = settings["parcel"]

    def counts(table: dict[str, float], size: int) -> IntArray:
        values = np.array([int(k) for k in table], dtype=np.int64)
        return values[draw(cumulative(list(table.values())), rng.random(size))]

    structure = draw(
        cumulative(list(parcel_settings["positive_structure"].values())), rng.random(n_parcels)
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
    item[benign_rows] = draw_by_row(cat.lane_benign_items, line_lane[benign_rows], rng)
    companion_rows = np.flatnonzero(kind == _COMPANION_LINE)
    item[companion_rows] = cat.companion_items[
        draw(cat.companion_cumulative, rng.random(len(companion_rows)))
    ]
    gear_rows = np.flatnonzero(kind == _GEAR_LINE)
    item[gear_rows] = draw_by_row(
        cat.lane_class_items,
        line_lane[gear_rows] * len(RISK_CLASSES) + gear_class[parcel[gear_rows]],
        rng,
    )
    kit_rows = np.flatnonzero(kind == _KIT_LINE)
    item[kit_rows] = cat.kit_items[draw(cat.kit_cumulative, rng.random(len(kit_rows)))]
    label_class = cat.item_class[item]
    is_gear = label_class > 0

    # --- register: how the sender writes the line
    register_settings = settings["register"]
    explicit_p = interpolate_by_year(register_settings["explicit"], fractional_year)
    stealth_p = interpolate_by_year(register_settings["stealth"], fractional_year)
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
    for gear_item, positions in grouped(item[stealth_rows]):
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
    written_vague = register == _VAGUE
    written_vague[disguised_rows[vague_story]] = True

    group = text_item.copy()
    group = np.where(register == _VAGUE, cat.item_vague_group[item], group)
    group[disguised_rows[vague_story]] = cat.story_vague_group[story[vague_story]]

    # --- language and text
    parcel_language = draw_by_row(cat.lane_language, lane, rng)
    redraw = rng.random(n) < 0.12
    language = np.where(
        redraw, draw_by_row(cat.lane_language, line_lane, rng), parcel_language[parcel]
    )
    second_language = cat.lane_second_language[line_lane]
    second_language = np.where(second_language == language, LANGUAGES.index("en"), second_language)

    def pick_text(languages: IntArray) -> ObjectArray:
        out = np.empty(n, dtype=object)
        combo = (group * len(LANGUAGES) + languages) * len(YEARS) + line_year
        uniform = rng.random(n)
        for key, rows in grouped(combo):
            rest, year_index = divmod(key, len(YEARS))
            group_no, language_no = divmod(rest, len(LANGUAGES))
            pool = phrase_pool(group_no, language_no, YEARS[year_index])
            out[rows] = pool[(uniform[rows] * len(pool)).astype(np.int64)]
        return out

    base_text = pick_text(language)
    second_text = pick_text(second_language)

    # --- HS code (from the phrase group actually written; a vague word keeps the HS code of
    # the goods it stands for: the item's own, or the disguise's cover)
    hs_group = np.where(written_vague, text_item, group)
    hs_index = sample_from_groups(hs_group, cat.group_hs_cumulative, rng)
    hs_text = np.empty(n, dtype=object)
    hs_format = settings["hs_format"]
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
    hs_missing = rng.random(n) < cat.lane_hs_missing[line_lane]
    hs_text[hs_missing] = None

    # --- quantity, weight, worth
    qty_index = sample_from_groups(item, cat.quantity_cumulative, rng)
    quantity = np.zeros(n, dtype=np.int64)
    for it, rows in grouped(item):
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
    for lane_no, rows in grouped(lane):
        currency_no[rows] = draw(cat.lane_currency_cumulative[lane_no], uniform[rows])
        names = np.array(cat.lane_currency[lane_no], dtype=object)
        currency[rows] = names[currency_no[rows]]
    rates = np.array([cat.usd_per_unit[c] for c in currency], dtype=np.float64)

    # The parcel's category and mail class follow what its first line says it is (the
    # documents a disguise pretends to be travel as documents, by letter).
    first_item = text_item[starts]
    category = np.where(
        positive,
        draw_by_row(cat.lane_category_positive, lane, rng),
        draw_by_row(cat.lane_category_benign, lane, rng),
    )
    mail = draw_by_row(cat.lane_mail, lane, rng)
    uniform = rng.random(n_parcels)
    for it, rows in grouped(first_item):
        overrides = rows[~positive[rows] | (cat.item_class[it] == 0)]
        category_table = cat.item_category[it]
        if category_table is not None and len(overrides):
            category[overrides] = draw(category_table, uniform[overrides])
        mail_table = cat.item_mail[it]
        if mail_table is not None and len(overrides):
            mail[overrides] = draw(mail_table, uniform[overrides])

    line_category = category[parcel]
    value = declared_usd / rates[parcel]
    shop = line_category == _CATEGORIES.index("sale_of_goods")
    value = np.where(shop & ~is_gear, shop_round(value, rates[parcel]), nice_round(value))
    zero_gift = (
        (line_category == 0) & ~is_gear & (rng.random(n) < benign_settings["zero_value_gift_share"])
    )
    value = np.where(zero_gift | (worth_usd == 0), 0.0, value)

    # --- declared net weight, gross weight
    steps_table: dict[str, float] = settings["weight"]["round_step"]
    steps = np.array([float(s) for s in steps_table])
    step = steps[draw(cumulative(list(steps_table.values())), rng.random(n))]
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
    serial = (global_parcel * 7_654_321 + hash_ids(np.array([seed]), 17)[0] * 37) % 100_000_000
    check = s10_check_digit(serial)
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

    sender_id, recipient_id = party_ids(
        settings["parties"], total_rows, rng, seed, positive, origin, destination, category
    )

    # --- text
    palette = np.where(
        cat.tactical_palette[text_item], 1, np.where(cat.plain_palette[text_item], 2, 0)
    )
    description = decorate(
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
