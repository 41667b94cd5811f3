"""Parcels in a stream of rows: units never split one, and each shortcut gives what a walk
over every row gives, for runs shorter and longer than the window it looks at."""

from __future__ import annotations

import math
import random

import pandas as pd
import pyarrow as pa
import pytest

from service import batch_parcels
from service.batch_parcels import parcel_units, raw_parcel_runs, trailing_parcel_start
from training.schema import normalise_text


def key(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return normalise_text(str(value)) or None


def _chunks(ids: list[object], size: int) -> list[pa.Table]:
    table = pa.table({"declaration_id": pa.array(ids, pa.string()), "n": range(len(ids))})
    return [table.slice(i, size) for i in range(0, len(ids), size)]


def _numbers(unit: list[pa.Table]) -> list[int]:
    return [n for piece in unit for n in piece.column("n").to_pylist()]


def test_parcel_units_never_split_a_run_of_one_id() -> None:
    ids: list[object] = ["A", "A", "B", "B", "B", "C", None, "D", "D", " D ", "E"]
    for size in (1, 2, 3, 4, 5, 20):
        units = [_numbers(unit) for unit in parcel_units(iter(_chunks(ids, size)))]
        assert [n for unit in units for n in unit] == list(range(len(ids))), size
        ends = [unit[-1] for unit in units]
        # A unit may only end where the next row starts another parcel.
        assert set(ends) <= {1, 4, 5, 6, 9, 10}, size


def walked_back(ids: list[object]) -> int:
    """Where the last parcel starts, found by walking back one row at a time."""
    if not ids:
        return 0
    last = key(ids[-1])
    if last is None:
        return len(ids)
    start = len(ids)
    while start > 0 and key(ids[start - 1]) == last:
        start -= 1
    return start


# The search looks at the last 64 rows, then 4x as many each time: runs on either side.
@pytest.mark.parametrize("run", [0, 1, 2, 63, 64, 65, 255, 256, 257, 1023, 1024, 1025, 2000])
def test_trailing_parcel_start_matches_a_walk_back(run: int) -> None:
    randomness = random.Random(run)
    for before in (0, 1, 5, 300):
        for last in ("A", None, float("nan")):
            ids: list[object] = [f"B{i}" for i in range(before)]
            ids += [randomness.choice(["A", " A", "A "]) for _ in range(run)]
            if last is not None or not ids:
                ids.append(last)
            if before and run:
                ids[before - 1] = randomness.choice([None, "a", " "])
            expected = walked_back(ids)
            assert trailing_parcel_start(pd.Series(ids, dtype=object)) == expected, (before, last)


def test_raw_parcel_runs_start_where_a_walk_over_the_rows_starts_them() -> None:
    randomness = random.Random(7)
    for rows in (0, 1, 2, 10, 500):
        choices = ["A", " A", "a", "B", None, "", math.nan]
        ids = [randomness.choice(choices) for _ in range(rows)]
        keys = [key(value) for value in ids]
        # A parcel starts where the id changes; a row without an id is a parcel of its own.
        starts = [
            i == 0 or keys[i] is None or keys[i - 1] is None or keys[i] != keys[i - 1]
            for i in range(rows)
        ]
        runs = raw_parcel_runs(pd.DataFrame({"declaration_id": pd.Series(ids, dtype=object)}))
        got = [i == 0 or bool(runs[i] != runs[i - 1]) for i in range(rows)]
        assert got == starts, ids


@pytest.mark.parametrize("run", [1, 4, 5, 23, 40])
def test_a_run_longer_than_a_parcel_is_not_held_back_whole(
    run: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_parcels, "MAX_PARCEL_ROWS", 5)
    ids: list[object] = ["X", *(["A"] * run), "Z"]
    units = [_numbers(unit) for unit in parcel_units(iter(_chunks(ids, 3)))]
    assert [n for unit in units for n in unit] == list(range(len(ids)))
    assert max(len(unit) for unit in units) <= 5 + 3  # what was held back, and one chunk
    whole = any(set(range(1, run + 1)) <= set(unit) for unit in units)
    assert whole == (run <= 5)
