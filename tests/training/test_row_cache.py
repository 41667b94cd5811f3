from __future__ import annotations

import threading

import numpy as np
import pytest

from training.row_cache import RowCache


def rows_for(keys: list[str]) -> np.ndarray:
    # A row that says which key it belongs to.
    return np.array([[float(k.removeprefix("k")), -float(k.removeprefix("k"))] for k in keys])


def test_rows_come_back_under_their_keys() -> None:
    cache = RowCache(width=2, capacity=10)
    cache.add(["k1", "k2"], rows_for(["k1", "k2"]))
    rows, found = cache.lookup(["k2", "k9", "k1"])
    assert found.tolist() == [True, False, True]
    np.testing.assert_array_equal(rows[[0, 2]], rows_for(["k2", "k1"]))


def test_past_capacity_the_older_half_goes_and_rows_stay_right() -> None:
    cache = RowCache(width=2, capacity=10)
    keys = [f"k{i}" for i in range(25)]
    for start in range(0, 25, 3):  # batches of 3: several rounds of making room
        batch = keys[start : start + 3]
        cache.add(batch, rows_for(batch))
        assert len(cache) <= 10
    rows, found = cache.lookup(keys)
    assert found[-3:].all()  # the newest are always kept
    assert not found[:10].any()  # the oldest went
    np.testing.assert_array_equal(
        rows[found], rows_for([k for k, f in zip(keys, found, strict=True) if f])
    )


def test_a_batch_larger_than_the_cache_keeps_its_newest_rows() -> None:
    cache = RowCache(width=2, capacity=4)
    keys = [f"k{i}" for i in range(9)]
    cache.add(keys, rows_for(keys))
    rows, found = cache.lookup(keys)
    assert found.tolist() == [False] * 5 + [True] * 4
    np.testing.assert_array_equal(rows[5:], rows_for(keys[5:]))


def test_keys_already_cached_are_not_added_twice() -> None:
    cache = RowCache(width=2, capacity=4)
    cache.add(["k1"], rows_for(["k1"]))
    cache.add(["k1", "k2"], rows_for(["k1", "k2"]))
    assert len(cache) == 2


def test_threads_never_read_another_keys_row() -> None:
    cache = RowCache(width=2, capacity=64)
    failures: list[str] = []

    def work(offset: int) -> None:
        for round_ in range(200):
            keys = [f"k{offset + (round_ * 7 + j) % 500}" for j in range(16)]
            rows, found = cache.lookup(keys)
            expected = rows_for(keys)
            if not np.array_equal(rows[found], expected[found]):
                failures.append(f"thread {offset}, round {round_}")
            cache.add(keys, expected)

    threads = [threading.Thread(target=work, args=(i * 1000,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_cache_needs_some_room() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        RowCache(width=2, capacity=1)
