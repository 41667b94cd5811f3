"""The keyword watch-list baseline: today's customs risk profile, as a score.

Customs select parcels with hand-written risk profiles: lists of suspicious terms and
red-flag rules ("vest" over 3 kg). `Watchlist` runs such a profile
(`lexicon/watchlist.toml`) over item columns and scores each item by the summed weights of
the rules it trips, so it can be measured on the same curves as the model (ROC, precision
and recall at a false-alarm rate). It is a yardstick for benchmarks, not part of scoring.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np

from training.features import ItemColumns, column, unit_weights, usd_values
from training.schema import RISK_CLASSES

# Terms this short are acronyms or designations ("pnv", "bdu", "6b7"): as a word prefix they
# would hit ordinary words ("acu" in "acupuncture"), so they must stand as a whole word.
_WHOLE_WORD_MAX_CHARS: Final = 4
_CJK: Final = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def normalise(description: str) -> str:
    """The form terms are matched against: NFKC, casefolded, "ё" as "е", single spaces."""
    text = unicodedata.normalize("NFKC", description).casefold().replace("ё", "е")
    return " ".join(text.split())


def _term_pattern(term: str) -> str:
    escaped = re.escape(term)
    if _CJK.search(term):
        return escaped
    if len(term) <= _WHOLE_WORD_MAX_CHARS:
        return rf"(?<!\w){escaped}(?!\w)"
    return rf"(?<!\w){escaped}"


@dataclass(frozen=True)
class Rule:
    """One line of a risk profile: terms and/or conditions, and what a hit weighs."""

    name: str
    risk_class: str
    weight: float
    terms: tuple[str, ...] = ()
    min_unit_kg: float | None = None
    max_unit_kg: float | None = None
    max_usd_per_kg: float | None = None
    hs_prefixes: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.risk_class not in RISK_CLASSES:
            raise ValueError(f"rule {self.name}: unknown class {self.risk_class!r}")
        if not (self.terms or self.hs_prefixes or self.min_unit_kg is not None):
            raise ValueError(f"rule {self.name}: needs terms, HS prefixes or a weight condition")

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> Rule:
        def optional_float(key: str) -> float | None:
            value = table.get(key)
            return None if value is None else float(value)

        return cls(
            name=str(table["name"]),
            risk_class=str(table["class"]),
            weight=float(table["weight"]),
            terms=tuple(normalise(str(t)) for t in table.get("terms", ())),
            min_unit_kg=optional_float("min_unit_kg"),
            max_unit_kg=optional_float("max_unit_kg"),
            max_usd_per_kg=optional_float("max_usd_per_kg"),
            hs_prefixes=tuple(str(p) for p in table.get("hs_prefixes", ())),
            categories=tuple(str(c) for c in table.get("categories", ())),
        )


class Watchlist:
    """A compiled risk profile: item columns in, a rule-weight score per item out."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        if not rules:
            raise ValueError("a watch-list needs at least one rule")
        self.rules = tuple(rules)
        # One alternation per rule: a description is searched once per rule, not per term.
        self._patterns = [
            re.compile("|".join(_term_pattern(t) for t in rule.terms)) if rule.terms else None
            for rule in self.rules
        ]

    @classmethod
    def load(cls, path: Path | None = None) -> Watchlist:
        """The profile at `path`, or the one shipped with the package."""
        if path is None:
            text = resources.files("training").joinpath("lexicon/watchlist.toml").read_text("utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        tables = tomllib.loads(text).get("rule", [])
        return cls([Rule.from_table(table) for table in tables])

    def term_hits(self, description: str) -> list[str]:
        """Names of the rules whose terms occur in a description (conditions not checked)."""
        text = normalise(description)
        return [
            rule.name
            for rule, pattern in zip(self.rules, self._patterns, strict=True)
            if pattern is not None and pattern.search(text)
        ]

    def _term_matrix(self, descriptions: np.ndarray) -> np.ndarray:
        """(items, rules) booleans: the rule's terms occur (True for rules without terms)."""
        distinct, inverse = np.unique(
            np.asarray([d if isinstance(d, str) else "" for d in descriptions], dtype=object),
            return_inverse=True,
        )
        matrix = np.ones((len(distinct), len(self.rules)), dtype=bool)
        for i, description in enumerate(distinct):
            text = normalise(str(description))
            for j, pattern in enumerate(self._patterns):
                if pattern is not None:
                    matrix[i, j] = pattern.search(text) is not None
        return matrix[inverse.reshape(-1)]

    def fired(self, items: ItemColumns) -> np.ndarray:
        """(items, rules) booleans: which rules each item trips."""
        hits = self._term_matrix(column(items, "description"))
        unit_kg = unit_weights(items)
        net = column(items, "net_weight_kg", float)
        with np.errstate(divide="ignore", invalid="ignore"):
            usd_per_kg = usd_values(items) / net
        hs = np.asarray(
            [c if isinstance(c, str) else "" for c in column(items, "hs_code")], dtype=object
        )
        category = column(items, "category")
        for j, rule in enumerate(self.rules):
            ok = hits[:, j]
            # A missing weight or value never satisfies a condition: the profile flags what
            # the form says, and an empty field says nothing.
            if rule.min_unit_kg is not None:
                ok &= np.nan_to_num(unit_kg, nan=-np.inf) >= rule.min_unit_kg
            if rule.max_unit_kg is not None:
                ok &= np.nan_to_num(unit_kg, nan=np.inf) <= rule.max_unit_kg
            if rule.max_usd_per_kg is not None:
                ok &= np.nan_to_num(usd_per_kg, nan=np.inf) <= rule.max_usd_per_kg
            if rule.hs_prefixes:
                ok &= np.fromiter(
                    (code.startswith(rule.hs_prefixes) for code in hs), dtype=bool, count=len(hs)
                )
            if rule.categories:
                ok &= np.isin(category, list(rule.categories))
            hits[:, j] = ok
        return hits

    def score(self, items: ItemColumns) -> np.ndarray:
        """Per item, the summed weight of the rules it trips (0: nothing on the list)."""
        weights = np.asarray([rule.weight for rule in self.rules])
        return np.asarray(self.fired(items) @ weights, dtype=float)

    def risk_class(self, items: ItemColumns) -> np.ndarray:
        """Per item, the class with the most rule weight, or "benign" when nothing fires."""
        fired = self.fired(items)
        classes = list(RISK_CLASSES)
        by_class = np.zeros((fired.shape[0], len(classes)))
        for j, rule in enumerate(self.rules):
            by_class[:, classes.index(rule.risk_class)] += fired[:, j] * rule.weight
        names = np.asarray(classes, dtype=object)[by_class.argmax(axis=1)]
        return np.where(by_class.max(axis=1) > 0, names, "benign").astype(object)


def watchlist_scores(items: ItemColumns, rules: Iterable[Rule] | None = None) -> np.ndarray:
    """Scores of the shipped watch-list (or of `rules`) for item columns."""
    watchlist = Watchlist.load() if rules is None else Watchlist(list(rules))
    return watchlist.score(items)
