"""Scoring units of rows in order: in this process, or on a pool of worker processes.

Workers are forked once the model is loaded, so they share it copy-on-write; each unit goes
to a worker as one Arrow IPC stream and comes back rendered for the writer.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Final, cast

import pandas as pd
import pyarrow as pa
import pyarrow.ipc

from service.batch_output import OutputLayout, RenderedUnit, render_unit, worker_view
from service.batch_scoring import first_pass_rows
from service.process_tuning import die_with_parent, keep_freed_memory, limit_native_threads
from service.scorer import Scorer
from training.history import HistoryTable
from training.tables import Decimal, Kind, table_frame


class Scoring:
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
    ) -> Iterator[Scoring]:
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

    def first_pass_scores(self, tables: Iterator[pa.Table]) -> Iterator[pd.Series]:
        """The first-pass scores of tables of whole parcels (`first_pass_rows`), in order."""
        if self.pool is None:
            for table in tables:
                yield first_pass_rows(
                    self.scorer, table_frame(worker_view(table)), self.decimal, self.history
                )
            return
        pending: deque[Future[pd.Series]] = deque()
        for table in tables:
            pending.append(
                self.pool.submit(_first_pass_in_worker, _wire_unit([table]), self.decimal)
            )
            while len(pending) >= self.workers + 1:
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


def _first_pass_in_worker(wire: bytes, decimal: Decimal) -> pd.Series:
    assert _worker_scorer is not None, "worker started without a scorer"
    table = pa.ipc.open_stream(wire).read_all()
    return first_pass_rows(
        _worker_scorer, table_frame(worker_view(table)), decimal, _worker_history
    )


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
