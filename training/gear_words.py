"""Words that name gear and nothing honest senders ship: when a description *names* gear.

An officer reading a sender's earlier parcels notices "бронежилет 6Б45", "bulletproof vest"
or "防弹衣", not "куртка" or "подарок". The words here are those of the gear nomenclature
(`lexicon/items_*.toml`, as written and transliterated) that no phrasing of ordinary goods,
look-alikes or vague descriptions uses, nor honest lines of the written sets that may be
read (train and calibration; unless their gear lines use it five times as often: one toy
"бронежилет" does not make the word honest), and that are not ordinary words of a lane language
(wordfreq's Zipf frequency under 3.5 in each: "военный", "снаряжения" or "альфа" also
appear on honest forms; a language wordfreq has no list for (Kazakh, Armenian) or no honest
goods are phrased in (Estonian, Finnish) gives single words only from one-word phrasings, as
"гармибин" or "plaadikandja", and names gear in pairs otherwise: its "dəbilqə" of
"ballistik dəbilqə" may be any helmet); and the pairs of words that only gear
phrasings use ("bulletproof vest"). A description holding one of them names gear, whatever
the rest of it says; one that hides gear in honest words does not.

Deriving the list loads the goods catalogue, the written sets and wordfreq's data
(seconds), so it is derived once into `lexicon/gear_words.txt` (`python -m
training.gear_words` rewrites it, as it must after a written set is added) and read from
there; a test pins the file to the derivation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from training.common_words import LEXICON_DIR, function_words, is_common
from training.text import fold_translit_variants, transliterate

GEAR_WORDS_FILE: Final = LEXICON_DIR / "gear_words.txt"
CORPORA_DIR: Final = Path(__file__).resolve().parents[1] / "corpora"
# The written sets whose rows may be read (`corpora/README.md`): never the blind ones.
READABLE_CORPORA: Final = ("train", "calibration")
# A word this frequent (Zipf) in a lane language is an ordinary word there.
ORDINARY_ZIPF: Final = 3.5
_FREQUENCY_LANGUAGES: Final = ("en", "ru", "uk", "de", "pl", "tr", "fi", "lt", "lv", "zh")
# Languages whose single words may be any noun: those wordfreq has no list for (how common
# a word of theirs is, is unknown) and those no honest goods are phrased in (no honest word of
# theirs is known: Lithuanian "racija" is any walkie-talkie, "lęšiai" any lenses).
_PAIRED_LANGUAGES: Final = frozenset(
    {"kk", "uz", "ky", "tg", "tk", "hy", "az", "ka", "et", "lv", "lt", "fi"}
)
# Shorter words are abbreviations that also occur in ordinary text ("бр", "ss", "ik"),
# unless they are designations with digits.
_MIN_LETTERS: Final = 4
_PUNCTUATION: Final = "\"'()[]{}.,;:!?/\\|-+*«»“”„№#&"
_UNITS: Final = frozenset({
    "x", "х", "xx", "mm", "мм", "cm", "см", "km", "км", "um", "nm", "m", "м", "t", "т", "kg",
    "кг", "g", "г", "l", "л", "ml", "мл", "w", "вт", "v", "в", "mah", "gb", "k", "p", "шт", "pcs",
})  # fmt: skip
# A word written on honest lines of the written sets still names gear when gear lines use
# it at least this many times as often (a toy "бронежилет" among thirty real ones), and on
# at least _LEAST_GEAR_USES gear lines: five disguised "измерительный прибор" against one
# honest one is a cover that writers share, not a name of gear.
_GEAR_USES_PER_HONEST: Final = 5
_LEAST_GEAR_USES: Final = 10
# A word honest lines write between two others, next to many different words, is a
# connective of its language: a postposition ("üçin", "uchun", "барои", "үчүн", "арналған":
# for) or a conjunction ("va"), in the languages no stop-word list covers. Paired with a word
# of gear it names nothing that word alone would not ("magazin üçin" is "for a magazine" and
# "for the shop"). Found among honest lines of three words or more: this many uses, this
# share of them inside the line, and this many different neighbours.
_CONNECTIVE_USES: Final = 40
_CONNECTIVE_INSIDE: Final = 0.9
_CONNECTIVE_NEIGHBOURS: Final = 60
# Chinese writes a kind of goods as one compound, its head noun last ("摩托车头盔",
# motorcycle helmet): a gear phrasing's word that ends this many honest compounds is the
# head they share ("头盔", helmet; "裤子", trousers; "模块", module), a cover, not a name.
_SHARED_HEAD_COMPOUNDS: Final = 2
# Japanese kana and the Chinese letters (CJK ideographs).
_CJK_RANGES: Final = ((0x3040, 0x30FF), (0x4E00, 0x9FFF))
_CJK: Final = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in _CJK_RANGES) + "]")
# Chinese joins a kind's words into one compound without spaces: "俄罗斯军靴" (Russian army
# boots) holds "军靴" (army boots) whole. A gear word written in Chinese letters only that no
# honest compound holds ("手机热成像仪", a phone's thermal camera, holds "热成像仪") names gear
# inside a compound too; the list marks it so.
_WITHIN: Final = "~"
# Common words that still name gear in a pair ("army helmet", "military radio"), as the
# lanes' languages write "military": Azerbaijani "hərbi çəkmə" is army boots, though both
# of its words are on honest forms. Russian's feminine and plural ("военная", "военные")
# stay out: "военная форма" is a child's costume on honest forms as well, and reads as
# military kit rather than naming it.
_ARMS: Final = frozenset({
    "army", "military", "армейский", "военный", "військовий", "військова", "військові",
    "wojskowy", "wojskowa", "wojskowe", "askeri", "hərbi", "әскери", "harbiy", "ҳарбий",
    "ҳарбӣ", "ҳарбии", "аскердик", "harby", "զինվորական", "բանակային", "სამხედრო", "цэргийн",
})  # fmt: skip
# Words that name a controlled function in a pair, though honest goods use each of them:
# a thermal (тепловизионный) sight, scope or monocular is an imaging device of the control
# lists, while "thermal" alone is underwear or a mug and "прицел" alone an air rifle's scope.
# A pair honest phrasings use ("тепловизионная камера" for a phone) stays ordinary.
_IMAGING: Final = frozenset({
    "thermal", "тепловизионный", "тепловизионная", "тепловизионные", "тепловізійний",
    "teplovizionnyy", "teplovizionnaya", "teplovizionnye", "termal", "termowizyjny",
})  # fmt: skip
# The fibres armour is woven of, which honest kinds are made of too: a Kevlar motorcycle
# helmet or cut-resistant gloves. Paired with a noun they name armour ("шлем кевлар"), unless
# the line declares an honest kind of that noun (see `_HONEST_KIND`).
_FIBRES: Final = frozenset({
    "kevlar", "кевлар", "кевларовый", "кевларовая", "кевларові", "aramid", "арамидный",
    "dyneema",
})  # fmt: skip
# Words of protection against bullets, which honest goods also use of other things (ballistic
# nylon luggage, Kevlar cut-resistant gloves, "Bulletproof" coffee, an "Armor" phone case):
# a ballistic vest, helmet, plate or panel, or body armour, is armour all the same.
_PROTECTION: Final = _FIBRES | frozenset({
    "ballistic", "balistik", "ballistik", "balistyczny", "balistyczna", "balistyczne",
    "ballistisch", "ballistische", "ballistischen", "баллистический", "баллистическая",
    "баллистические", "балістичний", "балістична", "балістичні", "bulletproof",
})  # fmt: skip
# The noun of that protection, which an everyday word before it makes armour ("body armor",
# "soft armour"), while an "Armor" phone case or "armor glass" stays ordinary.
_ARMOUR: Final = frozenset({"armor", "armour"})
# What honest protective gear is called in English ("motocross body protector").
_PROTECTOR: Final = frozenset({"protector", "protectors"})
# The words that make a pair of honest words a name of gear.
_NAMES_IN_A_PAIR: Final = _ARMS | _IMAGING | _PROTECTION | _ARMOUR
# Marks a listed pair of honest words that declares a kind of goods whose noun a fibre names
# as armour: "мотоциклетный шлем" makes "Мотоциклетный шлем, кевлар" a motorcycle helmet.
_HONEST_KIND: Final = "="
_HEADER: Final = "# Derived by `python -m training.gear_words`; do not edit by hand.\n"


def _tokens(text: str) -> list[str]:
    """A text's words, casefolded, without the punctuation around them.

    Deliberately plainer than what the text models read (no transliteration, no spelling
    folds): it runs over every description of an export before scoring, so it must cost a
    split. The list holds the transliterations instead.
    """
    return [t for t in (w.strip(_PUNCTUATION) for w in text.casefold().split()) if t]


def _pairs(tokens: list[str]) -> set[str]:
    """Adjacent word pairs ("plate carrier")."""
    return {f"{a} {b}" for a, b in pairwise(tokens)}


def _spellings(text: str) -> list[list[str]]:
    """A phrasing's words as written and as transliterated (senders type both)."""
    written = _tokens(text)
    latin = transliterate(text)
    # As the table writes it ("kh" for "х") and as the other usual spellings fold ("h").
    spellings = [written]
    for form in (_tokens(latin), _tokens(fold_translit_variants(latin))):
        if form not in spellings:
            spellings.append(form)
    return spellings


def _long_enough(word: str) -> bool:
    """Four letters, three Cyrillic ones (an army's acronym), or a model designation:
    letters with two digits or more ("6Б45")."""
    letters = "".join(c for c in word if c.isalpha())
    # A Chinese character is a syllable: "防弹衣" (body armour) is a whole word.
    if len(letters) >= _MIN_LETTERS or sum("\u4e00" <= c <= "\u9fff" for c in letters) >= 2:
        return True
    # "ПНВ" (night-vision device), "РЭБ" (electronic warfare), "РПС" (a load-bearing rig)
    # are how soldiers and their families write the kit; Latin ones of three letters are
    # as often a battery ("AGM"), an airport ("SVO") or a radio standard ("DMR").
    if len(letters) == _MIN_LETTERS - 1 and all("\u0400" <= c <= "\u04ff" for c in letters):
        return True
    # Sizes and units are not designations ("250x300", "40mm", "1535nm").
    return bool(letters) and letters not in _UNITS and sum(c.isdigit() for c in word) >= 2


def _written_texts() -> tuple[list[str], list[str]]:
    """Descriptions of the written sets that may be read (train and calibration, never
    blind), honest lines and gear lines: how people really write ordinary goods ("воротник"
    of fur) and gear."""
    import csv

    # The folders of `training.corpora`, read as plain CSV: the words are derived from the
    # text as written, before any normalising (and history, which reads this module, sits
    # below the corpora's reader).
    honest: list[str] = []
    gear: list[str] = []
    for use in READABLE_CORPORA:
        for path in sorted((CORPORA_DIR / use).glob("*.csv")):
            with path.open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    (honest if row.get("label") == "0" else gear).append(row["description"])
    return honest, gear


def _written_words(texts: list[str]) -> tuple[Counter[str], Counter[str]]:
    """In how many of `texts` each word, and each word pair, occurs (as written and as
    transliterated)."""
    words: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    for text in texts:
        spellings = _spellings(text)
        words.update({t for tokens in spellings for t in tokens})
        pairs.update({p for tokens in spellings for p in _pairs(tokens)})
    return words, pairs


def _connectives(texts: list[str]) -> set[str]:
    """The words honest `texts` use as connectives (see `_CONNECTIVE_USES`), counted as
    written, returned in every spelling ("барои", "baroi")."""
    uses: Counter[str] = Counter()
    inside: Counter[str] = Counter()
    neighbours: dict[str, set[str]] = {}
    for text in texts:
        tokens = _tokens(text)
        for first, second in pairwise(tokens):
            neighbours.setdefault(first, set()).add(second)
            neighbours.setdefault(second, set()).add(first)
        if len(tokens) >= 3:
            uses.update(tokens)
            inside.update(tokens[1:-1])
    found = [
        word
        for word, n in uses.items()
        if n >= _CONNECTIVE_USES
        and inside[word] >= _CONNECTIVE_INSIDE * n
        and len(neighbours[word]) >= _CONNECTIVE_NEIGHBOURS
        and not is_common(word)
        and word not in _ARMS
    ]
    return {spelling for word in found for tokens in _spellings(word) for spelling in tokens}


def derive_gear_words() -> list[str]:
    """The words only gear phrasings use (slow: loads the catalogue and wordfreq)."""
    from wordfreq import zipf_frequency

    from training.knowledge import item_catalogue, vague_descriptions

    honest: set[str] = set()
    honest_pairs: set[str] = set()
    gear_tokens: set[str] = set()
    gear_pairs: set[str] = set()
    # Every word of every gear phrasing, in every spelling: a word none of them uses.
    gear_spelled: set[str] = set()
    honest_texts = [
        p.text for i in item_catalogue() if i.label_class == "benign" for p in i.names.phrasings
    ]
    for text in [*honest_texts, *vague_descriptions()]:
        for tokens in _spellings(text):
            honest.update(tokens)
            honest_pairs.update(_pairs(tokens))
    compounds = [token for token in honest if _CJK.search(token)]
    # A word people write on honest forms is ordinary, unless gear forms use it far more:
    # one toy "бронежилет игрушечный" does not make "бронежилет" an honest word, while the
    # Kyrgyz "даана" (pieces), on a few gear lines and more honest ones, is ordinary.
    honest_lines, gear_lines = _written_texts()
    written_honest, written_gear = _written_words(honest_lines), _written_words(gear_lines)
    connectives = _connectives([*honest_texts, *honest_lines])
    for found, honest_set in ((0, honest), (1, honest_pairs)):
        gear_uses = written_gear[found]
        honest_set.update(
            w
            for w, n in written_honest[found].items()
            if gear_uses[w] < max(_GEAR_USES_PER_HONEST * n, _LEAST_GEAR_USES)
        )
    for item in item_catalogue():
        if item.label_class == "benign":
            continue
        for phrasing in item.names.phrasings:
            tokens = _tokens(phrasing.text)
            # In those languages a word of a longer phrasing may be any noun ("dəbilqə",
            # helmet, of "ballistik dəbilqə"): only a phrasing of one word names gear alone
            # ("гармибин", thermal sight; "kuulivest"); longer ones name it in pairs.
            if phrasing.language not in _PAIRED_LANGUAGES or len(tokens) == 1:
                gear_tokens.update(tokens)
            for tokens in _spellings(phrasing.text):
                gear_pairs.update(_pairs(tokens))
                gear_spelled.update(tokens)

    def heads_honest_compounds(word: str) -> bool:
        if not _CJK.search(word):
            return False
        return sum(c != word and c.endswith(word) for c in compounds) >= _SHARED_HEAD_COMPOUNDS

    def ordinary(word: str) -> bool:
        return (
            word in honest
            or heads_honest_compounds(word)
            or is_common(word)
            or not _long_enough(word)
            or max(zipf_frequency(word, language) for language in _FREQUENCY_LANGUAGES)
            >= ORDINARY_ZIPF
        )

    words: set[str] = set()
    for token in gear_tokens:
        # A token and its transliteration stand or fall together: "костюмы" is ordinary,
        # so "kostyumy" is too.
        latin = transliterate(token)
        forms = {token, *_tokens(latin), *_tokens(fold_translit_variants(latin))}
        if not any(ordinary(form) for form in forms if not form.isascii()):
            words.update(form for form in forms if not ordinary(form))
    # Forms write the noun first as often as the catalogue's phrasings write it last
    # ("шлем кевларовый", "ботинки армейские"): a pair holding a word that names gear in a
    # pair names it in either order.
    gear_pairs |= {
        f"{second} {first}"
        for first, second in (pair.split(" ") for pair in gear_pairs)
        if first in _NAMES_IN_A_PAIR or second in _NAMES_IN_A_PAIR
    }
    # Ordinary words may name gear together ("plate carrier", "body armor"): a pair that
    # no honest phrasing uses, of words that carry evidence on their own.
    for pair in gear_pairs - honest_pairs:
        first, second = pair.split(" ")
        if any(w in words or w in connectives for w in (first, second)):
            continue  # already named by one of its words, or by one word and a connective
        if _ARMOUR.intersection((first, second)) and f"{second} {first}" in honest_pairs:
            continue  # honest in the other order: motocross "body armor", so not "armor body"
        usable = all(
            (
                sum(c.isalpha() for c in w) >= 3
                and (not is_common(w) or (other in _ARMOUR and w not in function_words()))
            )
            or w in _ARMS
            for w, other in ((first, second), (second, first))
        )
        # One of the two must be a word honest phrasings never use ("carrier" in "plate
        # carrier", "army" in "army boots"): two honest words pair up by chance.
        if usable and any(w not in honest or w in _NAMES_IN_A_PAIR for w in (first, second)):
            words.add(pair)
    # Held by no compound of honest phrasings or of honest written lines.
    honest_compounds = [token for token in honest if _CJK.search(token)]
    within = {
        word
        for word in words
        if len(word) >= 2
        and all(_CJK.match(c) for c in word)
        and not any(word in compound and word != compound for compound in honest_compounds)
    }
    listed = [f"{_WITHIN}{w}" if w in within else w for w in sorted(words)]
    kinds = _honest_kinds_of(words, honest_pairs, gear_spelled)
    return listed + [f"{_HONEST_KIND}{k}" for k in sorted(kinds)]


def _honest_kinds_of(words: set[str], honest_pairs: set[str], gear_spelled: set[str]) -> set[str]:
    """The pairs of honest words that declare a kind of goods whose noun a listed pair makes
    armour with a fibre: "шлем кевлар" is listed, "мотоциклетный шлем" declares a motorcycle
    helmet (in either order, as forms write them); and those that end in the word before a
    listed armour ("motocross body" of "body armour"). The other word of the kind is one no
    gear phrasing uses (`gear_spelled`: "тактический шлем" declares no honest kind) and not
    a common word."""
    nouns = {
        word
        for pair in words
        if " " in pair and _FIBRES.intersection(pair.split(" "))
        for word in pair.split(" ")
        if word not in _NAMES_IN_A_PAIR - _ARMOUR and not is_common(word)
    }
    # The part of the body armour guards ("body" of "body armour", "chest"), which honest
    # phrasings also name a protector of, ends an honest kind's pair: "motocross body armour"
    # is the body protector of motocross riders, as "motocross body protector" declares.
    guarded = {pair.split(" ")[0] for pair in honest_pairs if pair.split(" ")[1] in _PROTECTOR}
    before_armour = {
        first
        for first, _, second in (pair.partition(" ") for pair in words if " " in pair)
        if second in _ARMOUR and first in guarded
    }
    kinds: set[str] = set()
    for pair in honest_pairs:
        first, second = pair.split(" ")
        if second in before_armour and _declares_a_kind(first, gear_spelled):
            kinds.add(pair)
        for noun, other in ((first, second), (second, first)):
            if noun in nouns and _declares_a_kind(other, gear_spelled):
                kinds.update({pair, f"{second} {first}"})
    return kinds


def _declares_a_kind(word: str, gear_spelled: set[str]) -> bool:
    """Whether a word beside a kind's noun makes the pair an honest kind: one no gear
    phrasing uses, not a word that names gear in a pair, of four letters, not common."""
    return (
        word not in gear_spelled
        and word not in _NAMES_IN_A_PAIR
        and sum(c.isalpha() for c in word) >= _MIN_LETTERS
        and not is_common(word)
    )


@cache
def _listed() -> list[str]:
    lines = GEAR_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


@cache
def gear_words() -> frozenset[str]:
    """The words (and word pairs) that name gear only, casefolded as `_tokens` cuts them."""
    return frozenset(
        line.removeprefix(_WITHIN) for line in _listed() if not line.startswith(_HONEST_KIND)
    )


@cache
def _honest_kinds() -> frozenset[str]:
    """The pairs that declare an honest kind of a noun a fibre names as armour."""
    return frozenset(line[1:] for line in _listed() if line.startswith(_HONEST_KIND))


def _named_pairs(tokens: list[str]) -> list[int]:
    """Where a listed pair names gear in `tokens`: the position of its first word. A fibre
    or armour sharing its noun with an honest kind the line declares names what that kind is
    made of or is ("Мотоциклетный шлем, кевлар"; "motocross body armour", the body protector
    of motocross riders), not armour."""
    named = gear_words()
    found = [i for i, (a, b) in enumerate(pairwise(tokens)) if f"{a} {b}" in named]
    if not found:
        return found
    kinds = _honest_kinds()
    declared = {i for i, pair in enumerate(pairwise(tokens)) if " ".join(pair) in kinds}
    return [
        i
        for i in found
        if not (
            (_FIBRES | _ARMOUR).intersection(tokens[i : i + 2])
            and (i - 1 in declared or i + 1 in declared)
        )
    ]


@cache
def gear_words_within() -> tuple[str, ...]:
    """The Chinese gear words that name gear inside a longer compound too, longest first."""
    within = (line[len(_WITHIN) :] for line in _listed() if line.startswith(_WITHIN))
    return tuple(sorted(within, key=lambda w: (-len(w), w)))


def _holds_gear_word(token: str) -> bool:
    """Whether a Chinese compound holds a gear word whole ("俄罗斯军靴" holds "军靴")."""
    return bool(_CJK.search(token)) and any(w in token for w in gear_words_within())


def gear_named_in(description: str) -> str | None:
    """The first listed word (or word pair) of a description that names gear, or compound
    that holds one, as the description writes it; None if it names none."""
    named = gear_words()
    written = [w for w in (w.strip(_PUNCTUATION) for w in description.split()) if w]
    # Cut as `_tokens` cuts (casefold, then strip), kept beside the words as written.
    tokens = [w.casefold().strip(_PUNCTUATION) for w in written]
    for word, token in zip(written, tokens, strict=True):
        if token in named:
            return word
    for i in _named_pairs(tokens):
        return f"{written[i]} {written[i + 1]}"
    for word, token in zip(written, tokens, strict=True):
        if _holds_gear_word(token):
            return word
    return None


def description_names_gear(description: str) -> bool:
    named = gear_words()
    tokens = _tokens(description)
    return (
        not named.isdisjoint(tokens)
        or bool(_named_pairs(tokens))
        or any(_holds_gear_word(token) for token in tokens)
    )


def names_gear(descriptions: Iterable[object] | pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per description: whether it names gear (a blank or missing one does not).

    What `description_names_gear` says of each, for a whole column: the batch command's
    first pass runs it over every description of an export. A description can only name
    gear if one of its words is a word of the list (or the first word of a listed pair), so
    Arrow's kernels look for those first (~5% of descriptions hold one) and only those are
    read word by word, each distinct one once. Pinned to the plain check by the tests.
    """
    text: pa.Array | pa.ChunkedArray | None
    if isinstance(descriptions, pa.Array | pa.ChunkedArray) and pa.types.is_string(
        descriptions.type
    ):
        text = descriptions
    else:
        if isinstance(descriptions, pa.Array | pa.ChunkedArray):
            descriptions = descriptions.to_pylist()  # an all-empty column, say
        values = pd.Series(list(descriptions), dtype=object)
        try:
            text = pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowException, TypeError):
            text = None  # not all text: every description is read word by word
    out = np.zeros(len(text) if text is not None else len(values), dtype=bool)
    rows = _may_name_gear(text) if text is not None else np.arange(len(out))
    if len(rows):
        picked = text.take(pa.array(rows)).to_pylist() if text is not None else values.iloc[rows]
        named = {d: description_names_gear(d) for d in set(picked) if isinstance(d, str)}
        out[rows] = [named.get(v, False) if isinstance(v, str) else False for v in picked]
    return out


def _may_name_gear(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Positions of the descriptions that hold a word that could name gear (a superset of
    those that do)."""
    words = pc.utf8_split_whitespace(pc.utf8_lower(text))
    flat = pc.utf8_trim(pc.list_flatten(words), characters=_PUNCTUATION)
    hit = pc.is_in(flat, value_set=_first_words()).to_numpy(zero_copy_only=False)
    parents = np.asarray(pc.list_parent_indices(words))
    found = parents[hit]
    # Where Arrow's lowercase or whitespace may differ from Python's casefold and split
    # ("ß", Armenian "և", separators other than ASCII whitespace), and Chinese (a compound
    # may hold a gear word): read word by word.
    odd = pc.match_substring_regex(text, _odd_characters()).to_numpy(zero_copy_only=False)
    odd = np.asarray(odd, dtype=object)
    return np.union1d(found, np.flatnonzero(odd == True))  # noqa: E712 (None: no text)


@cache
def _odd_characters() -> str:
    """A regex class of the characters whose lowercase is not their casefold ("ß", "և"),
    of whitespace other than ASCII's, and of Chinese and Japanese letters (built once: ~10 ms
    over the BMP)."""
    odd = "".join(
        f"\\x{{{code:x}}}"
        for code in range(0x80, 0x10000)
        if not 0xD800 <= code <= 0xDFFF
        and (chr(code).lower() != chr(code).casefold() or chr(code).isspace())
    )
    cjk = "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in _CJK_RANGES)
    return f"[{odd}\\x{{1c}}-\\x{{1f}}{cjk}]"


@cache
def _first_words() -> pa.Array:
    """Every listed word, and the first word of every listed pair."""
    return pa.array(sorted({entry.split(" ", 1)[0] for entry in gear_words()}), pa.string())


def any_names_gear(descriptions: Iterable[object]) -> bool:
    """Whether any line of a parcel names gear."""
    return any(isinstance(d, str) and d and description_names_gear(d) for d in descriptions)


def write_gear_words() -> None:
    """Derive the list and write it (atomically) into the lexicon."""
    from training.files import atomic_file

    with atomic_file(GEAR_WORDS_FILE, "w") as handle:
        handle.write(_HEADER + "".join(f"{w}\n" for w in derive_gear_words()))


if __name__ == "__main__":
    write_gear_words()
