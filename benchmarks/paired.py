"""Paired wrk runs of `POST /v1/score`: checkouts side by side with the bare floor, in one go.

The machine's speed drifts by tens of percent within minutes (other work shares its two
cores), so two versions are only compared in the same run: each round starts every server
in turn (a fresh process with a fresh store, one worker) and puts the same load on it, and
the rounds repeat, A B floor A B floor. Each server is loaded with, in order: a warm-up,
repeating descriptions (generated traffic, whose parties repeat from small pools) at 16
connections and at 1, then unique descriptions (every description, id and weight made
unique) at 16 and at 1. The floor is `benchmarks.floor_app` under the same options.

Besides requests/s and latency, each step reports the server's CPU time per request (all
its threads and worker processes), which other work on the machine disturbs far less than
throughput. The summary gives each figure's median over the rounds and, per round, each
server's ratio to the first one named, whose median is the paired comparison.

    python -m benchmarks.paired --server before=../old-checkout --server after=. \
        [--rounds 2] [--seconds 8] [--workers 1] [--out results.json]

A checkout is served by this interpreter with its own directory first on the import path
(its `models/` by default), so two checkouts need only one environment. Needs wrk.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from benchmarks import common
from benchmarks.http import SEED, _stop, declarations, uniquified

FLOOR = "floor"
# One client thread: it drives 16 connections easily and leaves the server the other core.
_THREADS = 1
# (name, body file, connections): the steps of a round, in order.
STEPS = (
    ("repeat c16", "repeat", 16),
    ("repeat c1", "repeat", 1),
    ("unique c16", "unique", 16),
    ("unique c1", "unique", 1),
)

# Each wrk thread walks the body file from its own start (its number), a thread-count stride
# a request (the script's arguments: the file and the thread count; a thread's Lua state
# sees only what `setup` hands it); `done` prints one JSON line with the totals and latency
# percentiles (microseconds).
_SCRIPT = """
local bodies = {}
local at = 0
local step = 1
local counter = 0

function setup(thread)
  thread:set("first", counter)
  counter = counter + 1
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  at = first
  step = tonumber(args[2])
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[(at % #bodies) + 1]
  at = at + step
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "micros": %d, "errors": %d, "non2xx": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _bodies(path: Path, pool: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"\n".join(json.dumps(d, ensure_ascii=False).encode() for d in pool) + b"\n")
    return path


def _start(name: str, checkout: Path | None, port: int, workers: int, scratch: Path) -> Any:
    env = {**os.environ, "PARCEL_SCREEN_LOG_LEVEL": "WARNING"}
    if checkout is None:
        command = [sys.executable, "-m", "uvicorn", "benchmarks.floor_app:app"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
        command += ["--log-level", "warning"]
        cwd = common.ROOT
    else:
        store = scratch / f"store_{name}_{port}.sqlite3"
        env["PARCEL_SCREEN_DATABASE_URL"] = f"sqlite:///{store}"
        env["PYTHONPATH"] = str(checkout)
        command = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", str(workers)]
        command += ["--models-dir", str(checkout / "models")]
        cwd = checkout
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _cpu_seconds(process: Any) -> float:
    """CPU time of a server and its worker processes so far."""
    try:
        root = psutil.Process(process.pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for member in tree:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _step(
    process: Any, port: int, script: Path, bodies: Path, connections: int, seconds: float
) -> dict[str, Any]:
    before = _cpu_seconds(process)
    result = _wrk(port, script, bodies, connections, seconds)
    used = _cpu_seconds(process) - before
    if result.get("requests"):
        result["server_cpu_ms"] = round(1000 * used / result["requests"], 3)
    return result


def _wrk(port: int, script: Path, bodies: Path, connections: int, seconds: float) -> dict[str, Any]:
    command = ["wrk", f"-t{_THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    command += ["-s", str(script), f"http://127.0.0.1:{port}/v1/score", "--", str(bodies)]
    command += [str(_THREADS)]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=seconds + 60
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("{")), None)
    if line is None:
        return {"error": done.stderr.strip() or done.stdout.strip()[-200:]}
    raw = json.loads(line)
    return {
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / (raw["micros"] / 1e6), 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": raw["errors"] + raw["non2xx"],
    }


def _round(
    servers: dict[str, Path | None],
    files: dict[str, Path],
    script: Path,
    seconds: float,
    workers: int,
    scratch: Path,
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, checkout in servers.items():
        port = common.free_port()
        process = _start(name, checkout, port, workers, scratch)
        try:
            if common.ready_after(port, time.perf_counter(), process, 90) is None:
                out[name] = {"error": "not ready"}
                continue
            _wrk(port, script, files["warmup"], 16, min(3.0, seconds))
            out[name] = {
                step: _step(process, port, script, files[kind], connections, seconds)
                for step, kind, connections in STEPS
            }
        finally:
            _stop(process)
        line = ", ".join(
            f"{step} {r.get('requests_per_s', 0):,.0f}/s"
            f" p50 {r.get('p50_ms')} p99 {r.get('p99_ms')} ms cpu {r.get('server_cpu_ms')} ms"
            for step, r in out[name].items()
        )
        print(f"  {name}: {line}", flush=True)
    return out


_FIGURES = ("requests_per_s", "p50_ms", "p99_ms", "server_cpu_ms")


def summary(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Per server and step: each figure's median over the rounds, and the median over the
    rounds of its ratio to the first server's figure in the same round."""
    names = list(rounds[0]) if rounds else []
    out: dict[str, Any] = {}
    for name in names:
        steps: dict[str, Any] = {}
        for step, _, _ in STEPS:
            runs = [r.get(name, {}).get(step, {}) for r in rounds]
            base = [r.get(names[0], {}).get(step, {}) for r in rounds]
            entry: dict[str, Any] = {"errors": sum(run.get("errors", 0) for run in runs)}
            for figure in _FIGURES:
                values = [run[figure] for run in runs if figure in run]
                if values:
                    entry[figure] = round(float(np.median(values)), 3)
                ratios = [
                    run[figure] / first[figure]
                    for run, first in zip(runs, base, strict=True)
                    if run.get(figure) and first.get(figure)
                ]
                if ratios and name != names[0]:
                    entry[f"{figure}_ratio"] = round(float(np.median(ratios)), 3)
            steps[step] = entry
        out[name] = steps
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--server", action="append", default=[], metavar="NAME=CHECKOUT")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed")
    servers: dict[str, Path | None] = {}
    for spec in args.server or [f"this={common.ROOT}"]:
        name, _, checkout = spec.partition("=")
        servers[name] = Path(checkout or name).resolve()
    if not args.no_floor:
        servers[FLOOR] = None
    pool = declarations(40_000, SEED)
    results: dict[str, Any] = {
        "machine": common.machine_facts(),
        "steps": [step for step, _, _ in STEPS],
        "seconds": args.seconds,
        "workers": args.workers,
        "rounds": [],
    }
    with tempfile.TemporaryDirectory(prefix="paired-") as folder:
        scratch = Path(folder)
        files = {
            "repeat": _bodies(scratch / "repeat.jsonl", pool),
            "unique": _bodies(scratch / "unique.jsonl", uniquified(pool, SEED)),
            "warmup": _bodies(scratch / "warmup.jsonl", declarations(2_000, SEED + 1)),
        }
        script = scratch / "bodies.lua"
        script.write_text(_SCRIPT)
        for number in range(args.rounds):
            print(f"round {number + 1} (load average {os.getloadavg()[0]:.2f})", flush=True)
            results["rounds"].append(
                _round(servers, files, script, args.seconds, args.workers, scratch)
            )
    results["summary"] = summary(results["rounds"])
    print(json.dumps(results["summary"], indent=1))
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
