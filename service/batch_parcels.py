"""Parcels in a stream of rows: runs of consecutive rows that share a declaration id.

A parcel is scored as one, so chunks of rows are regrouped into units that never split
one (the trailing parcel of a chunk is held back and goes with the next chunk). Parcels
are runs, so an id that turns up again further down starts a new parcel wherever the chunk
boundaries fall.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa

from training.schema import normalise_text

# A run of more rows than this under one id is not a parcel (a constant id column, say):
# it is not held back whole, so memory stays bounded whatever the file holds.
MAX_PARCEL_ROWS: Final = 10_000
# Rows as the reader hands them on: pandas chunks, or Arrow tables the parent passes to the
# workers (and the writer) without making a Python object per cell.
Piece = TypeVar("Piece", pd.DataFrame, pa.Table)


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


def parcel_units(chunks: Iterator[Piece]) -> Iterator[list[Piece]]:
    """Chunks regrouped so that no parcel is split: each unit is a list of row pieces.

    The trailing parcel of a chunk is held back and goes with the next chunk; pieces are
    handed on as they are, so the reader's frames (or Arrow tables) need no copying.
    """
    carry: list[Piece] = []
    carry_rows = 0
    for chunk in chunks:
        if not len(chunk):
            continue
        if "declaration_id" not in _column_names(chunk):
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
            head: list[Piece] = [_rows(chunk, 0, start)] if start else []
            yield [*carry, *head]
            carry, carry_rows = [_rows(chunk, start, len(chunk))], held
    if carry:
        yield carry


def _same_parcel(before: Piece, after: Piece) -> bool:
    first = _id_key(_id_at(after, 0))
    return first is not None and first == _id_key(_id_at(before, len(before) - 1))


def _column_names(piece: pd.DataFrame | pa.Table) -> list[str]:
    return piece.column_names if isinstance(piece, pa.Table) else list(piece.columns)


def _ids(piece: pd.DataFrame | pa.Table) -> pd.Series:
    if isinstance(piece, pa.Table):
        return cast("pd.Series", piece.column("declaration_id").to_pandas())
    return piece["declaration_id"]


def _id_at(piece: pd.DataFrame | pa.Table, row: int) -> object:
    if isinstance(piece, pa.Table):
        return piece.column("declaration_id")[row].as_py()
    return piece["declaration_id"].iloc[row]


def _rows(piece: Piece, start: int, stop: int) -> Piece:
    if isinstance(piece, pa.Table):
        return piece.slice(start, stop - start)
    return piece.iloc[start:stop]
