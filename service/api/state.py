"""What one running app holds: settings, keys, metrics, the store and the model.

The serving model sits behind one attribute that is swapped in a single assignment.
A request takes the scorer once, at its start, and keeps that reference, so requests in
flight during a reload finish on the model they started with and new requests get the
new one; no lock is taken on the scoring path.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass, field

import anyio

from service.api.coalesce import DeclarationCoalescer
from service.api.errors import ApiError, ServiceUnavailableError
from service.api.inflight import WorkSlots
from service.api.metrics import Metrics
from service.api.ratelimit import RateLimiter
from service.api.security import KeyRing
from service.party_history import PartyHistory
from service.policy import scoring_policy
from service.scorer import Scorer, ScoringPolicy
from service.settings import Settings, SettingsError
from service.store import AuditLog, Store
from training.registry import Registry, RegistryError

log = logging.getLogger(__name__)


class ReloadFailedError(ApiError):
    """The model could not be (re)loaded; the previous one, if any, keeps serving."""

    status_code = 409
    code = "reload_failed"


@dataclass(frozen=True)
class LoadedScorer:
    scorer: Scorer
    loaded_at: float


def policy_of(settings: Settings) -> ScoringPolicy:
    return scoring_policy(
        review_threshold=settings.review_threshold,
        inspect_threshold=settings.inspect_threshold,
        random_selection_rate=settings.random_selection_rate,
    )


def freeze_long_lived() -> None:
    """Move what is alive now, the model above all (~200k objects), out of the cyclic
    collector's sight.

    Left in sight, every full collection walked the model to find nothing to free: 50-200 ms
    with the event loop stopped, several times a minute under load, the slowest percent of
    single-declaration requests (docs/decisions.md). Objects frozen by an earlier load (a
    model replaced since) are put back in sight and collected first, if nothing holds them.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class ModelHolder:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.current: LoadedScorer | None = None
        # Why the model is not loaded, for /readyz while `current` is None.
        self.last_error: str | None = "the model has not been loaded yet"
        # Reloads run one at a time; scoring never waits for this lock.
        self._reload_lock = asyncio.Lock()

    def require(self) -> Scorer:
        loaded = self.current
        if loaded is None:
            raise ServiceUnavailableError(
                f"no model is loaded: {self.last_error}", code="model_unavailable"
            )
        return loaded.scorer

    def _load(self) -> LoadedScorer:
        """Build and verify a scorer for the configured version (blocking)."""
        try:
            registry = Registry(self.settings.models_dir, signing_key=self.settings.signing_key())
            scorer = Scorer.from_registry(
                registry, self.settings.model_version, policy_of(self.settings)
            )
            scorer.warm_up()
        except (RegistryError, SettingsError) as exc:
            raise ReloadFailedError(str(exc)) from exc
        except ValueError as exc:
            # A threshold override that does not fit the model's stored thresholds.
            raise ReloadFailedError(f"model cannot be used with these settings: {exc}") from exc
        except Exception as exc:
            log.exception("model load failed")
            raise ReloadFailedError(
                f"model could not be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        return LoadedScorer(scorer=scorer, loaded_at=time.time())

    async def reload(self) -> tuple[str | None, str]:
        """Load the configured model and swap it in; returns (previous, new) versions.

        On failure the model already serving (if any) stays, and `ReloadFailedError` says why.
        """
        async with self._reload_lock:
            previous = self.current.scorer.model_version if self.current else None
            try:
                loaded = await anyio.to_thread.run_sync(self._load)
            except ReloadFailedError as exc:
                self.metrics.reloads.labels(result="failed").inc()
                if self.current is None:
                    self.last_error = exc.message
                log.error(
                    "model load failed, %s",
                    "no model serving" if previous is None else f"still serving {previous}",
                    extra={"reason": exc.message},
                )
                raise
            self.current = loaded
            self.last_error = None
            freeze_long_lived()
            version = loaded.scorer.model_version
            self.metrics.reloads.labels(result="loaded").inc()
            self.metrics.set_model(version, loaded.loaded_at)
            log.info("model loaded", extra={"model_version": version, "previous": previous})
            return previous, version


@dataclass
class ServiceState:
    settings: Settings
    keys: KeyRing
    metrics: Metrics
    models: ModelHolder
    # The store's audit writer (None: PARCEL_SCREEN_AUDIT_ENABLED=false).
    audit: AuditLog | None
    # The store itself: party histories (`store.history`, cached), the watch list, exports.
    store: Store | None = None
    coalescer: DeclarationCoalescer = field(default_factory=DeclarationCoalescer)
    # The parties' history from the store (none until the app factory connects one).
    party_history: PartyHistory = field(default_factory=lambda: PartyHistory(None))
    # Set by the app factory from the settings; the default suits states built in tests.
    feedback_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(600, 300))
    # Batch and CSV work in flight (see inflight).
    work_slots: WorkSlots = field(default_factory=lambda: WorkSlots(2))
