"""The rest of the form (`FormFeatures`), set against what the text signals lead to expect:
the residual of the declared weight and value, whether the HS code fits, category, mail
class, lane, the parcel around the item and the parties' history. Dense and named: the
model's linear layer over them is where reasons come from.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import Tags

from training.features.columns import (
    FEW_ROWS,
    SMALL_INPUT,
    ItemColumns,
    column,
    factorize,
    item_columns_tags,
    item_parcel_codes,
)
from training.features.form_rows import form_rows
from training.features.measures import (
    LOG_FLOOR,
    SPREAD_FLOOR,
    UNFIT_CHAPTER_PROBABILITY,
    hs_chapters,
    hs_headings,
    kind_columns,
    usd_values,
    vague_flags,
)
from training.features.text_signals import OTHER_CHAPTER, ItemSignals
from training.gross_weight import gross_in_kg, ordinary_unexplained_kg, parcel_nets_complete
from training.history import HISTORY_FEATURES
from training.schema import CATEGORIES, MAIL_CLASSES, RISK_CLASSES

# Lowest log-odds of gear that the text alone can contribute (see FormFeatures.transform).
_TEXT_FLOOR: Final = 4.0
# The least weight a residual against an expectation keeps when its wording is unknown.
_LEAST_TRUST: Final = 0.5


def _lanes(origin: np.ndarray, destination: np.ndarray) -> np.ndarray:
    """ "origin-destination" per row, the text made once per distinct pair."""
    from_codes, from_distinct = factorize(origin)
    to_codes, to_distinct = factorize(destination)
    width = max(1, len(to_distinct))
    pair_codes, pairs = factorize(from_codes * width + to_codes)
    names = np.array(
        [f"{from_distinct[p // width]}-{to_distinct[p % width]}" for p in pairs.tolist()],
        dtype=object,
    )
    return names[pair_codes] if len(pair_codes) else np.full(0, "", dtype=object)


def _set_one_hot(out: np.ndarray, values: np.ndarray, column_of: dict[Any, int]) -> None:
    """Set the one-hot column of each row's value (values outside the vocabulary: none)."""
    if len(values) <= SMALL_INPUT:
        for row, value in enumerate(values.tolist()):
            j = column_of.get(value)
            if j is not None:
                out[row, j] = 1.0
        return
    codes, distinct = factorize(values)
    positions = np.array([column_of.get(v, -1) for v in distinct], dtype=np.intp)[codes]
    rows = np.flatnonzero(positions >= 0)
    out[rows, positions[rows]] = 1.0


def _parcel_context(items: ItemColumns, net: np.ndarray) -> tuple[np.ndarray, ...]:
    codes = item_parcel_codes(items)
    n_parcels = codes.max() + 1 if len(codes) else 0
    n_items = np.bincount(codes, minlength=n_parcels)[codes].astype(float)
    known = np.isfinite(net)
    net_filled = np.where(known, net, 0.0)
    net_sum = np.bincount(codes, weights=net_filled, minlength=n_parcels)[codes]
    gross = gross_in_kg(column(items, "gross_weight_kg", float), net_sum)
    # Weight on the parcel that no item line accounts for (beyond ordinary packaging).
    # In kilograms, not as a share of the parcel: packaging is a large share of a small
    # parcel, while a vest declared at 2 kg in an 8 kg parcel leaves kilos unexplained.
    # A line without a net weight may hold all of it: nothing is known to be unaccounted
    # for (`parcel_nets_complete`).
    complete = parcel_nets_complete(codes, known)
    unexplained = np.where(
        np.isfinite(gross) & (gross > 0) & complete,
        np.log1p(np.maximum(gross - net_sum, 0.0)),
        0.0,
    )
    share = np.where(net_sum > 0, net_filled / np.where(net_sum > 0, net_sum, 1.0), 1.0)
    return n_items, unexplained, share, net_sum, gross


class FormFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Dense, named features of each item: the form set against what the text leads to expect.

    Reads the items with their text signals (`ItemSignals`, the text step's output).
    `top_lanes`/`top_countries` bound the one-hot vocabularies learned in `fit`. Its output
    can be set to pandas (`set_output`), so a step after it knows the features by name.
    """

    def __init__(
        self, top_lanes: int = 30, top_countries: int = 25, top_chapters: int = 30
    ) -> None:
        self.top_lanes = top_lanes
        self.top_countries = top_countries
        self.top_chapters = top_chapters

    # Feature groups name the kind of reason a feature can give.
    GROUPS: Final = {
        "text_": "terms",
        "weight_": "weight",
        "value_": "value",
        "hs_": "hs_code",
        "vague": "vague_description",
        "category_": "category",
        "mail_": "mail_class",
        # A lane, a country of origin and one of destination are three facts: "parcels from
        # BY" is not "the BY→PL lane" when the lane itself moved nothing.
        "lane_": "lane",
        "origin_": "origin",
        "destination_": "destination",
        "parcel_": "parcel",
        "quantity": "quantity",
        # The parties' earlier scores speak apart from their counts (which lean the other
        # way: a shipper of many plain parcels), so neither hides the other in a reason.
        "sender_history_prior": "sender_prior",
        "recipient_history_prior": "recipient_prior",
        "sender_history_": "sender_history",
        "recipient_history_": "recipient_history",
        "watchlist_": "watchlist",
    }

    def __sklearn_tags__(self) -> Tags:
        tags = item_columns_tags(super().__sklearn_tags__())
        tags.target_tags.required = False
        return tags

    def fit(self, X: ItemSignals, y: Any = None) -> FormFeatures:  # noqa: N803 (sklearn's name)
        """Learn the one-hot vocabularies of the items, and the names of the text signals
        `transform` will be given with them. `y` is not used."""
        items = X.items
        origin = column(items, "origin_country")
        destination = column(items, "destination_country")
        lanes = pd.Series([f"{o}-{d}" for o, d in zip(origin, destination, strict=True)])
        self.lanes_ = list(lanes.value_counts().index[: self.top_lanes])
        self.origins_ = list(pd.Series(origin).value_counts().index[: self.top_countries])
        self.destinations_ = list(pd.Series(destination).value_counts().index[: self.top_countries])
        chapters = pd.Series(hs_chapters(items)).dropna()
        self.chapters_ = list(chapters.value_counts().index[: self.top_chapters])
        self.signal_names_ = list(X.names)
        self.feature_names_ = self._names()
        return self

    def _names(self) -> list[str]:
        names = [
            *(f"text_{c}" for c in RISK_CLASSES),
            "text_any",
            "text_names_gear",
            "weight_log_unit",
            "weight_residual_over",
            "weight_residual_far_over",
            "weight_residual_extreme",
            "weight_residual_under",
            "weight_beyond_honest_spread",
            "weight_heavy_gift",
            "weight_heavy_and_cheap",
            "weight_missing",
            "value_log_usd_unit",
            "value_residual",
            "value_residual_under",
            "value_residual_far_under",
            "value_residual_extreme_under",
            "value_below_honest_spread",
            "value_missing",
            "value_zero",
            "quantity_log",
            "hs_missing",
            "hs_fit_logp",
            "hs_unfit",
            *(f"hs_chapter_{c}" for c in self.chapters_),
            "vague",
            *(f"category_{c}" for c in CATEGORIES),
            "category_missing",
            *(f"mail_{c}" for c in MAIL_CLASSES),
            *(f"lane_{lane}" for lane in self.lanes_),
            *(f"origin_{c}" for c in self.origins_),
            *(f"destination_{c}" for c in self.destinations_),
            "parcel_items_log",
            "parcel_unexplained_weight",
            "parcel_unexplained_kilos",
            "parcel_hidden_weight",
            "parcel_weight_share",
            "parcel_gross_log",
            *HISTORY_FEATURES,
        ]
        return names

    ONE_HOT_PREFIXES: Final = (
        "hs_chapter_",
        "category_",
        "mail_",
        "lane_",
        "origin_",
        "destination_",
    )

    def indicator_mask(self) -> np.ndarray:
        """Which features are one-hot columns of a vocabulary (lane, country, chapter...)."""
        return np.array(
            [n.startswith(self.ONE_HOT_PREFIXES) for n in self.feature_names_], dtype=bool
        )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_names_, dtype=object)

    def lookups(self) -> dict[str, Any]:
        """Column positions and vocabularies as dicts, built once per process (not pickled)."""
        cached: dict[str, Any] | None = self.__dict__.get("_lookups_cache")
        if cached is None:
            column_of = {name: j for j, name in enumerate(self.feature_names_)}
            signal_of = {name: j for j, name in enumerate(self.signal_names_)}
            cached = {
                "column": column_of,
                "signal": signal_of,
                "chapter_signal": {
                    name.removeprefix("chapter_logp_"): j
                    for name, j in signal_of.items()
                    if name.startswith("chapter_logp_")
                },
                "one_hot": {
                    prefix: {v: column_of[f"{prefix}{v}"] for v in vocabulary}
                    for prefix, vocabulary in (
                        ("hs_chapter_", self.chapters_),
                        ("category_", CATEGORIES),
                        ("mail_", MAIL_CLASSES),
                        ("lane_", self.lanes_),
                        ("origin_", self.origins_),
                        ("destination_", self.destinations_),
                    )
                },
            }
            self.__dict__["_lookups_cache"] = cached
        return cached

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lookups_cache", None)
        return state

    def transform(self, X: ItemSignals) -> np.ndarray:  # noqa: N803 (sklearn's name)
        """The feature matrix of the items with their text signals (`features`)."""
        return self.features(X.items, X.signals)

    def features(self, items: ItemColumns, signals: np.ndarray) -> np.ndarray:
        """The feature matrix: row by row in plain Python for a few rows (one declaration
        over HTTP, `FEW_ROWS`), else column by column (`transform_columns`); the two are
        pinned equal."""
        if signals.shape[0] <= FEW_ROWS:
            return form_rows(self.lookups(), items, signals)
        return self.transform_columns(items, signals)

    def transform_columns(self, items: ItemColumns, signals: np.ndarray) -> np.ndarray:
        """The feature matrix, filled column by column into one preallocated array."""
        lookups = self.lookups()
        col = lookups["column"]
        sig = lookups["signal"]
        n = signals.shape[0]
        out = np.zeros((n, len(self.feature_names_)))

        # Innocent wording is bounded evidence: however benign "cotton T-shirt" sounds, it
        # must not outweigh a weight twenty times what a T-shirt weighs.
        text = np.maximum(signals[:, [sig[f"text_{c}"] for c in RISK_CLASSES]], -_TEXT_FLOOR)
        out[:, [col[f"text_{c}"] for c in RISK_CLASSES]] = text
        out[:, col["text_any"]] = np.log(np.exp(np.minimum(text, 30.0)).sum(axis=1))
        out[:, col["text_names_gear"]] = signals[:, sig["names_gear"]]

        net = column(items, "net_weight_kg", float)
        quantity = column(items, "quantity", float)
        quantity = np.where(np.isfinite(quantity) & (quantity >= 1), quantity, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_unit = np.log(np.maximum(net / quantity, LOG_FLOOR))
        weight_known = np.isfinite(log_unit)
        # An expectation for wording the models hardly know (and no HS heading to lean on) is
        # near the average of all goods: its residual counts half as much. (Training text is
        # known by construction, so the model cannot learn this discount itself.)
        trust = np.maximum(signals[:, sig["expectation_confidence"]], _LEAST_TRUST)
        weight_res = np.where(
            weight_known, log_unit - signals[:, sig["expected_log_unit_weight"]], 0.0
        )
        weight_res *= trust
        out[:, col["weight_log_unit"]] = np.where(weight_known, log_unit, 0.0)
        out[:, col["weight_residual_over"]] = np.maximum(weight_res, 0.0)
        out[:, col["weight_residual_far_over"]] = np.maximum(weight_res - 1.0, 0.0)
        out[:, col["weight_residual_extreme"]] = np.maximum(weight_res - 2.0, 0.0)
        out[:, col["weight_residual_under"]] = np.maximum(-weight_res - 1.0, 0.0)
        # The same residual in honest lines' spreads of such wording: 4 kg is ten spreads
        # over a T-shirt's 0.18 kg, and two over what a bag of "детская одежда" weighs.
        weight_spread = np.maximum(signals[:, sig["log_unit_weight_spread"]], SPREAD_FLOOR)
        out[:, col["weight_beyond_honest_spread"]] = np.nan_to_num(
            np.maximum(weight_res, 0.0) / weight_spread
        )
        out[:, col["weight_missing"]] = ~weight_known

        usd = usd_values(items)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_usd_kg = np.log(np.maximum(usd / net, LOG_FLOOR))
        value_known = np.isfinite(log_usd_kg)
        value_res = np.where(
            value_known, log_usd_kg - signals[:, sig["expected_log_usd_per_kg"]], 0.0
        )
        value_res *= trust
        usd_known = np.isfinite(usd)
        out[:, col["value_log_usd_unit"]] = np.where(
            usd_known, np.log1p(np.maximum(np.where(usd_known, usd, 0.0) / quantity, 0.0)), 0.0
        )
        out[:, col["value_residual"]] = value_res
        out[:, col["value_residual_under"]] = np.maximum(-value_res, 0.0)
        out[:, col["value_residual_far_under"]] = np.maximum(-value_res - 1.5, 0.0)
        out[:, col["value_residual_extreme_under"]] = np.maximum(-value_res - 3.0, 0.0)
        value_spread = np.maximum(signals[:, sig["log_usd_per_kg_spread"]], SPREAD_FLOOR)
        out[:, col["value_below_honest_spread"]] = np.nan_to_num(
            np.maximum(-value_res, 0.0) / value_spread
        )
        # Heavy for its wording *and* cheap for it: the signature of gear under the name of
        # ordinary goods (an honest heavy thing is declared at an honest value).
        heavy = np.maximum(weight_res - 0.5, 0.0)
        out[:, col["weight_heavy_and_cheap"]] = heavy * np.maximum(-value_res, 0.0)
        out[:, col["value_missing"]] = ~value_known
        out[:, col["value_zero"]] = usd_known & (np.where(usd_known, usd, 1.0) == 0)
        out[:, col["quantity_log"]] = np.log(quantity)

        headings = hs_headings(items)
        codes, distinct = factorize(headings)
        declared = distinct.tolist()
        chapter_signal = lookups["chapter_signal"]
        # A declared chapter the text models do not tell apart is read as "another chapter".
        other_chapter = chapter_signal.get(OTHER_CHAPTER, -1)
        signal_column = (
            np.array(
                [-2 if h is None else chapter_signal.get(h[:2], other_chapter) for h in declared],
                dtype=np.intp,
            )[codes]
            if len(codes)
            else np.zeros(0, dtype=np.intp)
        )
        chapters = (
            np.array([None if h is None else h[:2] for h in declared], dtype=object)[codes]
            if len(codes)
            else np.full(0, None, dtype=object)
        )
        hs_known = signal_column != -2
        modelled = signal_column >= 0
        fit_logp = np.full(n, -np.inf)
        fit_logp[modelled] = signals[np.flatnonzero(modelled), signal_column[modelled]]
        # The declared heading fits wording of every chapter whose goods the nomenclature
        # classes under it too: its fit is the probability of any of them (a jacket under
        # 4203, apparel of leather; a T-shirt under 6109 read as chapter 62).
        kinds = [() if h is None else kind_columns(h, chapter_signal) for h in declared]
        for extra in set(kinds) - {()}:
            groups = [g for g, columns in enumerate(kinds) if columns == extra]
            rows = np.flatnonzero(np.isin(codes, groups))
            also = np.logaddexp.reduce(
                signals[np.ix_(rows, np.asarray(extra, dtype=np.intp))], axis=1
            )
            fit_logp[rows] = np.logaddexp(fit_logp[rows], also)
        fit_logp = np.minimum(np.maximum(fit_logp, np.log(LOG_FLOOR)), 0.0)
        out[:, col["hs_missing"]] = ~hs_known
        out[:, col["hs_fit_logp"]] = np.where(hs_known, fit_logp, 0.0)
        out[:, col["hs_unfit"]] = hs_known & (fit_logp < np.log(UNFIT_CHAPTER_PROBABILITY))

        one_hot = lookups["one_hot"]
        category = column(items, "category")
        origin = column(items, "origin_country")
        destination = column(items, "destination_country")
        lanes = _lanes(origin, destination)
        _set_one_hot(out, chapters, one_hot["hs_chapter_"])
        _set_one_hot(out, category, one_hot["category_"])
        _set_one_hot(out, column(items, "mail_class"), one_hot["mail_"])
        _set_one_hot(out, lanes, one_hot["lane_"])
        _set_one_hot(out, origin, one_hot["origin_"])
        _set_one_hot(out, destination, one_hot["destination_"])
        out[:, col["category_missing"]] = np.array([c is None for c in category], dtype=float)
        gift = out[:, col["category_gift"]]
        out[:, col["weight_heavy_gift"]] = gift * heavy
        out[:, col["vague"]] = vague_flags(column(items, "description"))

        n_items, unexplained, share, declared_kg, gross = _parcel_context(items, net)
        gap_kg = np.expm1(unexplained)
        out[:, col["parcel_items_log"]] = np.log(n_items)
        out[:, col["parcel_unexplained_weight"]] = unexplained
        # Beyond the packaging of a parcel of its size, weight no line accounts for is no
        # longer packaging or a guess at the net: gear parcels declared by their cover's
        # weight leave it, ordinary ones almost never. The log above flattens that out.
        out[:, col["parcel_unexplained_kilos"]] = np.log1p(
            np.maximum(gap_kg - ordinary_unexplained_kg(declared_kg), 0.0)
        )
        # Kilos a line is missing against its wording that the parcel's unexplained weight
        # could hold: an understated net weight of hidden gear. A line that is merely light
        # (a rubber part, a sensor module) in a parcel whose weight adds up says nothing.
        expected_kg = np.exp(signals[:, sig["expected_log_unit_weight"]]) * quantity
        missing_kg = np.maximum(expected_kg - np.where(np.isfinite(net), net, expected_kg), 0.0)
        out[:, col["parcel_hidden_weight"]] = np.log1p(np.minimum(missing_kg, gap_kg))
        out[:, col["parcel_weight_share"]] = share
        out[:, col["parcel_gross_log"]] = np.where(np.isfinite(gross), np.log1p(gross), 0.0)
        # What the parties' past says; a parcel without history (no columns) reads as none.
        for name, (fact, scale) in HISTORY_FEATURES.items():
            values = column(items, fact, float)
            values = np.where(np.isfinite(values), values, 0.0)
            out[:, col[name]] = np.log1p(values) if scale == "log" else np.minimum(values, 1.0)
        return out

    def group_of(self, name: str) -> str:
        for prefix, group in self.GROUPS.items():
            if name.startswith(prefix):
                return group
        return "other"
