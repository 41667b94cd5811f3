"""Generated declarations written as the contract's CSV, atomically (`write_synthetic_csv`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.files import atomic_file
from training.schema import ALL_FIELDS
from training.synth.generate import generate_declarations


def _csv_form(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["posted_at"] = out["posted_at"].dt.strftime("%Y-%m-%d")
    for field in ("gross_weight_kg", "net_weight_kg", "value", "quantity", "item_no"):
        numbers = out[field]
        whole = numbers.notna() & (numbers == np.floor(numbers))
        text = numbers.map(lambda v: "" if pd.isna(v) else f"{v:.3f}".rstrip("0").rstrip("."))
        out[field] = text.where(~whole, numbers.map(lambda v: "" if pd.isna(v) else f"{v:.0f}"))
    return out


def write_synthetic_csv(path: Path, rows: int, seed: int) -> int:
    """Write `rows` generated declarations as the contract CSV, atomically; returns rows."""
    written = 0
    with atomic_file(Path(path), "w", newline="") as handle:
        header = True
        for frame in generate_declarations(rows, seed):
            _csv_form(frame).to_csv(handle, index=False, header=header)
            header = False
            written += len(frame)
        if header:
            handle.write(",".join(ALL_FIELDS) + "\n")
    return written
