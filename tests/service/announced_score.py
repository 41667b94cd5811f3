"""`parcel-screen score ARGS`, telling its parent a line `rows N` on standard output each
time it has written scored rows.

Tests that stop a run part-way wait for that line (the run is under way: its workers
started, its output file open) instead of polling the output directory.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Literal

from service import batch
from service.cli import app
from service.scorer import Scorer

_score_table = batch.score_table


def _announcing(
    source: Path,
    dest: Path | Literal["-"],
    scorer: Scorer,
    options: batch.BatchOptions | None = None,
) -> batch.BatchSummary:
    def on_rows(rows: int) -> None:
        print(f"rows {rows}", flush=True)

    options = dataclasses.replace(options or batch.BatchOptions(), on_rows=on_rows)
    return _score_table(source, dest, scorer, options)


if __name__ == "__main__":
    # The command imports `score_table` from the module when it runs: it gets this one.
    batch.score_table = _announcing
    app(["score", *sys.argv[1:]], prog_name="parcel-screen")
