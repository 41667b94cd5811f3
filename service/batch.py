"""Scoring whole declaration exports: every row back, in order, unscorable rows explained.

The parent process reads the export in chunks and writes the results; worker processes
normalise and score. A parcel (consecutive rows sharing a declaration id) is always scored
as one, even when it straddles a chunk boundary: the trailing parcel of a chunk is held
back and scored with the next chunk. Parcels are runs of consecutive rows, so an id that
turns up again further down the file starts a new parcel wherever the chunk boundaries
fall; scores therefore do not depend on the chunk size or the number of workers.

The output is written through `AtomicTableWriter`, so an interrupted run leaves no output.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final, Literal, TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc

from service.batch_history import StoreLookup, file_history
from service.batch_progress import Progress, estimated_rows
from service.process_tuning import (
    die_with_parent,
    keep_freed_memory,
    limit_native_threads,
    return_freed_memory,
)
from service.scorer import SCORE_COLUMNS, Scorer
from training.files import output_destination, readable
from training.history import HistoryTable
from training.model import columns_of
from training.schema import (
    DECLARATION_FIELDS,
    ERROR_COLUMN,
    LINE_COLUMN,
    READ_ERROR_COLUMN,
    canonical_header,
    normalise_declarations,
    normalise_text,
)
from training.tables import (
    AtomicTableWriter,
    Decimal,
    Kind,
    TableError,
    TableFormat,
    detect_format,
    iter_table_batches,
    iter_table_chunks,
    table_frame,
)
from training.tables import csv_bytes as table_csv_bytes

log = logging.getLogger(__name__)

OUTPUT_SCORE_COLUMNS: Final = (*SCORE_COLUMNS, ERROR_COLUMN)
DEFAULT_CHUNK_ROWS: Final = 20_000
# Rows of one chunk of the HTTP CSV endpoint: small enough that the first bytes go out soon.
HTTP_CHUNK_ROWS: Final = 10_000
# A run of more rows than this under one id is not a parcel (a constant id column, say):
# it is not held back whole, so memory stays bounded whatever the file holds.
MAX_PARCEL_ROWS: Final = 10_000
SCORE_DECIMALS: Final = 4
# Units the writing process writes between handing freed memory back to the system. After
# every unit, faulting the memory back in cost the parent ~0.7 s per 1M rows (5.2 -> 4.5 s
# CPU, measured); every 8th keeps its peak where it was (5M rows: 391 MB; never: 407 MB).
_RETURN_MEMORY_EVERY: Final = 8
FLAGGED_DECISIONS: Final = ("review", "inspect")
# Columns the workers need: the contract fields and what the reader adds for errors.
_WORKER_COLUMNS: Final = (*DECLARATION_FIELDS, LINE_COLUMN, READ_ERROR_COLUMN)
# Rows as the reader hands them on: pandas chunks, or Arrow tables the parent passes to the
# workers (and the writer) without making a Python object per cell.
Piece = TypeVar("Piece", pd.DataFrame, pa.Table)


class UnusableInputError(TableError, ValueError):
    """Input that cannot be scored at all (not a table, no description column, ...).

    A `TableError`, and a `ValueError` for callers that only know about the latter.
    """


class ScoringFailedError(RuntimeError):
    """Scoring fails whatever the rows: a bug, or a model that does not fit this code."""


# --- what a run writes ---------------------------------------------------------------------


@dataclass(frozen=True)
class OutputLayout:
    """Which reader columns go out, under which names, followed by the score columns."""

    input_columns: tuple[str, ...]
    input_names: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [*self.input_names, *OUTPUT_SCORE_COLUMNS]

    @classmethod
    def of(cls, table_format: TableFormat, columns: Sequence[str] | None = None) -> OutputLayout:
        """The layout for a table, with all its columns or only `columns` (by header name).

        Input columns keep their original header; one that clashes with a score column or
        with another kept column gets a suffix, so every output column has its own name.
        """
        frame_columns = table_format.frame_columns()
        originals = list(table_format.columns)
        if columns is None:
            positions = list(range(len(originals)))
        else:
            positions = [_column_position(name, originals, frame_columns) for name in columns]
        taken = set(OUTPUT_SCORE_COLUMNS)
        names: list[str] = []
        for position in positions:
            base = originals[position]
            name = base if base not in taken else f"{base}.input"
            copy = 1
            while name in taken:
                copy += 1
                name = f"{base}.input{copy}"
            taken.add(name)
            names.append(name)
        return cls(tuple(frame_columns[p] for p in positions), tuple(names))


def _column_position(name: str, originals: list[str], frame_columns: list[str]) -> int:
    wanted = name.strip()
    if wanted in originals:
        return originals.index(wanted)
    contract_field = canonical_header(wanted)
    if contract_field is not None and contract_field in frame_columns:
        return frame_columns.index(contract_field)
    known = ", ".join(repr(c) for c in originals)
    raise UnusableInputError(f"--columns: no column {wanted!r} in the input (columns: {known})")


# --- scoring rows --------------------------------------------------------------------------


def score_rows(
    scorer: Scorer,
    raw: pd.DataFrame,
    decimal: Decimal = ".",
    history: HistoryTable | None = None,
) -> pd.DataFrame:
    """The output score columns (and `error`) for reader rows that hold whole parcels.

    `history` holds the parties' history of each parcel (by declaration id); without it
    every parcel is scored as one from parties with no history.

    The result has one row per row of `raw`, with its index. Rows that cannot be scored have
    `error` set and empty score columns. Should scoring itself fail on some parcel, that
    parcel's rows say so and the others are scored; should it fail everywhere (a model that
    does not fit this code, say), `ScoringFailedError` stops the run instead of turning a
    whole file into errors.
    """
    try:
        return _score_raw(scorer, raw, decimal, history)
    except Exception as exc:
        # Never expected (a bug, or a model that does not fit): said out loud, so that the
        # recovery cannot hide it. One such bug went unseen while it doubled a unit's time.
        log.warning("scoring %d rows failed (%s); scoring them in parts", len(raw), _one_line(exc))
        log.debug("scoring failure", exc_info=exc)
        return _score_around_failure(scorer, raw, decimal, history, exc)


def _score_raw(
    scorer: Scorer, raw: pd.DataFrame, decimal: Decimal, history: HistoryTable | None
) -> pd.DataFrame:
    normalised = normalise_declarations(raw, decimal=decimal, with_labels=False)
    return _score_normalised(scorer, normalised, history)


def _score_around_failure(
    scorer: Scorer,
    raw: pd.DataFrame,
    decimal: Decimal,
    history: HistoryTable | None,
    failure: Exception,
) -> pd.DataFrame:
    """Halves the rows at a parcel boundary until the parcel that fails is found.

    Only the failing half is split further; when both halves fail the fault is not in the
    data, and the run stops.
    """
    starts = np.flatnonzero(np.diff(_raw_parcel_runs(raw), prepend=-1))
    if len(starts) == 1:
        return _unscored(raw, f"row: could not be scored ({_one_line(failure)})")
    middle = int(starts[len(starts) // 2])
    halves = [raw.iloc[:middle], raw.iloc[middle:]]
    results: list[pd.DataFrame | None] = []
    failures: list[Exception] = []
    for half in halves:
        try:
            results.append(_score_raw(scorer, half, decimal, history))
        except Exception as exc:
            results.append(None)
            failures.append(exc)
    if len(failures) == len(halves):
        raise ScoringFailedError(
            f"scoring fails on every part of a chunk ({_one_line(failure)}); "
            "does the model fit this version of parcel-screen?"
        ) from failure
    return pd.concat(
        [
            result
            if result is not None
            else _score_around_failure(scorer, half, decimal, history, failures[0])
            for half, result in zip(halves, results, strict=True)
        ]
    )


def _raw_parcel_runs(raw: pd.DataFrame) -> np.ndarray:
    if "declaration_id" not in raw.columns:
        return np.arange(len(raw))
    codes, uniques = pd.factorize(raw["declaration_id"], use_na_sentinel=True)
    keys = np.array([*(_id_key(value) for value in uniques), None], dtype=object)[codes]
    runs = parcel_runs(keys)
    # A row without an id is a parcel of its own, whatever its neighbours.
    missing = np.flatnonzero(pd.isna(keys))
    return runs if not len(missing) else runs + np.cumsum(np.isin(np.arange(len(raw)), missing))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _score_normalised(
    scorer: Scorer, normalised: pd.DataFrame, history: HistoryTable | None = None
) -> pd.DataFrame:
    rows = len(normalised)
    error = normalised[ERROR_COLUMN].to_numpy(dtype=object)
    valid = pd.isna(error)
    risk_score = np.full(rows, np.nan)
    parcel_risk_score = np.full(rows, np.nan)
    risk_class = np.full(rows, None, dtype=object)
    decision = np.full(rows, None, dtype=object)
    reasons = np.full(rows, None, dtype=object)
    model_version = np.full(rows, None, dtype=object)
    if valid.any():
        ids = normalised["declaration_id"].to_numpy(dtype=object)
        items = columns_of(normalised if valid.all() else normalised[valid])
        if history is not None:
            items.update(history.columns_for(ids[valid]))
        # Parcels are runs of consecutive rows; the real ids still drive random selection.
        items["declaration_id"] = parcel_runs(ids)[valid]
        # An id array is what the scorer indexes; it needs no list.
        selection_ids = cast("Sequence[Any]", ids[valid])
        result = scorer.score_columns(items, selection_ids=selection_ids, reasons_as_cells=True)
        risk_score[valid] = np.round(result["risk_score"].astype(float), SCORE_DECIMALS)
        parcel_risk_score[valid] = np.round(
            result["parcel_risk_score"].astype(float), SCORE_DECIMALS
        )
        risk_class[valid] = result["risk_class"]
        decision[valid] = result["decision"]
        reasons[valid] = result["reasons"]
        model_version[valid] = scorer.model_version
    return pd.DataFrame(
        {
            "risk_score": risk_score,
            "risk_class": risk_class,
            "parcel_risk_score": parcel_risk_score,
            "decision": decision,
            "reasons": reasons,
            "model_version": model_version,
            ERROR_COLUMN: error,
        },
        index=normalised.index,
        copy=False,  # the arrays are this function's own
    )


def _unscored(raw: pd.DataFrame, message: str) -> pd.DataFrame:
    rows = len(raw)
    if LINE_COLUMN in raw.columns:
        errors = (message + " (line " + raw[LINE_COLUMN].astype(str) + ")").to_numpy(dtype=object)
    else:
        errors = np.full(rows, message, dtype=object)
    empty = np.full(rows, None, dtype=object)
    return pd.DataFrame(
        {
            "risk_score": np.full(rows, np.nan),
            "risk_class": empty,
            "parcel_risk_score": np.full(rows, np.nan),
            "decision": empty.copy(),
            "reasons": empty.copy(),
            "model_version": empty.copy(),
            ERROR_COLUMN: errors,
        },
        index=raw.index,
    )


def parcel_runs(ids: np.ndarray) -> np.ndarray:
    """A parcel number per row: it goes up wherever the id differs from the row before."""
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.empty(len(ids), dtype=bool)
    starts[0] = True
    starts[1:] = ids[1:] != ids[:-1]
    return np.cumsum(starts)


# --- parcels across chunks -----------------------------------------------------------------


def trailing_parcel_start(ids: pd.Series) -> int:
    """The position at which the last parcel of a chunk starts; len(ids) if none to hold.

    Ids compare as the normaliser will see them; a row without an id is a parcel of its
    own, so it is never held back. Only the end of the chunk is looked at: parcels are short.
    """
    rows = len(ids)
    if rows == 0:
        return 0
    last = _id_key(ids.iloc[-1])
    if last is None:
        return rows
    window = 64
    while True:
        tail = ids.iloc[-window:]
        codes, uniques = pd.factorize(tail, use_na_sentinel=True)
        keys = np.array([*(_id_key(value) for value in uniques), None], dtype=object)[codes]
        differs = np.flatnonzero(keys != last)
        if len(differs):
            return rows - len(tail) + int(differs[-1]) + 1
        if len(tail) == rows:
            return 0
        window *= 4


def _id_key(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return normalise_text(str(value)) or None


def parcel_units(chunks: Iterator[Piece]) -> Iterator[list[Piece]]:
    """Chunks regrouped so that no parcel is split: each unit is a list of row pieces.

    The trailing parcel of a chunk is held back and goes with the next chunk; pieces are
    handed on as they are, so the reader's frames (or Arrow tables) need no copying.
    """
    carry: list[Piece] = []
    carry_rows = 0
    for chunk in chunks:
        if not len(chunk):
            continue
        if "declaration_id" not in _column_names(chunk):
            yield [*carry, chunk]  # every row is a parcel of its own
            carry, carry_rows = [], 0
            continue
        start = trailing_parcel_start(_ids(chunk))
        held = len(chunk) - start
        continues_carry = start == 0 and bool(carry) and _same_parcel(carry[-1], chunk)
        if held == 0 or held + (carry_rows if continues_carry else 0) > MAX_PARCEL_ROWS:
            yield [*carry, chunk]
            carry, carry_rows = [], 0
        elif start == 0 and (continues_carry or not carry):
            carry.append(chunk)
            carry_rows += held
        else:
            head: list[Piece] = [_rows(chunk, 0, start)] if start else []
            yield [*carry, *head]
            carry, carry_rows = [_rows(chunk, start, len(chunk))], held
    if carry:
        yield carry


def _same_parcel(before: Piece, after: Piece) -> bool:
    first = _id_key(_id_at(after, 0))
    return first is not None and first == _id_key(_id_at(before, len(before) - 1))


def _column_names(piece: pd.DataFrame | pa.Table) -> list[str]:
    return piece.column_names if isinstance(piece, pa.Table) else list(piece.columns)


def _ids(piece: pd.DataFrame | pa.Table) -> pd.Series:
    if isinstance(piece, pa.Table):
        return cast("pd.Series", piece.column("declaration_id").to_pandas())
    return piece["declaration_id"]


def _id_at(piece: pd.DataFrame | pa.Table, row: int) -> object:
    if isinstance(piece, pa.Table):
        return piece.column("declaration_id")[row].as_py()
    return piece["declaration_id"].iloc[row]


def _rows(piece: Piece, start: int, stop: int) -> Piece:
    if isinstance(piece, pa.Table):
        return piece.slice(start, stop - start)
    return piece.iloc[start:stop]


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
            history = file_history(source, table_format, options.chunk_rows, store=options.store)
            # The pass's parcel records are gone; their memory goes back before the
            # workers fork (they would each carry the parent's heap otherwise).
            return_freed_memory()
        scoring = stack.enter_context(
            _Scoring.start(scorer, workers, table_format.decimal, history)
        )
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


def output_frame(piece: pd.DataFrame, scores: pd.DataFrame, layout: OutputLayout) -> pd.DataFrame:
    """Reader rows with their score columns, under the output names."""
    values = [piece[column].to_numpy() for column in layout.input_columns]
    values += [scores[name].to_numpy() for name in OUTPUT_SCORE_COLUMNS]
    frame = pd.DataFrame(dict(enumerate(values)), index=piece.index)
    frame.columns = pd.Index(layout.names)
    return frame


def output_table(piece: pa.Table, scores: pd.DataFrame, layout: OutputLayout) -> pa.Table:
    """`output_frame` for a piece read as an Arrow table: its columns go out as they are."""
    columns = [piece.column(column) for column in layout.input_columns]
    for name in OUTPUT_SCORE_COLUMNS:
        values = scores[name].to_numpy()
        try:
            array = (
                pa.array(values)
                if values.dtype.kind == "f"
                else pa.array(values, type=pa.string(), from_pandas=True)
            )
        except (pa.ArrowException, UnicodeError):
            # Not plain text: pandas writes it as it always has.
            return pa.Table.from_pandas(
                output_frame(table_frame(piece), scores, layout), preserve_index=False
            )
        columns.append(pa.chunked_array([array]))
    return pa.Table.from_arrays(columns, names=layout.names)


@dataclass(frozen=True)
class RenderedUnit:
    """A unit of rows scored and made ready for the writer, with its counts.

    This is what comes back from a worker: CSV bytes or an Arrow table pickle as buffers,
    where score columns of Python objects would cost both sides a call per cell.
    """

    rows: int
    errors: int
    flagged: int
    csv: bytes | None = None  # CSV lines without the header, for CSV output
    table: pa.Table | None = None  # for Parquet output


def render_unit(
    scorer: Scorer,
    unit: list[pa.Table],
    decimal: Decimal,
    layout: OutputLayout,
    kind: Kind,
    history: HistoryTable | None = None,
) -> RenderedUnit:
    """Score a unit of reader tables and render its output rows."""
    rows = unit[0] if len(unit) == 1 else pa.concat_tables(unit, promote_options="default")
    scores = score_rows(scorer, table_frame(_worker_view(rows)), decimal, history)
    table = output_table(rows, scores, layout)
    return RenderedUnit(
        rows=len(scores),
        errors=int(scores[ERROR_COLUMN].notna().sum()),
        flagged=int(scores["decision"].isin(FLAGGED_DECISIONS).sum()),
        csv=table_csv_bytes(table) if kind == "csv" else None,
        table=None if kind == "csv" else table,
    )


class _Scoring:
    """Scores units of pieces, in order: in this process, or on a pool of workers."""

    def __init__(
        self,
        scorer: Scorer,
        decimal: Decimal,
        pool: ProcessPoolExecutor | None,
        workers: int,
        history: HistoryTable | None,
    ) -> None:
        self.scorer = scorer
        self.decimal = decimal
        self.pool = pool
        self.workers = workers
        self.history = history

    @classmethod
    @contextlib.contextmanager
    def start(
        cls, scorer: Scorer, workers: int, decimal: Decimal, history: HistoryTable | None
    ) -> Iterator[_Scoring]:
        if workers <= 1:
            yield cls(scorer, decimal, None, 1, history)
            return
        # Objects loaded so far (the model above all) move out of the collector's sight:
        # its passes would write to their pages and undo the sharing of forked memory.
        gc.freeze()
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_pool_context(),
            initializer=_init_worker,
            initargs=(scorer, history),
        )
        try:
            # Start the workers now, before the reader's threads exist, so that forking
            # copies a process with no threads in it.
            for started in [pool.submit(_worker_ready) for _ in range(workers)]:
                started.result()
            yield cls(scorer, decimal, pool, workers, history)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def rendered_units(
        self, units: Iterator[list[pa.Table]], layout: OutputLayout, kind: Kind
    ) -> Iterator[RenderedUnit]:
        """Every unit scored and rendered, in input order."""
        if self.pool is None:
            for unit in units:
                yield render_unit(self.scorer, unit, self.decimal, layout, kind, self.history)
            return
        pending: deque[Future[RenderedUnit]] = deque()
        # Enough queued work that no worker waits while the parent writes.
        limit = self.workers + 1
        for unit in units:
            wire = _wire_unit(unit)
            pending.append(self.pool.submit(_render_in_worker, wire, self.decimal, layout, kind))
            while len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# The cyclic collector's first-generation threshold in pool workers. Scoring makes and drops
# many small containers (reasons, rows); at Python's default (700) the collector ran often
# enough over the caches to take ~10% of a worker's time (24 -> 21.6 us a row, measured).
# Only in pool workers: in a shared process (a dask worker's threads) it is not ours to set.
_SCORING_GC_THRESHOLD: Final = 50_000


def _pool_context() -> Any:
    # Forked workers share the loaded model copy-on-write; elsewhere each worker gets a
    # pickled copy through the initializer.
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _joined(unit: Sequence[pd.DataFrame | pa.Table]) -> pd.DataFrame:
    tables = [piece for piece in unit if isinstance(piece, pa.Table)]
    if tables and len(tables) == len(unit):
        return table_frame(tables[0] if len(tables) == 1 else pa.concat_tables(tables))
    frames = [table_frame(p) if isinstance(p, pa.Table) else p for p in unit]
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames) if frames else pd.DataFrame(columns=list(_WORKER_COLUMNS))


def _split(unit: list[Piece], scores: pd.DataFrame) -> Iterator[tuple[Piece, pd.DataFrame]]:
    start = 0
    for piece in unit:
        yield piece, scores.iloc[start : start + len(piece)]
        start += len(piece)


def _worker_view(piece: Piece) -> Piece:
    if isinstance(piece, pa.Table):
        # Arrow tables pickle as their buffers: far cheaper for the parent than objects.
        return piece.select([c for c in piece.column_names if c in _WORKER_COLUMNS])
    return piece[[c for c in piece.columns if c in _WORKER_COLUMNS]]


_worker_scorer: Scorer | None = None
_worker_history: HistoryTable | None = None


def _init_worker(scorer: Scorer, history: HistoryTable | None = None) -> None:
    global _worker_scorer, _worker_history  # noqa: PLW0603 - the pool initializer's one way to hand state on
    # Ctrl-C and SIGTERM are the parent's to handle: it shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent()
    limit_native_threads()
    gc.set_threshold(_SCORING_GC_THRESHOLD, *gc.get_threshold()[1:])
    # Arrow's memory from glibc, like numpy's: scoring (numpy) and rendering (Arrow) then
    # reuse each other's freed memory. With Arrow on its own allocator, each step's freed
    # memory was of no use to the other, and handing it back to the system after each step
    # made every unit fault its working memory in afresh: ~15% of a worker's time went to
    # the kernel (1M rows: 1.5 s of 10.3 s per worker), against ~0.4 s now, at a lower peak
    # (417 MB against 424-439 MB).
    pa.set_memory_pool(pa.system_memory_pool())
    keep_freed_memory()
    _worker_scorer = scorer
    _worker_history = history


def _worker_ready() -> bool:
    return _worker_scorer is not None


def _wire_unit(unit: list[pa.Table]) -> bytes:
    """A unit's rows as one Arrow IPC stream, as a worker receives them.

    Pickled, a sliced table carries the whole buffers it was cut from: a unit pickled to
    ~1.5x its rows' bytes, and a parcel held back from the chunk before (a few rows) took
    that chunk's buffers along (~2 MB). The stream holds only the rows' own bytes (1M
    synthetic rows: 384 MB pickled, ~150 MB as streams), and the worker reads it without a
    copy.
    """
    table = unit[0] if len(unit) == 1 else pa.concat_tables(unit, promote_options="default")
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return cast("bytes", sink.getvalue().to_pybytes())


def _render_in_worker(
    wire: bytes, decimal: Decimal, layout: OutputLayout, kind: Kind
) -> RenderedUnit:
    assert _worker_scorer is not None, "worker started without a scorer"
    unit = [pa.ipc.open_stream(wire).read_all()]
    rendered = render_unit(_worker_scorer, unit, decimal, layout, kind, _worker_history)
    del unit
    # A unit leaves ~220 objects in reference cycles (pandas Series and their cached `.str`
    # and `.dt` accessors), ~2 MB. Left to the collector's own schedule they reached the
    # oldest generation and piled up for tens of units before a full collection: the
    # worker's memory rose and fell by 30-40 MB. A full collection here costs ~2 ms (the
    # model is frozen out of the collector's sight).
    gc.collect()
    return rendered


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
) -> Iterator[bytes]:
    """The scored CSV of a CSV (or Parquet) body, as UTF-8 bytes, chunk by chunk.

    Scored in this process, as `score` would write it. Unusable input raises
    `UnusableInputError` (a `TableError`) from the first `next()`, before any bytes.
    """
    try:
        table_format = detect_format(bytes(body))
        layout = OutputLayout.of(table_format)
        history = (
            file_history(bytes(body), table_format, chunk_rows, store=store)
            if scorer.reads_history
            else None
        )
        chunks = iter_table_chunks(bytes(body), chunk_rows=chunk_rows, table_format=table_format)
    except TableError as exc:
        raise UnusableInputError(str(exc)) from None
    yield csv_bytes(pd.DataFrame([layout.names]), header=False)
    for unit in parcel_units(chunks):
        scores = score_rows(scorer, _joined(unit), table_format.decimal, history)
        for piece, piece_scores in _split(unit, scores):
            yield csv_bytes(output_frame(piece, piece_scores, layout), header=False)


def csv_bytes(frame: pd.DataFrame, *, header: bool) -> bytes:
    """A frame as CSV the way the batch writer writes it (formula-guarded, UTF-8)."""
    names = [str(c) for c in frame.columns] if header else None
    return table_csv_bytes(frame, header=names)
