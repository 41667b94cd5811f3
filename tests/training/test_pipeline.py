"""A training run's reading of the written corpora and what it measures into the card."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.training.written_sets import write_set
from training import corpora, pipeline
from training.train import TrainingResult


@pytest.fixture(scope="module")
def corpora_dir(tmp_path_factory: pytest.TempPathFactory, synthetic_sample: pd.DataFrame) -> Path:
    """A corpora folder of the three uses, more sets than the readers (so each reads
    several)."""
    root = tmp_path_factory.mktemp("corpora")
    parcels = synthetic_sample["declaration_id"].drop_duplicates().to_numpy()
    uses = (corpora.BLIND, corpora.CALIBRATION, corpora.TRAIN)
    for k in range(6):
        part = synthetic_sample[
            synthetic_sample["declaration_id"].isin(parcels[k * 150 : (k + 1) * 150])
        ]
        write_set(part, root / uses[k % 3] / f"set_{k}.csv")
    return root


def test_reading_aside_gives_what_reading_in_turn_gives(corpora_dir: Path) -> None:
    plain = pipeline.read_corpora(corpora_dir)
    with pipeline.corpora_read_aside(corpora_dir) as read_sets:
        aside = read_sets()
    assert list(aside) == list(plain)
    assert [written.use for written, _ in aside.values()] == [
        corpora.BLIND,
        corpora.BLIND,
        corpora.CALIBRATION,
        corpora.CALIBRATION,
        corpora.TRAIN,
        corpora.TRAIN,
    ]
    for name, (written, frame) in plain.items():
        assert aside[name][0] == written
        pd.testing.assert_frame_equal(aside[name][1], frame)


def test_reading_aside_without_corpora_reads_nothing(tmp_path: Path) -> None:
    with pipeline.corpora_read_aside(None) as read_sets:
        assert read_sets() == {}
    with pipeline.corpora_read_aside(tmp_path) as read_sets:
        assert read_sets() == {}


def test_a_set_that_cannot_be_read_raises_its_error(tmp_path: Path) -> None:
    (tmp_path / corpora.BLIND).mkdir()
    (tmp_path / corpora.BLIND / "broken.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with (
        pipeline.corpora_read_aside(tmp_path) as read_sets,
        pytest.raises(ValueError, match=r"broken\.csv: no description column"),
    ):
        read_sets()


def test_the_card_measures_blind_and_calibration_sets_not_those_learned_from(
    corpora_dir: Path, tiny_training: TrainingResult
) -> None:
    measured = pipeline.measure_written(tiny_training.model, pipeline.read_corpora(corpora_dir))
    assert {name: entry["use"] for name, entry in measured.items()} == {
        "set_0": corpora.BLIND,
        "set_3": corpora.BLIND,
        "set_1": corpora.CALIBRATION,
        "set_4": corpora.CALIBRATION,
    }
    assert all(entry["parcels"] == 150 for entry in measured.values())
