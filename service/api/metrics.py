"""Prometheus metrics of one app instance.

Each app gets its own registry, so several apps in one process (tests, or an embedding
service) do not collide. With several uvicorn workers each process exports its own series;
scrape them per worker or aggregate in Prometheus.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

PREFIX: Final = "parcel_screen"

# Latency buckets around the expected range: sub-millisecond single scores up to
# multi-second CSV files.
_LATENCY_BUCKETS: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
_SCORE_BUCKETS: Final = tuple(round(edge / 20, 2) for edge in range(1, 21))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests by route template and status",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.request_latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of the response body)",
            ("method", "route"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scoring_latency = Histogram(
            f"{PREFIX}_scoring_duration_seconds",
            "Time spent in the model per call, by endpoint",
            ("endpoint",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.declarations = Counter(
            f"{PREFIX}_declarations_scored",
            "Declarations scored, by endpoint",
            ("endpoint",),
            registry=self.registry,
        )
        self.decisions = Counter(
            f"{PREFIX}_decisions",
            "Parcel decisions by outcome",
            ("decision",),
            registry=self.registry,
        )
        self.risk_score = Histogram(
            f"{PREFIX}_parcel_risk_score",
            "Distribution of parcel risk scores; a shift is an early sign of drift",
            buckets=_SCORE_BUCKETS,
            registry=self.registry,
        )
        self.model_info = Gauge(
            f"{PREFIX}_model_info",
            "The model version being served (1 for the current one)",
            ("version",),
            registry=self.registry,
        )
        self.model_loaded_at = Gauge(
            f"{PREFIX}_model_loaded_timestamp_seconds",
            "When the serving model was loaded",
            registry=self.registry,
        )
        self.reloads = Counter(
            f"{PREFIX}_model_reloads",
            "Model reload attempts by result",
            ("result",),
            registry=self.registry,
        )
        self.audit_queue_depth = Gauge(
            f"{PREFIX}_audit_queue_depth",
            "Scored declarations waiting to be written to the audit database",
            registry=self.registry,
        )
        self.audit_rows = Counter(
            f"{PREFIX}_audit_rows",
            "Audit rows by result (written; spilled, to be written later; failed, lost)",
            ("result",),
            registry=self.registry,
        )

        # Label children looked up once: `labels()` takes a lock and builds a key each call.
        self._request_series: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._scoring_series: dict[str, tuple[Any, Any]] = {}
        self._decision_series = {
            decision: self.decisions.labels(decision=decision)
            for decision in ("clear", "review", "inspect")
        }

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        series = self._request_series.get(key)
        if series is None:
            series = (self.requests.labels(*key), self.request_latency.labels(method, route))
            self._request_series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def observe_scoring(self, endpoint: str, results: list[dict[str, Any]], seconds: float) -> None:
        series = self._scoring_series.get(endpoint)
        if series is None:
            series = (self.scoring_latency.labels(endpoint), self.declarations.labels(endpoint))
            self._scoring_series[endpoint] = series
        series[0].observe(seconds)
        series[1].inc(len(results))
        self.observe_decisions(results)

    def set_model(self, version: str, loaded_at: float) -> None:
        self.model_info.clear()
        self.model_info.labels(version=version).set(1)
        self.model_loaded_at.set(loaded_at)

    def watch_audit_queue(self, depth: Callable[[], int]) -> None:
        self.audit_queue_depth.set_function(lambda: float(depth()))

    def observe_decisions(self, results: list[dict[str, Any]]) -> None:
        for result in results:
            decision = result.get("decision")
            if decision is None:
                continue
            series = self._decision_series.get(decision) or self.decisions.labels(str(decision))
            series.inc()
            score = result.get("parcel_risk_score")
            if isinstance(score, int | float):
                self.risk_score.observe(float(score))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
