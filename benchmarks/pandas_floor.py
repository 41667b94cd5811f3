"""The I/O floor of batch scoring: read a CSV in chunks and write it back, nothing else.

Run as `python -m benchmarks.pandas_floor INPUT OUTPUT [CHUNK_ROWS]`; the batch benchmark
times it on the same file as `parcel-screen score`. Same chunk size as the score command's
default, every column as text (as the reader keeps it), the same output columns plus empty
score columns, so the floor writes about the same bytes as scoring does.
"""

from __future__ import annotations

import sys
import time

import pandas as pd

# Spelled out rather than imported: the floor loads nothing of parcel-screen, so its time and
# memory are pandas' alone.
SCORE_COLUMNS = (
    "risk_score",
    "risk_class",
    "parcel_risk_score",
    "decision",
    "reasons",
    "model_version",
    "error",
)


def main(argv: list[str]) -> None:
    source, dest = argv[0], argv[1]
    chunk_rows = int(argv[2]) if len(argv) > 2 else 20_000
    began = time.perf_counter()
    rows = 0
    header = True
    with open(dest, "w", encoding="utf-8", newline="") as out:
        for chunk in pd.read_csv(
            source, dtype=str, keep_default_na=False, chunksize=chunk_rows, encoding="utf-8"
        ):
            for name in SCORE_COLUMNS:
                chunk[name] = ""
            chunk.to_csv(out, index=False, header=header)
            header = False
            rows += len(chunk)
    seconds = time.perf_counter() - began
    print(f"{rows} rows {seconds:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
