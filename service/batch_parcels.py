"""Parcels in a stream of rows: runs of consecutive rows that share a declaration id.

A parcel is scored as one, so chunks of rows are regrouped into units that never split
one (the trailing parcel of a chunk is held back and goes with the next chunk). Parcels
are runs, so an id that turns up again further down starts a new parcel wherever the chunk
boundaries fall.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, cast

import numpy as np
import pandas as pd
import pyarrow as pa

from training.schema import normalise_text

# A run of more rows than this under one id is not a parcel (a constant id column, say):
# it is not held back whole, so memory stays bounded whatever the file holds.
MAX_PARCEL_ROWS: Final = 10_000


def parcel_runs(ids: np.ndarray) -> np.ndarray:
    """A parcel number per row: it goes up wherever the id differs from the row before."""
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.empty(len(ids), dtype=bool)
    starts[0] = True
    starts[1:] = ids[1:] != ids[:-1]
    return np.cumsum(starts)


def raw_parcel_runs(raw: pd.DataFrame) -> np.ndarray:
    """`parcel_runs` of reader rows, ids compared as the normaliser will see them."""
    if "declaration_id" not in raw.columns:
        return np.arange(len(raw))
    codes, uniques = pd.factorize(raw["declaration_id"], use_na_sentinel=True)
    keys = np.array([*(_id_key(value) for value in uniques), None], dtype=object)[codes]
    runs = parcel_runs(keys)
    # A row without an id is a parcel of its own, whatever its neighbours.
    missing = np.flatnonzero(pd.isna(keys))
    return runs if not len(missing) else runs + np.cumsum(np.isin(np.arange(len(raw)), missing))


def trailing_parcel_start(ids: pd.Series) -> int:
    """The position at which the last parcel of a chunk starts; len(ids) if none to hold.

    Ids compare as the normaliser will see them; a row without an id is a parcel of its
    own, so it is never held back. Only the end of the chunk is looked at: parcels are short.
    """
    rows = len(ids)
    if rows == 0:
        return 0
    last = _id_key(ids.iloc[-1])
    if last is None:
        return rows
    window = 64
    while True:
        tail = ids.iloc[-window:]
        codes, uniques = pd.factorize(tail, use_na_sentinel=True)
        keys = np.array([*(_id_key(value) for value in uniques), None], dtype=object)[codes]
        differs = np.flatnonzero(keys != last)
        if len(differs):
            return rows - len(tail) + int(differs[-1]) + 1
        if len(tail) == rows:
            return 0
        window *= 4


def _id_key(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return normalise_text(str(value)) or None


def parcel_units(chunks: Iterator[pa.Table]) -> Iterator[list[pa.Table]]:
    """Chunks regrouped so that no parcel is split: each unit is a list of row pieces.

    The reader's Arrow tables go on as they are (slices share their buffers), to the
    workers and the writer without a Python object per cell. The trailing parcel of a
    chunk is held back and goes with the next chunk.
    """
    carry: list[pa.Table] = []
    carry_rows = 0
    for chunk in chunks:
        if not len(chunk):
            continue
        if "declaration_id" not in chunk.column_names:
            yield [*carry, chunk]  # every row is a parcel of its own
            carry, carry_rows = [], 0
            continue
        start = trailing_parcel_start(_ids(chunk))
        held = len(chunk) - start
        continues_carry = start == 0 and bool(carry) and _same_parcel(carry[-1], chunk)
        if held == 0 or held + (carry_rows if continues_carry else 0) > MAX_PARCEL_ROWS:
            yield [*carry, chunk]
            carry, carry_rows = [], 0
        elif start == 0 and (continues_carry or not carry):
            carry.append(chunk)
            carry_rows += held
        else:
            head = [chunk.slice(0, start)] if start else []
            yield [*carry, *head]
            carry, carry_rows = [chunk.slice(start)], held
    if carry:
        yield carry


def _same_parcel(before: pa.Table, after: pa.Table) -> bool:
    first = _id_key(after.column("declaration_id")[0].as_py())
    return first is not None and first == _id_key(
        before.column("declaration_id")[len(before) - 1].as_py()
    )


def _ids(piece: pa.Table) -> pd.Series:
    return cast("pd.Series", piece.column("declaration_id").to_pandas())
