"""Generated declarations as frames (`generate_declarations`): blocks of parcels cut into
frames of whole parcels; the output depends only on (rows, seed).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from training.synth.block import generate_block
from training.synth.sampling import IntArray


def _blocks(rows: int, seed: int, positive_share: float) -> Iterator[tuple[pd.DataFrame, IntArray]]:
    produced = 0
    block_no = 0
    # A block of BLOCK_PARCELS parcels never has fewer rows than parcels.
    while produced < rows:
        remaining = rows - produced
        frame, register = generate_block(seed, block_no, positive_share, remaining, rows)
        produced += len(frame)
        block_no += 1
        yield frame, register


def generate_declarations_with_registers(
    rows: int,
    seed: int,
    *,
    chunk_rows: int = 100_000,
    positive_share: float = 0.25,
) -> Iterator[tuple[pd.DataFrame, IntArray]]:
    """As `generate_declarations`, with each row's register code (index into REGISTERS)."""
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    if not 0.0 <= positive_share <= 1.0:
        raise ValueError("positive_share must be within [0, 1]")
    pending_frames: list[pd.DataFrame] = []
    pending_registers: list[IntArray] = []
    pending_rows = 0
    for frame, register in _blocks(rows, seed, positive_share):
        pending_frames.append(frame)
        pending_registers.append(register)
        pending_rows += len(frame)
        while pending_rows >= chunk_rows:
            buffer = pd.concat(pending_frames, ignore_index=True)
            codes = np.concatenate(pending_registers)
            cut = _parcel_cut(buffer, chunk_rows)
            yield buffer.iloc[:cut].reset_index(drop=True), codes[:cut]
            pending_frames = [buffer.iloc[cut:].reset_index(drop=True)]
            pending_registers = [codes[cut:]]
            pending_rows = len(pending_frames[0])
    if pending_rows:
        yield (
            pd.concat(pending_frames, ignore_index=True),
            np.concatenate(pending_registers),
        )


def _parcel_cut(frame: pd.DataFrame, chunk_rows: int) -> int:
    """The largest row count <= chunk_rows that ends on a parcel boundary (at least one parcel)."""
    item_no = frame["item_no"].to_numpy()
    starts = np.flatnonzero(item_no == 1)
    boundary = starts[(starts <= chunk_rows) & (starts > 0)]
    if len(boundary):
        return int(boundary[-1])
    later = starts[starts > 0]
    return int(later[0]) if len(later) else len(frame)


def generate_declarations(
    rows: int,
    seed: int,
    *,
    chunk_rows: int = 100_000,
    positive_share: float = 0.25,
) -> Iterator[pd.DataFrame]:
    """Labelled synthetic declarations, `rows` item rows in total, as frames of ALL_FIELDS.

    `positive_share` is the share of parcels that carry gear; mixed parcels also carry
    benign lines, so the share of positive item rows is somewhat lower. Each parcel's rows
    are contiguous and never split across frames; frames hold at most `chunk_rows` rows
    (unless a single parcel is larger). Output depends only on (rows, seed).
    """
    for frame, _ in generate_declarations_with_registers(
        rows, seed, chunk_rows=chunk_rows, positive_share=positive_share
    ):
        yield frame
