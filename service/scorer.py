"""The one scorer: item columns in; item and parcel scores, classes, decisions, reasons out.

The HTTP API (one declaration, a batch, a CSV body) and the batch command all end here, so
a fix lands everywhere at once. Work is done on whole columns; the only Python loops run
over *distinct* descriptions (cached). The words of the reasons are written by
`service.reasons`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

import numpy as np
import pandas as pd

from service.id_draws import id_draws
from service.reasons import ReasonWriter
from training import knowledge
from training.features import SMALL_INPUT, ItemColumns, column, parcel_codes
from training.history import HISTORY_FACTS, HISTORY_PREFIXES
from training.model import RiskModel, columns_of, parcel_scores, riskiest_rows
from training.registry import Registry
from training.schema import ERROR_COLUMN, DeclarationIn

DECISIONS: Final = ("clear", "review", "inspect")
SCORE_COLUMNS: Final = (
    "risk_score",
    "risk_class",
    "parcel_risk_score",
    "decision",
    "reasons",
    "model_version",
)


class ScoredAnswer(dict[str, Any]):
    """A scored declaration (contract §2), as answered. Its parcel's first-pass score
    (`training.history.PRIOR_FACTS`) travels beside it, for the store to keep for the
    parties' later parcels; it is never part of the answer."""

    first_pass_score: float | None = None


@dataclass(frozen=True)
class ScoringPolicy:
    """Per-deployment overrides; None keeps the thresholds stored with the model."""

    review_threshold: float | None = None
    inspect_threshold: float | None = None
    random_selection_rate: float = 0.005


def random_selection(declaration_ids: np.ndarray, rate: float) -> np.ndarray:
    """A reproducible pseudo-random share of parcels, picked by a hash of their id.

    Customs keep a random share of otherwise-clear parcels under review to measure what
    the model misses; hashing the id makes the pick the same on every replay.
    """
    ids = np.asarray(declaration_ids, dtype=object)
    if rate <= 0 or len(ids) == 0:
        return np.zeros(len(ids), dtype=bool)
    if len(ids) <= SMALL_INPUT:
        return np.asarray([draw < rate for draw in id_draws([str(i) for i in ids.tolist()])])
    codes = parcel_codes(ids)
    distinct = np.asarray(
        [str(i) for i in ids[np.unique(codes, return_index=True)[1]]], dtype=object
    )
    # SipHash-2-4 of the id's UTF-8 with pandas' fixed key, not Python's hash(): the pick must
    # be the same in every process and on every replay. Computed in C for all ids at once.
    draws = pd.util.hash_array(distinct, categorize=False).astype(np.float64)
    return np.asarray(draws / 2.0**64 < rate)[codes]


# Scored once when a model is loaded (`Scorer.warm_up`): armour far over a jacket's weight
# and a bottle of wine, so terms, weight and value reasons are all looked up.
_WARM_UP: Final = {
    "declaration_id": "RB000000000RU",
    "origin_country": "RU",
    "destination_country": "KZ",
    "gross_weight_kg": 12.0,
    "items": [
        {"description": "бронежилет", "quantity": 1, "net_weight_kg": 9.0, "value": 5},
        {"description": "red wine", "quantity": 1, "net_weight_kg": 1.4, "value": 20},
    ],
}


class Scorer:
    """A loaded model with the deployment's policy: scores items, parcels and decisions."""

    def __init__(
        self, model: RiskModel, card: dict[str, Any], policy: ScoringPolicy | None = None
    ) -> None:
        self.model = model
        self.card = card
        self.model_version: str = str(card["version"])
        self.policy = policy or ScoringPolicy()
        stored = card.get("thresholds", {})
        self.review_threshold = float(
            self.policy.review_threshold
            if self.policy.review_threshold is not None
            else stored.get("review", 0.5)
        )
        self.inspect_threshold = float(
            self.policy.inspect_threshold
            if self.policy.inspect_threshold is not None
            else stored.get("inspect", 0.9)
        )
        if self.inspect_threshold < self.review_threshold:
            raise ValueError("the inspect threshold must not be below the review threshold")
        self._reason_writer = ReasonWriter(model)

    @classmethod
    def from_registry(
        cls, registry: Registry, version: str | None = None, policy: ScoringPolicy | None = None
    ) -> Scorer:
        loaded = registry.load(version)
        return cls(loaded.model, loaded.card, policy)

    @cached_property
    def reads_history(self) -> bool:
        """Whether the model reads the parties' history (models trained with it do)."""
        return any(name.startswith(HISTORY_PREFIXES) for name in self.model.feature_names)

    @property
    def thresholds(self) -> dict[str, float]:
        return {
            "review": self.review_threshold,
            "inspect": self.inspect_threshold,
            "random_selection_rate": self.policy.random_selection_rate,
        }

    # --- the core -----------------------------------------------------------------------

    def score_columns(
        self,
        items: ItemColumns,
        selection_ids: Sequence[Any] | None = None,
        *,
        reasons_as_cells: bool = False,
    ) -> dict[str, np.ndarray]:
        """Scores of item columns (all rows valid); arrays aligned with the rows.

        Rows group into parcels by `declaration_id`; random selection draws on
        `selection_ids` when given (the real ids, where the grouping key is synthetic).
        Reasons are lists of {code, message}, or with `reasons_as_cells` one text per item
        (`code: message` entries joined by " | "), as batch output writes them.
        """
        keys = column(items, "declaration_id")
        ids = keys if selection_ids is None else np.asarray(selection_ids, dtype=object)
        scores = self.model.score(items)
        parcel = parcel_scores(keys, scores.risk_score)
        first_pass = parcel_scores(keys, scores.first_pass)
        decision = np.where(
            parcel >= self.inspect_threshold,
            "inspect",
            np.where(parcel >= self.review_threshold, "review", "clear"),
        ).astype(object)
        selected = (decision == "clear") & random_selection(ids, self.policy.random_selection_rate)
        decision[selected] = "review"
        # Reasons are for items an officer will look at: those of flagged parcels and any
        # item scoring near the review cut-off. A clear, low-scoring item has none to give,
        # and skipping it keeps batch scoring fast (reason text is the costliest step).
        explain = (decision != "clear") | (scores.risk_score >= 0.5 * self.review_threshold)
        over_cut_off = scores.risk_score >= self.review_threshold
        # An item under the cut-off in a parcel flagged for another line is told which line.
        lead = riskiest_rows(keys, scores.risk_score)
        flagged_for = np.where((parcel >= self.review_threshold) & ~over_cut_off, lead, -1)
        reasons = self._reason_writer.reasons(
            items,
            scores,
            explain | selected,
            selected,
            reasons_as_cells,
            over_cut_off=over_cut_off,
            flagged_for=flagged_for,
        )
        return {
            "risk_score": scores.risk_score,
            "risk_class": scores.risk_class,
            "parcel_risk_score": parcel,
            "decision": decision,
            "reasons": reasons,
            "parcel_first_pass": first_pass,
        }

    # --- the surfaces ---------------------------------------------------------------------

    def score_declarations(
        self,
        declarations: Sequence[DeclarationIn],
        histories: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[ScoredAnswer]:
        """Scored declarations (contract §2), in order, scored together in one pass.

        `histories` holds each declaration's history facts (`training.history`); without
        them every parcel is scored as one from parties with no history.
        """
        if not declarations:
            return []
        merged: dict[str, list[Any]] = {}
        for position, declaration in enumerate(declarations):
            columns = declaration.to_columns()
            if histories is not None:
                size = len(declaration.items)
                facts = histories[position]
                columns.update({name: [facts.get(name)] * size for name in HISTORY_FACTS})
            for name, values in columns.items():
                merged.setdefault(name, []).extend(values)
        # Two declarations may share an id; a running number keeps their parcels apart.
        sizes = [len(d.items) for d in declarations]
        parcel_keys = np.repeat(np.arange(len(declarations)), sizes)
        # Two declarations of one batch may share an id: group by position instead.
        items = {**merged, "declaration_id": parcel_keys}
        result = self.score_columns(items, selection_ids=merged["declaration_id"])
        out: list[ScoredAnswer] = []
        start = 0
        for declaration, size in zip(declarations, sizes, strict=True):
            rows = range(start, start + size)
            answer = ScoredAnswer(
                {
                    "declaration_id": declaration.declaration_id,
                    "parcel_risk_score": round(float(result["parcel_risk_score"][start]), 4),
                    "decision": str(result["decision"][start]),
                    "model_version": self.model_version,
                    "items": [
                        {
                            "item_no": int(merged["item_no"][r]),
                            "risk_score": round(float(result["risk_score"][r]), 4),
                            "risk_class": str(result["risk_class"][r]),
                            "reasons": result["reasons"][r],
                        }
                        for r in rows
                    ],
                }
            )
            answer.first_pass_score = float(result["parcel_first_pass"][start])
            out.append(answer)
            start += size
        return out

    def score_declaration(self, declaration: DeclarationIn) -> ScoredAnswer:
        return self.score_declarations([declaration])[0]

    def warm_up(self) -> None:
        """Score one declaration whose items are explained, so what reasons read (word
        lists, the goods catalogue's phrasings, the text models' caches) is loaded before
        the first request rather than during it: about 1.6 s of that request, measured.
        The catalogue's lookups are built outright: which items a model explains is its
        own affair."""
        knowledge.load_lookups()
        self.score_declaration(DeclarationIn.model_validate(_WARM_UP))

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Score columns for a normalised frame; rows with an `error` stay unscored."""
        n = len(frame)
        columns: dict[str, np.ndarray] = {
            "risk_score": np.full(n, np.nan),
            "risk_class": np.full(n, None, dtype=object),
            "parcel_risk_score": np.full(n, np.nan),
            "decision": np.full(n, None, dtype=object),
            "reasons": np.full(n, None, dtype=object),
        }
        valid = frame[ERROR_COLUMN].isna().to_numpy() if ERROR_COLUMN in frame else np.ones(n, bool)
        if valid.any():
            result = self.score_columns(columns_of(frame[valid]))
            for name, values in columns.items():
                values[valid] = result[name]
        out = pd.DataFrame(columns, index=frame.index)
        out["model_version"] = self.model_version
        return out
