"""The reasons an officer reads: which parts of the form moved a score, said in words.

The model's last layer is linear, so each score splits exactly into per-feature
contributions; those are summed by group (weight, value, HS code, lane, history, ...) and the
strongest groups become reasons. This module turns them into `(code, message)` pairs that
quote the form and what the text models expect of such goods. Work is done one kind of
reason at a time over all its items; the only Python loops run over the few reasons of
flagged items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import numpy as np

from service import wording
from service.item_facts import QUOTABLE_CONFIDENCE, ItemFacts, SignalColumns
from training import knowledge
from training.features import (
    SMALL_INPUT,
    SPREAD_SIGNALS,
    ItemColumns,
    trim_cache,
)
from training.gear_words import gear_named_in
from training.gross_weight import unusual_packaging_kg
from training.history import (
    ROLES,
    Role,
    history_message,
    prior_message,
    watchlist_message,
)
from training.model import ItemScores, RiskModel
from training.schema import RISK_CLASSES

MAX_REASONS: Final = 3
# The strongest groups looked at for those reasons: a group that moved the score but has
# nothing true to say (a weight within what its kind weighs) leaves its place to the next,
# so a sender's two earlier parcels read as gear are said though three groups moved more.
_GROUPS_LOOKED_AT: Final = MAX_REASONS + 2
# Items whose per-feature contributions are computed at a time.
_CONTRIBUTION_BLOCK: Final = 4096
# (description, class) -> term entries kept per process for reasons.
_TERM_CACHE_ENTRIES: Final = 20_000
# A group must move the logit by at least this much to be worth an officer's attention.
MIN_REASON_LOGIT: Final = 0.3
# From this many units on one line, the quantity is a reason of its own: officers at two
# exchanges would not accept "5 units" or "6 units" of boots as one (honest shops' and
# samples' lines declare 6, 10, 20).
_MANY_UNITS: Final = 10

_CLASS_WORDS: Final = {
    "body_armor": "body armour",
    "helmet": "a ballistic helmet",
    "tactical_apparel": "military/tactical kit",
    "optics_sensors": "night-vision, thermal or military optics, radios and sensors",
    "benign": "ordinary goods",
}


# A reason as (code, message); the surfaces render it as a dict or as `code: message`.
Reason = tuple[str, str]
_RANDOM_SELECTION: Final = (
    "random_selection",
    "picked at random for control (a share of clear parcels)",
)
# Said of an item over the review cut-off when no fact of it may be named (its wording
# moved the score, and no word of it is one an officer would call typical of gear): the
# officer is told the flag rests on no single fact, rather than given nothing, and which
# parts of the form weigh most (officers at two posts read "no single fact stands out" alone
# as telling them nothing). The part of the form each kind of reason reads:
_PART_OF_THE_FORM: Final = {
    "terms": "its wording",
    "vague_description": "its vague wording",
    "weight": "its weight per unit",
    "value": "its value",
    "hs_code": "its HS code",
    "parcel": "its parcel's gross weight",
    "quantity": "its quantity",
    "category": "its category",
    "mail_class": "its mail class",
    "lane": "its lane",
    "origin": "its lane",
    "destination": "its lane",
    "sender_history": "its sender's past",
    "sender_prior": "its sender's past",
    "recipient_history": "its recipient's past",
    "recipient_prior": "its recipient's past",
    "watchlist": "the watch list",
}


def _form_as_a_whole(groups: list[str]) -> Reason:
    """The reason of an item over the review cut-off that no fact moved far enough alone:
    the parts of its form that moved it most (`groups`, strongest first; at most two)."""
    parts = list(dict.fromkeys(_PART_OF_THE_FORM.get(g, "its form") for g in groups))[:2]
    verb = "weigh" if len(parts) > 1 else "weighs"
    weighs = f": {' and '.join(parts)} {verb} most" if parts else ""
    return (
        "form_as_a_whole",
        f"no single fact of the form stands out; it passes the review cut-off taken as a"
        f" whole{weighs}",
    )


_WEIGHT_MISSING: Final = ("weight_missing", "no net weight declared")
_VALUE_MISSING: Final = ("value_missing", "no usable declared value")
_HS_MISSING: Final = ("hs_missing", "no HS code declared")


def _flagged_with(lead_description: object) -> Reason:
    """Said of a line with nothing of its own to tell, in a parcel flagged for another one:
    the officer knows which line to open the parcel for."""
    lead = _short(str(lead_description))
    return ("flagged_with", f"nothing on this line stands out; its parcel is flagged for '{lead}'")


# A fresh empty list for each element of an array.
_new_lists: Final = np.frompyfunc(lambda _: [], 1, 1)
# Reasons in a batch cell: `code: message` entries joined by this.
REASON_SEPARATOR: Final = " | "


# The parcel features that set its gross weight against what its lines declare.
_GAP_FEATURES: Final = (
    "parcel_unexplained_weight",
    "parcel_unexplained_kilos",
    "parcel_hidden_weight",
)
# Kinds of reason that need to know whether a description names gear.
_ASKS_FOR_TERMS: Final = ("terms", "weight", "value", "hs_code")
# Kinds of reason whose message quotes the (shortened) description.
_QUOTES_DESCRIPTION: Final = frozenset({"weight", "value", "hs_code", "vague_description"})


def _positions_by_group(groups: np.ndarray, strong: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(group, positions) for the strong entries of one rank, by group."""
    if len(groups) <= SMALL_INPUT:
        found: dict[int, list[int]] = {}
        for position, (group, ok) in enumerate(zip(groups.tolist(), strong.tolist(), strict=True)):
            if ok:
                found.setdefault(group, []).append(position)
        return [(group, np.asarray(found[group])) for group in sorted(found)]
    return [
        (group, np.flatnonzero(strong & (groups == group)))
        for group in np.unique(groups[strong]).tolist()
    ]


def _put(target: np.ndarray, positions: np.ndarray, values: list[Any]) -> None:
    """`target[positions] = values` for an object array, values being tuples or lists."""
    if len(positions) <= SMALL_INPUT:
        for position, value in zip(positions.tolist(), values, strict=True):
            target[position] = value
        return
    target[positions] = _object_array(values)


def _object_array(values: list[Any]) -> np.ndarray:
    """A 1-d object array of `values` (numpy would make tuples and lists a second axis)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _short(description: str, limit: int = 40) -> str:
    return description if len(description) <= limit else description[: limit - 1] + "…"


# Below this an expected worth per kg is no basis for "too high" or "too low".
_LEAST_QUOTED_USD_PER_KG: Final = 0.5
# How far from the usual a weight or worth must be before it is called heavy, light, high or
# low: 6.9 kg is no news for a child's bicycle of "usually about 6.3 kg", though the model
# may still weigh the difference.
_WEIGHT_RATIO_SAID: Final = 1.5
_VALUE_RATIO_SAID: Final = 2.0


# How many of its wording's spreads (`TextSignals.expectation_spreads`, a standard deviation
# of honest lines in log units) a weight or worth must stray before it is called off: beyond
# what about 19 in 20 honest lines of such wording show.
_SPREADS_SAID: Final = 2.0


def _said_ratio(least: float, spread: float) -> float:
    """The ratio to the usual beyond which a weight or worth is called off: `least`, or
    `_SPREADS_SAID` spreads of its wording's honest lines where those stray further."""
    return max(least, math.exp(_SPREADS_SAID * spread)) if math.isfinite(spread) else least


# What the goods catalogue knows of a kind of goods, per unit (`knowledge.catalogue_kinds`):
# the range honest lines of its kinds fall in (2 spreads either side of each kind's median),
# and the figures quoted beside a weight or worth below it and above it.
@dataclass(frozen=True)
class _KnownRange:
    lowest: float
    highest: float
    said_below: float
    said_above: float


# How many of a catalogue kind's spreads either side of its median its honest lines fall in.
_CATALOGUE_SPREADS: Final = 2.0


def _catalogue_range(kinds: tuple[knowledge.ItemType, ...], group: str) -> _KnownRange | None:
    """What the catalogue's `kinds` of goods weigh per unit ("weight") or are worth per kg
    ("value"): a wine bottle weighs 0.96-1.75 kg and is worth 5-84 USD/kg."""
    if not kinds:
        return None
    bounds, typical = [], []
    for kind in kinds:
        stretch = math.exp(_CATALOGUE_SPREADS * kind.weight_sigma)
        median = kind.weight_median_kg
        if group == "weight":
            bounds.append((median / stretch, median * stretch))
            typical.append(median)
        else:
            low, high = kind.worth_usd
            bounds.append((low / (median * stretch), high * stretch / median))
            typical.append(math.sqrt(low * high) / median)
    return _KnownRange(
        min(b[0] for b in bounds), max(b[1] for b in bounds), min(typical), max(typical)
    )


@lru_cache(maxsize=100_000)
def _known_range(description: str, group: str) -> _KnownRange | None:
    """What the goods catalogue knows of the goods a description names (`_catalogue_range`),
    once per description and kind of reason in a process."""
    return _catalogue_range(knowledge.catalogue_kinds(description), group)


@lru_cache(maxsize=10_000)
def _catalogue_heading_elsewhere(description: str, code: str) -> tuple[str, ...]:
    """The headings the goods catalogue declares the goods a description names under
    (`knowledge.catalogue_headings`), where the declared code's chapter is none of theirs and
    its heading is not that of kit the wording names (`knowledge.kit_lists_code`); none
    otherwise. A CCTV camera under 9005 (binoculars, monoculars) is declared as what it is
    not, though cameras and optics share a kind the text models read as one chapter or the
    other; a jacket under 6201 or 6202 is a clerk's choice within its chapter, never said."""
    digits = code.replace(".", "")
    headings = knowledge.catalogue_headings(description)
    chapters = {heading[:2] for heading in headings}
    if len(digits) < 4 or not headings or digits[:2] in chapters:
        return ()
    # Kinds that share no chapter are a box of several goods ("Возврат товара чехлы" is a
    # return of clothes, shoes or phone cases): the code may fit any of them.
    of_kinds = [
        {listed.replace(".", "")[:2] for listed in kind.names.hs_codes}
        for kind in knowledge.catalogue_kinds(description)
    ]
    if not set.intersection(*of_kinds):
        return ()
    # A leather jacket under 4203, a cardigan under 6203 or 6110, old clothes under 6203 or
    # 6309: the nomenclature classes such goods under either.
    if any(knowledge.classes_same_kind(c, digits, by_catalogue=True) for c in chapters) or any(
        knowledge.classes_same_kind(digits[:2], heading, by_catalogue=True) for heading in headings
    ):
        return ()
    # A trail camera under 9006 as well as 8525: headings that hold the same goods.
    if any(
        digits[:4] in group and not group.isdisjoint(headings)
        for group in knowledge.same_goods_headings()
    ):
        return ()
    return () if knowledge.kit_lists_code(description, digits) else headings[:2]


@lru_cache(maxsize=10_000)
def _code_range(code: str, group: str) -> _KnownRange | None:
    """What the goods catalogue knows of the goods it declares under an HS code's digits
    (`_catalogue_range`), once per code and kind of reason in a process."""
    return _catalogue_range(knowledge.catalogue_kinds_under(code), group)


def _off_usual(
    actual: float, usual: float, known: _KnownRange | None, least_ratio: float, spread: float
) -> tuple[bool, float] | None:
    """Whether a weight or worth is above what it is set against, and the usual figure to
    say beside it; None where it is not far enough off to be a reason.

    It must stray from the models' expectation by `least_ratio`, or by as far as honest
    lines of such wording stray (`spread`). Where the goods catalogue knows the kind of goods
    (`known`), it must also lie outside that kind's range, on the same side, and
    `least_ratio` from the catalogue's figure, which is the one said: a 1.6 kg pair of
    hiking boots is no reason, whatever the models expect of "Men's ... Outdoor" words."""
    if not _far_from(actual, usual, _said_ratio(least_ratio, spread)):
        return None
    above = actual > usual
    if known is None:
        return above, usual
    if above and actual > known.highest:
        figure = known.said_above
    elif not above and actual < known.lowest:
        figure = known.said_below
    else:
        return None
    return (above, figure) if _far_from(actual, figure, least_ratio) else None


def _physical_reason(
    weight: bool,
    actual: float,
    usual: float,
    known: _KnownRange | None,
    spread: float,
    description: str,
    subject: str,
    quotable: bool,
    vague: bool,
    names_kit: bool = False,
) -> Reason | None:
    """An item's weight per unit (`weight`) or worth per kg set against what such goods
    weigh or are worth (`usual`, `known`): the reason it gives, if any.

    Wording that holds a name of the kit (`names_kit`: "night vision goggles") is never
    called light or dear: what honest lines of such wording weigh and cost is that of
    look-alikes (toys, cheap digital sets), lighter and cheaper than the kit, and "800
    USD/kg is high (usually about 37 USD/kg)" of night-vision goggles read to an officer as
    the tool's idea of what the kit costs."""
    if not quotable:
        # A vague word has no usual weight or worth to quote, but the weight it hides and
        # what it is declared at per kilo are what an officer weighs it by.
        if not (vague and math.isfinite(actual)):
            return None
        fact = (
            f", for {_kg(actual)} kg per unit" if weight else f", declared at {_usd(actual)} USD/kg"
        )
        return _too_vague(description, fact)
    if not weight and usual < _LEAST_QUOTED_USD_PER_KG:
        return None
    if not math.isfinite(actual):
        return _WEIGHT_MISSING if weight else _VALUE_MISSING
    off = _off_usual(
        actual, usual, known, _WEIGHT_RATIO_SAID if weight else _VALUE_RATIO_SAID, spread
    )
    if off is None:
        return None
    above, figure = off
    if names_kit and above != weight:
        return None
    if weight:
        return (
            "weight_mismatch",
            f"{_kg(actual)} kg per unit is {'heavy' if above else 'light'}"
            f" for {subject} (usually about {_kg(figure)} kg)",
        )
    return (
        "value_mismatch",
        f"declared {_usd(actual)} USD/kg is {'high' if above else 'low'} for {subject}"
        f" (usually about {_usd(figure)} USD/kg)",
    )


def _cheap_for_its_weight(
    usd_per_kg: float, usual_usd_per_kg: float, unit_kg: float, usual_unit_kg: float
) -> bool:
    """Whether a unit cheap per kilo is so only for being heavy: it weighs beyond what such
    goods weigh (`_WEIGHT_RATIO_SAID`), and per unit it is worth about what they are."""
    heavy = unit_kg > usual_unit_kg and _far_from(unit_kg, usual_unit_kg, _WEIGHT_RATIO_SAID)
    return (
        heavy
        and usd_per_kg < usual_usd_per_kg
        and usd_per_kg * unit_kg >= usual_usd_per_kg * usual_unit_kg / _VALUE_RATIO_SAID
    )


def _unsay_worth_for_weight(ranked: list[np.ndarray], rows: np.ndarray, facts: ItemFacts) -> None:
    """Take back, in place, each worth reason said beside a weight reason of an item cheap
    per kilo only for being heavy (`_cheap_for_its_weight`): "declared 2.6 USD/kg is low"
    of a "Жилетка" of 9 kg at 22 USD, a vest's price, only says "9 kg is heavy" again.
    Officers at two posts refused it of toy and bicycle helmets. `ranked` holds the
    explained items' reasons rank by rank; `rows` are their rows of `facts`."""
    codes = [[None if r is None else r[0] for r in column.tolist()] for column in ranked]
    weighed = sorted(
        {p for column in codes for p, code in enumerate(column) if code == "weight_mismatch"}
    )
    for column, column_codes in zip(ranked, codes, strict=True):
        both = [p for p in weighed if column_codes[p] == "value_mismatch"]
        if not both:
            continue
        at = rows[both]
        cheap = [
            _cheap_for_its_weight(*line)
            for line in zip(
                facts.usd_per_kg[at].tolist(),
                facts.expected_value[at].tolist(),
                facts.unit_weight[at].tolist(),
                facts.expected_weight[at].tolist(),
                strict=True,
            )
        ]
        taken = [p for p, is_cheap in zip(both, cheap, strict=True) if is_cheap]
        _put(column, np.array(taken, dtype=np.int64), [None] * len(taken))


def _as_grams(typed: float, kilograms: float) -> str:
    """How a weight read as grams was typed, for an officer holding the form."""
    return f" (typed {typed:g}, read as grams)" if typed != kilograms else ""


def _far_from(actual: float, usual: float, ratio: float) -> bool:
    return usual > 0 and actual > 0 and abs(math.log(actual / usual)) >= math.log(ratio)


def _usd(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _sent_as(mail_class: object) -> str | None:
    """What a mail-class reason tells: only that no class was given, which an officer can
    act on. The service itself is no finding against a parcel: a third of the honest
    parcels of a Georgian exchange go by EMS, and an officer there would not accept "sent
    as ems" as a reason to stop one; letter post carries less gear than any other service."""
    if isinstance(mail_class, str) and mail_class:
        return None
    return "no mail class declared"


# Reasons that speak of where a parcel goes or what it is declared as, not of the parcel:
# true, but no officer stops a parcel for its lane ("that lane is nearly all my traffic") or
# for being a gift ("most of this lane is gifts"), so one is said only where nothing else
# is, and of an item over the review cut-off, never alone: it is told the parts of its
# form that weigh most (`_form_as_a_whole`).
_CONTEXT_CODES: Final = frozenset({"lane", "category"})
# Reasons that speak only of how a line is worded, and the groups of physical facts (weight
# and worth per unit) told beside them where they moved the score too.
_WORDING_CODES: Final = frozenset({"cover_wording", "suspicious_term"})
_PHYSICAL_GROUPS: Final = ("weight", "value")


def _said(reasons: tuple[Reason | None, ...]) -> list[Reason]:
    """An item's reasons as said: strongest first, one per code (two kinds of evidence can
    say the same thing, "'киім' is too vague..." from its weight and from its wording), its
    lane or category only where nothing else is said (`_CONTEXT_CODES`), at most
    MAX_REASONS of them, then a random pick."""
    seen: set[str] = set()
    facts: list[Reason] = []
    context: list[Reason] = []
    picked: list[Reason] = []
    for reason in reasons:
        if reason is None or reason[0] in seen:
            continue
        seen.add(reason[0])
        if reason[0] == _RANDOM_SELECTION[0]:
            picked.append(reason)
        else:
            (context if reason[0] in _CONTEXT_CODES else facts).append(reason)
    return (facts or context)[:MAX_REASONS] + picked


# How far a unit's weight may lie from the weight its description writes and still be it.
_AS_WRITTEN_RATIO: Final = 1.25


def _against_written(reason: Reason | None, unit_kg: float, description: str) -> Reason | None:
    """A weight reason set against the weight a description writes of a unit ("Гиря 16
    кг"), where it writes one: none where the unit weighs about that, else the unit against
    that figure, not against what such wording usually weighs."""
    if reason is None or reason[0] != "weight_mismatch" or not math.isfinite(unit_kg):
        return reason
    stated = wording.stated_unit_weights(description)
    if not stated:
        return reason
    if any(not _far_from(unit_kg, w, _AS_WRITTEN_RATIO) for w in stated):
        return None
    nearest = min(stated, key=lambda w: abs(math.log(unit_kg / w)))
    side = "heavy" if unit_kg > nearest else "light"
    return (
        "weight_mismatch",
        f"{_kg(unit_kg)} kg per unit is {side} for '{_short(description)}'"
        f" (its description says {_kg(nearest)} kg)",
    )


def _too_vague(description: str, fact: str = "") -> Reason:
    """A vague description said as such, with the physical fact that moved its score."""
    return ("vague_description", f"'{description}' is too vague to say what the goods are{fact}")


def _items(n: int) -> str:
    """Where an item stands in its parcel: alone, or among others."""
    return "the only item" if n == 1 else f"one of {n} items"


def _kg(value: float) -> str:
    return f"{value:.2g}" if value < 10 else f"{value:.0f}"


class ReasonWriter:
    """The reasons of one model's scores: which groups of features moved each item's score,
    said as `(code, message)` pairs an officer can act on."""

    def __init__(self, model: RiskModel) -> None:
        self.model = model
        names = model.feature_names
        groups = [model.form_.group_of(n) for n in names]
        self._groups = sorted(set(groups))
        # Which groups ask for the terms of their items' wording, and which are of weight
        # and worth (`_PHYSICAL_GROUPS`), by group index.
        self._asks_for_terms = np.isin(self._groups, _ASKS_FOR_TERMS)
        self._physical = np.isin(self._groups, _PHYSICAL_GROUPS)
        # Feature -> group indicator: group contributions are one matrix product.
        self._group_matrix = np.zeros((len(names), len(self._groups)))
        for j, group in enumerate(groups):
            self._group_matrix[j, self._groups.index(group)] = 1.0
        signal_names = list(model.text_.get_feature_names_out())
        self._signal_columns = SignalColumns(
            weight=signal_names.index("expected_log_unit_weight"),
            value=signal_names.index("expected_log_usd_per_kg"),
            confidence=signal_names.index("expectation_confidence"),
            names_gear=signal_names.index("names_gear"),
            spreads=[signal_names.index(name) for name in SPREAD_SIGNALS],
            text=[signal_names.index(f"text_{c}") for c in RISK_CLASSES],
            chapters=[j for j, name in enumerate(signal_names) if name.startswith("chapter_logp_")],
            chapter_names=[
                name.removeprefix("chapter_logp_")
                for name in signal_names
                if name.startswith("chapter_logp_")
            ],
        )
        # The parcel features, and which of them read its gross against its lines: where
        # those lead the parcel's part of a score, the reason says so, not where the line
        # stands.
        self._parcel_columns = [j for j, group in enumerate(groups) if group == "parcel"]
        self._gap_columns = np.isin(
            np.asarray(names, dtype=object)[self._parcel_columns], _GAP_FEATURES
        )
        self._term_cache: dict[tuple[str, str], str | None] = {}
        # Loaded with the model, not on the first request that reads as gear.
        knowledge.gear_vocabulary()

    def reasons(
        self,
        items: ItemColumns,
        scores: ItemScores,
        explain: np.ndarray,
        selected: np.ndarray,
        as_cells: bool,
        over_cut_off: np.ndarray | None = None,
        flagged_for: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per item: a list of {code, message} dicts, or with `as_cells` one text cell
        (`code: message` entries joined by " | ", empty for none). An item `over_cut_off`
        (its own score passes the review cut-off) that no reason fits is said to pass it as a
        whole; one with no reason in a parcel flagged for another line (`flagged_for`: that
        line's row, -1 for none) is told which line."""
        n = len(explain)
        rows = np.flatnonzero(explain)
        # Rank by rank: (code, message) of each explained item's strongest reasons.
        ranked = [np.full(len(rows), None, dtype=object) for _ in range(_GROUPS_LOOKED_AT + 1)]
        if len(rows):
            contributions = np.empty((len(rows), len(self._groups)))
            gap_leads = np.zeros(n, dtype=bool)
            # In blocks: per-feature contributions of every explained item at once were
            # the largest array of a batch (129 floats an item).
            for start in range(0, len(rows), _CONTRIBUTION_BLOCK):
                block = rows[start : start + _CONTRIBUTION_BLOCK]
                per_feature = self.model.contributions(scores.features[block])
                contributions[start : start + len(block)] = per_feature @ self._group_matrix
                parcel_part = per_feature[:, self._parcel_columns]
                gap_leads[block] = self._gap_columns[parcel_part.argmax(axis=1)]
            order = np.argsort(-contributions, axis=1)[:, :_GROUPS_LOOKED_AT]
            strong = np.take_along_axis(contributions, order, axis=1) >= MIN_REASON_LOGIT
            facts = ItemFacts(items, scores, self._signal_columns)
            facts.over_cut_off = over_cut_off
            facts.flagged_for = flagged_for
            facts.gap_leads = gap_leads

            # Terms are looked up in one batch for the items that quote one, and for those
            # whose weight, value or HS reason depends on whether their wording names gear.
            def say(positions: np.ndarray, wanted: np.ndarray) -> None:
                """The reasons of the `wanted` ranks of items at `positions`, one kind of
                reason at a time (its messages are made for all its items at once)."""
                quoting = rows[
                    positions[(self._asks_for_terms[order[positions]] & wanted).any(axis=1)]
                ]
                facts.terms = {**facts.terms, **self._find_terms(facts, quoting)}
                for rank in range(order.shape[1]):
                    for group, at in _positions_by_group(order[positions, rank], wanted[:, rank]):
                        made = self._group_reasons(
                            self._groups[group], rows[positions[at]], facts, facts.terms
                        )
                        _put(ranked[rank], positions[at], made)

            def unsaid(positions: np.ndarray, but_context: bool = False) -> np.ndarray:
                """Those of `positions` with no reason said yet (elementwise on objects), or
                `but_context`: none but of its context (lane, category)."""
                return positions[
                    np.all(
                        [
                            [
                                reason is None or (but_context and reason[0] in _CONTEXT_CODES)
                                for reason in ranked[k][positions].tolist()
                            ]
                            for k in range(_GROUPS_LOOKED_AT)
                        ],
                        axis=0,
                    )
                ]

            def only_wording(positions: np.ndarray) -> np.ndarray:
                """Those of `positions` told something, and only of their wording."""
                said = [
                    [reason[0] for k in range(_GROUPS_LOOKED_AT) if (reason := ranked[k][p])]
                    for p in positions.tolist()
                ]
                return positions[
                    np.array([bool(c) and _WORDING_CODES.issuperset(c) for c in said], dtype=bool)
                ]

            everyone = np.arange(len(rows))
            say(everyone, strong)
            if over_cut_off is not None:
                # An item over the cut-off told only of its wording ("'чехол для жилета' is
                # wording often declared for military/tactical kit") is told the weaker
                # facts of its weight and worth that moved it too (0.44 kg against such a
                # cover's 0.08 kg): what officers at two posts open such a parcel for.
                wordy = only_wording(everyone[over_cut_off[rows]])
                physical = self._physical[order[wordy]]
                weaker = np.take_along_axis(contributions[wordy], order[wordy], axis=1) > 0
                say(wordy, weaker & physical & ~strong[wordy])
                blank = unsaid(everyone[over_cut_off[rows]], but_context=True)
                # An item over the cut-off that no fact moved far enough on its own: the
                # facts that moved it most, each still true of its form, said together (the
                # kilos its parcel does not account for, rather than its lane).
                weaker = np.take_along_axis(contributions[blank], order[blank], axis=1) > 0
                say(blank, weaker)
                # One with still nothing but its lane or category to say is told of its
                # sender's or recipient's earlier parcel that read as gear, where one did,
                # though the models did not weigh it: officers at two posts asked that a
                # party's flagged parcels be carried over to its next, which "no single
                # fact stands out" hid.
                blank = unsaid(blank, but_context=True)
                for rank, role in enumerate(ROLES):
                    told = [prior_message(role, facts.history(r)) for r in rows[blank].tolist()]
                    have = [i for i, said in enumerate(told) if said is not None]
                    _put(ranked[rank], blank[have], [(f"{role}_history", told[i]) for i in have])
                # One with still nothing to say is told which parts of its form weigh most.
                blank = unsaid(blank, but_context=True)
                moved = np.take_along_axis(contributions[blank], order[blank], axis=1) > 0
                _put(
                    ranked[0],
                    blank,
                    [
                        _form_as_a_whole([self._groups[g] for g in groups[up].tolist()])
                        for groups, up in zip(order[blank], moved, strict=True)
                    ],
                )
            _unsay_worth_for_weight(ranked, rows, facts)
            if flagged_for is not None:
                blank = unsaid(everyone)
                lead = flagged_for[rows[blank]]
                blank, lead = blank[lead >= 0], lead[lead >= 0]
                _put(ranked[0], blank, [_flagged_with(facts.description[r]) for r in lead])
            picked = np.flatnonzero(selected[rows])
            _put(ranked[_GROUPS_LOOKED_AT], picked, [_RANDOM_SELECTION] * len(picked))
        columns = [column.tolist() for column in ranked]
        if as_cells:
            out = np.full(n, "", dtype=object)
            out[rows] = [
                REASON_SEPARATOR.join([f"{code}: {message}" for code, message in _said(row)])
                for row in zip(*columns, strict=True)
            ]
            return out
        out = _new_lists(np.zeros(n))
        out[rows] = _object_array(
            [
                [{"code": code, "message": message} for code, message in _said(row)]
                for row in zip(*columns, strict=True)
            ]
        )
        return out

    def _group_reasons(
        self,
        group: str,
        rows: np.ndarray,
        facts: ItemFacts,
        terms: dict[tuple[str, str], str | None],
    ) -> list[Reason | None]:
        """(code, message) of one kind of reason for items `rows` (None: nothing to say)."""
        if group in _QUOTES_DESCRIPTION:
            descriptions = [_short(str(d)) for d in facts.description[rows].tolist()]
        if group == "terms":
            full = [str(d) for d in facts.description[rows].tolist()]
            classes = [facts.term_class(r) for r in rows.tolist()]
            read_as = facts.read_as_gear[rows].tolist()
            covers = facts.covers_gear[rows].tolist()
            return [
                # A word that names gear outright is quoted as such: it is the evidence an
                # officer reads first, whatever word the text models lean on most.
                # Of the class the word itself leans to: "Pulsar" names thermal optics even
                # on a line the class model reads as something else; a word that leans to
                # its line's class too is said of it ("IIIA" of a vest is body armour).
                (
                    "suspicious_term",
                    f"'{named}' names gear outright"
                    f" ({_CLASS_WORDS[self.model.text_.class_of_term(named, c)]})",
                )
                if (named := gear_named_in(d)) is not None
                else (
                    "suspicious_term",
                    f"'{term}' is typical of {_CLASS_WORDS[self.model.text_.class_of_term(term)]}",
                )
                if (term := terms.get((d, c))) is not None
                # Words honest goods are also written with, that together read as gear
                # ("военная форма": a uniform, though toy ones are sent too).
                else ("suspicious_term", f"'{_short(d)}' reads as {_CLASS_WORDS[gear]}")
                if gear is not None
                # A name the gear nomenclature gives the kit, which honest goods share
                # ("тепловизор", "разгрузка"): the officer is told what it names, since a
                # thermal imager is no cover for a thermal imager.
                else (
                    "suspicious_term",
                    f"'{_short(d)}' names {_CLASS_WORDS[cover]} as well as honest goods",
                )
                if cover is not None and wording.names_the_kit(d)
                # Words of other goods that the trade's disguises lean on ("жилет мужской"
                # over body armour): said as what such gear is declared as.
                else (
                    "cover_wording",
                    f"'{_short(d)}' is wording often declared for {_CLASS_WORDS[cover]}",
                )
                if cover is not None
                else None
                for d, c, gear, cover in zip(full, classes, read_as, covers, strict=True)
            ]
        # An expectation is quoted only where it is the models' own for this kind of goods:
        # not for wording they hardly know, nor for a description that names gear (the
        # expectations are those of ordinary goods; "бронежилет" is not a heavy T-shirt).
        if group in ("weight", "value", "hs_code"):
            # Nor is wording whose honest rows are under two lines' worth (one writer's
            # line, however often training repeats it): its expectation is that line's.
            written = [str(d) for d in facts.description[rows].tolist()]
            thin = self.model.text_.rests_on_few_lines(written)
            if group in ("weight", "value"):
                # Unless the goods catalogue names the kind: what it knows of the kind is
                # then the figure said ("Ремень поясной" of 7 kg against a belt's 0.2 kg).
                thin &= np.array([_known_range(d, group) is None for d in written], dtype=bool)
            quotable = (facts.expectation_quotable[rows] & ~thin).tolist()
        if group in ("weight", "value"):
            # A line listing several goods ("одежда, обувь, игрушки") is a box of them, and a
            # vague word stands for a bag of things ("одежда ношеная" of 9 kg, "вещи
            # личные"): the weight and worth of one kind of goods say nothing of either. A
            # bag's weight, or what it is declared at per kilo, is still told as a fact.
            # Asked only of the items a reason is written for (few), each cached per process.
            listed = [wording.lists_goods(d) for d in written]
            bagged = [wording.bag_of_things(d) for d in written]
            quotable = [
                ok and not many and not bag
                for ok, many, bag in zip(quotable, listed, bagged, strict=True)
            ]
            one_word = facts.vague[rows].tolist()
            vague = [one or bag for one, bag in zip(one_word, bagged, strict=True)]
            # How far honest lines of this wording stray from its expectation: a weight or
            # worth is called off only beyond what they show (a bare "датчик" is a 0.1 kg car
            # sensor or a 3 kg one; "usually about 1.5 kg" would be no fact to a clerk).
            spreads = facts.expectation_spreads(rows, quotable)[
                :, 0 if group == "weight" else 1
            ].tolist()
            subjects, usuals, knowns, code_spreads = self._expected_of(
                group, rows, facts, descriptions
            )
            # An expectation of the HS code's goods strays as they do, not as the wording's.
            spreads = [
                spread if code_spread is None else code_spread
                for spread, code_spread in zip(spreads, code_spreads, strict=True)
            ]
        if group in ("weight", "value"):
            weight = group == "weight"
            actuals = (facts.unit_weight if weight else facts.usd_per_kg)[rows].tolist()
            found = [
                _physical_reason(
                    weight,
                    actual,
                    usual,
                    known,
                    spread,
                    d,
                    subject,
                    ok,
                    is_vague,
                    names_kit=ok and wording.names_the_kit(full),
                )
                for actual, usual, known, spread, d, full, subject, ok, is_vague in zip(
                    actuals,
                    usuals,
                    knowns,
                    spreads,
                    descriptions,
                    written,
                    subjects,
                    quotable,
                    vague,
                    strict=True,
                )
            ]
            if weight:
                # A unit weighing what its description says it weighs is no heavier than
                # it should be, whatever such wording usually weighs: "Диски для штанги
                # 2.5 кг" of 2.5 kg a disc was told "heavy (usually about 0.79 kg)". One
                # that does not is set against the sender's own figure.
                found = [
                    _against_written(reason, actual, d)
                    for reason, actual, d in zip(found, actuals, written, strict=True)
                ]
            # A line typed in grams is quoted in kilograms, with what the form says.
            typed = facts.net_typed[rows].tolist()
            read = facts.net_weight[rows].tolist()
            if not weight:
                # A value declared on a line without a net weight is no missing value: what
                # is missing is the weight its worth per kilo would be read against.
                priced = np.isfinite(facts.usd_value[rows]).tolist()
                found = [
                    _WEIGHT_MISSING
                    if reason == _VALUE_MISSING and has_value and math.isnan(net)
                    else reason
                    for reason, has_value, net in zip(found, priced, read, strict=True)
                ]
            return [
                (reason[0], reason[1] + _as_grams(t, r))
                if weight and reason is not None and reason[0] != _WEIGHT_MISSING[0]
                else reason
                for reason, t, r in zip(found, typed, read, strict=True)
            ]
        if group == "hs_code":
            # "Does not fit" only where the wording points to another chapter with
            # confidence: a code the text models merely know little about (a Ukrainian
            # "warm clothes, jackets" under 6201) is no evidence against the declarant.
            elsewhere = facts.chapter_elsewhere[rows].tolist()
            # A line listing several goods ("blanket, pillow") may span chapters: the
            # declared one may fit one of them.
            single = [not wording.lists_goods(str(d)) for d in facts.description[rows].tolist()]
            elsewhere = [other and one for other, one in zip(elsewhere, single, strict=True)]
            # Where the text models see no other chapter with confidence, the goods catalogue
            # may still know the goods and the headings they go under: a code of another
            # chapter is then said against those (wording that names gear or only a vague
            # word names no goods of the catalogue's to set it against).
            named = facts.names_ordinary_goods[rows].tolist()
            full = [str(d) for d in facts.description[rows].tolist()]
            return [
                (
                    "hs_mismatch",
                    f"HS code {hs} (chapter {hs[:2]}) does not fit '{d}'"
                    if len(hs) > 2
                    else f"HS chapter {hs} does not fit '{d}'",
                )
                if isinstance(hs, str) and ok and other
                else (
                    "hs_mismatch",
                    f"HS code {hs} (chapter {hs[:2]}) does not fit '{d}'"
                    f" (such goods go under {' or '.join(usual)})",
                )
                if isinstance(hs, str)
                and one
                and words
                and (usual := _catalogue_heading_elsewhere(text, hs))
                else (_HS_MISSING if not isinstance(hs, str) else None)
                for hs, d, text, ok, other, one, words in zip(
                    facts.hs_code[rows].tolist(),
                    descriptions,
                    full,
                    quotable,
                    elsewhere,
                    single,
                    named,
                    strict=True,
                )
            ]
        if group == "vague_description":
            return [_too_vague(d) for d in descriptions]
        if group == "category":
            return [
                (
                    "category",
                    "declared as " + (c.replace("_", " ") if isinstance(c, str) else "no category"),
                )
                for c in facts.category[rows].tolist()
            ]
        if group in ("lane", "origin", "destination"):
            # Of gear of any kind: the lane moves the risk score, not a class.
            places = zip(facts.origin[rows].tolist(), facts.destination[rows].tolist(), strict=True)
            return [
                (
                    "lane",
                    f"the {o or '?'}→{t or '?'} lane carries more gear than most"
                    if group == "lane"
                    else f"parcels from {o or '?'} carry more gear than most"
                    if group == "origin"
                    else f"parcels to {t or '?'} carry more gear than most",
                )
                for o, t in places
            ]
        if group == "mail_class":
            return [
                None if (said := _sent_as(m)) is None else ("mail_class", said)
                for m in facts.mail_class[rows].tolist()
            ]
        if group == "parcel":
            gross, declared = facts.parcel_weights
            # Which of the parcel's facts moved the score most: its gross against its lines,
            # or where the line stands in it (of many items, most of its weight, alone).
            on_gap = (
                facts.gap_leads[rows]
                if facts.gap_leads is not None
                else np.zeros(len(rows), dtype=bool)
            ).tolist()
            return [
                (
                    "parcel_context",
                    f"the parcel weighs {g:.1f} kg{_as_grams(typed, g)}, its lines declare"
                    f" {d:.1f} kg: {g - d:.1f} kg is not accounted for",
                )
                # Beyond what packaging leaves in ordinary parcels of its size.
                if math.isfinite(g) and g - d > unusual_packaging_kg(d)
                # Within it, the gap moved the score but is no fact against the parcel: an
                # officer reads a kilo of packing around 8 kg of tiles as the box it is, and
                # where the line stands in it ("0.77 kg of a 9 kg parcel") is not what moved
                # the score either. Other reasons speak, or the form as a whole.
                else None
                if gap_led and math.isfinite(g) and round(g, 1) > round(d, 1)
                # Among several items, how much of the parcel this line holds is the fact
                # ("7.1 kg of a 10 kg parcel"), not only that it is one of them.
                else (
                    "parcel_context",
                    f"{_kg(net)} kg of a {_kg(g)} kg parcel{_as_grams(typed, g)},"
                    f" one of its {n} items",
                )
                if math.isfinite(g) and n > 1 and math.isfinite(net) and net > 0
                # That a line is its parcel's only item is no finding an officer can act on
                # (officers at two exchanges said so of "the only item of a 1.2 kg parcel"):
                # other reasons speak, or the form as a whole. A gross typed in grams is.
                else None
                if math.isfinite(g) and n == 1 and not _as_grams(typed, g)
                else ("parcel_context", f"{_items(n)} of a {_kg(g)} kg parcel{_as_grams(typed, g)}")
                if math.isfinite(g)
                else ("parcel_context", f"{_items(n)}; no gross weight declared")
                for n, g, typed, d, net, gap_led in zip(
                    facts.n_items[rows].astype(int).tolist(),
                    gross[rows].tolist(),
                    facts.gross_typed[rows].tolist(),
                    declared[rows].tolist(),
                    facts.net_weight[rows].tolist(),
                    on_gap,
                    strict=True,
                )
            ]
        if group == "quantity":
            # A handful of units is how families send things; only a batch of one kind of
            # goods (resale, a group buy) is a fact an officer weighs.
            # A line that lists several goods ("Подсумки, РПС, ремень") is no one kind.
            return [
                None
                if q < _MANY_UNITS
                else ("quantity", f"{q:g} units of the goods it lists declared")
                if wording.lists_goods(str(d))
                else ("quantity", f"{q:g} units of one kind declared")
                for q, d in zip(
                    facts.quantity[rows].tolist(), facts.description[rows].tolist(), strict=True
                )
            ]
        if group in ("sender_history", "recipient_history"):
            role: Role = "sender" if group == "sender_history" else "recipient"
            # Where the counts show no pattern worth a sentence, what weighs in the party's
            # past is its earlier parcel that read as gear, if it has one.
            return [
                None
                if (said := history_message(role, history) or prior_message(role, history)) is None
                else (group, said)
                for history in (facts.history(r) for r in rows.tolist())
            ]
        if group in ("sender_prior", "recipient_prior"):
            # Told under the party's history code: it is what the party's past says.
            party: Role = "sender" if group == "sender_prior" else "recipient"
            code = f"{party}_history"
            return [
                None if (said := prior_message(party, facts.history(r))) is None else (code, said)
                for r in rows.tolist()
            ]
        if group == "watchlist":
            return [
                None if (said := watchlist_message(facts.history(r))) is None else (group, said)
                for r in rows.tolist()
            ]
        return [None] * len(rows)

    def _expected_of(
        self, group: str, rows: np.ndarray, facts: ItemFacts, descriptions: list[str]
    ) -> tuple[list[str], list[float], list[_KnownRange | None], list[float | None]]:
        """What a weight or value reason sets each item against: its wording's expectation,
        or, where the text models know too few of its words (`QUOTABLE_CONFIDENCE`), that of
        the goods declared under its HS code, said as such. "kitob" (a book, in Uzbek)
        declared under 3926 was told "usually about 0.05 kg" as if that were a book's
        weight: it is that of plastic articles, the heading the sender gave. Where the
        goods catalogue names the kind of goods, also what it knows of them (`_KnownRange`):
        "Saperavi red wine" was told "usually about 0.52 kg" by the models, of a bottle of
        1.3 kg; where the code's goods are said, what it knows of the goods it declares under
        that code. How far the code's goods stray is returned too (None elsewhere): "goods
        declared under HS 392690" are phone cases and crates alike.

        Wording the text models read as gear more than as ordinary goods, of a kind the
        catalogue does not know, is set against its HS code's goods too, where one is
        declared: what the models expect of such wording blends the honest goods that share
        its words. "FAST helmet high cut aramid" under 6506.10 was told "usually about 0.17
        kg" (aramid cord and gloves); safety headgear weighs what the helmet does."""
        text = self.model.text_
        # Each distinct wording and code once: a batch repeats them.
        wordings = [str(d) for d in facts.description[rows].tolist()]
        distinct = list(dict.fromkeys(wordings))
        share_of = dict(zip(distinct, text.known_share(distinct).tolist(), strict=True))
        codes = facts.hs_code[rows].tolist()
        distinct_codes = list(dict.fromkeys(codes))
        hit_of = dict(zip(distinct_codes, text.hs_expectations(distinct_codes), strict=True))
        expected = (facts.expected_weight if group == "weight" else facts.expected_value)[rows]
        known_of = {written: _known_range(written, group) for written in distinct}
        subjects: list[str] = []
        usuals: list[float] = []
        knowns: list[_KnownRange | None] = []
        code_spreads: list[float | None] = []
        leaning = facts.leans_to_gear[rows].tolist()
        for written, code, usual, d, leans in zip(
            wordings, codes, expected.tolist(), descriptions, leaning, strict=True
        ):
            share, hit, known = share_of[written], hit_of[code], known_of[written]
            if (share < QUOTABLE_CONFIDENCE or leans) and hit is not None and known is None:
                level, kg, usd_kg = hit
                # What the catalogue declares under the code bounds what is said of it: an
                # HF base transceiver of 2 kg under 852560 is no heavier than such goods,
                # though most lines under it are handhelds of 0.23 kg.
                knowns.append(_code_range(level, group))
                subjects.append(f"goods declared under HS {level}")
                usuals.append(kg if group == "weight" else usd_kg)
                code_spreads.append(text.hs_spread(level)[0 if group == "weight" else 1])
            else:
                knowns.append(known)
                subjects.append(f"'{d}'")
                usuals.append(usual)
                code_spreads.append(None)
        return subjects, usuals, knowns, code_spreads

    def _find_terms(self, facts: ItemFacts, rows: np.ndarray) -> dict[tuple[str, str], str | None]:
        """The top term of each (description, class) pair of `rows`, cached across calls.

        The answer is its own dict: another thread may clear the shared cache meanwhile.
        """
        cache = self._term_cache
        wanted = {(str(facts.description[r]), facts.term_class(r)) for r in rows.tolist()}
        found = {pair: cache[pair] for pair in wanted if pair in cache}
        missing = sorted(wanted - found.keys())
        if missing:
            terms = self.model.text_.top_terms([d for d, _ in missing], [c for _, c in missing])
            found.update(zip(missing, terms, strict=True))
            trim_cache(cache, _TERM_CACHE_ENTRIES)
            cache.update(zip(missing, terms, strict=True))
        return found
