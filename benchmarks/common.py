"""What every benchmark shares: paths, the time budget, child processes measured from outside.

Memory is measured on the child's whole process tree (batch scoring forks workers), by
polling: the peak of the tree's summed PSS (proportional set size: pages that forked workers
share with their parent are counted once, split between them) and the peak RSS of its
largest single process (what `/usr/bin/time -v` would report).
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATA = RESULTS / "data"
MODELS = ROOT / "models"
DEV_DATA = (ROOT.parent / "shared" / "data" / "dev_declarations.csv").resolve()
# Labelled declarations written by people (corpora/README.md), measured side by side.
CORPORA = ROOT / "corpora"
PY = sys.executable
# The default model: `make model` builds it with these (see the Makefile and the CLI).
DEFAULT_ROWS = 160_000
DEFAULT_SEED = 20261128
MB = 1024 * 1024


def cli() -> list[str]:
    """The `parcel-screen` command of this interpreter's environment."""
    script = Path(PY).with_name("parcel-screen")
    return [str(script)] if script.exists() else [PY, "-m", "service.cli"]


class Budget:
    """The run's deadline: each step gets at most what is left of it."""

    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.seconds = seconds
        # What the benchmarks still to run need at least; the runner sets it before each one.
        self.later = 0.0

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def cap(self, wanted: float, reserve: float = 0.0) -> float:
        """`wanted` seconds, or less when the budget (minus what later steps need) is short."""
        return max(5.0, min(wanted, self.left() - self.later - reserve))


@dataclass
class Measured:
    """A finished (or stopped) child process: wall time, memory peaks, output."""

    seconds: float
    returncode: int | None
    peak_tree_rss_mb: float
    peak_process_rss_mb: float
    timed_out: bool
    stdout: str = ""
    stderr: str = ""
    rss_samples_mb: list[tuple[float, float]] = field(default_factory=list)


def _tree_memory(process: psutil.Process) -> tuple[float, float]:
    """(summed PSS of the tree, largest single RSS) in MB; RSS stands in where PSS is unknown."""
    total = largest = 0.0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0
    for member in members:
        try:
            info = member.memory_full_info()
        except psutil.AccessDenied:
            try:
                info = member.memory_info()
            except psutil.Error:
                continue
        except psutil.Error:
            continue
        total += float(getattr(info, "pss", info.rss))
        largest = max(largest, float(info.rss))
    return total / MB, largest / MB


def _stop_tree(child: subprocess.Popen[str], watched: psutil.Process) -> None:
    """SIGTERM the child, then SIGKILL it and whatever it started that is still running.

    A killed parent's process-pool workers live on, so they are stopped here as well.
    """
    try:
        descendants = watched.children(recursive=True)
    except psutil.Error:
        descendants = []
    child.terminate()
    try:
        child.wait(30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    for process in descendants:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(descendants, timeout=5)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()


def run_measured(
    command: Sequence[str],
    timeout: float,
    env: dict[str, str] | None = None,
    interval: float = 0.1,
    cwd: Path = ROOT,
    before_stop: Callable[[], None] | None = None,
) -> Measured:
    """Run a command to its end or to `timeout` (then SIGTERM, SIGKILL), sampling memory.

    `before_stop` runs at the timeout while the child still runs (to count its partial
    output, which it may delete when stopped).
    """
    began = time.perf_counter()
    child = subprocess.Popen(
        list(command),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    outputs: dict[str, str] = {}

    def drain(name: str, stream: Any) -> None:
        outputs[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=("stdout", child.stdout), daemon=True),
        threading.Thread(target=drain, args=("stderr", child.stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    watched = psutil.Process(child.pid)
    peak_tree = peak_one = 0.0
    samples: list[tuple[float, float]] = []
    timed_out = False
    while child.poll() is None:
        elapsed = time.perf_counter() - began
        if elapsed > timeout:
            timed_out = True
            if before_stop is not None:
                before_stop()
            _stop_tree(child, watched)
            break
        tree, one = _tree_memory(watched)
        peak_tree, peak_one = max(peak_tree, tree), max(peak_one, one)
        samples.append((round(elapsed, 2), round(tree, 1)))
        time.sleep(interval)
    seconds = time.perf_counter() - began
    for reader in readers:
        reader.join(5)
    return Measured(
        seconds=seconds,
        returncode=child.returncode,
        peak_tree_rss_mb=peak_tree,
        peak_process_rss_mb=peak_one,
        timed_out=timed_out,
        stdout=outputs.get("stdout", ""),
        stderr=outputs.get("stderr", ""),
        rss_samples_mb=samples,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_default_model() -> str:
    """The active model's version, building the default model first when there is none."""
    from training.registry import Registry

    registry = Registry(MODELS)
    if registry.active_version() is None:
        print("  no active model: building the default one (parcel-screen models ensure-default)")
        command = [*cli(), "models", "ensure-default", "--models-dir", str(MODELS)]
        if DEV_DATA.is_file():
            command += ["--dev-data", str(DEV_DATA)]
        command += ["--corpora", str(CORPORA)]
        subprocess.run(command, cwd=ROOT, check=True)
    version = registry.active_version()
    if version is None:
        raise RuntimeError("no active model after ensure-default")
    return version


def synthetic_csv(rows: int, seed: int) -> Path:
    """A generated labelled CSV, kept between runs (same rows and seed, same file)."""
    path = DATA / f"synth_{rows}_{seed}.csv"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [*cli(), "synth", "--rows", str(rows), "--seed", str(seed), "-o", str(path)],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return path


def head_csv(source: Path, rows: int) -> Path:
    """The header and first `rows` data lines of a generated CSV (one line per row)."""
    path = source.with_name(f"{source.stem}_head{rows}.csv")
    if not path.exists():
        partial = path.with_suffix(".partial")
        with source.open("rb") as reader, partial.open("wb") as writer:
            for _ in range(rows + 1):
                line = reader.readline()
                if not line:
                    break
                writer.write(line)
        partial.replace(path)
    return path


def count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            lines += block.count(b"\n")
    return lines


def _version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.rstrip()


def code_facts() -> dict[str, Any]:
    """The commit measured, and the files that differed from it (a dirty tree says so)."""
    return {
        "commit": _git("rev-parse", "--short", "HEAD") or None,
        "uncommitted_changes": [
            line[3:] for line in _git("status", "--porcelain").splitlines() if line
        ],
    }


def machine_facts() -> dict[str, Any]:
    cpu_model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in (
                "numpy",
                "scikit-learn",
                "scipy",
                "pandas",
                "fastapi",
                "pydantic",
                "uvicorn",
                "uvloop",
                "httptools",
                "torch",
                "sentence-transformers",
                "parcel-screen",
            )
        },
        "wrk": shutil.which("wrk"),
    }


def ready_after(port: int, began: float, process: Any, timeout: float = 60) -> float | None:
    """Seconds from `began` until `/readyz` answers 200; None if the server exits or times out."""
    while time.perf_counter() - began < timeout:
        if process.poll() is not None:
            return None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return time.perf_counter() - began
        except OSError:
            pass
        time.sleep(0.01)
    return None
