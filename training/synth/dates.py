"""When parcels are posted: the years the generator covers, the day of each parcel (by month
and yearly growth), and shares that drift from year to year.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt

from training import knowledge
from training.synth.sampling import FloatArray, cumulative

YEARS: Final = (2023, 2024, 2025, 2026)


@cache
def day_distribution() -> tuple[npt.NDArray[np.datetime64], FloatArray]:
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
    return days, cumulative(weights)


def interpolate_by_year(anchors: dict[str, float], fractional_year: FloatArray) -> FloatArray:
    points = sorted((int(year), float(share)) for year, share in anchors.items())
    return np.interp(fractional_year, [p[0] + 0.5 for p in points], [p[1] for p in points])
