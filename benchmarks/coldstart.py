"""Cold start: seconds from starting `parcel-screen serve` to the first 200 from /readyz.

Measured a few times (the first run also pays for a cold file cache); the median is the
headline. Each server is stopped before the next starts.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks import common
from benchmarks.http import _start, _stop


def run(quick: bool, budget: common.Budget) -> dict[str, Any]:
    common.ensure_default_model()
    scratch = common.DATA / "http"
    scratch.mkdir(parents=True, exist_ok=True)
    times: list[float] = []
    for _ in range(2 if quick else 3):
        port = common.free_port()
        began = time.perf_counter()
        server = _start("parcel-screen", 1, port, scratch)
        try:
            seconds = common.ready_after(port, began, server)
        finally:
            _stop(server)
        if seconds is None:
            return {"error": "the server did not become ready", "runs_seconds": times}
        times.append(round(seconds, 2))
    for path in scratch.glob("audit_*"):
        path.unlink(missing_ok=True)
    result = {"median_seconds": round(statistics.median(times), 2), "runs_seconds": times}
    print(f"  ready after {result['median_seconds']} s (runs {times})")
    return result
