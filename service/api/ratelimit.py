"""Per-caller rate limits: a token bucket for each API key.

In memory and per process: enough to stop one key from flooding an endpoint (500 outcomes
on one declaration in 5 s was seen), not a quota system. With several workers each keeps
its own buckets, so a key gets the limit once per worker.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Buckets of callers idle this long are full again; dropping them keeps memory bounded
# however many keys call.
_FORGET_AFTER_SECONDS = 3600.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`per_minute` calls a minute for each caller, in bursts of up to `burst`."""

    def __init__(
        self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str | None, _Bucket] = {}
        # Routes call this from the event loop and from worker threads alike.
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def acquire(self, caller: str | None) -> float | None:
        """Take one call for `caller`: None if allowed, else the seconds until one is."""
        now = self.clock()
        with self._lock:
            self._sweep(now)
            bucket = self._buckets.get(caller)
            if bucket is None:
                bucket = self._buckets[caller] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / self.rate

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < _FORGET_AFTER_SECONDS:
            return
        self._last_sweep = now
        idle = [k for k, b in self._buckets.items() if now - b.updated > _FORGET_AFTER_SECONDS]
        for caller in idle:
            del self._buckets[caller]


def retry_after(seconds: float) -> str:
    """A Retry-After header value: whole seconds, at least one."""
    return str(max(1, math.ceil(seconds)))
