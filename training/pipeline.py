"""A training run from the data staff's point of view: which data, then fit and measure.

Reads labelled exports through the same reader as scoring (messy files accepted), adds
synthetic declarations when asked, fits with `training.train`, and records a sim-to-real
check on a separate labelled file when one is given.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from training import corpora
from training.features import BORROWED_WORDING
from training.history import with_history
from training.labelled import history_now, read_labelled
from training.model import RiskModel
from training.schema import normalise_declarations
from training.text import matching_text
from training.train import TrainingResult, evaluate_model, fit_and_evaluate


@dataclass
class TrainingRequest:
    data: list[Path] = field(default_factory=list)
    synthetic_rows: int | None = None  # synthetic rows added to `data`
    rows: int = 160_000  # synthetic rows when there is no `data`
    seed: int = 0
    dev_data: Path | None = None
    # Written corpora (see training.corpora): train/ sets are learned from (each row
    # repeated `written_repeat` times), calibration/ sets set the thresholds, and every set
    # is measured into the card.
    corpora: Path | None = None
    written_repeat: int = 50


ReadSets = dict[str, tuple[corpora.WrittenSet, pd.DataFrame]]
# Processes that read the written sets while training goes on (`corpora_read_aside`): a few
# hundred small files take ~20 s one after the other, most of it pandas' cost per file.
CORPORA_READERS: Final = 2


def _corpora_sets(root: Path | None) -> list[corpora.WrittenSet]:
    """Every written set under a corpora directory, in the order blind, calibration, train
    (none without a directory)."""
    if root is None:
        return []
    return [
        written
        for use in (corpora.BLIND, corpora.CALIBRATION, corpora.TRAIN)
        for written in corpora.written_sets(root, use)
    ]


def read_corpora(root: Path | None) -> ReadSets:
    """Every written set under a corpora directory, read once, by name, in the order
    blind, calibration, train (none without a directory)."""
    return {written.name: (written, corpora.read_set(written)) for written in _corpora_sets(root)}


@contextmanager
def corpora_read_aside(root: Path | None) -> Iterator[Callable[[], ReadSets]]:
    """`read_corpora(root)` in `CORPORA_READERS` other processes, begun on entry so that the
    caller's own work (generating the synthetic rows) goes on meanwhile: the function it
    yields waits for the reads and returns what `read_corpora` would (a test pins the two
    equal). A set that fails to read raises its error there."""
    sets = _corpora_sets(root)
    if not sets:
        yield lambda: {}
        return
    # Forked readers start at once with what this process has imported. Reading touches
    # neither threads nor OpenMP, and the pool is begun before training uses either.
    context = (
        multiprocessing.get_context("fork")
        if "fork" in multiprocessing.get_all_start_methods()
        else multiprocessing.get_context()
    )
    with ProcessPoolExecutor(max_workers=CORPORA_READERS, mp_context=context) as pool:
        pending = [(written, pool.submit(corpora.read_set, written)) for written in sets]
        try:
            yield lambda: {written.name: (written, read.result()) for written, read in pending}
        except BaseException:
            # The caller failed: the sets not yet begun are no longer wanted.
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _written(sets: ReadSets, use: str) -> pd.DataFrame | None:
    """All sets of one use as one frame (None if there are none)."""
    frames = [frame for written, frame in sets.values() if written.use == use]
    return pd.concat(frames, ignore_index=True) if frames else None


def measure_written(model: RiskModel, sets: ReadSets) -> dict[str, dict[str, object]]:
    """Metrics of a model on every blind and calibration set, by name, with what the set is
    used for (figures on calibration/ sets are at their own thresholds). The train/ sets
    are left to `make bench`: figures on sets the model learned from judge nothing, and
    scoring them took a tenth of the build."""
    return {
        name: {"use": written.use, **corpora.measure(model, frame)}
        for name, (written, frame) in sets.items()
        if written.use != corpora.TRAIN
    }


def synthetic_frame(rows: int, seed: int) -> pd.DataFrame:
    """Generated declarations with the history their parties made, including the outcomes
    and watch list officers' work would have left in a store."""
    from training.synth import generate_declarations_with_registers, simulated_store
    from training.synth.registers import DISGUISED, STEALTH, VAGUE

    chunks = []
    for generated, register in generate_declarations_with_registers(rows, seed):
        chunk = normalise_declarations(generated)
        # Generated gear written in the words of honest goods (or vaguely): which cover the
        # generator chose is no evidence a text model may learn (TextSignals).
        gear = chunk["label"].to_numpy() == 1
        chunk[BORROWED_WORDING] = gear & np.isin(register, (DISGUISED, STEALTH, VAGUE))
        chunks.append(chunk)
    frame = pd.concat(chunks, ignore_index=True)
    outcome, watch = simulated_store(frame, seed)
    frame["outcome"] = outcome.to_numpy()
    frame = with_history(frame, watch=watch, now=history_now(frame))
    return frame.drop(columns=["outcome"])


def run_training(
    request: TrainingRequest, progress: Callable[[str], None] = lambda _: None
) -> TrainingResult:
    frames: list[pd.DataFrame] = []
    sources: list[dict[str, object]] = []
    with corpora_read_aside(request.corpora) as read_sets:
        for path in request.data:
            frame = read_labelled(path)
            progress(f"read {len(frame):,} rows from {path}")
            frames.append(frame)
            sources.append({"kind": "file", "name": path.name, "rows": len(frame)})
        synthetic_rows = request.synthetic_rows
        if not request.data and synthetic_rows is None:
            synthetic_rows = request.rows
        if synthetic_rows:
            progress(f"generating {synthetic_rows:,} synthetic rows (seed {request.seed})")
            frames.append(synthetic_frame(synthetic_rows, request.seed))
            sources.append({"kind": "synthetic", "rows": synthetic_rows, "seed": request.seed})
        if not frames:
            raise ValueError("nothing to train on: give --data files or --synthetic rows")
        # Read once: the calibration sets are measured into the card as well.
        sets = read_sets()
    frame = pd.concat(frames, ignore_index=True)
    written = _written(sets, corpora.TRAIN)
    calibration = _written(sets, corpora.CALIBRATION)
    if written is not None:
        sources.append({"kind": "written", "rows": len(written), "repeat": request.written_repeat})
    extra = 0 if written is None else len(written)
    progress(f"fitting on {len(frame):,} rows (+ {extra:,} written)")
    result = fit_and_evaluate(
        frame,
        random_state=request.seed % (2**32),
        written=written,
        written_repeat=request.written_repeat,
        calibration=calibration,
    )
    result.card["training_data"]["sources"] = sources
    if request.corpora is not None:
        result.card["metrics"]["written"] = measure_written(result.model, sets)
    if request.dev_data is not None:
        dev = read_labelled(request.dev_data)
        result.card["metrics"]["dev"] = evaluate_model(result.model, dev)
        result.card["metrics"]["dev"]["file"] = request.dev_data.name
        # The same check on the rows whose wording never occurs in training: how the model
        # does on phrasing it has not memorised, the closest view of unseen traffic.
        seen = {matching_text(d) for d in frame["description"].dropna().unique()}
        unseen = dev[~dev["description"].map(lambda d: matching_text(str(d)) in seen)]
        if unseen["label"].nunique() == 2:
            result.card["metrics"]["dev_unseen_text"] = evaluate_model(result.model, unseen)
    return result


def compare_with_active(
    result: TrainingResult,
    active: RiskModel | None,
    active_version: str | None,
    load_error: str | None = None,
) -> None:
    """Put the candidate-vs-active comparison and the drift profile into the new card.

    Both are computed on the candidate's held-out rows, which exist only during training:
    `models promote` and `drift --model` later read what is stored here. The card is
    written by training alone (`train.fit_and_evaluate`, then this module).
    """
    from training.drift import profile_of
    from training.gate import compare_on_holdout

    holdout = result.holdout
    comparison = compare_on_holdout(
        result.model,
        active,
        active_version if active is not None else None,
        holdout,
        str(result.card["training_data"].get("holdout", "held-out rows")),
    )
    if load_error is not None:
        comparison["active_error"] = load_error
    result.card["comparison"] = comparison
    result.card["training_data"]["profile"] = profile_of(
        holdout, holdout["risk_score"].to_numpy()
    ).to_card()
