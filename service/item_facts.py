"""What each item of a scored batch states, and what the models read of it, as the reasons
quote it: one column per fact, computed on first use (most batches quote only a few kinds
of reason), each description's answers looked up once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

import numpy as np

from service import wording
from training import knowledge
from training.features import (
    OTHER_CHAPTER,
    UNFIT_CHAPTER_PROBABILITY,
    ItemColumns,
    column,
    factorize,
    parcel_codes,
    unit_weights,
    usd_values,
    vague_flags,
)
from training.features.measures import weights_as_meant
from training.gross_weight import gross_in_kg, parcel_nets_complete
from training.history import COUNT_FACTS, TEXT_FACTS
from training.model import ItemScores
from training.schema import RISK_CLASSES

# Expectations (weight, value, HS chapter) are quoted from this confidence on: the share of
# a description's words the text models know, or 1 with a known HS heading. More than half:
# in "Mikrowelle gebraucht" only "gebraucht" (used) was known, and the expectation it gave
# was that of used clothes ("11.8 kg is heavy, usually about 1.6 kg").
QUOTABLE_CONFIDENCE: Final = 0.6
# Text log-odds of a gear class against ordinary goods from which wording reads as gear
# itself (e^2.5: twelve to one), though no single word of it names gear.
READS_AS_GEAR: Final = 2.5
# Text log-odds from which wording honest goods are written with is said to be a common
# cover for the gear class it leans to: even odds, as often gear as ordinary goods in what
# the models learned. "шлем" for a ballistic helmet, "бинокль" for a night-vision device,
# "ботинки зимние" for army boots. Below it, the wording is no reason. At three to two
# (0.5), winter boots, binoculars and backpacks that their wording had sent over the cut-off
# were told only that "no single fact of the form stands out". Only an item over the review
# cut-off is told its cover: a clear "куртка мужская" is no case to answer.
COVER_WORDING: Final = 0.0


@dataclass(frozen=True)
class SignalColumns:
    """Where reasons find the text signals they quote."""

    weight: int
    value: int
    confidence: int
    # Whether the wording names gear outright (`training.gear_words`), as the model read it.
    names_gear: int
    # How far honest lines of the wording stray from its expected weight and worth.
    spreads: list[int]
    text: list[int]
    # The text models' log-probabilities of each HS chapter, and the chapters' names.
    chapters: list[int]
    chapter_names: list[str]


class ItemFacts:
    """Per-item values that reasons quote, each computed (as a whole column) on first use:
    most batches quote only a few kinds of reason."""

    def __init__(self, items: ItemColumns, scores: ItemScores, signals: SignalColumns) -> None:
        # Weights as the model read them: a line typed in grams is quoted in kilograms.
        self._items = weights_as_meant(items)
        self.net_typed = column(items, "net_weight_kg", float)
        self._scores = scores
        self._signals = signals
        self.description = column(items, "description")
        self.risk_class = scores.risk_class
        # The gear term of (description, class), where looked up (None: none to name).
        self.terms: dict[tuple[str, str], str | None] = {}
        # Items whose own score passes the review cut-off (None: all count as such).
        self.over_cut_off: np.ndarray | None = None
        # Per item, the row of the line its parcel is flagged for, where that is another
        # line (-1 where not; None: no item's parcel is flagged for another line).
        self.flagged_for: np.ndarray | None = None
        # Items whose parcel features' part of the score rests most on the parcel's gross
        # against its lines (None: on none).
        self.gap_leads: np.ndarray | None = None

    def _column(self, name: str) -> np.ndarray:
        return column(self._items, name)

    @cached_property
    def hs_code(self) -> np.ndarray:
        return self._column("hs_code")

    @cached_property
    def category(self) -> np.ndarray:
        return self._column("category")

    @cached_property
    def mail_class(self) -> np.ndarray:
        return self._column("mail_class")

    @cached_property
    def origin(self) -> np.ndarray:
        return self._column("origin_country")

    @cached_property
    def destination(self) -> np.ndarray:
        return self._column("destination_country")

    @cached_property
    def quantity(self) -> np.ndarray:
        quantity = column(self._items, "quantity", float)
        return np.where(np.isfinite(quantity), quantity, 1.0)

    @cached_property
    def unit_weight(self) -> np.ndarray:
        return unit_weights(self._items)

    @cached_property
    def net_weight(self) -> np.ndarray:
        """Each line's declared net weight (NaN where none)."""
        return column(self._items, "net_weight_kg", float)

    @cached_property
    def usd_value(self) -> np.ndarray:
        """Each line's declared value in USD (NaN where none is usable)."""
        return usd_values(self._items)

    @cached_property
    def usd_per_kg(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.usd_value / self.net_weight

    @cached_property
    def expected_weight(self) -> np.ndarray:
        return np.exp(self._scores.signals[:, self._signals.weight])

    @cached_property
    def expected_value(self) -> np.ndarray:
        return np.exp(self._scores.signals[:, self._signals.value])

    @cached_property
    def expectation_quotable(self) -> np.ndarray:
        """Whether the expected weight, value and HS chapter are the models' knowledge of
        this kind of ordinary goods (well-known wording or a known HS heading, and wording
        that does not itself name gear nor is only a vague word)."""
        signals = self._scores.signals
        confident = signals[:, self._signals.confidence] >= QUOTABLE_CONFIDENCE
        ordinary = signals[:, self._signals.text].max(axis=1) < 0.0
        # Wording that leans to gear yet has no gear term to name ("куртка зимняя": honest
        # words that disguises borrow) names ordinary goods: their expectation holds. Unless
        # it reads as gear as a whole: "военная форма" is a uniform of ~2 kg to an officer,
        # whatever children's costumes honest lines called that ("usually about 0.54 kg").
        for row in np.flatnonzero(~ordinary & ~self.reads_as_gear).tolist():
            key = (str(self.description[row]), self.term_class(row))
            if key in self.terms and self.terms[key] is None:
                ordinary[row] = True
        return confident & ordinary & self.names_ordinary_goods

    @cached_property
    def names_ordinary_goods(self) -> np.ndarray:
        """Whether the wording names a kind of ordinary goods to expect anything of.

        A vague word ("вещи б/у", "veshi b/u", "gift") names none. Nor does wording that
        names gear outright: "бронежилет" is not a heavy garment, whatever toy vest an
        honest line once called that ("usually about 0.089 kg"), nor wording that reads as
        gear as a whole ("военная форма"). Nor does wording of only the commonest words
        ("small", "for", "на память"): the models' expectation of it is an average."""
        named = self._scores.signals[:, self._signals.names_gear] != 0.0
        return ~self.vague & ~named & ~self.reads_as_gear & self.names_goods

    @cached_property
    def _descriptions(self) -> tuple[np.ndarray, np.ndarray]:
        """Each item's code among the distinct descriptions, and those descriptions."""
        codes, distinct = factorize(self.description)
        return codes, distinct

    def _per_description(
        self, test: Callable[[str], bool], where: np.ndarray | None = None
    ) -> np.ndarray:
        """`test` of each item's description, each distinct description tested once; with
        `where`, only the descriptions of those items (others read False)."""
        codes, distinct = self._descriptions
        if where is None:
            found = np.array([test(str(d)) for d in distinct.tolist()], dtype=bool)
        else:
            found = np.zeros(len(distinct), dtype=bool)
            for code in np.unique(codes[where]).tolist():
                found[code] = test(str(distinct[code]))
        return found[codes] if len(codes) else np.zeros(0, dtype=bool)

    @cached_property
    def leans_to_gear(self) -> np.ndarray:
        """Whether the text models read the wording as gear more than as ordinary goods."""
        return self._text_leaning.max(axis=1, initial=-np.inf) >= 0.0

    @cached_property
    def names_goods(self) -> np.ndarray:
        """Whether the description has a word beyond the commonest words of the lanes'
        languages."""
        return self._per_description(wording.names_goods)

    def expectation_spreads(self, rows: np.ndarray, wanted: list[bool]) -> np.ndarray:
        """How far honest lines of the wording of items `rows` stray from its expected weight
        per unit and USD/kg (`TextSignals.expectation_spreads`, as the score read them), where
        `wanted` (NaN elsewhere: no expectation of theirs is quoted)."""
        spreads = self._scores.signals[rows][:, self._signals.spreads]
        spreads[~np.asarray(wanted, dtype=bool)] = np.nan
        return spreads

    @cached_property
    def vague(self) -> np.ndarray:
        """Whether the description is only a vague word ("вещи б/у", "veshi b/u", "gift")."""
        return (vague_flags(self.description) != 0) | wording.vague_in_latin(self.description)

    @cached_property
    def chapter_elsewhere(self) -> np.ndarray:
        """Whether the wording points to an HS chapter other than the declared one with
        confidence (at least half the text models' probability on one other chapter) and
        the declared chapter is one the nomenclature hardly allows for it (under
        UNFIT_CHAPTER_PROBABILITY: a building thermal camera under 8525 is not "unfit" for
        leaning to 9025), nor one of the headings it classes such goods under elsewhere
        (a "куртка" under 4203, apparel of leather: `knowledge.hs_kinds`), nor a heading the
        goods catalogue declares the goods it names under (a phone case under 4202.32), nor
        one the gear nomenclature declares the kit it names under (a night-vision device
        under 9005, in whatever language)."""
        hs = self.hs_code
        signals = self._scores.signals
        columns = self._signals.chapters
        names = self._signals.chapter_names
        out = np.zeros(len(hs), dtype=bool)
        if not columns:
            return out
        logp = signals[:, columns]
        best = logp.argmax(axis=1)
        confident = logp[np.arange(len(hs)), best] >= np.log(0.5)
        column_of = {name: j for j, name in enumerate(names)}
        unfit = np.log(UNFIT_CHAPTER_PROBABILITY)
        descriptions = self.description.tolist()
        for row, code in enumerate(hs.tolist()):
            chapter = names[best[row]]
            # "Another chapter" lumps many together: pointing there says nothing precise.
            if isinstance(code, str) and confident[row] and chapter != OTHER_CHAPTER:
                declared = column_of.get(code[:2], column_of.get(OTHER_CHAPTER))
                plausible = (
                    (declared is not None and logp[row, declared] >= unfit)
                    or knowledge.classes_same_kind(chapter, code)
                    or knowledge.catalogue_lists_code(str(descriptions[row]), code)
                    # Gear declared under its own heading is declared as what it is.
                    or knowledge.kit_lists_code(str(descriptions[row]), code)
                )
                out[row] = chapter != code[:2] and not plausible
        return out

    @cached_property
    def gear_class(self) -> np.ndarray:
        gear = self._scores.class_proba[:, 1:]
        return np.asarray(RISK_CLASSES, dtype=object)[gear.argmax(axis=1)]

    @cached_property
    def gross_typed(self) -> np.ndarray:
        """Per item: its parcel's gross weight as typed."""
        return column(self._items, "gross_weight_kg", float)

    @cached_property
    def parcel_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Per item: its parcel's gross weight in kilograms (`gross_in_kg`, as the model
        reads it) and the net weights its lines declare, NaN where a line declares none (it
        may hold any part of the gross: `parcel_nets_complete`)."""
        codes = parcel_codes(self._column("declaration_id"))
        net = self.net_weight
        known = np.isfinite(net)
        declared = np.bincount(codes, weights=np.where(known, net, 0.0))[codes]
        gross = gross_in_kg(self.gross_typed, declared)
        return gross, np.where(parcel_nets_complete(codes, known), declared, np.nan)

    @cached_property
    def n_items(self) -> np.ndarray:
        codes = parcel_codes(self._column("declaration_id"))
        return np.bincount(codes)[codes] if len(codes) else np.zeros(0)

    @cached_property
    def _history_columns(self) -> dict[str, np.ndarray]:
        out = {name: column(self._items, name, float) for name in COUNT_FACTS}
        out.update({name: column(self._items, name) for name in TEXT_FACTS})
        return out

    def history(self, row: int) -> dict[str, Any]:
        """The history facts of one item's parcel (absent facts read as none)."""
        out: dict[str, Any] = {name: values[row] for name, values in self._history_columns.items()}
        for name in COUNT_FACTS:
            out[name] = float(out[name]) if math.isfinite(out[name]) else 0.0
        out["destination_country"] = self.destination[row]
        return out

    @cached_property
    def reads_as_gear(self) -> np.ndarray:
        """Whether an item's wording as a whole reads as gear: text log-odds of a gear class
        of at least READS_AS_GEAR against ordinary goods, in words of the gear nomenclature
        ("военная форма"). Wording with a word of honest goods in it is a cover however
        strongly disguises lean on it ("Samples of ceramic tiles" over plates), and a vague
        word or the commonest words never read as anything ("вещи", "for")."""
        strong = self._text_leaning.max(axis=1, initial=-np.inf) >= READS_AS_GEAR
        candidates = strong & ~self.vague & self.names_goods
        return candidates & self._per_description(wording.in_gear_wording, where=candidates)

    @cached_property
    def _text_leaning(self) -> np.ndarray:
        """Per item and gear class, the text models' log-odds against ordinary goods."""
        return self._scores.signals[:, self._signals.text]

    def _leaning_class(self, where: np.ndarray) -> np.ndarray:
        """Per item, the gear class its wording leans to most where `where`, else None."""
        out = np.full(len(where), None, dtype=object)
        rows = np.flatnonzero(where)
        out[rows] = np.asarray(RISK_CLASSES, dtype=object)[self._text_leaning[rows].argmax(axis=1)]
        return out

    @cached_property
    def read_as_gear(self) -> np.ndarray:
        """Per item, the gear class its wording reads as (`reads_as_gear`), or None."""
        return self._leaning_class(self.reads_as_gear)

    @cached_property
    def covers_gear(self) -> np.ndarray:
        """Per item, the gear class its wording is often declared for, or None: text
        log-odds of the class of at least COVER_WORDING, short of reading as gear itself
        (`reads_as_gear`); never for wording with a vague word or only the commonest, nor
        the bare name of everyday goods (`wording.is_everyday_name`: "Ботинки") unless it
        is a name of the kit ("тепловизор": told what it names), and
        only for an item whose own score passes the review cut-off: a clear "куртка
        мужская" looked at for scoring near it is not told what jackets may hide."""
        strongest = self._text_leaning.max(axis=1, initial=-np.inf)
        candidates = (strongest >= COVER_WORDING) & ~self.reads_as_gear
        if self.over_cut_off is not None:
            candidates &= self.over_cut_off
        # Whether the wording names its goods itself (`wording.names_goods_itself`) is asked
        # only of those few items: its vague words are looked for in every form.
        cover = candidates & self._per_description(
            lambda d: (
                wording.names_goods_itself(d)
                and (wording.names_the_kit(d) or not wording.is_everyday_name(d))
            ),
            where=candidates,
        )
        out = self._leaning_class(cover)
        # Of the class the item is read as, where its wording leans to that class too: a
        # "Жилет рыболовный" read as body armour is told what body armour is declared as,
        # not the tactical kit its words lean to a little more (an officer read the two as
        # a contradiction).
        rows = np.flatnonzero(cover)
        read_as = np.asarray(self.risk_class, dtype=object)[rows]
        for row, risk_class in zip(rows.tolist(), read_as.tolist(), strict=True):
            if risk_class in RISK_CLASSES and (
                self._text_leaning[row, RISK_CLASSES.index(risk_class)] >= COVER_WORDING
            ):
                out[row] = risk_class
        return out

    def term_class(self, row: int) -> str:
        """The gear class a term reason speaks of: the predicted one, or the likeliest gear."""
        risk_class = str(self.risk_class[row])
        return risk_class if risk_class != "benign" else str(self.gear_class[row])
