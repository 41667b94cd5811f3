"""A cap on heavy work in flight: batch and CSV scoring.

A batch or CSV request holds memory in proportion to its body for as long as its work runs
(a 9.8 MB batch took ~1.5 GB; six at once, 5 GB). Each such request takes a slot first, and
one that finds none free is answered 503 at once, before its body is read.

A slot is held until the work is done, not until the request is: a request past its
deadline is answered while its worker thread may still be computing, and the slot must not
free up for more work while that thread holds its memory. Work not yet started when its
request gives up is never started, and work done in steps stops at the next step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio

T = TypeVar("T")


class WorkAbandonedError(Exception):
    """The request gave up on its work; raised where the work would have gone on."""


class Work:
    """One request's slot, released once: when the request is done with it and no thread
    runs for it any more."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release
        self._lock = threading.Lock()
        self._running = 0
        self._closed = False
        self._released = False

    @property
    def abandoned(self) -> bool:
        """Whether the request is done with its work; steps of it still running should stop."""
        return self._closed

    def check(self) -> None:
        """Raise `WorkAbandonedError` if the request gave up: for work done in steps."""
        if self._closed:
            raise WorkAbandonedError

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` in a worker thread; the request may stop waiting for it (a
        deadline), and the slot stays taken until the thread ends."""

        def call() -> T:
            with self._lock:
                if self._closed:
                    raise WorkAbandonedError  # the request is gone: do not start
                self._running += 1
            try:
                return function(*args)
            finally:
                with self._lock:
                    self._running -= 1
                    self._release_if_done()

        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)

    def close(self) -> None:
        """The request is done with the work (answered, failed or cancelled)."""
        with self._lock:
            self._closed = True
            self._release_if_done()

    def _release_if_done(self) -> None:
        if self._closed and not self._running and not self._released:
            self._released = True
            self._release()


class WorkSlots:
    """At most `limit` full-size heavy requests' work at once, counted in body bytes.

    Memory follows the body, so a request takes its share of a byte budget (`limit` times
    the largest body): a maximal batch takes a whole share, a batch of a hundred
    declarations a sixteenth (the least a request takes), so small batches are not turned
    away while large ones are bounded.
    """

    # The least share of a full-size request that one request takes.
    SMALLEST_SHARE = 16

    def __init__(self, limit: int, full_size: int = 1) -> None:
        self.limit = limit
        self.full_size = full_size
        self._budget = limit * full_size
        self._lock = threading.Lock()
        self._in_use = 0
        self._bytes = 0

    @property
    def in_use(self) -> int:
        """Requests holding a share now."""
        return self._in_use

    def claim(self, size: int | None = None) -> Work | None:
        """Work taking the share of a request of `size` body bytes (None: a full-size one),
        or None if the budget cannot take it now (never waits)."""
        full = self.full_size
        cost = full if size is None else min(max(size, full // self.SMALLEST_SHARE, 1), full)
        with self._lock:
            if self._bytes + cost > self._budget:
                return None
            self._bytes += cost
            self._in_use += 1
        return Work(lambda: self._free(cost))

    def _free(self, cost: int) -> None:
        with self._lock:
            self._in_use -= 1
            self._bytes -= cost
