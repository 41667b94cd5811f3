"""HTTP: `parcel-screen serve` on 127.0.0.1 with 1 and 2 workers, next to the framework floor.

Loads (closed loop, `benchmarks.load`, each step a fixed number of requests or seconds):
single declarations at concurrency 1, 16 and 64, (a) drawn from generated traffic, where
descriptions repeat as they do in real traffic, and (b) with every description, id and weight
unique, so no cache can help; and 100-declaration batches. The same steps run against
`benchmarks.floor_app` (FastAPI + uvicorn/uvloop/httptools, the same pydantic parsing, a
constant answer) with the same worker counts: our requests/s is reported as a share of it.

The service runs as deployed by default (audit trail on, to a scratch database).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import common
from training.schema import ITEM_FIELDS, PARCEL_FIELDS

SEED = 777
CONCURRENCY = (1, 16, 64)
BATCH_SIZE = 100


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


_PARCEL_FIELDS = tuple(f for f in PARCEL_FIELDS if f != "declaration_id")
_ITEM_FIELDS = tuple(f for f in ITEM_FIELDS if f != "currency")


def declarations(rows: int, seed: int) -> list[dict[str, Any]]:
    """Generated traffic as JSON declarations (contract §1), parcel by parcel."""
    from training.pipeline import synthetic_frame

    frame = synthetic_frame(rows, seed)
    frame = frame[frame["error"].isna()] if "error" in frame else frame
    out: list[dict[str, Any]] = []
    for declaration_id, parcel in frame.groupby("declaration_id", sort=False):
        first = parcel.iloc[0]
        declaration: dict[str, Any] = {"declaration_id": str(declaration_id)}
        for name in _PARCEL_FIELDS:
            if (value := _clean(first.get(name))) is not None:
                declaration[name] = value
        items = []
        for _, row in parcel.iterrows():
            item = {n: v for n in _ITEM_FIELDS if (v := _clean(row.get(n))) is not None}
            if (currency := _clean(row.get("currency"))) is not None:
                item["currency"] = currency
            items.append(item)
        declaration["items"] = items
        out.append(declaration)
    return out


def uniquified(pool: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Every description, id and weight made unique: an article code, a new id, jitter."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"))
    out = []
    for number, declaration in enumerate(pool):
        copy = json.loads(json.dumps(declaration))
        copy["declaration_id"] = f"UQ{number:09d}CN"
        for item in copy["items"]:
            code = "".join(rng.choice(letters, 6))
            item["description"] = f"{item['description']} art. {code}"[:512]
            if "net_weight_kg" in item:
                item["net_weight_kg"] = round(item["net_weight_kg"] * rng.uniform(0.9, 1.1), 3)
        if "gross_weight_kg" in copy:
            copy["gross_weight_kg"] = round(copy["gross_weight_kg"] * rng.uniform(1.0, 1.1), 3)
        out.append(copy)
    return out


def _write_bodies(path: Path, bodies: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(bodies) + b"\n")
    return path


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    seconds = common.ready_after(port, time.perf_counter(), process, timeout)
    if seconds is None:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before it was ready")
        raise RuntimeError(f"server on port {port} not ready after {timeout:.0f} s")
    return seconds


def _start(kind: str, workers: int, port: int, scratch: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ}
    if kind == "parcel-screen":
        env["PARCEL_SCREEN_DATABASE_URL"] = f"sqlite:///{scratch / f'store_{port}.sqlite3'}"
        env["PARCEL_SCREEN_LOG_LEVEL"] = "WARNING"
        command = [*common.cli(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--workers", str(workers), "--models-dir", str(common.MODELS)]
    else:
        command = [common.PY, "-m", "uvicorn", "benchmarks.floor_app:app", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", str(workers), "--loop", "uvloop"]
        command += ["--http", "httptools", "--no-access-log", "--log-level", "warning"]
    return subprocess.Popen(
        command,
        cwd=common.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        # The server's own session: SIGTERM reaches uvicorn's supervisor and its workers.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _load(
    port: int,
    path: str,
    bodies: Path,
    concurrency: int,
    requests: int,
    seconds: float,
    warmup: int,
    offset: int = 0,
) -> dict[str, Any]:
    command = [common.PY, "-m", "benchmarks.load", "--port", str(port), "--path", path]
    command += ["--bodies", str(bodies), "--concurrency", str(concurrency)]
    command += ["--requests", str(requests), "--max-seconds", str(seconds)]
    command += ["--warmup", str(warmup), "--offset", str(offset)]
    done = subprocess.run(
        command,
        check=False,
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["load generator failed"]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run(quick: bool, budget: common.Budget) -> dict[str, Any]:
    common.ensure_default_model()
    scratch = common.DATA / "http"
    scratch.mkdir(parents=True, exist_ok=True)
    # 8 steps per server and 4 servers (2 with --quick), ~1 s of warm-up each; shorter steps
    # when the run's budget is short.
    step_seconds = 1.5 if quick else max(1.0, min(5.0, budget.cap(600) / 32 - 1))
    singles = 1_500 if quick else 6_000
    pool = declarations(6_000 if quick else 40_000, SEED)
    repeat_bodies = [json.dumps(d, ensure_ascii=False).encode() for d in pool]
    unique_bodies = [json.dumps(d, ensure_ascii=False).encode() for d in uniquified(pool, SEED)]
    batches = [
        json.dumps({"declarations": pool[i : i + BATCH_SIZE]}, ensure_ascii=False).encode()
        for i in range(0, len(pool) - BATCH_SIZE + 1, BATCH_SIZE)
    ]
    files = {
        "repeat": _write_bodies(scratch / "repeat.jsonl", repeat_bodies),
        "unique": _write_bodies(scratch / "unique.jsonl", unique_bodies),
        "batch100": _write_bodies(scratch / "batch100.jsonl", batches),
    }
    results: dict[str, Any] = {
        "pool": {
            "declarations": len(pool),
            "items": sum(len(d["items"]) for d in pool),
            "distinct_descriptions": len({i["description"] for d in pool for i in d["items"]}),
            "batches": len(batches),
        },
        "step": f"at most {singles:,} requests or {step_seconds:g} s, after a warm-up",
        "servers": {},
    }
    for kind in ("parcel-screen", "floor"):
        # --quick: one worker each, enough to see that every step runs.
        for workers in (1,) if quick else (1, 2):
            if budget.left() < 60:
                results["servers"][f"{kind} x{workers}"] = {"skipped": "out of time budget"}
                continue
            port = common.free_port()
            server = _start(kind, workers, port, scratch)
            try:
                ready = _wait_ready(port, server)
                steps: dict[str, Any] = {"ready_seconds": round(ready, 2)}
                for mode in ("repeat", "unique"):
                    # Each step goes on where the last one stopped in the pool, so a unique
                    # body reaches a server once (each server is a fresh process).
                    offset = 0
                    for concurrency in CONCURRENCY:
                        step = _load(
                            port,
                            "/v1/score",
                            files[mode],
                            concurrency,
                            singles,
                            step_seconds,
                            warmup=200,
                            offset=offset,
                        )
                        offset = int(step.pop("next_offset", offset))
                        steps[f"{mode} c{concurrency}"] = step
                # Batches come from the repeating traffic: every step starts at the top.
                for concurrency in (1, 8):
                    steps[f"batch100 c{concurrency}"] = _load(
                        port,
                        "/v1/score/batch",
                        files["batch100"],
                        concurrency,
                        len(batches),
                        step_seconds,
                        warmup=4,
                    )
                results["servers"][f"{kind} x{workers}"] = steps
            finally:
                _stop(server)
            line = ", ".join(
                f"{name} {step.get('requests_per_s', 0):,.0f}/s p99 {step.get('p99_ms', 0)} ms"
                for name, step in steps.items()
                if isinstance(step, dict) and name.endswith(("c16",))
            )
            print(f"  {kind} x{workers}: {line}")
    for path in scratch.glob("audit_*"):
        path.unlink(missing_ok=True)
    return results
