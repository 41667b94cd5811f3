"""Where each declaration id falls in [0, 1), for random selection, as pandas hashes it.

`pd.util.hash_array(ids, categorize=False) / 2**64`: SipHash-2-4 of the id's UTF-8 with
pandas' fixed key, then pandas' 64-bit mixing; the same in every process and on every
replay. For a few ids (one declaration over HTTP) the mixing is done on Python integers,
without numpy's per-call cost (~20 us a declaration down to ~3); the tests pin the draws to
`pd.util.hash_array`'s for thousands of ids.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from pandas._libs.hashing import hash_object_array  # type: ignore[import-not-found]

# pandas' fixed key of `pd.util.hash_array` (the tests pin the draws to it).
_PANDAS_KEY: Final = "0123456789123456"
_MASK: Final = (1 << 64) - 1
_SPAN: Final = 2.0**64


def id_draws(ids: list[str]) -> list[float]:
    """Each id's draw in [0, 1) (ids are text)."""
    hashed = hash_object_array(np.asarray(ids, dtype=object), _PANDAS_KEY, "utf8")
    out = []
    for siphash in hashed.tolist():
        mixed = siphash ^ (siphash >> 30)
        mixed = (mixed * 0xBF58476D1CE4E5B9) & _MASK
        mixed ^= mixed >> 27
        mixed = (mixed * 0x94D049BB133111EB) & _MASK
        mixed ^= mixed >> 31
        out.append(mixed / _SPAN)
    return out
