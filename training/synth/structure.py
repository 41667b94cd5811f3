"""The parcels of a block and their lines: whether each parcel hides gear, when it is
posted, down which lane, single, mixed or a kit, and the item each line really is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from training.schema import RISK_CLASSES
from training.synth.catalogue import Catalogue
from training.synth.dates import YEARS, day_distribution
from training.synth.sampling import (
    BoolArray,
    FloatArray,
    IntArray,
    Settings,
    cumulative,
    draw,
    draw_by_row,
)

# Parcels per block: large enough to vectorise well, small enough to keep memory flat.
BLOCK_PARCELS: Final = 16384


# What a line is within its parcel.
_BENIGN_LINE, _GEAR_LINE, _KIT_LINE, _COMPANION_LINE = range(4)


@dataclass(frozen=True)
class Parcels:
    """Per parcel: whether it hides gear, when it is posted, its lane and its structure."""

    count: int
    positive: BoolArray
    posted: np.ndarray  # datetime64[D]
    fractional_year: FloatArray
    year_no: IntArray  # index into YEARS
    lane: IntArray
    gear_class: IntArray
    structure: IntArray  # 0 single, 1 mixed, 2 kit
    gear_position: IntArray  # the gear line of a mixed parcel
    n_lines: IntArray


def draw_parcels(
    rng: np.random.Generator,
    cat: Catalogue,
    parcel_settings: Settings,
    positive_share: float,
    row_budget: int | None,
) -> Parcels:
    """Kind, date, lane and structure of each parcel; the last parcel kept is cut so the
    block holds no more than `row_budget` lines."""
    n_parcels = BLOCK_PARCELS
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

    def counts(table: dict[str, float], size: int) -> IntArray:
        values = np.array([int(k) for k in table], dtype=np.int64)
        return values[draw(cumulative(list(table.values())), rng.random(size))]

    structure = draw(
        cumulative(list(parcel_settings["positive_structure"].values())), rng.random(n_parcels)
    )
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

    return Parcels(
        count=n_parcels,
        positive=positive[:n_parcels],
        posted=posted[:n_parcels],
        fractional_year=fractional_year[:n_parcels],
        year_no=year_no[:n_parcels],
        lane=lane[:n_parcels],
        gear_class=gear_class[:n_parcels],
        structure=structure[:n_parcels],
        gear_position=gear_position[:n_parcels],
        n_lines=n_lines,
    )


@dataclass(frozen=True)
class Lines:
    """Per line: its parcel, its place there, and the item it really is."""

    parcel: IntArray
    starts: IntArray  # per parcel: its first line
    line_no: IntArray
    lane: IntArray
    item: IntArray
    label_class: IntArray
    is_gear: BoolArray

    @property
    def count(self) -> int:
        return len(self.parcel)


def draw_lines(rng: np.random.Generator, cat: Catalogue, parcels: Parcels) -> Lines:
    """What each line is within its parcel (benign, gear, kit, companion) and its item."""
    n_lines = parcels.n_lines
    structure = parcels.structure
    parcel = np.repeat(np.arange(parcels.count), n_lines)
    n = len(parcel)
    starts = np.cumsum(n_lines) - n_lines
    line_no = np.arange(n) - starts[parcel]
    pos_line = parcels.positive[parcel]
    kind = np.full(n, _BENIGN_LINE)
    kind = np.where(pos_line & (structure[parcel] == 0), _GEAR_LINE, kind)
    mixed = pos_line & (structure[parcel] == 1)
    kind = np.where(
        mixed,
        np.where(line_no == parcels.gear_position[parcel], _GEAR_LINE, _COMPANION_LINE),
        kind,
    )
    kit = pos_line & (structure[parcel] == 2)
    kind = np.where(kit, np.where(line_no == 0, _GEAR_LINE, _KIT_LINE), kind)
    line_lane = parcels.lane[parcel]

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
        line_lane[gear_rows] * len(RISK_CLASSES) + parcels.gear_class[parcel[gear_rows]],
        rng,
    )
    kit_rows = np.flatnonzero(kind == _KIT_LINE)
    item[kit_rows] = cat.kit_items[draw(cat.kit_cumulative, rng.random(len(kit_rows)))]
    label_class = cat.item_class[item]
    return Lines(
        parcel=parcel,
        starts=starts,
        line_no=line_no,
        lane=line_lane,
        item=item,
        label_class=label_class,
        is_gear=label_class > 0,
    )
