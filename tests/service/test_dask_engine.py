"""The dask engine: many files, one output part each, the same scores as the local engine."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from service.batch import BatchOptions, score_table
from service.dask_engine import (
    DaskUnavailableError,
    input_files,
    runs_history,
    score_partitions,
)
from service.scorer import Scorer
from training.tables import TableError

needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason="dask is an optional extra (pip install 'parcel-screen[dask]'); not installed",
)


@pytest.fixture
def inputs(dev_csv: Path, tmp_path: Path) -> Path:
    """Three exports in one directory: two CSV halves of the sample and a Parquet copy."""
    frame = pd.read_csv(dev_csv, dtype=str, keep_default_na=False)
    directory = tmp_path / "in"
    directory.mkdir()
    frame.iloc[:120].to_csv(directory / "a.csv", index=False)
    frame.iloc[120:].to_csv(directory / "b.csv", index=False, sep=";")
    frame.to_parquet(directory / "c.parquet", index=False)
    (directory / "notes.md").write_text("not a table")
    return directory


@needs_dask
def test_dask_parts_match_the_local_engine(
    inputs: Path, tmp_path: Path, tiny_scorer: Scorer
) -> None:
    out_dir = tmp_path / "out"
    summary = score_partitions(inputs, out_dir, tiny_scorer, chunk_rows=64, local_processes=False)

    parts = sorted(p.name for p in out_dir.iterdir())
    assert parts == ["part-00000-a.csv", "part-00001-b.csv", "part-00002-c.csv"]
    assert summary.rows == 500
    # The files of a run are one history, as if they were one export.
    history = runs_history(input_files(inputs), 64, scorer=tiny_scorer)
    for part, source in zip(parts, input_files(inputs), strict=True):
        local = tmp_path / f"local-{source.stem}.csv"
        score_table(source, local, tiny_scorer, BatchOptions(workers=1, history_table=history))
        assert (out_dir / part).read_bytes() == local.read_bytes(), part
    # Nothing is left beside the output directory.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@needs_dask
def test_dask_parquet_parts_from_a_glob(inputs: Path, tmp_path: Path, tiny_scorer: Scorer) -> None:
    out_dir = tmp_path / "out"
    score_partitions(
        str(inputs / "*.csv"), out_dir, tiny_scorer, output_format="parquet", local_processes=False
    )
    scored = pd.concat(pd.read_parquet(p) for p in sorted(out_dir.iterdir()))
    assert len(scored) == 250
    assert scored["risk_score"].between(0, 1).all()
    local = tmp_path / "local.parquet"
    score_table(inputs / "c.parquet", local, tiny_scorer, BatchOptions(workers=1))
    np.testing.assert_allclose(scored["risk_score"], pd.read_parquet(local)["risk_score"])


def test_an_unusable_file_fails_the_run_before_any_work(
    inputs: Path, tmp_path: Path, tiny_scorer: Scorer
) -> None:
    (inputs / "broken.csv").write_text("id;weight\n1;2\n")
    with pytest.raises((TableError, DaskUnavailableError)):
        score_partitions(inputs, tmp_path / "out", tiny_scorer, local_processes=False)
    assert not (tmp_path / "out").exists()


def test_no_files_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="no CSV or Parquet files"):
        input_files(tmp_path / "*.csv")


def test_without_dask_the_error_says_how_to_install_it(
    inputs: Path, tmp_path: Path, tiny_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(DaskUnavailableError, match=r"parcel-screen\[dask\]"):
        score_partitions(inputs, tmp_path / "out", tiny_scorer)
