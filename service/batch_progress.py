"""Progress of a batch run on a terminal: an estimate of the rows, then a bar."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from training.tables import TableFormat


def estimated_rows(source: Path | bytes, table_format: TableFormat) -> int | None:
    """Rows in the table: exact for Parquet, from the file size and a sample for CSV."""
    if not isinstance(source, Path):
        return None
    try:
        if table_format.kind == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(source).metadata.num_rows)
        size = source.stat().st_size
        with source.open("rb") as handle:
            sample = handle.read(1 << 20)
    except OSError:
        return None
    lines = sample.count(b"\n")
    if len(sample) >= size:
        return max(lines - 1, 0)
    return int(size * lines / len(sample)) if lines else None


class Progress:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, bar: Any, task: Any) -> None:
        self.bar = bar
        self.task = task

    @classmethod
    @contextlib.contextmanager
    def start(cls, enabled: bool, total: int | None) -> Iterator[Progress]:
        if not enabled:
            yield cls(None, None)
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(
            TextColumn("scoring"),
            BarColumn(),
            TextColumn("{task.completed:,.0f} rows"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        with bar:
            yield cls(bar, bar.add_task("scoring", total=total, rate=""))

    def advance(self, rows: int) -> None:
        if self.bar is None:
            return
        task = self.bar.tasks[0]
        completed = task.completed + rows
        total = task.total
        if total is not None and completed > total:
            total = completed * 1.01  # the estimate was low; keep the bar short of done
        # The average over the run so far: steadier than rich's recent-window speed, which
        # jumps about when chunks land in bursts.
        elapsed = task.elapsed or 0.0
        self.bar.update(
            self.task,
            completed=completed,
            total=total,
            rate=f"{completed / elapsed:,.0f} rows/s" if elapsed > 0.5 else "",
        )
