"""Written sets as the tests write them: labelled frames to CSV files of a corpora folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_set(frame: pd.DataFrame, path: Path) -> None:
    """`frame` as a written set's CSV at `path` (its folder made), dates as writers type them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = frame.copy()
    out["posted_at"] = out["posted_at"].dt.strftime("%Y-%m-%d")
    out.to_csv(path, index=False)
