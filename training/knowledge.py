"""Loads the domain knowledge kept as data under `training/lexicon/`.

The lexicon holds what the generator (and features) know about the trade: the item
catalogue with real weights and worths, how senders name or disguise each item, the postal
lanes, currencies and the vague words customs reject. Code here only parses and validates;
every loader is cached, so callers can use them freely.
"""

from __future__ import annotations

import csv
import re
import tomllib
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final

from training.common_words import is_common

LEXICON_DIR: Final = Path(__file__).resolve().parent / "lexicon"

# Description languages / registers: en_mt is machine-translated English of Chinese sellers,
# translit is Russian written in Latin letters; kk Kazakh, uz Uzbek, ky Kyrgyz, hy Armenian,
# tr Turkish, ka Georgian, tg Tajik, az Azerbaijani, tk Turkmen (the Central Asian and
# Caucasus lanes);
# pinyin is Chinese in Latin letters ("fangdan yi", "geren wupin"); et Estonian, lv Latvian,
# lt Lithuanian, fi Finnish (the Baltic and Finnish crossings: gear is named in them, no lane
# of the generator writes them yet).
LANGUAGES: Final = (
    "ru", "en", "en_mt", "zh", "translit", "pl", "de", "uk", "kk", "uz", "ky", "hy", "tr",
    "ka", "tg", "az", "tk", "pinyin", "et", "lv", "lt", "fi",
)  # fmt: skip
# Kinds of ordinary goods: the goods catalogue and the benign item files name one per item;
# cover stories draw the text of disguised gear from them.
FAMILIES: Final = (
    "clothing", "outerwear", "footwear", "underwear_socks", "workwear_uniform_civil",
    "accessories_bags", "home_textiles", "cosmetics_perfume", "food", "drinks", "sweets",
    "medicine_supplements", "books_print", "documents", "phones_electronics",
    "computers_parts", "electronic_components", "household_appliances", "kitchenware",
    "tools_hardware", "auto_moto_parts", "sports_fitness", "outdoor_camping_fishing",
    "hunting_airsoft_outdoor_lookalike", "protective_civil", "toys_baby",
    "hobby_crafts_music", "souvenirs_gifts_art", "jewellery_watches", "personal_belongings",
    "mixed_box", "building_materials", "optics_cameras", "garden", "pet", "medical_devices",
)  # fmt: skip
FIRST_YEAR: Final = 2023

_WORD: Final = re.compile(r"\w+")
_PHRASE_KEY: Final = re.compile(r"^(?P<language>[a-z]+(?:_mt)?)(?:_(?P<since>\d{4}))?$")
_VAGUE_SECTION: Final = re.compile(r"^#\s*kind:\s*(?P<kind>\w+),\s*lang:\s*(?P<language>\w+)\s*$")
_ITEM_FILES: Final = (
    "items_body_armor.toml",
    "items_helmet.toml",
    "items_tactical_apparel.toml",
    "items_optics_sensors.toml",
    "items_benign_lookalikes.toml",
    "items_benign_traffic.toml",
)


@dataclass(frozen=True)
class Phrasing:
    """One way of writing an item, in one language, in use from `since` on."""

    text: str
    language: str
    since: int


@dataclass(frozen=True)
class PhraseGroup:
    """Phrasings that tell one story, and the HS codes declared next to them."""

    key: str
    phrasings: tuple[Phrasing, ...]
    hs_codes: tuple[str, ...]
    hs_weights: tuple[float, ...]
    since: int = FIRST_YEAR


@dataclass(frozen=True)
class ItemType:
    """A concrete kind of goods with its real physical and market properties."""

    key: str
    label_class: str
    share: float
    weight_median_kg: float
    weight_sigma: float
    worth_usd: tuple[float, float]
    quantities: tuple[int, ...]
    quantity_weights: tuple[float, ...]
    names: PhraseGroup
    origins: dict[str, float]
    elsewhere: float
    kit: bool
    palette: str | None
    vague_kind: str
    disguises: dict[str, float]
    covers: tuple[str, ...]
    category: dict[str, float] | None
    mail: dict[str, float] | None
    family: str | None = None  # benign items: the kind of goods (FAMILIES)


@dataclass(frozen=True)
class CoverStory:
    """How gear is written up when hidden: a pool of ordinary items whose text it borrows."""

    key: str
    families: dict[str, float]
    keys: tuple[str, ...]
    keys_weight: float
    vague_kind: str | None
    vague_share: float
    since: int


@dataclass(frozen=True)
class Lane:
    """A postal route and the habits of the people who post on it."""

    origin: str
    destination: str
    benign: float
    positive: dict[str, float]
    currency: dict[str, float]
    language: dict[str, float]
    second_language: str
    hs_missing: float
    category_benign: dict[str, float]
    category_positive: dict[str, float]
    mail: dict[str, float]


def _read_toml(name: str) -> dict[str, Any]:
    with (LEXICON_DIR / name).open("rb") as handle:
        return tomllib.load(handle)


def _weights(table: dict[str, Any]) -> dict[str, float]:
    return {str(key): float(value) for key, value in table.items()}


def _hs(table: dict[str, Any]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    codes = tuple(str(code) for code in table)
    for code in codes:
        digits = code.replace(".", "")
        if not (digits.isdigit() and 4 <= len(digits) <= 10):
            raise ValueError(f"bad HS code {code!r} in the lexicon")
    return codes, tuple(float(weight) for weight in table.values())


def _phrasings(table: dict[str, Any], since: int = FIRST_YEAR) -> tuple[Phrasing, ...]:
    found: list[Phrasing] = []
    for key, value in table.items():
        match = _PHRASE_KEY.match(key)
        if not match or match["language"] not in LANGUAGES or not isinstance(value, list):
            continue
        first_year = int(match["since"]) if match["since"] else since
        found.extend(Phrasing(str(text), match["language"], first_year) for text in value)
    return tuple(found)


@cache
def usd_per_unit() -> dict[str, float]:
    """Approximate 2025 exchange rates: US dollars per unit of each ISO 4217 currency."""
    with (LEXICON_DIR / "currency_rates.csv").open(encoding="utf-8", newline="") as handle:
        return {row["currency"]: float(row["usd_per_unit"]) for row in csv.DictReader(handle)}


@cache
def vague_descriptions_by_kind() -> dict[tuple[str, str], tuple[str, ...]]:
    """Vague words by (kind of goods they stand for, language)."""
    sections: dict[tuple[str, str], list[str]] = {}
    current: tuple[str, str] | None = None
    text = (LEXICON_DIR / "vague_descriptions.txt").read_text(encoding="utf-8")
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            match = _VAGUE_SECTION.match(line)
            if match:
                current = (match["kind"], match["language"])
            continue
        if current is None:
            raise ValueError("vague_descriptions.txt: an entry before the first section")
        sections.setdefault(current, []).append(line)
    return {key: tuple(words) for key, words in sections.items()}


@cache
def vague_descriptions() -> frozenset[str]:
    """Descriptions too vague to say what the goods are (ICS2 / WCO style), all languages."""
    return frozenset(word for words in vague_descriptions_by_kind().values() for word in words)


@cache
def vague_words() -> frozenset[str]:
    """Every word of the vague descriptions, casefolded ("одежда", "вещи", "gift")."""
    return frozenset(w for entry in vague_descriptions() for w in _WORD.findall(entry.casefold()))


@cache
def kinds_with_a_vague_word() -> tuple[tuple[str, ...], ...]:
    """Phrases that hold a vague word and still name a kind of goods ("oyoq kiyim",
    footwear; "спецодежда", workwear), each as its casefolded words."""
    text = (LEXICON_DIR / "kinds_with_a_vague_word.txt").read_text(encoding="utf-8")
    return tuple(
        tuple(_WORD.findall(line.strip().casefold()))
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


@cache
def vague_kinds() -> tuple[str, ...]:
    return tuple(sorted({kind for kind, _ in vague_descriptions_by_kind()}))


def _vague_phrasings(kind: str) -> tuple[Phrasing, ...]:
    return tuple(
        Phrasing(word, language, FIRST_YEAR)
        for (word_kind, language), words in vague_descriptions_by_kind().items()
        if word_kind == kind
        for word in words
    )


@cache
def vague_groups() -> dict[str, PhraseGroup]:
    """One phrase group per kind of vague word, with the HS codes honest senders pick."""
    codes: dict[str, dict[str, float]] = _read_toml("generator.toml")["vague_hs"]
    return {
        kind: PhraseGroup(f"vague:{kind}", _vague_phrasings(kind), *_hs(codes[kind]))
        for kind in vague_kinds()
    }


@cache
def cover_stories() -> dict[str, CoverStory]:
    """Cover stories for gear, keyed by name (see disguises.toml)."""
    stories: dict[str, CoverStory] = {}
    for key, table in _read_toml("disguises.toml").items():
        families = _weights(table.get("families", {}))
        unknown = set(families) - set(FAMILIES)
        if unknown:
            raise ValueError(f"cover story {key!r}: unknown families {sorted(unknown)}")
        vague = table.get("vague")
        if vague is not None and vague not in vague_kinds():
            raise ValueError(f"cover story {key!r}: unknown vague kind {vague!r}")
        stories[key] = CoverStory(
            key=key,
            families=families,
            keys=tuple(table.get("keys", ())),
            keys_weight=float(table.get("keys_weight", 1.0)),
            vague_kind=vague,
            vague_share=float(table.get("vague_share", 0.0)),
            since=int(table.get("since", FIRST_YEAR)),
        )
    return stories


@cache
def item_catalogue() -> tuple[ItemType, ...]:
    """Every item type, gear and benign, in a stable order."""
    items: list[ItemType] = []
    for name in _ITEM_FILES:
        for key, table in _read_toml(name).items():
            quantity = {int(count): float(weight) for count, weight in table["quantity"].items()}
            median, sigma = table["weight_kg"]
            low, high = table["worth_usd"]
            items.append(
                ItemType(
                    key=key,
                    label_class=table["class"],
                    share=float(table["share"]),
                    weight_median_kg=float(median),
                    weight_sigma=float(sigma),
                    worth_usd=(float(low), float(high)),
                    quantities=tuple(quantity),
                    quantity_weights=tuple(quantity.values()),
                    names=PhraseGroup(f"item:{key}", _phrasings(table), *_hs(table["hs"])),
                    origins=_weights(table.get("origins", {})),
                    elsewhere=float(table.get("elsewhere", 1.0)),
                    kit=bool(table.get("kit", False)),
                    palette=table.get("palette"),
                    vague_kind=str(table.get("vague", "general")),
                    disguises=_weights(table.get("disguises", {})),
                    covers=tuple(table.get("covers", ())),
                    category=_weights(table["category"]) if "category" in table else None,
                    mail=_weights(table["mail"]) if "mail" in table else None,
                    family=table.get("family"),
                )
            )
    items.extend(goods_catalogue())
    _check_catalogue(items)
    return tuple(items)


@cache
def gear_vocabulary() -> frozenset[str]:
    """Every word (casefolded, as written and transliterated) the gear nomenclature is
    phrased with: "военная" and "форма" of "военная форма", not "плитка" nor "tiles". Wording
    of only such words may read as gear; wording with another word names honest goods that
    a disguise borrows ("керамическая плитка" over a plate)."""
    return frozenset(word for name in gear_names() for word in name.split(" ") if word)


@cache
def gear_names() -> frozenset[str]:
    """Each whole phrasing of the gear nomenclature, as its words (casefolded, as written
    and transliterated, joined by one space): "тепловизор", "разгрузка", "плитоноска с
    плитами". A description that is one of them names the kit itself."""
    names: set[str] = set()
    for item in item_catalogue():
        if item.label_class == "benign":
            continue
        for phrasing in item.names.phrasings:
            text = phrasing.text.casefold()
            names.add(" ".join(_WORD.findall(text)))
            names.add(" ".join(_WORD.findall(transliterate(text))))
    return frozenset(names)


# Families of honest goods that look like gear on purpose or by trade (airsoft replicas,
# hunting camouflage, civil protective and work wear): their words are not everyday wording.
LOOKALIKE_FAMILIES: Final = frozenset(
    {"hunting_airsoft_outdoor_lookalike", "protective_civil", "workwear_uniform_civil"}
)
# Distinct kinds of everyday goods a word must name to be everyday wording (the catalogue
# often holds one kind twice, so two is not enough).
_EVERYDAY_KINDS: Final = 3


@cache
def everyday_words() -> frozenset[str]:
    """Words (casefolded) that at least three kinds of everyday honest goods are written with,
    look-alikes aside: "куртка", "мужская", "камера", Kyrgyz "өтүк" (boots), "contact" (of
    contact lenses). Whatever leaning a model learned for them, no officer would call one of
    them typical of gear."""
    lookalikes = set(_read_toml("items_benign_lookalikes.toml"))
    kinds: dict[str, set[str]] = {}
    for item in item_catalogue():
        if (
            item.label_class != "benign"
            or item.key in lookalikes
            or item.family in LOOKALIKE_FAMILIES
        ):
            continue
        for phrasing in item.names.phrasings:
            for word in _WORD.findall(phrasing.text):
                kinds.setdefault(word.casefold(), set()).add(item.key)
    return frozenset(w for w, keys in kinds.items() if len(keys) >= _EVERYDAY_KINDS)


@cache
def goods_named_by_word() -> dict[str, frozenset[str]]:
    """Words (casefolded, as written and transliterated) that alone name honest goods, with
    what they name: the catalogue's families of goods ("обувь" footwear, "пуховик"
    outerwear) and the kind of goods a vague word stands for ("odejda" clothing)."""
    named: dict[str, set[str]] = {}
    for item in item_catalogue():
        if item.label_class != "benign" or item.family is None:
            continue
        for phrasing in item.names.phrasings:
            text = phrasing.text.casefold()
            for form in (text, transliterate(text)):
                words = _WORD.findall(form)
                if len(words) == 1:
                    named.setdefault(words[0], set()).add(item.family)
    for (kind, _), entries in vague_descriptions_by_kind().items():
        for entry in entries:
            words = _WORD.findall(entry.casefold())
            if len(words) == 1 and kind != "general":
                named.setdefault(words[0], set()).add(f"any {kind}")
    return {word: frozenset(kinds) for word, kinds in named.items()}


@cache
def honest_only_words() -> frozenset[str]:
    """The words (casefolded) that phrasings of honest goods use and no phrasing of gear does:
    "Jagd" (hunting) of "Tarnjacke Jagd", Kazakh "аңшылыққа" (for hunting). Gear hidden
    behind them is declared in honest goods' words; the word is no evidence an officer would
    call typical of gear, whatever a model learned of the covers that use it."""
    honest: set[str] = set()
    gear: set[str] = set()
    for item in item_catalogue():
        words = honest if item.label_class == "benign" else gear
        for phrasing in item.names.phrasings:
            words.update(_WORD.findall(phrasing.text.casefold()))
    return frozenset(honest - gear)


def names_honest_goods(word: str) -> bool:
    """Whether a word alone is how honest senders name a kind of ordinary goods ("瓷砖",
    ceramic tiles; "microscope"; "菜板", a cutting board), look-alikes of gear aside: gear
    declared in it is declared in the words of honest goods, a cover, whatever a model
    learned of it."""
    families = goods_named_by_word().get(word.casefold())
    return families is not None and any(
        family not in LOOKALIKE_FAMILIES and not family.startswith("any ") for family in families
    )


def names_several_goods(description: str) -> bool:
    """Whether a description names goods of several kinds word by word, without a comma
    ("odejda obuv", "обувь игрушки"): two of its words each name goods, and no kind of goods
    is named by both. Two names within one family ("iPhone 13 чехол") are one line of goods."""
    named = goods_named_by_word()
    kinds = [named[w] for w in _WORD.findall(description.casefold()) if w in named]
    return any(a.isdisjoint(b) for i, a in enumerate(kinds) for b in kinds[i + 1 :])


# Columns of the goods catalogue that hold phrasings, by language.
_GOODS_LANGUAGES: Final = (
    "ru", "en", "zh", "de", "pl", "uk", "kk", "uz", "ky", "hy", "tr", "translit", "ka", "tg", "az",
    "tk",
)  # fmt: skip
# The vague word an honest sender may write instead of the name, by family.
_FAMILY_VAGUE: Final = {
    "clothing": "clothing", "outerwear": "clothing", "footwear": "clothing",
    "underwear_socks": "clothing", "workwear_uniform_civil": "clothing",
    "home_textiles": "clothing", "auto_moto_parts": "parts", "tools_hardware": "parts",
    "phones_electronics": "electronics", "computers_parts": "electronics",
    "electronic_components": "electronics", "household_appliances": "electronics",
    "toys_baby": "toys",
}  # fmt: skip
# Families whose parcels travel under their own category and mail class.
_FAMILY_CATEGORY: Final = {"documents": {"documents": 20.0, "other": 1.0}}
_FAMILY_MAIL: Final = {
    "documents": {"letter": 70.0, "small_packet": 5.0, "ems": 15.0, "courier": 10.0}
}


def _goods_item(row: dict[str, str], source: str) -> ItemType:
    key = row["key"].strip()
    family = row["family"].strip()
    if family not in FAMILIES:
        raise ValueError(f"{source}: {key!r} has unknown family {family!r}")
    codes = row["hs"].split()
    # Honest senders pick the first code most often.
    hs = {code: float(len(codes) - i) for i, code in enumerate(codes)}
    quantity: dict[int, float] = {}
    for pair in row["qty"].split():
        count, _, weight = pair.partition(":")
        quantity[max(int(count), 1)] = float(weight or 1)
    origins: dict[str, float] = {}
    for pair in (row.get("origins") or "").split():
        country, _, factor = pair.partition(":")
        origins[country.upper()] = float(factor)
    phrasings: list[Phrasing] = []
    for language in _GOODS_LANGUAGES:
        for text in (row.get(language) or "").split("|"):
            if text.strip():
                phrasings.append(Phrasing(text.strip(), language, FIRST_YEAR))
    low, high = float(row["usd_low"]), float(row["usd_high"])
    return ItemType(
        key=key,
        label_class="benign",
        share=float(row["share"]),
        weight_median_kg=float(row["unit_kg"]),
        weight_sigma=float(row["spread"]),
        worth_usd=(min(low, high), max(low, high)),
        quantities=tuple(quantity),
        quantity_weights=tuple(quantity.values()),
        names=PhraseGroup(f"item:{key}", tuple(phrasings), *_hs(hs)),
        origins=origins,
        elsewhere=1.0,
        kit=False,
        palette=None,
        vague_kind=_FAMILY_VAGUE.get(family, "general"),
        disguises={},
        covers=(),
        category=_FAMILY_CATEGORY.get(family),
        mail=_FAMILY_MAIL.get(family),
        family=family,
    )


@cache
def goods_catalogue() -> tuple[ItemType, ...]:
    """The catalogue of ordinary postal goods (lexicon/goods/*.csv), shares scaled so that it
    carries `catalogue_share` of benign traffic beside the hand-kept benign item files."""
    found: list[ItemType] = []
    for path in sorted((LEXICON_DIR / "goods").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if not (row.get("key") or "").strip():
                    continue
                try:
                    found.append(_goods_item(row, path.name))
                except (KeyError, ValueError) as exc:
                    raise ValueError(f"{path.name}: row {row.get('key')!r}: {exc}") from exc
    return tuple(found)


# A catalogue phrasing names the goods of a description when it is two words or more of it
# ("hiking boots" of "Men's Hiking Boots High Top Outdoor"), or at least half its words: one
# word of a longer line ("top" of "Top Gun patch") may be any goods.
_NAMING_WORDS: Final = 2
_NAMING_SHARE: Final = 0.5
_PHRASE_WORD: Final = re.compile(r"\w+")


def _phrase_keys(words: tuple[str, ...] | list[str]) -> dict[tuple[int, int], tuple[str, ...]]:
    """The key of each run of consecutive words (`words[start:end]` by `(start, end)`) as the
    catalogue's phrasings are looked up: two words or more stemmed and in any order
    ("Sleeping bags" is the catalogue's "sleeping bag", "ботинки зимние" its "зимние
    ботинки"); one word as written, since a stem alone may be another word's ("fitness" and
    "fittings" are both "fit")."""
    from training.text import word_stem  # training.text reads this module's tables

    stems = [word_stem(word) for word in words]
    return {
        (start, end): (words[start],) if end - start == 1 else tuple(sorted(stems[start:end]))
        for start in range(len(words))
        for end in range(start + 1, len(words) + 1)
    }


@cache
def _catalogue_phrases() -> dict[tuple[str, ...], tuple[ItemType, ...]]:
    """Each phrasing of the goods catalogue, as its words' key (`_phrase_keys`), with the
    kinds of goods it names: those written with it, and those written with it and more
    ("шапка" of "шапка зимняя" and "шапка-ушанка" too: a bare "шапка" may be any of them).
    A run of a longer phrasing with two words beyond the commonest names its kinds too
    ("костюм для охоты" of "костюм для охоты зимний"; not "для охоты" alone)."""
    kinds_of: dict[tuple[str, ...], dict[str, ItemType]] = {}
    for item in goods_catalogue():
        for phrasing in item.names.phrasings:
            words = tuple(_PHRASE_WORD.findall(phrasing.text.casefold()))
            if words:
                kinds_of.setdefault(words, {})[item.key] = item
    # Each distinct phrasing's runs are keyed once (a tenth of them repeat across kinds).
    runs = {words: _phrase_keys(words) for words in kinds_of}
    named: dict[tuple[str, ...], dict[str, ItemType]] = {}
    for words, keys in runs.items():
        named.setdefault(keys[0, len(words)], {}).update(kinds_of[words])
    own = set(named)
    for words, keys in runs.items():
        naming = [not is_common(word) for word in words]
        for (start, end), key in keys.items():
            if end - start < len(words) and (key in own or sum(naming[start:end]) >= _NAMING_WORDS):
                named.setdefault(key, {}).update(kinds_of[words])
    return {key: tuple(items.values()) for key, items in named.items()}


def load_lookups() -> None:
    """Build the lookups reasons read of the catalogue and the word lists (seconds: the
    phrasings are stemmed), so a process can do it before its first declaration."""
    _catalogue_phrases()
    _kinds_by_code()
    _kit_phrases()
    goods_named_by_word()
    everyday_words()
    honest_only_words()
    vague_words()


@cache
def _longest_phrasing() -> int:
    return max(map(len, _catalogue_phrases()), default=0)


def _names_what_the_last_word_is_for(words: list[str], start: int) -> bool:
    """Whether `words[start]` is the first of two words in Latin script before a word of
    its own: there the goods are named last, as English and Turkish name them ("bicycle
    helmet", "kitchen bowl", "bisiklet kaskı"), and the first word says what they are for.
    "Bicycle helmet" was read as a bicycle of 13 kg, and a 1.45 kg one was told nothing."""
    return (
        len(words) == 2
        and start == 0
        and not is_common(words[1])
        and all("LATIN" in unicodedata.name(ch, "") for ch in "".join(words) if ch.isalpha())
    )


@lru_cache(maxsize=100_000)
def catalogue_kinds(description: str) -> tuple[ItemType, ...]:
    """The kinds of ordinary goods of the catalogue a description names: those of the
    longest catalogue phrasing among its words (`_NAMING_WORDS`, `_NAMING_SHARE`), however
    inflected or ordered (`_phrase_keys`), none where no phrasing names them. "Saperavi red
    wine" is a bottle of wine (1.3 kg), whatever a model learnt of the words "red" and
    "wine"."""
    words = _PHRASE_WORD.findall(description.casefold())
    phrases = _catalogue_phrases()
    keys = _phrase_keys(words)
    for length in range(min(len(words), _longest_phrasing()), 0, -1):
        if length < _NAMING_WORDS and length < _NAMING_SHARE * len(words):
            break
        found: list[ItemType] = []
        for start in range(len(words) - length + 1):
            if length == 1 and _names_what_the_last_word_is_for(words, start):
                continue
            for item in phrases.get(keys[start, start + length], ()):
                if item not in found:
                    found.append(item)
        if found:
            return tuple(found)
    return ()


def _check_catalogue(items: list[ItemType]) -> None:
    counts = Counter(item.key for item in items)
    duplicates = sorted(key for key, count in counts.items() if count > 1)
    if duplicates:
        raise ValueError(f"duplicate item keys in the lexicon: {', '.join(duplicates)}")
    benign = {item.key for item in items if item.label_class == "benign"}
    stories = cover_stories()
    for item in items:
        if item.label_class == "benign" and item.family not in FAMILIES:
            raise ValueError(f"benign item {item.key!r} needs a family, one of FAMILIES")
        if not item.names.phrasings:
            raise ValueError(f"item {item.key!r} has no phrasings")
        for cover in item.covers:
            if cover not in benign:
                raise ValueError(f"item {item.key!r}: cover {cover!r} is not a benign item")
        for story in item.disguises:
            if story not in stories:
                raise ValueError(f"item {item.key!r}: unknown cover story {story!r}")
        if item.label_class != "benign" and not (item.disguises and item.covers):
            raise ValueError(f"gear item {item.key!r} needs disguises and covers")


@cache
def lanes() -> tuple[Lane, ...]:
    """Postal lanes with their volumes and senders' habits."""
    data = _read_toml("lanes.toml")
    default: dict[str, Any] = data["default"]
    found: list[Lane] = []
    for table in data["lane"]:
        merged = {**default, **table}
        found.append(
            Lane(
                origin=merged["origin"],
                destination=merged["destination"],
                benign=float(merged["benign"]),
                positive=_weights(merged["positive"]),
                currency=_weights(merged["currency"]),
                language=_weights(merged["language"]),
                second_language=str(merged["second_language"]),
                hs_missing=float(merged["hs_missing"]),
                category_benign=_weights(merged["category_benign"]),
                category_positive=_weights(merged["category_positive"]),
                mail=_weights(merged["mail"]),
            )
        )
    return tuple(found)


@cache
def legal_basis() -> dict[str, dict[str, str]]:
    """Per risk class, the legal basis an officer cites when holding such goods on export
    from Russia (`short`, one line) and the control-list categories behind it (`detail`)."""
    table = _read_toml("legal_basis.toml")
    return {
        name: {"short": str(v["short"]), "detail": str(v["detail"])} for name, v in table.items()
    }


@cache
def hs_kinds(by_catalogue: bool = False) -> dict[str, frozenset[str]]:
    """Per HS chapter, the headings and chapters outside it that the nomenclature also
    classes its kind of goods under (hs_kinds.toml): a leather jacket under 4203 fits
    wording that points to chapter 62. `by_catalogue`: only the kinds the goods catalogue
    does not decide for itself (a code set against the catalogue's kinds of goods)."""
    out: dict[str, set[str]] = {}
    for kind in _read_toml("hs_kinds.toml").values():
        if by_catalogue and kind.get("catalogue_decides", False):
            continue
        chapters = [str(c) for c in kind["chapters"]]
        for chapter in chapters:
            out.setdefault(chapter, set()).update(chapters, (str(h) for h in kind["headings"]))
    return {chapter: frozenset(codes) for chapter, codes in out.items()}


@cache
def same_goods_headings() -> tuple[frozenset[str], ...]:
    """Headings that hold the same goods in a kind the goods catalogue decides for itself
    (hs_kinds.toml `same_goods`): a digital camera under 8525 or 9006."""
    return tuple(
        frozenset(str(h) for h in group)
        for kind in _read_toml("hs_kinds.toml").values()
        for group in kind.get("same_goods", ())
    )


def classes_same_kind(chapter: str, code: str, by_catalogue: bool = False) -> bool:
    """Whether the nomenclature classes goods of `chapter` under the declared `code` too
    (its chapter, or its heading, is one of that kind's: `hs_kinds`)."""
    also = hs_kinds(by_catalogue).get(chapter, frozenset())
    return code[:2] in also or code[:4] in also


def catalogue_lists_code(description: str, code: str) -> bool:
    """Whether a kind of goods of the catalogue that the description names
    (`catalogue_kinds`) is declared under the code's heading: a phone case under 4202.32
    ("cases and containers", as the nomenclature classes them) as well as under 3926.90."""
    heading = code.replace(".", "")[:4]
    return any(
        listed.replace(".", "")[:4] == heading
        for kind in catalogue_kinds(description)
        for listed in kind.names.hs_codes
    )


def catalogue_headings(description: str) -> tuple[str, ...]:
    """The headings (four digits) under which the catalogue declares the goods a description
    names (`catalogue_kinds`), in the order its kinds list them; none where it names none.
    "Камера видеонаблюдения" goes under 8525, wherever the words "камера" may go."""
    found: list[str] = []
    for kind in catalogue_kinds(description):
        for listed in kind.names.hs_codes:
            heading = listed.replace(".", "")[:4]
            if len(heading) == 4 and heading not in found:
                found.append(heading)
    return tuple(found)


@cache
def _kinds_by_code() -> dict[str, tuple[ItemType, ...]]:
    """The catalogue's kinds of ordinary goods under each HS chapter, heading and
    subheading their codes give."""
    found: dict[str, list[ItemType]] = {}
    for kind in goods_catalogue():
        for listed in kind.names.hs_codes:
            digits = listed.replace(".", "")
            for width in (2, 4, 6):
                if len(digits) >= width:
                    under = found.setdefault(digits[:width], [])
                    if kind not in under:
                        under.append(kind)
    return {code: tuple(kinds) for code, kinds in found.items()}


def catalogue_kinds_under(code: str) -> tuple[ItemType, ...]:
    """The kinds of ordinary goods the catalogue declares under an HS chapter, heading or
    subheading (its digits): under 852560, handheld radios and HF base transceivers alike."""
    return _kinds_by_code().get(code.replace(".", ""), ())


@cache
def _kit_phrases() -> dict[tuple[str, ...], frozenset[str]]:
    """Each phrasing of the gear nomenclature, as its casefolded words, with the headings
    (four digits) its kind of kit is declared under."""
    headings: dict[tuple[str, ...], set[str]] = {}
    for item in item_catalogue():
        if item.label_class == "benign":
            continue
        listed = {code.replace(".", "")[:4] for code in item.names.hs_codes}
        for phrasing in item.names.phrasings:
            words = tuple(_PHRASE_WORD.findall(phrasing.text.casefold()))
            if words:
                headings.setdefault(words, set()).update(listed)
    return {words: frozenset(found) for words, found in headings.items()}


def kit_lists_code(description: str, code: str) -> bool:
    """Whether the description holds a phrasing of the gear nomenclature whose kind of kit is
    declared under the code's heading: a Kazakh "түнгі көру құрылғысы" (night-vision device)
    under 9005 is declared as what it is, however honest lines with "құрылғысы" are coded."""
    heading = code.replace(".", "")[:4]
    words = _PHRASE_WORD.findall(description.casefold())
    phrases = _kit_phrases()
    return any(
        heading in phrases.get(tuple(words[start : start + length]), ())
        for length in range(1, min(len(words), _longest_kit_phrasing()) + 1)
        for start in range(len(words) - length + 1)
    )


@cache
def _longest_kit_phrasing() -> int:
    return max(map(len, _kit_phrases()), default=0)


@cache
def chapters_classing(code: str) -> frozenset[str]:
    """The chapters whose goods the nomenclature also classes under `code` (a heading or a
    chapter: `classes_same_kind`): 61, 62 and 65 for 4203, 61 and 62 for 6109."""
    return frozenset(chapter for chapter in hs_kinds() if classes_same_kind(chapter, code))


@cache
def generator_settings() -> dict[str, Any]:
    """Rates, templates and distributions of generator.toml, as parsed."""
    return _read_toml("generator.toml")


@cache
def count_words() -> frozenset[str]:
    """The words senders write a count with ("2 шт", "3 pcs", "5 dona"), casefolded: those of
    the generator's quantity suffixes, which say how many and nothing of what."""
    words: set[str] = set()
    for templates in generator_settings()["text"]["quantity_suffix"].values():
        for template in templates:
            for token in template.replace("{q}", " ").split():
                word = token.strip(".,;:()-*").casefold()
                if word.isalpha():
                    words.add(word)
    return frozenset(words)


@cache
def transliteration() -> dict[str, str]:
    """Cyrillic letter -> Latin letters, the passport-style scheme senders mostly use."""
    with (LEXICON_DIR / "translit.csv").open(encoding="utf-8", newline="") as handle:
        return {row["cyrillic"]: row["latin"] for row in csv.DictReader(handle)}


def transliterate(text: str) -> str:
    """Russian / Ukrainian text in Latin letters, keeping the case of the first letter."""
    table = transliteration()
    out: list[str] = []
    for char in text:
        lower = char.lower()
        latin = table.get(lower)
        if latin is None:
            out.append(char)
        elif char != lower and latin:
            out.append(latin[0].upper() + latin[1:])
        else:
            out.append(latin)
    return "".join(out)


_CHINESE_RUN: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_SPACE_BEFORE_PUNCTUATION: Final = re.compile(r" ([,;:)])")
_CHINESE_PUNCTUATION: Final = str.maketrans(
    {"，": ", ", "、": ", ", "（": " (", "）": ") ", "：": ": "}
)


def holds_chinese(text: str) -> bool:
    """Whether a text has a Chinese letter in it."""
    return _CHINESE_RUN.search(text) is not None


def romanise_chinese(text: str) -> str:
    """Chinese text in pinyin without tones, as sellers and clerks type it on a Latin
    keyboard: the syllables of a word run together ("防弹插板" -> "fangdan chaban"),
    anything not Chinese is kept as written."""
    from pypinyin import lazy_pinyin

    segmenter = _chinese_segmenter()

    def words(run: str) -> str:
        return " " + " ".join("".join(lazy_pinyin(w)) for w in segmenter.lcut(run, HMM=False)) + " "

    latin = _CHINESE_RUN.sub(lambda m: words(m.group()), text.translate(_CHINESE_PUNCTUATION))
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(latin.split()))


@cache
def _chinese_segmenter() -> Any:
    """A word segmenter of Chinese (its dictionary loads once, in about a second)."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba.Tokenizer()
