"""Shared fixtures: a tiny real model, trained once per test run, in a temporary registry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from service.scorer import Scorer
from training.pipeline import synthetic_frame
from training.registry import Registry
from training.train import TrainingResult, fit_and_evaluate

REPO = Path(__file__).resolve().parents[1]
# The contract's hand-written, labelled sample lives beside the repository.
DEV_CSV = REPO.parent / "shared" / "data" / "dev_declarations.csv"

TINY_ROWS = 8_000
TINY_SEED = 7


@pytest.fixture(scope="session")
def dev_csv() -> Path:
    if not DEV_CSV.is_file():
        pytest.skip(
            "the contract's sample (shared/data/dev_declarations.csv) is not beside the repo"
        )
    return DEV_CSV


@pytest.fixture(scope="session")
def synthetic_sample() -> pd.DataFrame:
    """Normalised, labelled synthetic declarations (small)."""
    return synthetic_frame(TINY_ROWS, TINY_SEED)


@pytest.fixture(scope="session")
def tiny_training(synthetic_sample: pd.DataFrame) -> TrainingResult:
    return fit_and_evaluate(synthetic_sample, random_state=TINY_SEED)


@pytest.fixture(scope="session")
def tiny_registry(tmp_path_factory: pytest.TempPathFactory, tiny_training: TrainingResult) -> Path:
    """A models directory holding one active tiny model."""
    root = tmp_path_factory.mktemp("models")
    Registry(root).register(tiny_training.model, tiny_training.card, activate=True)
    return root


@pytest.fixture(scope="session")
def tiny_scorer(tiny_registry: Path) -> Scorer:
    return Scorer.from_registry(Registry(tiny_registry))
