"""Scoring rows that hold whole parcels: their score columns, or why they have none.

Should scoring fail on some parcel, the rows are halved at a parcel boundary until that
parcel is found: its rows say so and the others are scored. Should it fail everywhere (a
model that does not fit this code), `ScoringFailedError` stops the run instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final, cast

import numpy as np
import pandas as pd

from service.batch_parcels import parcel_runs, raw_parcel_runs
from service.scorer import SCORE_COLUMNS, Scorer
from training.history import FIRST_PASS_COLUMN, HistoryTable
from training.model import columns_of
from training.schema import ERROR_COLUMN, LINE_COLUMN, normalise_declarations
from training.tables import Decimal

log = logging.getLogger(__name__)

OUTPUT_SCORE_COLUMNS: Final = (*SCORE_COLUMNS, ERROR_COLUMN)
SCORE_DECIMALS: Final = 4


class ScoringFailedError(RuntimeError):
    """Scoring fails whatever the rows: a bug, or a model that does not fit this code."""


def score_rows(
    scorer: Scorer,
    raw: pd.DataFrame,
    decimal: Decimal = ".",
    history: HistoryTable | None = None,
) -> pd.DataFrame:
    """The output score columns (and `error`) for reader rows that hold whole parcels.

    `history` holds the parties' history of each parcel (by declaration id); without it
    every parcel is scored as one from parties with no history.

    The result has one row per row of `raw`, with its index. Rows that cannot be scored have
    `error` set and empty score columns. Should scoring itself fail on some parcel, that
    parcel's rows say so and the others are scored; should it fail everywhere (a model that
    does not fit this code, say), `ScoringFailedError` stops the run instead of turning a
    whole file into errors.
    """
    try:
        return _score_raw(scorer, raw, decimal, history)
    except Exception as exc:
        # Never expected (a bug, or a model that does not fit): said out loud, so that the
        # recovery cannot hide it. One such bug went unseen while it doubled a unit's time.
        log.warning("scoring %d rows failed (%s); scoring them in parts", len(raw), _one_line(exc))
        log.debug("scoring failure", exc_info=exc)
        return _score_around_failure(scorer, raw, decimal, history, exc)


def _score_raw(
    scorer: Scorer, raw: pd.DataFrame, decimal: Decimal, history: HistoryTable | None
) -> pd.DataFrame:
    normalised = normalise_declarations(raw, decimal=decimal, with_labels=False)
    return _score_normalised(scorer, normalised, history)


def _score_around_failure(
    scorer: Scorer,
    raw: pd.DataFrame,
    decimal: Decimal,
    history: HistoryTable | None,
    failure: Exception,
) -> pd.DataFrame:
    """Halves the rows at a parcel boundary until the parcel that fails is found.

    Only the failing half is split further; when both halves fail the fault is not in the
    data, and the run stops.
    """
    starts = np.flatnonzero(np.diff(raw_parcel_runs(raw), prepend=-1))
    if len(starts) == 1:
        return _unscored(raw, f"row: could not be scored ({_one_line(failure)})")
    middle = int(starts[len(starts) // 2])
    halves = [raw.iloc[:middle], raw.iloc[middle:]]
    results: list[pd.DataFrame | None] = []
    failures: list[Exception] = []
    for half in halves:
        try:
            results.append(_score_raw(scorer, half, decimal, history))
        except Exception as exc:
            results.append(None)
            failures.append(exc)
    if len(failures) == len(halves):
        raise ScoringFailedError(
            f"scoring fails on every part of a chunk ({_one_line(failure)}); "
            "does the model fit this version of parcel-screen?"
        ) from failure
    return pd.concat(
        [
            result
            if result is not None
            else _score_around_failure(scorer, half, decimal, history, failures[0])
            for half, result in zip(halves, results, strict=True)
        ]
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _score_normalised(
    scorer: Scorer, normalised: pd.DataFrame, history: HistoryTable | None = None
) -> pd.DataFrame:
    rows = len(normalised)
    error = normalised[ERROR_COLUMN].to_numpy(dtype=object)
    valid = pd.isna(error)
    risk_score = np.full(rows, np.nan)
    parcel_risk_score = np.full(rows, np.nan)
    risk_class = np.full(rows, None, dtype=object)
    decision = np.full(rows, None, dtype=object)
    reasons = np.full(rows, None, dtype=object)
    model_version = np.full(rows, None, dtype=object)
    first_pass = np.full(rows, np.nan)
    if valid.any():
        items, ids = _scorable_items(normalised, valid, history)
        # The real ids drive random selection; an id array is what the scorer indexes.
        selection_ids = cast("Sequence[Any]", ids)
        result = scorer.score_columns(items, selection_ids=selection_ids, reasons_as_cells=True)
        risk_score[valid] = np.round(result["risk_score"].astype(float), SCORE_DECIMALS)
        parcel_risk_score[valid] = np.round(
            result["parcel_risk_score"].astype(float), SCORE_DECIMALS
        )
        risk_class[valid] = result["risk_class"]
        decision[valid] = result["decision"]
        reasons[valid] = result["reasons"]
        model_version[valid] = scorer.model_version
        first_pass[valid] = np.round(result["parcel_first_pass"].astype(float), SCORE_DECIMALS)
    return pd.DataFrame(
        {
            "risk_score": risk_score,
            "risk_class": risk_class,
            "parcel_risk_score": parcel_risk_score,
            "decision": decision,
            "reasons": reasons,
            "model_version": model_version,
            ERROR_COLUMN: error,
            # Not an output column: what the audit of a CSV answer keeps for the store.
            FIRST_PASS_COLUMN: first_pass,
        },
        index=normalised.index,
        copy=False,  # the arrays are this function's own
    )


def first_pass_rows(
    scorer: Scorer, raw: pd.DataFrame, decimal: Decimal = ".", history: HistoryTable | None = None
) -> pd.Series:
    """The first-pass score of each scorable row of reader rows that hold whole parcels,
    indexed by declaration id (`training.history.PRIOR_FACTS`). Rows that cannot be scored
    are left out; so are the rows of a chunk the model fails on (said in the log): their
    parcels raise no later parcel's score."""
    normalised = normalise_declarations(raw, decimal=decimal, with_labels=False)
    valid = normalised[ERROR_COLUMN].isna().to_numpy()
    if not valid.any():
        return pd.Series([], dtype=np.float64)
    items, ids = _scorable_items(normalised, valid, history)
    try:
        first_pass = scorer.model.first_pass_scores(items)
    except Exception as exc:
        log.warning("first pass of %d rows failed (%s)", len(raw), _one_line(exc))
        return pd.Series([], dtype=np.float64)
    return pd.Series(first_pass, index=ids)


def _scorable_items(
    normalised: pd.DataFrame, valid: np.ndarray, history: HistoryTable | None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The valid rows as the model reads them, with their history, and their real ids.

    Parcels are runs of consecutive rows (`parcel_runs`): the scoring pass and the first
    pass group rows alike, so a parcel's first-pass score is the one it is scored with.
    """
    ids = normalised["declaration_id"].to_numpy(dtype=object)
    items = columns_of(normalised if valid.all() else normalised[valid])
    if history is not None:
        items.update(history.columns_for(ids[valid]))
    items["declaration_id"] = parcel_runs(ids)[valid]
    return items, ids[valid]


def _unscored(raw: pd.DataFrame, message: str) -> pd.DataFrame:
    rows = len(raw)
    if LINE_COLUMN in raw.columns:
        errors = (message + " (line " + raw[LINE_COLUMN].astype(str) + ")").to_numpy(dtype=object)
    else:
        errors = np.full(rows, message, dtype=object)
    empty = np.full(rows, None, dtype=object)
    return pd.DataFrame(
        {
            "risk_score": np.full(rows, np.nan),
            "risk_class": empty,
            "parcel_risk_score": np.full(rows, np.nan),
            "decision": empty.copy(),
            "reasons": empty.copy(),
            "model_version": empty.copy(),
            ERROR_COLUMN: errors,
            FIRST_PASS_COLUMN: np.full(rows, np.nan),
        },
        index=raw.index,
    )
