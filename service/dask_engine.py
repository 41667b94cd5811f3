"""Scoring many exports on a dask cluster: each input file is one partition, one output part.

Each file is scored by the same code as the local engine (in the dask worker's process),
so messy files, bad rows and parcels behave exactly as they do locally. The model is
shipped to the workers once. dask is an optional extra, imported only here.

Parts are written into a staging directory beside OUTPUT and moved into place only when
every file has been scored, so a failed or interrupted run adds nothing to OUTPUT.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import importlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from service.batch import BatchOptions, BatchSummary, score_table
from service.batch_history import StoreLookup, sources_history
from service.batch_output import UnusableInputError
from service.scorer import Scorer
from training.files import put_in_place
from training.history import HistoryTable
from training.tables import Kind, detect_format

TABLE_SUFFIXES: Final = (".csv", ".tsv", ".txt", ".parquet", ".pq")
PART_SUFFIX: Final[dict[str, str]] = {"csv": ".csv", "parquet": ".parquet"}


class DaskUnavailableError(RuntimeError):
    """The dask engine was asked for but dask is not installed."""


def input_files(pattern: str | Path) -> list[Path]:
    """The table files of a directory (its CSV/Parquet files) or of a glob, sorted."""
    path = Path(pattern)
    if path.is_dir():
        files = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES]
    else:
        files = [Path(p) for p in glob.glob(str(pattern)) if Path(p).is_file()]
    if not files:
        raise UnusableInputError(f"{pattern}: no CSV or Parquet files found")
    return sorted(files)


def part_names(files: Sequence[Path], kind: Kind) -> list[str]:
    """Output part names, numbered in input order so that they sort like the input."""
    return [f"part-{i:05d}-{f.stem}{PART_SUFFIX[kind]}" for i, f in enumerate(files)]


def score_partitions(
    pattern: str | Path,
    out_dir: Path,
    scorer: Scorer,
    *,
    scheduler: str | None = None,
    output_format: Kind | None = None,
    chunk_rows: int | None = None,
    columns: Sequence[str] | None = None,
    local_processes: bool = True,
    store: StoreLookup | None = None,
    history: bool = True,
) -> BatchSummary:
    """Score every file of a directory or glob into parts in `out_dir`, on a dask cluster.

    `scheduler` is the address of a running scheduler; without it a LocalCluster is started
    for the run (`local_processes=False` keeps it in this process, with threads).
    """
    try:
        # Typed loosely: dask's own annotations are partial, and it may not be installed.
        distributed: Any = importlib.import_module("dask.distributed")
    except ImportError:
        raise DaskUnavailableError(
            "the dask engine needs the optional dask extra: pip install 'parcel-screen[dask]'"
        ) from None
    files = input_files(pattern)
    # Every file is checked before any work, so one unusable file fails the run at once.
    for file in files:
        detect_format(file)
    kind: Kind = output_format or "csv"
    names = part_names(files, kind)
    options = BatchOptions(
        workers=1, output_format=kind, columns=columns, progress=False, history=history
    )
    if chunk_rows is not None:
        options.chunk_rows = chunk_rows
    # The files of a run are one history: each parcel is scored with what every file says
    # of its parties (and the store), as if the run were one export.
    table = (
        runs_history(files, options.chunk_rows, store, scorer)
        if history and scorer.reads_history
        else None
    )
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if scheduler is not None:
            client = stack.enter_context(distributed.Client(scheduler))
        else:
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    processes=local_processes,
                    threads_per_worker=1,
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        staging = stack.enter_context(_staging_directory(out_dir))
        [shared_scorer, shared_history] = client.scatter([scorer, table], broadcast=True)
        futures = client.map(
            _score_part,
            [str(f) for f in files],
            [str(staging / name) for name in names],
            scorer=shared_scorer,
            options=options,
            history=shared_history,
            pure=False,
        )
        summaries: list[BatchSummary] = client.gather(futures)
        _publish(staging, out_dir, names)
    total = BatchSummary()
    for summary in summaries:
        total.rows += summary.rows
        total.scored += summary.scored
        total.errors += summary.errors
        total.flagged += summary.flagged
    total.seconds = time.perf_counter() - began
    return total


def _score_part(
    source: str,
    dest: str,
    scorer: Scorer,
    options: BatchOptions,
    history: HistoryTable | None,
) -> BatchSummary:
    return score_table(
        Path(source), Path(dest), scorer, dataclasses.replace(options, history_table=history)
    )


def runs_history(
    files: Sequence[Path],
    chunk_rows: int,
    store: StoreLookup | None = None,
    scorer: Scorer | None = None,
) -> HistoryTable:
    """The history facts of every parcel of every file, counted as one export."""
    return sources_history(
        [(f, detect_format(f)) for f in files], chunk_rows, store=store, scorer=scorer
    )


@contextlib.contextmanager
def _staging_directory(out_dir: Path) -> Iterator[Path]:
    out_dir = out_dir.absolute()
    if out_dir.exists() and not out_dir.is_dir():
        raise UnusableInputError(f"{out_dir}: the dask engine writes a directory of parts")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".partial")
    )
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: Path, out_dir: Path, names: Sequence[str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        with (staging / name).open("rb") as written:
            os.fsync(written.fileno())
        put_in_place(staging / name, out_dir / name)
