"""Training: wall time and peak memory of `fit_and_evaluate` on 100k and 1M synthetic rows.

Each run is a fresh process (`benchmarks.training_child`), so memory is the run's own; the
generator's time is reported apart from the fit's. Bounded: a run over its cap is stopped
and reported as such.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks import common


def run(quick: bool, budget: common.Budget) -> dict[str, Any]:
    sizes = (20_000, 50_000) if quick else (100_000, 1_000_000)
    results: dict[str, Any] = {}
    for rows in sizes:
        # Stopped at 5 minutes (the target is 3) or when later benchmarks need the time.
        cap = budget.cap(300 if rows >= 1_000_000 else 120)
        command = [
            common.PY,
            "-m",
            "benchmarks.training_child",
            str(rows),
            str(common.DEFAULT_SEED),
        ]
        measured = common.run_measured(command, timeout=cap, interval=0.25)
        entry: dict[str, Any] = {
            "wall_seconds": round(measured.seconds, 1),
            "peak_pss_mb_process_tree": round(measured.peak_tree_rss_mb, 1),
            "peak_rss_mb_largest_process": round(measured.peak_process_rss_mb, 1),
            "finished": not measured.timed_out and measured.returncode == 0,
        }
        if measured.timed_out:
            entry["note"] = f"stopped at the {cap:.0f} s cap"
        elif measured.returncode != 0:
            entry["error"] = measured.stderr.strip().splitlines()[-1:] or ["failed"]
        else:
            entry.update(json.loads(measured.stdout.strip().splitlines()[-1]))
        results[str(rows)] = entry
        print(
            f"  {rows:>9,} rows: {entry['wall_seconds']} s wall "
            f"(fit {entry.get('fit_and_evaluate_seconds', '-')} s), "
            f"peak {entry['peak_pss_mb_process_tree']:.0f} MB"
        )
    return results
