"""An extra check on the contract's own sample, when it sits beside the repository."""

from __future__ import annotations

import pytest

from tests.conftest import DEV_CSV
from training.tables import read_declarations

pytestmark = pytest.mark.skipif(
    not DEV_CSV.is_file(), reason="the contract's sample is not beside the repository"
)


def test_the_contract_sample_reads_whole_and_clean() -> None:
    frame = read_declarations(DEV_CSV)
    assert len(frame) == 250
    assert frame["error"].isna().all()
    assert int(frame["label"].sum()) == 89
