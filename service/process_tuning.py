"""How a scoring process uses memory and threads: tuning that lives apart from scoring.

Batch workers fix glibc's malloc thresholds, die with their parent, and keep native math
libraries to one thread each; the process that writes hands freed memory back every few
units. Each of these was measured (`docs/decisions.md`, "Batch memory" and "Batch workers");
none changes a score.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
from typing import Any, Final

import pyarrow as pa


def _glibc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC: Final = _glibc()

# glibc's malloc options (`mallopt`): the size from which a block gets a mapping of its own
# (unmapped, so faulted in afresh, when freed), and the free memory kept at the top of the
# heap before it goes back to the system.
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
_OWN_MAPPING_BYTES: Final = 32 << 20
_KEEP_FREED_BYTES: Final = 128 << 20


def keep_freed_memory() -> None:
    """Fixed malloc thresholds for a pool worker, where glibc's adapt as it goes.

    A unit's arrays (a few MB each) are then reused from the heap instead of mapped and
    unmapped: a worker's page faults per 1M rows fell from ~85-125k to ~66k, and its kernel
    time from ~0.5 to ~0.3 s, at the same peak (5M rows: 434-435 MB).
    """
    if _LIBC is not None and hasattr(_LIBC, "mallopt"):
        _LIBC.mallopt(_M_MMAP_THRESHOLD, _OWN_MAPPING_BYTES)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, _KEEP_FREED_BYTES)


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this worker when its parent dies.

    A parent killed outright (SIGKILL, OOM) cannot shut its pool down; without this its
    workers live on, idle, holding a model each (seen: ~300 MB per orphan).
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def limit_native_threads() -> None:
    """One BLAS/OpenMP thread per worker: the pool already uses every core."""
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        threadpool_limits(limits=1)


def return_freed_memory() -> None:
    """Hand freed memory back to the system: in the process that writes, every few units.

    Arrow's allocator and glibc's keep freed memory for reuse, each for its own. The
    writing process reads with Arrow and takes rendered units as Python bytes (glibc):
    without handing memory back, its peak crept up (`service.batch`). Pool
    workers do not call this: they put Arrow on glibc instead (`service.batch_pool`).
    """
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
