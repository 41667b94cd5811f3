"""Shared fixtures: a tiny real model, trained once per test run, in a temporary registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from service.scorer import Scorer
from tests.postgres import HOW_TO_GET, PostgresServer, running_server, server_binaries
from training.pipeline import synthetic_frame
from training.registry import Registry
from training.train import TrainingResult, fit_and_evaluate

REPO = Path(__file__).resolve().parents[1]

# Enough rows for the tiny model to learn that a vest's weight matters: with 8,000 its
# weight effect moved with any change of the generator's draws (1.2 or 0.8 log-odds).
TINY_ROWS = 12_000
TINY_SEED = 7


# A labelled export the project keeps itself: 250 rows of a written set (corpora/), CRLF,
# RFC 4180 quoting, as postal systems export them. Tests read and score it; the contract's
# sample, when it sits beside the repository, is an extra check (`make check-shared`).
SAMPLE_CSV = REPO / "tests" / "fixtures" / "declarations.csv"


@pytest.fixture(scope="session")
def dev_csv() -> Path:
    return SAMPLE_CSV


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test run's own (skips when the binaries are missing)."""
    binaries = server_binaries()
    if binaries is None:
        pytest.skip(HOW_TO_GET)
    with running_server(binaries) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each engine: a SQLite file, a database on the test server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'store.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()
