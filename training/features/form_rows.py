"""`FormFeatures.features` for a few rows (`FEW_ROWS`), row by row in plain Python.

The column-wise transform makes ~100 numpy calls whatever the number of rows; for one
declaration each costs more than its arithmetic (~0.2 ms in all, most of a scored request's
model work). Here each row's features are worked out with Python floats, whose +, -, * and /
round as numpy's do, and every logarithm and exponential of all rows goes through one numpy
call per function and step (numpy's own routines, so the same bits as the column-wise
transform). `tests/training/test_model.py` pins the two to equal matrices, on inputs below
and above `FEW_ROWS`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from math import inf, isfinite, isnan
from typing import Any, Final

import numpy as np

from training import knowledge
from training.features.columns import REPEAT_COLUMN, ItemColumns, column_list
from training.features.measures import (
    LOG_FLOOR,
    SPREAD_FLOOR,
    UNFIT_CHAPTER_PROBABILITY,
    kind_columns,
)
from training.features.text_signals import OTHER_CHAPTER
from training.gross_weight import gross_in_kg, ordinary_unexplained_kg
from training.history import HISTORY_FEATURES
from training.schema import RISK_CLASSES

_LOG_FLOOR_LOG: Final = float(np.log(LOG_FLOOR))
_LOG_UNFIT: Final = float(np.log(UNFIT_CHAPTER_PROBABILITY))


def _beyond_spread(residual: float, spread: float) -> float:
    """A residual over 0 in honest spreads (`FormFeatures`): 0 where no spread is known."""
    if isnan(spread):
        return 0.0
    return _maximum(residual, 0.0) / _maximum(spread, SPREAD_FLOOR)


def _maximum(a: float, b: float) -> float:
    """np.maximum of two floats: NaN wins."""
    if isnan(a):
        return a
    if isnan(b):
        return b
    return a if a >= b else b


def _minimum(a: float, b: float) -> float:
    """np.minimum of two floats: NaN wins."""
    if isnan(a):
        return a
    if isnan(b):
        return b
    return a if a <= b else b


def _divide(a: float, b: float) -> float:
    """a / b as numpy divides (x/0 is ±inf, 0/0 and NaN/0 are NaN)."""
    if b == 0.0:
        if isnan(a) or a == 0.0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _ufunc(function: Any, values: Sequence[float]) -> list[float]:
    """numpy's `function` of each value, in one call."""
    if not values:
        return []
    out: list[float] = function(np.asarray(values, dtype=np.float64)).tolist()
    return out


def form_rows(lookups: dict[str, Any], items: ItemColumns, signals: np.ndarray) -> np.ndarray:
    """`FormFeatures.features(items, signals)`, worked out row by row (for few rows), from
    the fitted step's `FormFeatures.lookups`."""
    col = lookups["column"]
    sig = lookups["signal"]
    n = signals.shape[0]
    width = len(col)
    rows = [[0.0] * width for _ in range(n)]
    s = signals.tolist()

    net = column_list(items, "net_weight_kg", float)
    quantity = [q if isfinite(q) and q >= 1 else 1.0 for q in column_list(items, "quantity", float)]
    rates = knowledge.usd_per_unit()
    usd = [
        v * (rates.get(c, math.nan) if isinstance(c, str) else math.nan)
        for v, c in zip(
            column_list(items, "value", float), column_list(items, "currency"), strict=True
        )
    ]
    gross = column_list(items, "gross_weight_kg", float)
    # The parcels of the rows, in order of first appearance (as `parcel_codes`).
    parcel_of: dict[Any, int] = {}
    keys: list[Any] = column_list(items, "declaration_id")
    if REPEAT_COLUMN in items:  # a training repeat is a parcel of its own
        keys = list(zip(keys, column_list(items, REPEAT_COLUMN, float), strict=True))
    codes = [parcel_of.setdefault(key, len(parcel_of)) for key in keys]
    n_items = [0] * len(parcel_of)
    net_sum = [0.0] * len(parcel_of)
    complete = [True] * len(parcel_of)  # as `parcel_nets_complete`
    net_filled = [w if isfinite(w) else 0.0 for w in net]
    for code, w, filled in zip(codes, net, net_filled, strict=True):
        n_items[code] += 1
        net_sum[code] += filled
        complete[code] = complete[code] and isfinite(w)
    gross = [float(gross_in_kg(g, net_sum[code])) for g, code in zip(gross, codes, strict=True)]

    text_sig = [sig[f"text_{c}"] for c in RISK_CLASSES]
    text_col = [col[f"text_{c}"] for c in RISK_CLASSES]
    weight_sig = sig["expected_log_unit_weight"]
    value_sig = sig["expected_log_usd_per_kg"]
    confidence_sig = sig["expectation_confidence"]
    texts = [[_maximum(r[j], -4.0) for j in text_sig] for r in s]

    # Step 1: every logarithm and exponential of the form's own values.
    unit_weight = [_maximum(w / q, LOG_FLOOR) for w, q in zip(net, quantity, strict=True)]
    usd_kg = [_maximum(_divide(u, w), LOG_FLOOR) for u, w in zip(usd, net, strict=True)]
    logs = _ufunc(
        np.log,
        [*unit_weight, *usd_kg, *quantity, *(float(n_items[code]) for code in codes)],
    )
    log_unit, log_usd_kg = logs[:n], logs[n : 2 * n]
    log_quantity, log_items = logs[2 * n : 3 * n], logs[3 * n :]
    usd_unit = [
        _maximum((u if isfinite(u) else 0.0) / q, 0.0) for u, q in zip(usd, quantity, strict=True)
    ]
    unexplained_in = [
        _maximum(g - net_sum[code], 0.0) if isfinite(g) and g > 0 and complete[code] else 0.0
        for g, code in zip(gross, codes, strict=True)
    ]
    history = [
        (name, scale, [v if isfinite(v) else 0.0 for v in column_list(items, fact, float)])
        for name, (fact, scale) in HISTORY_FEATURES.items()
    ]
    logged = [values for _, scale, values in history if scale == "log"]
    log1ps = _ufunc(
        np.log1p,
        [
            *usd_unit,
            *unexplained_in,
            *(g if isfinite(g) else 0.0 for g in gross),
            *(v for values in logged for v in values),
        ],
    )
    log_usd_unit, unexplained = log1ps[:n], log1ps[n : 2 * n]
    log_gross = log1ps[2 * n : 3 * n]
    expected_weight = _ufunc(np.exp, [r[weight_sig] for r in s])
    # Step 2: what those lead to (the text's sum of odds, the parcel's unexplained kilos).
    odds = np.exp(np.minimum(np.asarray(texts, dtype=np.float64).reshape(n, -1), 30.0))
    text_any = _ufunc(np.log, odds.sum(axis=1).tolist())
    gap_kg = _ufunc(np.expm1, unexplained)

    chapter_signal = lookups["chapter_signal"]
    other_chapter = chapter_signal.get(OTHER_CHAPTER, -1)
    one_hot = lookups["one_hot"]
    vague = knowledge.vague_descriptions()
    origin = column_list(items, "origin_country")
    destination = column_list(items, "destination_country")
    category = column_list(items, "category")
    mail_class = column_list(items, "mail_class")
    descriptions = column_list(items, "description")
    hs_codes = column_list(items, "hs_code")
    hidden_in: list[float] = []
    for i, row in enumerate(rows):
        r = s[i]
        for j, value in zip(text_col, texts[i], strict=True):
            row[j] = value
        row[col["text_any"]] = text_any[i]
        row[col["text_names_gear"]] = r[sig["names_gear"]]

        trust = _maximum(r[confidence_sig], 0.5)
        weight_known = isfinite(log_unit[i])
        weight_res = (log_unit[i] - r[weight_sig] if weight_known else 0.0) * trust
        row[col["weight_log_unit"]] = log_unit[i] if weight_known else 0.0
        row[col["weight_residual_over"]] = _maximum(weight_res, 0.0)
        row[col["weight_residual_far_over"]] = _maximum(weight_res - 1.0, 0.0)
        row[col["weight_residual_extreme"]] = _maximum(weight_res - 2.0, 0.0)
        row[col["weight_residual_under"]] = _maximum(-weight_res - 1.0, 0.0)
        row[col["weight_beyond_honest_spread"]] = _beyond_spread(
            weight_res, r[sig["log_unit_weight_spread"]]
        )
        row[col["weight_missing"]] = float(not weight_known)

        value_known = isfinite(log_usd_kg[i])
        value_res = (log_usd_kg[i] - r[value_sig] if value_known else 0.0) * trust
        usd_known = isfinite(usd[i])
        row[col["value_log_usd_unit"]] = log_usd_unit[i] if usd_known else 0.0
        row[col["value_residual"]] = value_res
        row[col["value_residual_under"]] = _maximum(-value_res, 0.0)
        row[col["value_residual_far_under"]] = _maximum(-value_res - 1.5, 0.0)
        row[col["value_residual_extreme_under"]] = _maximum(-value_res - 3.0, 0.0)
        row[col["value_below_honest_spread"]] = _beyond_spread(
            -value_res, r[sig["log_usd_per_kg_spread"]]
        )
        heavy = _maximum(weight_res - 0.5, 0.0)
        row[col["weight_heavy_and_cheap"]] = heavy * _maximum(-value_res, 0.0)
        row[col["value_missing"]] = float(not value_known)
        row[col["value_zero"]] = float(usd_known and usd[i] == 0)
        row[col["quantity_log"]] = log_quantity[i]

        hs = hs_codes[i]
        chapter = hs[:2] if isinstance(hs, str) and len(hs) >= 2 else None
        signal_column = -2 if chapter is None else chapter_signal.get(chapter, other_chapter)
        fit = r[signal_column] if signal_column >= 0 else -inf
        extra = kind_columns(hs[:4], chapter_signal) if chapter is not None else ()
        if extra:  # as `FormFeatures`: any chapter the nomenclature classes here fits
            also = np.logaddexp.reduce(np.array([r[j] for j in extra], dtype=np.float64))
            fit = float(np.logaddexp(fit, also))
        fit = _minimum(_maximum(fit, _LOG_FLOOR_LOG), 0.0)
        row[col["hs_missing"]] = float(signal_column == -2)
        row[col["hs_fit_logp"]] = fit if signal_column != -2 else 0.0
        row[col["hs_unfit"]] = float(signal_column != -2 and fit < _LOG_UNFIT)

        lane = f"{origin[i]}-{destination[i]}"
        for prefix, category_value in (
            ("hs_chapter_", chapter),
            ("category_", category[i]),
            ("mail_", mail_class[i]),
            ("lane_", lane),
            ("origin_", origin[i]),
            ("destination_", destination[i]),
        ):
            j = one_hot[prefix].get(category_value)
            if j is not None:
                row[j] = 1.0
        row[col["category_missing"]] = float(category[i] is None)
        row[col["weight_heavy_gift"]] = row[col["category_gift"]] * heavy
        description = descriptions[i]
        row[col["vague"]] = float(
            isinstance(description, str) and description.casefold().strip(" .,!") in vague
        )

        code = codes[i]
        row[col["parcel_items_log"]] = log_items[i]
        row[col["parcel_unexplained_weight"]] = unexplained[i]
        expected_kg = expected_weight[i] * quantity[i]
        missing_kg = _maximum(expected_kg - (net[i] if isfinite(net[i]) else expected_kg), 0.0)
        hidden_in.append(_minimum(missing_kg, gap_kg[i]))
        row[col["parcel_weight_share"]] = (
            net_filled[i] / net_sum[code] if net_sum[code] > 0 else 1.0
        )
        row[col["parcel_gross_log"]] = log_gross[i] if isfinite(gross[i]) else 0.0

    # Step 3: the hidden kilos, the kilos beyond ordinary packaging, and the parties' past.
    hidden = _ufunc(np.log1p, hidden_in)
    beyond = _ufunc(
        np.log1p,
        [
            _maximum(g - ordinary_unexplained_kg(net_sum[code]), 0.0)
            for g, code in zip(gap_kg, codes, strict=True)
        ],
    )
    for row, value in zip(rows, beyond, strict=True):
        row[col["parcel_unexplained_kilos"]] = value
    history_logs = iter(log1ps[3 * n :])
    for name, scale, values in history:
        j = col[name]
        if scale == "log":
            for row in rows:
                row[j] = next(history_logs)
        else:
            for row, value in zip(rows, values, strict=True):
                row[j] = _minimum(value, 1.0)
    hidden_col = col["parcel_hidden_weight"]
    for row, value in zip(rows, hidden, strict=True):
        row[hidden_col] = value
    return np.asarray(rows, dtype=np.float64).reshape(n, width)
