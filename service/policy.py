"""The scoring policy of a deployment: which thresholds decide, from one place.

A model's card stores its review and inspect thresholds and named alternatives (`strict`,
`lenient`, ...: `threshold_profiles`); a deployment may pick a profile (`parcel-screen
score --threshold-profile`) or set its own thresholds and random-selection rate (the
service's settings). Both end in a `ScoringPolicy` made here.
"""

from __future__ import annotations

from typing import Any

from service.scorer import ScoringPolicy

DEFAULT_RANDOM_SELECTION_RATE = 0.005


class ThresholdProfileError(ValueError):
    """A threshold profile the model card does not define; the message lists the known ones."""


def scoring_policy(
    card: dict[str, Any] | None = None,
    *,
    profile: str | None = None,
    review_threshold: float | None = None,
    inspect_threshold: float | None = None,
    random_selection_rate: float = DEFAULT_RANDOM_SELECTION_RATE,
) -> ScoringPolicy:
    """The policy of a named profile of `card` (if given), else of the thresholds given
    (None keeps the model's own)."""
    if profile is not None:
        chosen = profile_thresholds(card or {}, profile)
        review_threshold, inspect_threshold = chosen
    return ScoringPolicy(
        review_threshold=review_threshold,
        inspect_threshold=inspect_threshold,
        random_selection_rate=random_selection_rate,
    )


def profile_thresholds(card: dict[str, Any], profile: str) -> tuple[float, float]:
    """The (review, inspect) thresholds of a named profile of a model card.

    `default` always exists: it is the card's `thresholds` unless the card defines it.
    """
    profiles: dict[str, Any] = dict(card.get("threshold_profiles") or {})
    profiles.setdefault("default", card.get("thresholds", {}))
    chosen = profiles.get(profile)
    if chosen is None:
        known = ", ".join(sorted(profiles))
        raise ThresholdProfileError(
            f"model {card.get('version', '?')} has no threshold profile {profile!r} "
            f"(known: {known})"
        )
    try:
        return float(chosen["review"]), float(chosen["inspect"])
    except (KeyError, TypeError, ValueError):
        raise ThresholdProfileError(
            f"threshold profile {profile!r} of model {card.get('version', '?')} "
            "lacks numeric review/inspect thresholds"
        ) from None
