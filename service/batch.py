"""Scoring whole declaration exports: every row back, in order, unscorable rows explained.

The parent process reads the export in chunks and writes the results; worker processes
normalise and score. A parcel (consecutive rows sharing a declaration id) is always scored
as one, even when it straddles a chunk boundary: the trailing parcel of a chunk is held
back and scored with the next chunk. Parcels are runs of consecutive rows, so an id that
turns up again further down the file starts a new parcel wherever the chunk boundaries
fall; scores therefore do not depend on the chunk size or the number of workers.

The output is written through `AtomicTableWriter`, so an interrupted run leaves no output.

The parts of a run: `batch_history` (the first pass, for history), `batch_parcels` (chunks
regrouped so that no parcel is split), `batch_scoring` (the score columns of rows, a
failing parcel isolated), `batch_output` (the output layout, units rendered for the
writer), `batch_pool` (the worker processes), `batch_progress` (the progress line).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Final, Literal

import pandas as pd
import pyarrow as pa

from service.batch_history import StoreLookup, file_history
from service.batch_output import (
    OutputLayout,
    RenderedUnit,
    UnusableInputError,
    render_unit,
)
from service.batch_parcels import parcel_units
from service.batch_pool import Scoring
from service.batch_progress import Progress, estimated_rows
from service.process_tuning import return_freed_memory
from service.scorer import Scorer
from training.files import output_destination, readable
from training.history import HistoryTable
from training.tables import (
    AtomicTableWriter,
    Kind,
    TableError,
    detect_format,
    iter_table_batches,
)
from training.tables import csv_bytes as table_csv_bytes

DEFAULT_CHUNK_ROWS: Final = 20_000
# Rows of one chunk of the HTTP CSV endpoint: small enough that the first bytes go out soon.
HTTP_CHUNK_ROWS: Final = 10_000
# Units the writing process writes between handing freed memory back to the system. After
# every unit, faulting the memory back in cost the parent ~0.7 s per 1M rows (5.2 -> 4.5 s
# CPU, measured); every 8th keeps its peak where it was (5M rows: 391 MB; never: 407 MB).
_RETURN_MEMORY_EVERY: Final = 8


# --- running ----------------------------------------------------------------------------


@dataclass
class BatchSummary:
    """What a run did, for the closing line on stderr."""

    rows: int = 0
    scored: int = 0
    errors: int = 0
    flagged: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def add(self, unit: RenderedUnit) -> None:
        self.rows += unit.rows
        self.errors += unit.errors
        self.scored += unit.rows - unit.errors
        self.flagged += unit.flagged

    def line(self) -> str:
        return (
            f"{self.rows:,} rows: {self.scored:,} scored, {self.errors:,} with errors, "
            f"{self.flagged:,} flagged (review or inspect); "
            f"{self.rows_per_second:,.0f} rows/s, {self.seconds:.1f} s"
        )


@dataclass
class BatchOptions:
    """How `score_table` runs; the defaults suit the command line."""

    chunk_rows: int = DEFAULT_CHUNK_ROWS
    # Worker processes; 1 scores in this process, None uses every core.
    workers: int | None = None
    output_format: Kind | None = None
    columns: Sequence[str] | None = None
    progress: bool | None = None  # None: when stderr is a terminal
    # Told the running row count after each written piece (an embedding caller's progress).
    on_rows: Callable[[int], None] | None = field(default=None, repr=False)
    # Count each parcel's parties over the whole file (and the store) before scoring.
    history: bool = True
    # What the store knows of the file's parties (None: the file alone).
    store: StoreLookup | None = field(default=None, repr=False)
    # History counted beforehand over more than this file (the dask engine's whole run).
    history_table: HistoryTable | None = field(default=None, repr=False)


def available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def score_table(
    source: Path,
    dest: Path | Literal["-"],
    scorer: Scorer,
    options: BatchOptions | None = None,
) -> BatchSummary:
    """Score a CSV or Parquet export into `dest` (`"-"`: CSV on standard output).

    `source` may be `-` (standard input) or a FIFO. Raises `TableError` for input that
    cannot be read as a declaration table, and `UnusableFileError` (an `OSError`) for a
    destination that is not a regular file; nothing is written then, nor when the run is
    interrupted.
    """
    options = options or BatchOptions()
    if options.chunk_rows < 1:
        raise ValueError("the chunk size must be at least 1 row")
    if dest != "-":
        # Refused before reading anything: a device, FIFO or directory is not an output.
        dest = output_destination(dest)
    # A stream (`-`, a FIFO, /dev/stdin) is read once, into a file the reader can reopen.
    with readable(source) as path:
        return _score_table(path, dest, scorer, options)


def _score_table(
    source: Path, dest: Path | Literal["-"], scorer: Scorer, options: BatchOptions
) -> BatchSummary:
    began = time.perf_counter()
    table_format = detect_format(source)
    layout = OutputLayout.of(table_format, options.columns)
    expected_rows = estimated_rows(source, table_format)
    workers = options.workers or available_cores()
    if expected_rows is not None and expected_rows <= options.chunk_rows:
        workers = 1  # one chunk: starting workers would cost more than it saves
    summary = BatchSummary()
    show_progress = sys.stderr.isatty() if options.progress is None else options.progress
    with contextlib.ExitStack() as stack:
        stack.enter_context(_sigterm_as_interrupt())
        history = options.history_table
        if history is None and options.history and scorer.reads_history:
            history = file_history(
                source,
                table_format,
                options.chunk_rows,
                store=options.store,
                scorer=scorer,
                workers=workers,
            )
            # The pass's parcel records are gone; their memory goes back before the
            # workers fork (they would each carry the parent's heap otherwise).
            return_freed_memory()
        scoring = stack.enter_context(Scoring.start(scorer, workers, table_format.decimal, history))
        progress = stack.enter_context(Progress.start(show_progress, expected_rows))
        tables = iter_table_batches(
            source, chunk_rows=options.chunk_rows, table_format=table_format
        )
        writer = stack.enter_context(
            AtomicTableWriter(dest, options.output_format, columns=layout.names)
        )
        kind = writer.kind
        units = scoring.rendered_units(parcel_units(tables), layout, kind)
        for written, unit in enumerate(units, start=1):
            if unit.csv is not None:
                writer.write_csv_lines(unit.csv)
            else:
                assert unit.table is not None
                writer.write(unit.table)
            summary.add(unit)
            progress.advance(unit.rows)
            del unit  # written: its bytes can go before the next unit is awaited
            if written % _RETURN_MEMORY_EVERY == 0:
                return_freed_memory()
            if options.on_rows is not None:
                options.on_rows(summary.rows)
    summary.seconds = time.perf_counter() - began
    return summary


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the partial output is removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- the HTTP CSV endpoint ----------------------------------------------------------------


def score_csv_bytes(
    scorer: Scorer,
    body: bytes,
    chunk_rows: int = HTTP_CHUNK_ROWS,
    store: StoreLookup | None = None,
    on_rows: Callable[[pa.Table], None] | None = None,
) -> Iterator[bytes]:
    """The scored CSV of a CSV (or Parquet) body, as UTF-8 bytes, chunk by chunk.

    Scored in this process, as `score` would write it; `on_rows` is handed each chunk's
    rows as an Arrow table under the answer's column names (what the audit records).
    Unusable input raises `UnusableInputError` (a `TableError`) from the first `next()`,
    before any bytes.
    """
    try:
        table_format = detect_format(bytes(body))
        layout = OutputLayout.of(table_format)
        history = (
            file_history(bytes(body), table_format, chunk_rows, store=store, scorer=scorer)
            if scorer.reads_history
            else None
        )
        tables = iter_table_batches(bytes(body), chunk_rows=chunk_rows, table_format=table_format)
    except TableError as exc:
        raise UnusableInputError(str(exc)) from None
    # The header as a row of text cells: formula-guarded like every other cell.
    yield table_csv_bytes(pd.DataFrame([layout.names]))
    # The rows go out as the `score` command renders them (one rendering of scored rows).
    for unit in parcel_units(tables):
        rendered = render_unit(
            scorer,
            unit,
            table_format.decimal,
            layout,
            "csv",
            history,
            keep_table=on_rows is not None,
        )
        assert rendered.csv is not None
        if on_rows is not None and rendered.table is not None:
            on_rows(rendered.table)
        yield rendered.csv
