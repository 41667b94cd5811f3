"""A closed-loop HTTP/1.1 load generator for 127.0.0.1, light enough not to be the bottleneck.

Each of C keep-alive connections sends a pre-encoded request, reads the whole response,
and sends the next, until N requests are done or the time limit passes. Requests bodies are
prepared before the clock starts (one JSON body per line of a file). Raw asyncio streams on
uvloop: no HTTP client library per request. The HTTP benchmark runs the same client against
the bare-FastAPI floor, which bounds what the client itself costs.

    python -m benchmarks.load --port P --path /v1/score --bodies FILE \
        --concurrency 16 --requests 4000 --max-seconds 8 [--warmup 200] [--offset 0]

Prints one JSON object: requests, errors, seconds, requests/s, latency percentiles (ms),
and the client's own CPU seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

HOST = "127.0.0.1"


def _requests(path: str, port: int, bodies: list[bytes]) -> list[bytes]:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        "Connection: keep-alive\r\nContent-Length: "
    )
    return [head.encode() + str(len(b)).encode() + b"\r\n\r\n" + b for b in bodies]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if length is not None:
        await reader.readexactly(length)
    elif chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


class Load:
    def __init__(self, port: int, requests: list[bytes], total: int, deadline: float) -> None:
        self.port = port
        self.requests = requests
        self.total = total
        self.deadline = deadline
        self.sent = 0
        self.latencies: list[int] = []
        self.errors = 0
        self.statuses: dict[int, int] = {}

    def _next(self) -> bytes | None:
        if self.sent >= self.total or time.perf_counter() > self.deadline:
            return None
        request = self.requests[self.sent]
        self.sent += 1
        return request

    async def connection(self) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        try:
            while (request := self._next()) is not None:
                began = time.perf_counter_ns()
                try:
                    writer.write(request)
                    status = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    self.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, self.port)
                    continue
                self.latencies.append(time.perf_counter_ns() - began)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status != 200:
                    self.errors += 1
        finally:
            writer.close()


async def _run(args: argparse.Namespace, bodies: list[bytes]) -> dict[str, object]:
    # Bodies from --offset on, in order, none sent twice (the caller keeps unique bodies
    # unique across steps by moving the offset on by `next_offset`).
    bodies = bodies[args.offset :]
    warmup = min(args.warmup, len(bodies) // 10)
    requests = _requests(args.path, args.port, bodies)
    if warmup:
        warm = Load(args.port, requests[:warmup], warmup, time.perf_counter() + 10)
        await asyncio.gather(*(warm.connection() for _ in range(min(args.concurrency, 16))))
    requests = requests[warmup:]
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    total = min(args.requests, len(requests))
    load = Load(args.port, requests, total, began + args.max_seconds)
    await asyncio.gather(*(load.connection() for _ in range(args.concurrency)))
    seconds = time.perf_counter() - began
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    latencies = np.asarray(load.latencies, dtype=float) / 1e6
    done = len(latencies)
    out: dict[str, object] = {
        "requests": done,
        "errors": load.errors,
        "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
        "seconds": round(seconds, 3),
        "requests_per_s": round(done / seconds, 1) if seconds else 0.0,
        "client_cpu_share": round(cpu / seconds, 3) if seconds else 0.0,
        "next_offset": args.offset + warmup + load.sent,
    }
    if done:
        p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
        out.update(p50_ms=round(p50, 2), p95_ms=round(p95, 2), p99_ms=round(p99, 2))
        out["max_ms"] = round(float(latencies.max()), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--bodies", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--offset", type=int, default=0)
    args = parser.parse_args()
    bodies = args.bodies.read_bytes().splitlines()
    try:
        import uvloop
    except ImportError:  # plain asyncio still works, with more client overhead
        result = asyncio.run(_run(args, bodies))
    else:
        result = uvloop.run(_run(args, bodies))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
