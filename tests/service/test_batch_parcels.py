"""Parcels in a stream of rows: units never split one."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from service.batch_parcels import parcel_units


def test_parcel_units_never_split_a_run_of_one_id() -> None:
    ids = ["A", "A", "B", "B", "B", "C", None, "D", "D", " D ", "E"]
    frame = pd.DataFrame({"declaration_id": ids, "n": range(len(ids))})
    for size in (1, 2, 3, 4, 5, 20):
        chunks = (frame.iloc[i : i + size] for i in range(0, len(frame), size))
        units = [pd.concat(unit) for unit in parcel_units(chunks)]
        assert pd.concat(units)["n"].tolist() == list(range(len(ids))), size
        ends = [u["n"].iloc[-1] for u in units]
        # A unit may only end where the next row starts another parcel.
        assert set(ends) <= {1, 4, 5, 6, 9, 10}, size


def test_parcel_units_cut_arrow_tables_as_frames() -> None:
    ids = ["A", "A", "B", "B", "B", "C", None, "D", "D", " D ", "E"]
    frame = pd.DataFrame({"declaration_id": ids, "n": range(len(ids))})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for size in (1, 2, 3, 4, 5, 20):
        chunks = (frame.iloc[i : i + size] for i in range(0, len(frame), size))
        tables = (table.slice(i, size) for i in range(0, len(frame), size))
        expected = [[list(piece["n"]) for piece in unit] for unit in parcel_units(chunks)]
        got = [[piece.column("n").to_pylist() for piece in unit] for unit in parcel_units(tables)]
        assert got == expected, size
