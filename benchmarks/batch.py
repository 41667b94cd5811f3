"""Batch throughput: `parcel-screen score` CSV -> CSV at 1M and 5M rows.

Next to it, in the same run and on the same file: the bare pandas read + write (the I/O
floor) and the embedding baseline's rows/s on a sample. Each scoring run is bounded in time:
a run stopped at its cap is reported with the rows it had written (counted in the partial
output) and its rows/s so far, and memory up to that point.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from benchmarks import common, embedding

SEED = 4242  # not the training seed: scored traffic is not the training data
SAMPLE_ROWS = 5_000
WARM_ROWS = 1_000  # scored by both systems before the timed sample


def _partial_rows(path: Path) -> int:
    """Rows written so far into the output's partial file (the writer renames it at the end)."""
    partials = sorted(path.parent.glob(f".{path.name}.*.partial"))
    return sum(max(0, common.count_lines(p) - 1) for p in partials)


def _memory(measured: common.Measured) -> dict[str, Any]:
    samples = measured.rss_samples_mb
    # The tree's PSS at quarters of the run: flat means memory does not grow with the file.
    quarters = (
        [
            samples[min(len(samples) - 1, round(q * (len(samples) - 1)))][1]
            for q in (0.25, 0.5, 0.75, 1.0)
        ]
        if samples
        else []
    )
    return {
        "peak_pss_mb_process_tree": round(measured.peak_tree_rss_mb, 1),
        "peak_rss_mb_largest_process": round(measured.peak_process_rss_mb, 1),
        "pss_mb_at_quarters": quarters,
    }


def score_file(source: Path, rows: int, cap: float, *, history: bool = True) -> dict[str, Any]:
    dest = common.DATA / f"scored_{source.stem}.csv"
    dest.unlink(missing_ok=True)
    command = [*common.cli(), "score", str(source), "-o", str(dest)]
    command += ["--models-dir", str(common.MODELS)]
    if not history:
        command.append("--no-history")
    counted: list[int] = []
    measured = common.run_measured(
        command, timeout=cap, before_stop=lambda: counted.append(_partial_rows(dest))
    )
    if measured.timed_out:
        done = counted[0] if counted else 0
        for partial in dest.parent.glob(f".{dest.name}.*.partial"):
            partial.unlink(missing_ok=True)
    else:
        done = common.count_lines(dest) - 1 if dest.exists() else 0
    dest.unlink(missing_ok=True)
    out: dict[str, Any] = {
        "rows": rows,
        "rows_done": done,
        "seconds": round(measured.seconds, 1),
        "rows_per_s": round(done / measured.seconds) if measured.seconds else None,
        "finished": not measured.timed_out and measured.returncode == 0,
        **_memory(measured),
        **({"note": f"stopped at the {cap:.0f} s cap"} if measured.timed_out else {}),
    }
    if measured.timed_out:
        out["note"] = f"stopped at the {cap:.0f} s cap"
    elif measured.returncode != 0:
        out["error"] = measured.stderr.strip().splitlines()[-1:] or ["failed"]
    match = re.search(r"([\d,]+) rows/s", measured.stderr)
    if match:
        out["rows_per_s_reported_by_command"] = int(match.group(1).replace(",", ""))
    return out


def floor_file(source: Path, rows: int, cap: float) -> dict[str, Any]:
    dest = common.DATA / f"floor_{source.stem}.csv"
    command = [common.PY, "-m", "benchmarks.pandas_floor", str(source), str(dest)]
    # Counted at the cap, before the writer is stopped mid-line.
    counted: list[int] = []
    measured = common.run_measured(
        command, timeout=cap, before_stop=lambda: counted.append(common.count_lines(dest) - 1)
    )
    if measured.timed_out:
        done = counted[0] if counted else 0
    else:
        done = common.count_lines(dest) - 1 if dest.exists() else 0
    dest.unlink(missing_ok=True)
    return {
        "rows": rows,
        "rows_done": done,
        "seconds": round(measured.seconds, 1),
        "rows_per_s": round(done / measured.seconds) if measured.seconds else None,
        "finished": not measured.timed_out and measured.returncode == 0,
        **_memory(measured),
        **({"note": f"stopped at the {cap:.0f} s cap"} if measured.timed_out else {}),
    }


def sample_rates(source: Path, baseline: Any | None, rows: int) -> dict[str, Any]:
    """In-process rows/s of the model and the embedding baseline on the same sample rows.

    Both are first warmed on the WARM_ROWS rows before the sample (one-time set-up, and
    their description caches fill as they would in service), then timed on the sample.
    """
    from service.scorer import Scorer
    from training.labelled import read_labelled
    from training.registry import Registry

    frame = read_labelled(common.head_csv(source, WARM_ROWS + rows))
    warm, sample = frame.iloc[:WARM_ROWS], frame.iloc[WARM_ROWS:]
    scorer = Scorer.from_registry(Registry(common.MODELS))
    scorer.score_frame(warm)
    began = time.perf_counter()
    scorer.score_frame(sample)
    ours = time.perf_counter() - began
    out: dict[str, Any] = {
        "rows": len(sample),
        "warm_up_rows": len(warm),
        "distinct_descriptions": int(sample["description"].nunique()),
        "distinct_descriptions_not_in_warm_up": int(
            (~sample["description"].drop_duplicates().isin(warm["description"])).sum()
        ),
        "parcel_screen_in_process_rows_per_s": round(len(sample) / ours),
    }
    reason = embedding.unavailable()
    if reason is not None:
        out["embedding"] = {"skipped": reason}
        return out
    if baseline is None:
        # Only the speed is measured here: a small fit scores exactly as fast as a big one.
        from training.pipeline import synthetic_frame

        baseline = embedding.train_baseline(synthetic_frame(5_000, common.DEFAULT_SEED))
    baseline.score(warm)
    began = time.perf_counter()
    baseline.score(sample)
    seconds = time.perf_counter() - began
    out["embedding_rows_per_s"] = round(len(sample) / seconds, 1)
    return out


def run(quick: bool, budget: common.Budget, baseline: Any | None = None) -> dict[str, Any]:
    common.ensure_default_model()
    big, small = (100_000, 20_000) if quick else (5_000_000, 1_000_000)
    began = time.perf_counter()
    big_path = common.synthetic_csv(big, SEED)
    small_path = common.head_csv(big_path, small)
    results: dict[str, Any] = {
        "input": {
            "generator": f"parcel-screen synth --seed {SEED}",
            "bytes": {str(small): small_path.stat().st_size, str(big): big_path.stat().st_size},
            "prepare_seconds": round(time.perf_counter() - began, 1),
        },
        "sizes": {},
    }
    # Caps: at the 100k rows/s target 1M rows take 10 s and 5M 50 s; slower runs are
    # stopped and reported with their rows/s so far. 15 s stay for the sample below.
    # At 1M rows the file is also scored without the parties' history (its first pass over
    # the file, and the lookups): the same run shows what history costs.
    for rows, path in ((small, small_path), (big, big_path)):
        floor = floor_file(path, rows, cap=budget.cap(20 if quick else 60, reserve=15))
        ours = score_file(path, rows, cap=budget.cap(30 if quick else 75, reserve=15))
        results["sizes"][str(rows)] = {"pandas_floor": floor, "parcel_screen": ours}
        line = (
            f"  {rows:>9,} rows: score {ours['rows_per_s']:,} rows/s "
            f"({'done' if ours['finished'] else ours.get('note', 'failed')}), "
            f"floor {floor['rows_per_s']:,} rows/s"
        )
        if rows == small:
            alone = score_file(
                path, rows, cap=budget.cap(30 if quick else 75, reserve=15), history=False
            )
            results["sizes"][str(rows)]["parcel_screen_without_history"] = alone
            line += f", without history {alone['rows_per_s']:,} rows/s"
        print(line)
    results["sample"] = sample_rates(small_path, baseline, 1_000 if quick else SAMPLE_ROWS)
    return results
