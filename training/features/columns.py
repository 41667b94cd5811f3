"""Item columns: any mapping from contract field to an array-like (a normalised frame, or the
plain lists of one JSON declaration), read as numpy arrays and grouped by value.

Every feature is computed on whole columns; grouping by distinct value first is what keeps
Python loops to the few distinct descriptions, chapters and lanes of a batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.utils import Tags

# A normalised frame, or plain column lists (one JSON declaration, without pandas).
ItemColumns = Mapping[str, Any] | pd.DataFrame


def column(items: ItemColumns, name: str, dtype: Any = object) -> np.ndarray:
    """One column of item columns as a numpy array (None/NaN for a missing column)."""
    if name not in items:
        n = _length(items)
        if dtype is float:
            return np.full(n, np.nan)
        return np.full(n, None, dtype=object)
    values = items[name]
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    if dtype is float:
        try:
            # None becomes NaN: the JSON path hands over plain lists with None for missing.
            return np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
                dtype=float
            )
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        # Whole numbers (parcel keys made by the batch reader) stay unboxed: grouping them
        # is a C hash of ints, boxing them first cost more than the grouping.
        return values
    return np.asarray(values, dtype=object)


# Inputs of at most this many rows are small: one declaration, or the few a turn of the event
# loop gathers (most HTTP traffic). Their fast paths (plain Python in place of pandas' hashing
# and of numpy's per-call cost) are each pinned by tests to the plain way, on inputs below and
# above this cut-off; every module reads this one constant.
SMALL_INPUT: Final = 32
# Of those, inputs of at most this many rows have their form features worked out row by row
# (`form_rows`): a row costs ~15 us in plain Python against ~0.2 ms fixed for the column-wise
# transform, so rows win below ~10 (measured: 62 against 212 us for one row, 174 against
# 247 us for 8, 313 against 253 us for 16). Grouping by value (`factorize`) wins up to
# SMALL_INPUT: pandas' hashing costs ~16 us at 16-32 rows against a dict's 3-5 us.
FEW_ROWS: Final = SMALL_INPUT // 4


def column_list(items: ItemColumns, name: str, dtype: Any = object) -> list[Any]:
    """`column(items, name, dtype).tolist()`, without the array for the plain lists of a JSON
    declaration (floats, ints, bools and None: converted as numpy converts them)."""
    values = items.get(name) if isinstance(items, Mapping) else None
    if type(values) is list:
        if dtype is not float:
            return values
        if all(type(v) is float or type(v) is int or type(v) is bool for v in values):
            return [float(v) for v in values]
        if all(v is None or type(v) is float or type(v) is int for v in values):
            return [math.nan if v is None else float(v) for v in values]
    return column(items, name, dtype).tolist()


def factorize(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values) of a column, in order of first appearance; None is a value."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu" and len(values) > SMALL_INPUT:
        int_codes, int_uniques = pd.factorize(values)
        return np.asarray(int_codes, dtype=np.intp), np.asarray(int_uniques, dtype=object)
    array = np.asarray(values, dtype=object)
    if len(array) <= SMALL_INPUT:
        seen: dict[Any, int] = {}
        codes = np.fromiter(
            (seen.setdefault(v, len(seen)) for v in array.tolist()),
            dtype=np.intp,
            count=len(array),
        )
        uniques = np.empty(len(seen), dtype=object)
        uniques[:] = list(seen)
        return codes, uniques
    codes, uniques = pd.factorize(array, use_na_sentinel=False)
    distinct = np.asarray(uniques, dtype=object)
    # pandas turns a missing value into NaN; keep None, as the small-input path does.
    distinct[pd.isna(distinct)] = None
    return np.asarray(codes, dtype=np.intp), distinct


def parcel_codes(declaration_ids: Any) -> np.ndarray:
    """0..k-1 codes of the parcels of item rows (rows of one declaration share a code)."""
    return factorize(declaration_ids)[0]


# Training counts each written row many times (`training.train`); each repeat of a
# declaration is a parcel of its own, so a parcel's lines are summed once, not once per
# repeat (60 repeats of a 2 kg line are not a 120 kg parcel). Absent when scoring.
REPEAT_COLUMN: Final = "repeat"


def item_parcel_codes(items: ItemColumns) -> np.ndarray:
    """`parcel_codes` of item rows: by declaration id, and by repeat where rows have one."""
    codes = parcel_codes(column(items, "declaration_id"))
    if REPEAT_COLUMN not in items or not len(codes):
        return codes
    repeat = column(items, REPEAT_COLUMN, float)
    repeat = np.where(np.isfinite(repeat), repeat, 0.0).astype(np.int64)
    return parcel_codes(codes * (int(repeat.max()) + 1) + repeat)


# Combines the fields' 64-bit hashes into a row's (a large odd number; products wrap).
_HASH_MULTIPLIER: Final = 0x100000001B3


def repeat_twins(items: ItemColumns) -> tuple[np.ndarray, np.ndarray]:
    """Rows that differ only by their training repeat (REPEAT_COLUMN), as `(first, twin)`:
    the first row of each kind, and for each row the position of its kind among `first`.

    Training repeats a written line fifty times, each repeat a parcel of its own with the
    same lines: every feature of a repeat is its first row's, so the form step can compute
    them once per kind (`items` taken at `first`) and copy them (`[twin]`). A row's place
    in its parcel is part of its kind, so a parcel that lists one line twice keeps both.
    """
    n = _length(items)
    if REPEAT_COLUMN not in items:
        return np.arange(n), np.arange(n)
    repeat = column(items, REPEAT_COLUMN, float)
    repeated = np.flatnonzero(np.isfinite(repeat))
    parcel = item_parcel_codes(items)
    place = pd.Series(parcel).groupby(parcel).cumcount().to_numpy()
    # Each field hashed as an array and the hashes combined (a frame of all the fields
    # would first infer every column's type, most of this function's time).
    content = pd.util.hash_array(place[repeated])
    for name, values in items.items():
        if name != REPEAT_COLUMN:
            content = content * np.uint64(_HASH_MULTIPLIER) ^ pd.util.hash_array(
                np.asarray(values)[repeated]
            )
    # Rows without a repeat are each a kind of their own; the repeated ones share by content
    # (a 64-bit hash: tens of thousands of written lines, no collision to fear).
    key = np.arange(n, dtype=np.int64)
    key[repeated] = -1 - pd.factorize(content)[0]
    twin = pd.factorize(key)[0]
    first = np.unique(twin, return_index=True)[1]
    return first, twin


def _length(items: ItemColumns) -> int:
    if isinstance(items, pd.DataFrame):
        return len(items)
    for values in items.values():
        return len(values)
    return 0


def item_columns_tags(tags: Tags) -> Tags:
    """scikit-learn tags of an estimator that reads item columns: named fields of text and
    numbers, missing values allowed, never an anonymous 2-D array of numbers (so sklearn's
    generic checks, which feed such arrays, do not apply; docs/decisions.md)."""
    tags.input_tags.two_d_array = False
    tags.input_tags.string = True
    tags.input_tags.categorical = True
    tags.input_tags.allow_nan = True
    return tags
