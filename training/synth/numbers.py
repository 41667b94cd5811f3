"""Numbers and ids as people and post offices write them: round values (500, 1500),
shop prices (12.37, 499), S10 check digits, stable hashed ids.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from training.synth.sampling import FloatArray, IntArray

_NICE_MANTISSAS: Final = np.array([1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 7.5, 8.0, 10.0])


def nice_round(values: FloatArray) -> FloatArray:
    """Round to the numbers people write on a form: 500, 1000, 1500, 2000, 30, 50, 150."""
    out = np.zeros_like(values)
    positive = values > 0
    magnitude = 10.0 ** np.floor(np.log10(values[positive]))
    mantissa = values[positive] / magnitude
    nearest = _NICE_MANTISSAS[np.abs(mantissa[:, None] - _NICE_MANTISSAS[None, :]).argmin(axis=1)]
    out[positive] = nearest * magnitude
    return out


def shop_round(values: FloatArray, usd_rate: FloatArray) -> FloatArray:
    """Shop prices: cents for strong currencies (12.37), whole ...9 / ...0 for weak ones."""
    strong = usd_rate >= 0.05
    cents = np.round(values, 2)
    whole = np.maximum(np.round(values / 10.0) * 10.0 - 1.0, 1.0)
    whole = np.where(values < 20, np.maximum(np.round(values), 1.0), whole)
    return np.where(strong, np.maximum(cents, 0.01), whole)


def s10_check_digit(serials: IntArray) -> IntArray:
    digits = (serials[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    total = (digits * np.array([8, 6, 4, 2, 3, 5, 9, 7])).sum(axis=1)
    check = 11 - total % 11
    return np.where(check == 10, 0, np.where(check == 11, 5, check)).astype(np.int64)


def hash_ids(values: IntArray, salt: int, bits: int = 24) -> IntArray:
    """Stable `bits`-bit ids from integers (splitmix64 finaliser)."""
    with np.errstate(over="ignore"):
        x = values.astype(np.uint64) + np.uint64(salt & 0xFFFFFFFFFFFF) * np.uint64(
            0x9E3779B97F4A7C15
        )
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x & np.uint64((1 << bits) - 1)).astype(np.int64)
