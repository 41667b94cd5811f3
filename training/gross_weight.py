"""A parcel's gross weight set against what its lines declare: the gross in kilograms
as the clerk meant it, and how much weight beyond the lines ordinary parcels leave.

The features, the reasons and the parties' history (kilos a sender mailed to a lane) all
read a parcel's weight the same way, so it lives outside the feature package, which
itself reads history.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import numpy as np

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


def parcel_gross_kg(gross: float | None, net_weights: Iterable[float | None]) -> float | None:
    """One parcel's gross weight in kilograms (`gross_in_kg`) from its typed gross and its
    lines' net weights (missing or non-finite ones count as 0, as in the features)."""
    if gross is None:
        return None
    declared = 0.0
    for weight in net_weights:
        if weight is not None and np.isfinite(weight):
            declared += float(weight)
    return float(gross_in_kg(gross, declared))


# A line over this many kilos is heavier than a postal parcel may be (the UPU's usual 30 kg
# limit): typed in grams if it cannot be kilograms (see `net_in_kg`). With no gross weight
# to compare, only a unit over 100 kg is sure to be grams: "61.5" may be 6.15 kg as well.
_LINE_GRAMS_FLOOR_KG: Final = 30.0
_UNIT_GRAMS_FLOOR_KG: Final = 100.0


def net_in_kg(net: Any, quantity: Any, gross: Any) -> Any:
    """A line's net weight in kilograms, as typed or, where it can only have been typed in
    grams, a thousandth of it: over 30 kg and either more than twice its parcel's gross
    weight ("5540" for four bicycle helmets in a 15.6 kg parcel) or over 100 kg a unit with
    no gross to compare ("6150" for one box of spare parts). A courier's 72 kg of a hundred
    trousers stays as typed. Numbers or arrays; NaN stays NaN."""
    net = np.asarray(net, dtype=np.float64)
    quantity = np.asarray(quantity, dtype=np.float64)
    gross = np.asarray(gross, dtype=np.float64)
    units = np.where(np.isfinite(quantity) & (quantity >= 1), quantity, 1.0)
    with np.errstate(invalid="ignore", over="ignore"):
        typed_in_grams = (net > _LINE_GRAMS_FLOOR_KG) & (
            np.where(np.isfinite(gross), net > 2.0 * gross, net / units > _UNIT_GRAMS_FLOOR_KG)
        )
    return np.where(typed_in_grams, net / 1000.0, net)


def parcel_nets_complete(codes: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Per item, whether every line of its parcel (`codes`, parcel numbers from 0) declares
    a net weight (`known`). Where one does not, that line may hold the whole gross: no kilo
    is known to be unaccounted for. Writers of ordinary traffic leave a net weight out on up
    to a sixth of their lines; read as nothing, one left a whole bag of clothes "not
    accounted for", and parcels with a net weight left out went to review five to seven
    times as often as others (docs/decisions.md, "A net weight left out")."""
    codes = np.asarray(codes, dtype=np.intp)
    if not len(codes):
        return np.zeros(0, dtype=bool)
    missing = np.bincount(codes, weights=(~np.asarray(known, dtype=bool)).astype(np.float64))
    return np.asarray(missing[codes] == 0)
